package tensor

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/graftml/graft/internal/onnx"
)

// onnxNodeDir holds Debian's libonnx-testdata operator cases.
const onnxNodeDir = "/usr/share/libonnx-testdata/data/node"

// onnxOps are the operators graft claims; cases are chosen by the op_type
// of the single node in model.onnx.
var onnxOps = map[string]bool{
	"Conv": true, "MaxPool": true, "AveragePool": true, "GlobalAveragePool": true, "BatchNormalization": true,
	"Gemm": true, "MatMul": true, "Relu": true, "LeakyRelu": true, "Sigmoid": true, "Tanh": true,
	"Softmax": true, "LogSoftmax": true, "Add": true, "Concat": true, "Pad": true, "Dropout": true,
}

// onnxNotApplicable lists the cases of those operators that graft does not
// run, with the reason.
var onnxNotApplicable = map[string]string{
	"test_add_uint8":                                  "graft tensors are float32; uint8 Add is not claimed",
	"test_add_bcast":                                  "graft's Add is the residual add of equal shapes; NumPy broadcasting is not claimed",
	"test_maxpool_2d_uint8":                           "graft tensors are float32; uint8 pooling is not claimed",
	"test_maxpool_1d_default":                         "1-D pooling is not claimed (graft pools NHWC images)",
	"test_maxpool_3d_default":                         "3-D pooling is not claimed (graft pools NHWC images)",
	"test_averagepool_1d_default":                     "1-D pooling is not claimed (graft pools NHWC images)",
	"test_averagepool_3d_default":                     "3-D pooling is not claimed (graft pools NHWC images)",
	"test_maxpool_with_argmax_2d_precomputed_pads":    "the Indices output (flat NCHW argmax) is not claimed; MaxPool2DBackward recomputes the argmax",
	"test_maxpool_with_argmax_2d_precomputed_strides": "the Indices output (flat NCHW argmax) is not claimed; MaxPool2DBackward recomputes the argmax",
	"test_training_dropout":                           "training-mode masks come from NumPy's generator; graft's seeded masks differ by design",
	"test_training_dropout_default":                   "training-mode masks come from NumPy's generator; graft's seeded masks differ by design",
	"test_training_dropout_default_mask":              "training-mode masks come from NumPy's generator; graft's seeded masks differ by design",
	"test_training_dropout_mask":                      "training-mode masks come from NumPy's generator; graft's seeded masks differ by design",
}

// TestONNXNode runs ONNX's operator conformance cases through graft's ops
// on every tier. Without the package it skips locally and fails in CI.
func TestONNXNode(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(onnxNodeDir, "test_*"))
	if err != nil || len(dirs) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ONNX conformance data missing under %s: .ci/run must apt-get install -y libonnx-testdata", onnxNodeDir)
		}
		t.Skipf("ONNX conformance data not installed: apt-get install -y libonnx-testdata")
	}
	type onnxCase struct {
		name string
		m    *onnx.Model
		sets []string
	}
	var cases []onnxCase
	for _, dir := range dirs {
		m, err := onnx.ReadModel(filepath.Join(dir, "model.onnx"))
		if err != nil {
			t.Errorf("%s: %v", dir, err)
			continue
		}
		if len(m.Nodes) != 1 || !onnxOps[m.Nodes[0].OpType] || (m.Nodes[0].Domain != "" && m.Nodes[0].Domain != "ai.onnx") {
			continue
		}
		sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
		cases = append(cases, onnxCase{filepath.Base(dir), m, sets})
	}
	perOp := map[string]int{}
	forEachTier(t, func(t *testing.T, cpu CPU) {
		ran, skipped := 0, 0
		for _, c := range cases {
			if _, ok := onnxNotApplicable[c.name]; ok {
				skipped++
				continue
			}
			for _, set := range c.sets {
				ins, err := readPBs(set, "input")
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				want, err := readPBs(set, "output")
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				got, err := runONNXNode(cpu, c.m.Nodes[0], c.m.Opset, ins, len(want))
				if err != nil {
					t.Errorf("%s: %v", c.name, err)
					continue
				}
				for i := range want {
					if msg := compareONNX(got[i], want[i]); msg != "" {
						t.Errorf("%s (%s) output %d: %s", c.name, filepath.Base(set), i, msg)
					}
				}
				ran++
			}
			perOp[c.m.Nodes[0].OpType]++
		}
		t.Logf("%d ONNX test sets run (%d cases), %d cases listed as not applicable", ran, len(cases)-skipped, skipped)
	})
	for op := range onnxOps {
		if perOp[op] == 0 {
			t.Errorf("no ONNX case ran for %s", op)
		}
	}
}

func readPBs(dir, prefix string) ([]*onnx.Tensor, error) {
	files, _ := filepath.Glob(filepath.Join(dir, prefix+"_*.pb"))
	sort.Slice(files, func(i, j int) bool { return pbIndex(files[i]) < pbIndex(files[j]) })
	var ts []*onnx.Tensor
	for _, f := range files {
		t, err := onnx.ReadTensor(f)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, nil
}

func pbIndex(f string) int {
	var i int
	base := filepath.Base(f)
	fmt.Sscanf(base[strings.LastIndex(base, "_")+1:], "%d.pb", &i)
	return i
}

// compareONNX compares within ONNX's backend-test tolerances (rtol 1e-3,
// atol 1e-7), a little looser in atol for float32 sums.
func compareONNX(got *Tensor, want *onnx.Tensor) string {
	if !slices.Equal(got.shape, want.Dims) && !(len(want.Dims) == 0 && got.Len() == 1) {
		return fmt.Sprintf("shape %v, want %v", got.shape, want.Dims)
	}
	for i, w := range want.Values {
		g := float64(got.data[i])
		if math.IsNaN(w) && math.IsNaN(g) {
			continue
		}
		if math.Abs(g-w) > 1e-5+1e-3*math.Abs(w) {
			return fmt.Sprintf("[%d] = %v, want %v", i, g, w)
		}
	}
	return ""
}

func fromONNX(t *onnx.Tensor) *Tensor {
	return FromSlice(t.Float32s(), t.Dims...)
}

func toNHWC(x *Tensor) *Tensor {
	y := Zeros(x.shape[0], x.shape[2], x.shape[3], x.shape[1])
	NCHWToNHWC(y, x)
	return y
}

func toNCHW(x *Tensor) *Tensor {
	y := Zeros(x.shape[0], x.shape[3], x.shape[1], x.shape[2])
	NHWCToNCHW(y, x)
	return y
}

func intsAttr(n onnx.Node, name string, def ...int) []int {
	a, ok := n.Attrs[name]
	if !ok {
		return def
	}
	out := make([]int, len(a.Ints))
	for i, v := range a.Ints {
		out[i] = int(v)
	}
	return out
}

func intAttr(n onnx.Node, name string, def int) int {
	if a, ok := n.Attrs[name]; ok {
		return int(a.I)
	}
	return def
}

func floatAttr(n onnx.Node, name string, def float32) float32 {
	if a, ok := n.Attrs[name]; ok {
		return a.F
	}
	return def
}

// windowParams reads strides, dilations, pads and auto_pad for an input of
// h×w and a kh×kw window.
func windowParams(n onnx.Node, h, w, kh, kw int) (ConvParams, error) {
	s := intsAttr(n, "strides", 1, 1)
	d := intsAttr(n, "dilations", 1, 1)
	p := ConvParams{StrideH: s[0], StrideW: s[1], DilationH: d[0], DilationW: d[1], Groups: intAttr(n, "group", 1)}
	switch auto := n.Attrs["auto_pad"].S; auto {
	case "", "NOTSET":
		if pads := intsAttr(n, "pads", 0, 0, 0, 0); len(pads) == 4 {
			p.PadTop, p.PadLeft, p.PadBottom, p.PadRight = pads[0], pads[1], pads[2], pads[3]
		}
	case "VALID":
	case "SAME_UPPER", "SAME_LOWER":
		lower := auto == "SAME_LOWER"
		p.PadTop, p.PadBottom = SamePadding(h, kh, s[0], d[0], lower)
		p.PadLeft, p.PadRight = SamePadding(w, kw, s[1], d[1], lower)
	default:
		return p, fmt.Errorf("auto_pad %q", auto)
	}
	return p, nil
}

// runONNXNode runs one node through backend b's ops.
func runONNXNode(b Backend, n onnx.Node, opset int64, in []*onnx.Tensor, nout int) ([]*Tensor, error) {
	x := fromONNX(in[0])
	switch n.OpType {
	case "Conv":
		w := fromONNX(in[1])
		p, err := windowParams(n, x.shape[2], x.shape[3], w.shape[2], w.shape[3])
		if err != nil {
			return nil, err
		}
		var bias *Tensor
		if len(in) > 2 {
			bias = fromONNX(in[2])
		}
		xh := toNHWC(x)
		y := ConvOutput(xh, w, p)
		b.Conv2D(y, xh, w, bias, p)
		return []*Tensor{toNCHW(y)}, nil
	case "MaxPool", "AveragePool":
		k := intsAttr(n, "kernel_shape")
		p, err := windowParams(n, x.shape[2], x.shape[3], k[0], k[1])
		if err != nil {
			return nil, err
		}
		pp := PoolParams{KH: k[0], KW: k[1], ConvParams: p, CeilMode: intAttr(n, "ceil_mode", 0) == 1,
			CountIncludePad: intAttr(n, "count_include_pad", 0) == 1}
		xh := toNHWC(x)
		oh, ow := pp.OutSize(xh.shape[1], xh.shape[2])
		y := Zeros(xh.shape[0], oh, ow, xh.shape[3])
		if n.OpType == "MaxPool" {
			b.MaxPool2D(y, xh, pp)
		} else {
			b.AvgPool2D(y, xh, pp)
		}
		return []*Tensor{toNCHW(y)}, nil
	case "GlobalAveragePool":
		xh := toNHWC(x)
		y := Zeros(xh.shape[0], 1, 1, xh.shape[3])
		b.GlobalAvgPool(y, xh)
		return []*Tensor{toNCHW(y)}, nil
	case "BatchNormalization":
		scale, bias, mean, variance := fromONNX(in[1]), fromONNX(in[2]), fromONNX(in[3]), fromONNX(in[4])
		eps := floatAttr(n, "epsilon", 1e-5)
		xl := x
		if x.Rank() == 4 {
			xl = toNHWC(x)
		} else if x.Rank() != 2 {
			return nil, fmt.Errorf("BatchNormalization on rank %d", x.Rank())
		}
		y := Zeros(xl.shape...)
		var outs []*Tensor
		if intAttr(n, "training_mode", 0) == 1 {
			sm, si := Zeros(scale.Len()), Zeros(scale.Len())
			b.BatchNormTrain(y, xl, scale, bias, mean, variance, sm, si,
				BatchNormParams{Momentum: 1 - floatAttr(n, "momentum", 0.9), Eps: eps})
			outs = []*Tensor{y, mean, variance}
		} else {
			b.BatchNormInference(y, xl, scale, bias, mean, variance, BatchNormParams{Eps: eps})
			outs = []*Tensor{y}
		}
		if x.Rank() == 4 {
			outs[0] = toNCHW(y)
		}
		return outs[:nout], nil
	case "Gemm":
		a, bm := fromONNX(in[0]), fromONNX(in[1])
		ta, tb := intAttr(n, "transA", 0) == 1, intAttr(n, "transB", 0) == 1
		m, nn := a.shape[0], bm.shape[1]
		if ta {
			m = a.shape[1]
		}
		if tb {
			nn = bm.shape[0]
		}
		y := Zeros(m, nn)
		beta := floatAttr(n, "beta", 1)
		if len(in) > 2 { // C broadcast to [M, N]
			c := fromONNX(in[2])
			for i := 0; i < m; i++ {
				for j := 0; j < nn; j++ {
					switch {
					case c.Len() == 1:
						y.data[i*nn+j] = c.data[0]
					case c.Rank() == 1 || (c.Rank() == 2 && c.shape[0] == 1):
						y.data[i*nn+j] = c.data[j]
					case c.Rank() == 2 && c.shape[1] == 1:
						y.data[i*nn+j] = c.data[i]
					default:
						y.data[i*nn+j] = c.data[i*nn+j]
					}
				}
			}
		} else {
			beta = 0
		}
		b.MatMul(y, a, bm, ta, tb, floatAttr(n, "alpha", 1), beta)
		return []*Tensor{y}, nil
	case "MatMul":
		a, bm := x, fromONNX(in[1])
		if a.Rank() != bm.Rank() || a.Rank() < 2 || !slices.Equal(a.shape[:a.Rank()-2], bm.shape[:bm.Rank()-2]) {
			return nil, fmt.Errorf("MatMul of %v and %v: batched shapes must match", a.shape, bm.shape)
		}
		r := a.Rank()
		m, k, nn := a.shape[r-2], a.shape[r-1], bm.shape[r-1]
		batch := a.Len() / max(m*k, 1)
		outShape := append(append([]int{}, a.shape[:r-2]...), m, nn)
		y := Zeros(outShape...)
		for i := 0; i < batch; i++ {
			b.MatMul(FromSlice(y.data[i*m*nn:(i+1)*m*nn], m, nn), FromSlice(a.data[i*m*k:(i+1)*m*k], m, k),
				FromSlice(bm.data[i*k*nn:(i+1)*k*nn], k, nn), false, false, 1, 0)
		}
		return []*Tensor{y}, nil
	case "Relu", "LeakyRelu", "Sigmoid", "Tanh":
		act := map[string]Activation{"Relu": ActReLU, "LeakyRelu": ActLeakyReLU, "Sigmoid": ActSigmoid, "Tanh": ActTanh}[n.OpType]
		y := Zeros(x.shape...)
		b.Activate(y, x, act, floatAttr(n, "alpha", 0.01))
		return []*Tensor{y}, nil
	case "Softmax", "LogSoftmax":
		y := Zeros(x.shape...)
		axis := intAttr(n, "axis", -1)
		if opset < 13 { // coerce to 2-D at axis (default 1)
			axis = intAttr(n, "axis", 1)
			if axis < 0 {
				axis += x.Rank()
			}
			rows := 1
			for _, d := range x.shape[:axis] {
				rows *= d
			}
			b.Softmax(y.Reshape(rows, -1), x.Reshape(rows, -1), 1, n.OpType == "LogSoftmax")
			return []*Tensor{y}, nil
		}
		b.Softmax(y, x, axis, n.OpType == "LogSoftmax")
		return []*Tensor{y}, nil
	case "Add":
		bm := fromONNX(in[1])
		if !x.SameShape(bm) {
			return nil, fmt.Errorf("Add of %v and %v: shapes differ", x.shape, bm.shape)
		}
		y := Zeros(x.shape...)
		b.Add(y, x, bm)
		return []*Tensor{y}, nil
	case "Concat":
		parts := make([]*Tensor, len(in))
		shape := append([]int{}, x.shape...)
		axis := intAttr(n, "axis", 0)
		if axis < 0 {
			axis += x.Rank()
		}
		shape[axis] = 0
		for i := range in {
			parts[i] = fromONNX(in[i])
			shape[axis] += parts[i].shape[axis]
		}
		y := Zeros(shape...)
		b.Concat(y, axis, parts...)
		return []*Tensor{y}, nil
	case "Pad":
		mode := map[string]PadMode{"": PadConstant, "constant": PadConstant, "reflect": PadReflect, "edge": PadEdge}[n.Attrs["mode"].S]
		var pv []int
		var value float32
		if opset >= 11 {
			for _, v := range in[1].Values {
				pv = append(pv, int(v))
			}
			if len(in) > 2 {
				value = float32(in[2].Values[0])
			}
		} else {
			pv = intsAttr(n, "pads")
			value = floatAttr(n, "value", 0)
		}
		r := x.Rank()
		pads := make([][2]int, r)
		shape := make([]int, r)
		for d := 0; d < r; d++ {
			pads[d] = [2]int{pv[d], pv[d+r]}
			shape[d] = x.shape[d] + pv[d] + pv[d+r]
		}
		y := Zeros(shape...)
		b.Pad(y, x, pads, mode, value)
		return []*Tensor{y}, nil
	case "Dropout":
		// Inference mode (training_mode absent or false), or a zero
		// ratio: the identity, with an all-true mask. graft's Dropout
		// with p = 0 is that.
		training := len(in) > 2 && in[2].Values[0] != 0
		ratio := 0.5
		if len(in) > 1 {
			ratio = in[1].Values[0]
		}
		if training && ratio != 0 {
			return nil, fmt.Errorf("training-mode Dropout with ratio %v: random", ratio)
		}
		y, mask := Zeros(x.shape...), Zeros(x.shape...)
		b.Dropout(y, mask, x, 0, 1)
		for i, v := range mask.data {
			if v != 0 {
				mask.data[i] = 1
			}
		}
		return []*Tensor{y, mask}[:nout], nil
	}
	return nil, fmt.Errorf("op %s not mapped", n.OpType)
}
