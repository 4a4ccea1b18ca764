package tfjs_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/graftml/graft/data"
	"github.com/graftml/graft/internal/fixtures"
	"github.com/graftml/graft/internal/tensorcheck"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/tfjs"
	"github.com/graftml/graft/tensor"
)

var parityImages = []string{"video-001.jpeg", "go-turns-two-280x360.jpeg", "gopher.png"}

// nsfwInputs decodes the test images as nsfwjs feeds them: 224×224 RGB,
// bytes / 255.
func nsfwInputs(t *testing.T) *tensor.Tensor {
	t.Helper()
	x := tensor.Zeros(len(parityImages), 224, 224, 3)
	for i, name := range parityImages {
		f, err := os.Open(filepath.Join("..", "..", "testdata", "tfjs", name))
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := image.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		copy(x.Data()[i*224*224*3:], data.Preprocess(img, 224, false, []float32{0}, []float32{1}))
	}
	return x
}

type reference struct {
	Input   string    `json:"input_sha256"`
	Version string    `json:"version"`
	Shape   []int     `json:"shape"`
	Output  []float32 `json:"output"`
}

func inputBytes(x *tensor.Tensor) []byte {
	b := make([]byte, 4*x.Len())
	for i, v := range x.Data() {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// TestNSFWJSParity runs nsfwjs's MobileNetV2 (uint8-quantized weights)
// on three real images and compares the 5-class outputs with
// @tensorflow/tfjs's CPU backend (testdata/tfjs/nsfwjs_ref.json; set
// GRAFT_TFJS_UPDATE=1 to rerun bench/peers/tfjs_predict.js) within 1e-4
// of the largest output.
func TestNSFWJSParity(t *testing.T) {
	if testing.Short() {
		t.Skip("224×224 forward passes of full-size models")
	}
	path := fixtures.NSFWJS(t)
	m, err := tfjs.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	x := nsfwInputs(t)
	in := inputBytes(x)
	sum := sha256.Sum256(in)
	refPath := filepath.Join("..", "..", "testdata", "tfjs", "nsfwjs_ref.json")
	if os.Getenv("GRAFT_TFJS_UPDATE") != "" {
		tmp := filepath.Join(t.TempDir(), "input.f32")
		if err := os.WriteFile(tmp, in, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("node", filepath.Join("..", "..", "bench", "peers", "tfjs_predict.js"), path, tmp, "3", "224", "224", "3").Output()
		if err != nil {
			t.Fatalf("node: %v", err)
		}
		var r reference
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatal(err)
		}
		r.Input = hex.EncodeToString(sum[:])
		b, _ := json.MarshalIndent(r, "", " ")
		if err := os.WriteFile(refPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(refPath)
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if ref.Input != hex.EncodeToString(sum[:]) {
		t.Fatalf("the inputs differ from those the reference was computed on (sha256 %s, reference %s): rerun with GRAFT_TFJS_UPDATE=1", hex.EncodeToString(sum[:]), ref.Input)
	}
	nn.SetTraining(m.Graph, false)
	for _, run := range []struct {
		name string
		f    func(*tensor.Tensor) *tensor.Tensor
	}{{"Infer", m.Graph.Infer}, {"Forward", m.Graph.Forward}} {
		got := run.f(x).Data()
		if len(got) != len(ref.Output) {
			t.Fatalf("%d outputs, TF.js %d", len(got), len(ref.Output))
		}
		for i := range parityImages {
			maxDiff, maxRef := tensorcheck.MaxAbsDiff(got[i*5:i*5+5], ref.Output[i*5:i*5+5]), tensorcheck.MaxAbs(ref.Output[i*5:i*5+5])
			if !(maxDiff <= 1e-4*maxRef) {
				t.Errorf("%s %s: max|graft − tfjs| = %.3g > 1e-4 · %.3g\n graft %v\n tfjs  %v", run.name, parityImages[i], maxDiff, maxRef, got[i*5:i*5+5], ref.Output[i*5:i*5+5])
			}
			// The softmax saturates; the log-probabilities (the logits
			// less a constant) show the small classes' agreement too.
			var maxLog float64
			for j := i * 5; j < i*5+5; j++ {
				maxLog = math.Max(maxLog, math.Abs(math.Log(float64(got[j]))-math.Log(float64(ref.Output[j]))))
			}
			if !(maxLog <= 1e-4) {
				t.Errorf("%s %s: max|log p_graft − log p_tfjs| = %.3g > 1e-4", run.name, parityImages[i], maxLog)
			}
			t.Logf("%s %s: max|graft − tfjs| = %.3g (max %.3g), max|Δ log p| = %.3g", run.name, parityImages[i], maxDiff, maxRef, maxLog)
		}
	}
}
