package onnx

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ionnx "github.com/graftml/graft/internal/onnx"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/tensor"
)

const nodeDir = "/usr/share/libonnx-testdata/data/node"

// nodeCases are ONNX's own operator tests (libonnx-testdata) of the
// operators the importer converts: each model is one node; its first input
// is the activation, the others become initializers, and graft's output
// must equal the reference output the ONNX project computed.
var nodeCases = []string{
	"test_conv_with_strides_padding", "test_conv_with_strides_no_padding", "test_conv_with_strides_and_asymmetric_padding",
	"test_basic_conv_with_padding", "test_basic_conv_without_padding",
	"test_batchnorm_epsilon", "test_batchnorm_example",
	"test_relu", "test_leakyrelu", "test_leakyrelu_default", "test_sigmoid", "test_tanh",
	"test_hardsigmoid", "test_hardsigmoid_default", "test_hardswish",
	"test_clip", "test_clip_default_min", "test_clip_default_max", "test_clip_inbounds",
	"test_add_bcast", "test_sub_bcast", "test_mul_bcast", "test_div_bcast",
	"test_averagepool_2d_pads", "test_averagepool_2d_pads_count_include_pad",
	"test_averagepool_2d_strides", "test_averagepool_2d_ceil", "test_maxpool_2d_pads", "test_maxpool_2d_ceil",
	"test_maxpool_2d_strides", "test_maxpool_2d_same_upper_default", "test_maxpool_2d_default",
	"test_flatten_axis1", "test_flatten_default_axis",
	"test_reshape_reduced_dims", "test_reshape_extended_dims", "test_reshape_one_dim", "test_reshape_negative_dim",
	"test_reshape_zero_dim",
	"test_gemm_default_vector_bias", "test_gemm_transposeB", "test_gemm_alpha", "test_gemm_beta",
	"test_matmul_2d",
	"test_softmax_axis_1", "test_softmax_default_axis", "test_softmax_negative_axis",
	"test_identity", "test_unsqueeze_axis_0", "test_squeeze", "test_squeeze_negative_axes",
	"test_constant_pad", "test_averagepool_2d_precomputed_pads", "test_maxpool_2d_precomputed_pads",
	"test_dropout_default", "test_dropout_default_ratio", "test_dropout_default_old", "test_leakyrelu_example",
}

// readPB reads test_data_set_0's tensors with the prefix, in order.
func readPB(dir, prefix string) ([]*ionnx.Tensor, error) {
	var out []*ionnx.Tensor
	for i := 0; ; i++ {
		p := filepath.Join(dir, "test_data_set_0", prefix+"_"+string(rune('0'+i))+".pb")
		if _, err := os.Stat(p); err != nil {
			return out, nil
		}
		t, err := ionnx.ReadTensor(p)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
}

func TestNodeConformance(t *testing.T) {
	if _, err := os.Stat(nodeDir); err != nil {
		t.Skip("libonnx-testdata not installed (apt-get install -y libonnx-testdata)")
	}
	for _, name := range nodeCases {
		t.Run(strings.TrimPrefix(name, "test_"), func(t *testing.T) {
			dir := filepath.Join(nodeDir, name)
			m, err := ionnx.ReadModel(filepath.Join(dir, "model.onnx"))
			if err != nil {
				t.Skip(err)
			}
			ins, err := readPB(dir, "input")
			if err != nil {
				t.Fatal(err)
			}
			outs, err := readPB(dir, "output")
			if err != nil || len(outs) != 1 {
				t.Fatalf("outputs: %v (%d)", err, len(outs))
			}
			// inputs after the first become initializers
			for i, in := range m.Inputs[1:] {
				tt := ins[i+1]
				tt.Name = in
				m.Initializers[in] = tt
				m.InitOrder = append(m.InitOrder, in)
			}
			m.Inputs = m.Inputs[:1]
			x := ins[0]
			m.Shapes[m.Inputs[0]] = slices.Clone(x.Dims)
			if len(x.Dims) != 4 && len(x.Dims) != 2 {
				t.Skipf("input of rank %d", len(x.Dims))
			}
			imp, err := importModel(m, dir, false)
			if err != nil {
				t.Fatal(err)
			}
			in := tensor.FromSlice(x.Float32s(), x.Dims...)
			if len(x.Dims) == 4 {
				nhwc := tensor.Zeros(x.Dims[0], x.Dims[2], x.Dims[3], x.Dims[1])
				tensor.NCHWToNHWC(nhwc, in)
				in = nhwc
			}
			y := imp.Graph.Infer(in)
			want := outs[0]
			got := y
			if y.Rank() == 4 {
				got = tensor.Zeros(y.Dim(0), y.Dim(3), y.Dim(1), y.Dim(2))
				tensor.NHWCToNCHW(got, y)
			}
			if !slices.Equal(got.Shape(), want.Dims) {
				t.Fatalf("shape %v, want %v", got.Shape(), want.Dims)
			}
			for i, w := range want.Float32s() {
				g := got.Data()[i]
				if math.Abs(float64(g-w)) > 1e-4*math.Max(1, math.Abs(float64(w))) {
					t.Fatalf("element %d = %v, want %v", i, g, w)
				}
			}
		})
	}
}

// TestUnsupportedListsEveryNode: one error names every node that cannot
// be imported, with its operator and opset.
func TestUnsupportedListsEveryNode(t *testing.T) {
	w := make([]float32, 4*3*3*3)
	b := modelPB(13, "x", []int{-1, 3, 8, 8}, "y", []node{
		{name: "c1", op: "Conv", in: []string{"x", "w"}, out: []string{"a"}, attrs: []attr{as("auto_pad", "SAME_LOWER"), ais("strides", 2, 2)}},
		{name: "lstm", op: "LSTM", in: []string{"a"}, out: []string{"b"}},
		{name: "mine", op: "Relu", domain: "com.example", in: []string{"b"}, out: []string{"c"}},
		{name: "r", op: "Relu", in: []string{"c"}, out: []string{"y"}, attrs: []attr{ai("bogus", 1)}},
	}, []initT{{"w", []int{4, 3, 3, 3}, w, false, nil}}, nil)
	_, err := Decode(b)
	var ue *UnsupportedError
	if !errors.As(err, &ue) {
		t.Fatalf("error %v, want an UnsupportedError", err)
	}
	var names []string
	for _, n := range ue.Nodes {
		names = append(names, n.Name+"/"+n.Op)
		if n.Opset != 13 {
			t.Errorf("node %s: opset %d", n.Name, n.Opset)
		}
	}
	if !slices.Equal(names, []string{"c1/Conv", "lstm/LSTM", "mine/Relu"}) {
		// r's input failed, so r reports that; it is listed too
		if !slices.Equal(names, []string{"c1/Conv", "lstm/LSTM", "mine/Relu", "r/Relu"}) {
			t.Errorf("nodes %v", names)
		}
	}
	for _, s := range []string{"SAME_LOWER", "LSTM", "com.example"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %s", err, s)
		}
	}
}

// smallModel is a conv–BN–ReLU–pool–Gemm classifier with a
// squeeze-excitation Mul, for the error and fuzz tests.
func smallModel() []byte { return smallModelMeta(map[string]string{"mean": "0.5,0.5,0.5"}) }

func smallModelMeta(meta map[string]string) []byte {
	f := func(n int, v float32) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = v + float32(i%7)*0.01
		}
		return out
	}
	return modelPB(13, "x", []int{-1, 3, 8, 8}, "y", []node{
		{name: "conv", op: "Conv", in: []string{"x", "conv.weight", "conv.bias"}, out: []string{"a"}, attrs: []attr{ais("pads", 1, 1, 1, 1), ais("kernel_shape", 3, 3)}},
		{name: "bn", op: "BatchNormalization", in: []string{"a", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"}, out: []string{"b"}},
		{name: "relu", op: "Relu", in: []string{"b"}, out: []string{"c"}},
		{name: "gap", op: "GlobalAveragePool", in: []string{"c"}, out: []string{"g"}},
		{name: "gate", op: "HardSigmoid", in: []string{"g"}, out: []string{"h"}},
		{name: "se", op: "Mul", in: []string{"c", "h"}, out: []string{"s"}},
		{name: "pool", op: "MaxPool", in: []string{"s"}, out: []string{"p"}, attrs: []attr{ais("kernel_shape", 2, 2), ais("strides", 2, 2)}},
		{name: "flat", op: "Flatten", in: []string{"p"}, out: []string{"f"}},
		{name: "fc", op: "Gemm", in: []string{"f", "fc.weight", "fc.bias"}, out: []string{"z"}, attrs: []attr{ai("transB", 1)}},
		{name: "sm", op: "Softmax", in: []string{"z"}, out: []string{"y"}, attrs: []attr{ai("axis", 1)}},
	}, []initT{
		{"conv.weight", []int{4, 3, 3, 3}, f(108, -0.1), false, nil}, {"conv.bias", []int{4}, f(4, 0), false, nil},
		{"bn.weight", []int{4}, f(4, 1), false, nil}, {"bn.bias", []int{4}, f(4, 0.1), false, nil},
		{"bn.running_mean", []int{4}, f(4, 0), false, nil}, {"bn.running_var", []int{4}, f(4, 1), false, nil},
		{"fc.weight", []int{2, 64}, f(128, -0.03), false, nil}, {"fc.bias", []int{2}, f(2, 0), false, nil},
	}, meta)
}

func TestSmallModel(t *testing.T) {
	imp, err := Decode(smallModel())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paramsOf(imp) {
		names = append(names, p)
	}
	want := []string{"conv.weight", "conv.bias", "bn.weight", "bn.bias", "fc.weight", "fc.bias"}
	if !slices.Equal(names, want) {
		t.Errorf("parameters %v, want %v", names, want)
	}
	if !slices.Equal(imp.InputShape, []int{8, 8, 3}) || imp.Metadata["mean"] != "0.5,0.5,0.5" {
		t.Errorf("input shape %v, metadata %v", imp.InputShape, imp.Metadata)
	}
	y := imp.Graph.Infer(tensor.RandNormal(1, 0, 1, 2, 8, 8, 3))
	if !slices.Equal(y.Shape(), []int{2, 2}) || math.Abs(float64(y.Data()[0]+y.Data()[1])-1) > 1e-5 {
		t.Errorf("output %v", y)
	}
}

// TestTruncatedModel: every prefix of a model is an error, never a panic
// (the model ends with its operator set, without which nothing imports).
func TestTruncatedModel(t *testing.T) {
	b := smallModelMeta(nil)
	for n := 0; n < len(b); n += 1 + n/64 {
		if _, err := Decode(b[:n]); err == nil {
			t.Errorf("prefix of %d/%d bytes imported", n, len(b))
		}
	}
}

func FuzzImport(f *testing.F) {
	f.Add(smallModel())
	f.Add(modelPB(11, "x", []int{1, 2}, "y", []node{{name: "c", op: "Clip", in: []string{"x", "lo", "hi"}, out: []string{"y"}}},
		[]initT{{"lo", nil, []float32{0}, false, nil}, {"hi", nil, []float32{6}, false, nil}}, nil))
	f.Add(modelPB(13, "x", []int{1, 4, 2, 2}, "y", []node{
		{name: "s", op: "Shape", in: []string{"x"}, out: []string{"s"}},
		{name: "g", op: "Gather", in: []string{"s", "i"}, out: []string{"n"}},
		{name: "u", op: "Unsqueeze", in: []string{"n", "ax"}, out: []string{"n1"}},
		{name: "c", op: "Concat", in: []string{"n1", "m1"}, out: []string{"shape"}, attrs: []attr{ai("axis", 0)}},
		{name: "r", op: "Reshape", in: []string{"x", "shape"}, out: []string{"y"}},
	}, []initT{{"i", nil, []float32{0}, true, nil}, {"ax", []int{1}, []float32{0}, true, nil}, {"m1", []int{1}, []float32{-1}, true, nil}}, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		imp, err := Decode(b)
		if err != nil {
			return
		}
		// what an import gives must structure and describe itself
		s, err := nn.Structure(imp.Graph)
		if err != nil {
			t.Fatalf("Structure of an imported graph: %v", err)
		}
		if _, err := nn.EncodeTopology(s); err != nil {
			t.Fatalf("topology of an imported graph: %v", err)
		}
	})
}

func paramsOf(imp *Imported) []string {
	var out []string
	for _, p := range paramList(imp) {
		out = append(out, p)
	}
	return out
}

// TestExternalData: a weight in an external file beside the model is
// read; a location outside the model's folder, a short file, or bytes
// (Decode) are errors.
func TestExternalData(t *testing.T) {
	dir := t.TempDir()
	w := []float32{1, 2, 3, 4, 5, 6}
	var raw []byte
	raw = append(raw, 0, 0, 0, 0) // the tensor starts at offset 4
	for _, v := range w {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	if err := os.WriteFile(filepath.Join(dir, "weights.bin"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	model := func(loc string, off, n int) []byte {
		return modelPB(13, "x", []int{-1, 2}, "y", []node{
			{name: "fc", op: "Gemm", in: []string{"x", "w"}, out: []string{"y"}, attrs: []attr{ai("transB", 1)}},
		}, []initT{{name: "w", ext: externalTensorPB("w", []int{3, 2}, loc, off, n)}}, nil)
	}
	write := func(b []byte) string {
		p := filepath.Join(dir, "m.onnx")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	imp, err := Read(write(model("weights.bin", 4, 24)))
	if err != nil {
		t.Fatal(err)
	}
	y := imp.Graph.Infer(tensor.FromSlice([]float32{1, 1}, 1, 2))
	if !slices.Equal(y.Data(), []float32{3, 7, 11}) {
		t.Errorf("output %v, want [3 7 11]", y.Data())
	}
	for _, c := range []struct {
		loc      string
		off, n   int
		contains string
	}{{"../weights.bin", 4, 24, "beside the model"}, {"/etc/passwd", 0, 24, "beside the model"},
		{"weights.bin", 8, 24, "beyond"}, {"weights.bin", 4, 20, "length"}, {"nothere.bin", 0, 24, "no such file"}} {
		if _, err := Read(write(model(c.loc, c.off, c.n))); err == nil || !strings.Contains(err.Error(), c.contains) {
			t.Errorf("%s at %d+%d: error %v, want %q", c.loc, c.off, c.n, err, c.contains)
		}
	}
	if _, err := Decode(model("weights.bin", 4, 24)); err == nil || !strings.Contains(err.Error(), "external") {
		t.Errorf("Decode with external data: %v", err)
	}
}

// TestFixture keeps testdata/onnx/small.onnx (the CLI's test model) equal
// to smallModel; GRAFT_WRITE_FIXTURES=1 rewrites it.
func TestFixture(t *testing.T) {
	p := filepath.Join("..", "..", "testdata", "onnx", "small.onnx")
	if os.Getenv("GRAFT_WRITE_FIXTURES") == "1" {
		if err := os.WriteFile(p, smallModel(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b, smallModel()) {
		t.Error("testdata/onnx/small.onnx differs from smallModel (GRAFT_WRITE_FIXTURES=1 go test ./nn/onnx -run Fixture)")
	}
}

// TestOldOpsets: the attribute forms of opset 7 (Clip's min and max,
// Unsqueeze's and Squeeze's axes, Pad's pads, Softmax's axis 1 on a
// matrix, Dropout's ratio) against values computed here.
func TestOldOpsets(t *testing.T) {
	b := modelPB(7, "x", []int{-1, 4}, "y", []node{
		{name: "clip", op: "Clip", in: []string{"x"}, out: []string{"c"}, attrs: []attr{af("min", -1), af("max", 1)}},
		{name: "drop", op: "Dropout", in: []string{"c"}, out: []string{"d"}, attrs: []attr{af("ratio", 0.3)}},
		{name: "un", op: "Unsqueeze", in: []string{"d"}, out: []string{"u"}, attrs: []attr{ais("axes", 2, 3)}},
		{name: "pad", op: "Pad", in: []string{"u"}, out: []string{"p"}, attrs: []attr{ais("pads", 0, 0, 1, 1, 0, 0, 1, 1)}},
		{name: "gap", op: "GlobalAveragePool", in: []string{"p"}, out: []string{"g"}},
		{name: "sq", op: "Squeeze", in: []string{"g"}, out: []string{"s"}, attrs: []attr{ais("axes", 2, 3)}},
		{name: "sm", op: "Softmax", in: []string{"s"}, out: []string{"y"}},
	}, nil, nil)
	imp, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	x := []float32{-3, -0.5, 0.5, 3, 0.1, 0.2, 0.3, 0.4}
	y := imp.Graph.Infer(tensor.FromSlice(x, 2, 4))
	for r := range 2 {
		var e [4]float64
		var sum float64
		for j := range 4 {
			v := math.Min(math.Max(float64(x[r*4+j]), -1), 1) / 9 // the 1×1 value padded to 3×3 and averaged
			e[j] = math.Exp(v)
			sum += e[j]
		}
		for j := range 4 {
			if got := float64(y.Data()[r*4+j]); math.Abs(got-e[j]/sum) > 1e-6 {
				t.Fatalf("y[%d,%d] = %v, want %v", r, j, got, e[j]/sum)
			}
		}
	}
}
