package nn_test

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/graftml/graft/internal/modelcheck"
	"github.com/graftml/graft/internal/tensorcheck"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/safetensors"
	"github.com/graftml/graft/tensor"
)

// tinyCNN is conv(3→4, bias) → BatchNorm → ReLU → Flatten → Dense(4·4·4 → 3)
// over [N, 4, 4, 3]: tensors 0.weight, 0.bias, 1.weight, 1.bias,
// 1.running_mean, 1.running_var, 1.num_batches_tracked, 4.weight, 4.bias.
func tinyCNN(seed uint64) *nn.Sequential {
	return nn.NewSequential(
		nn.NewConv2D(3, 4, 3, nn.ConvOpts{Padding: 1, Bias: true}, seed),
		nn.NewBatchNorm(4),
		nn.ReLU(),
		nn.NewFlatten(),
		nn.NewDense(4*4*4, 3, true, seed+1),
	)
}

// trainedCNN returns a tinyCNN whose BatchNorm has seen two batches, so its
// running statistics and counter differ from a fresh one's.
func trainedCNN(seed uint64) *nn.Sequential {
	m := tinyCNN(seed)
	bnl := m.Layer(1).(*nn.BatchNorm)
	copy(bnl.Weight.Value.Data(), tensor.RandUniform(seed+2, 0.5, 1.5, 4).Data())
	copy(bnl.Bias.Value.Data(), tensor.RandUniform(seed+3, -0.5, 0.5, 4).Data())
	nn.SetTraining(m, true)
	m.Forward(modelcheck.Randn(seed+4, 2, 4, 4, 3))
	m.Forward(modelcheck.Randn(seed+5, 2, 4, 4, 3))
	nn.SetTraining(m, false)
	return m
}

func tempPath(t *testing.T, name string) string {
	return filepath.Join(t.TempDir(), name)
}

func TestSaveLoadRoundTrip(t *testing.T) {
	src := trainedCNN(1)
	meta := nn.Meta{
		Arch:       "tinycnn",
		Options:    map[string]string{"width": "0.5", "classes": "3"},
		Classes:    []string{"cat", "dog", "bird"},
		InputShape: []int{4, 4, 3},
		Mean:       []float32{0.485, 0.456, 0.406},
		Std:        []float32{0.229, 0.224, 0.225},
		Extra:      map[string]string{"note": "hello", "format": "pt"},
	}
	path := tempPath(t, "m.safetensors")
	if err := nn.Save(path, src, meta); err != nil {
		t.Fatal(err)
	}

	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	nbt := f.Tensors["1.num_batches_tracked"]
	if nbt == nil || nbt.DType != safetensors.I64 || len(nbt.Shape) != 0 || !slices.Equal(nbt.I64, []int64{2}) {
		t.Errorf("num_batches_tracked in the file: %+v, want I64 scalar 2", nbt)
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range f.Tensors {
			if !yield(k) {
				return
			}
		}
	})
	want := []string{"0.bias", "0.weight", "1.bias", "1.num_batches_tracked", "1.running_mean", "1.running_var",
		"1.weight", "4.bias", "4.weight"}
	if !slices.Equal(names, want) {
		t.Errorf("tensors %v, want %v", names, want)
	}
	for _, name := range want {
		if name != "1.num_batches_tracked" && f.Tensors[name].DType != safetensors.F32 {
			t.Errorf("%s saved as %s, want F32", name, f.Tensors[name].DType)
		}
	}
	if !slices.Equal(f.Tensors["0.weight"].Shape, []int{4, 3, 3, 3}) {
		t.Errorf("0.weight saved as %v, want OIHW [4 3 3 3]", f.Tensors["0.weight"].Shape)
	}

	dst := tinyCNN(50)
	gotMeta, rep, err := nn.Load(path, dst, nn.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Clean() || rep.Loaded != len(want) {
		t.Errorf("report %v (loaded %d), want clean with %d", rep, rep.Loaded, len(want))
	}
	tensorcheck.SameState(t, "loaded", modelcheck.State(dst), modelcheck.State(src))
	if !reflect.DeepEqual(gotMeta, meta) {
		t.Errorf("meta\n got %#v\nwant %#v", gotMeta, meta)
	}

	// The loaded model computes what the saved one does.
	x := modelcheck.Randn(7, 2, 4, 4, 3)
	closeSlices(t, "inference after load", dst.Infer(x).Data(), src.Infer(x).Data(), 0)
}

func TestMetaEmptyRoundTrip(t *testing.T) {
	path := tempPath(t, "m.safetensors")
	if err := nn.Save(path, tinyCNN(1), nn.Meta{}); err != nil {
		t.Fatal(err)
	}
	meta, _, err := nn.Load(path, tinyCNN(2), nn.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if meta.Arch != "" || meta.Options != nil || meta.Classes != nil || meta.InputShape != nil || meta.Mean != nil || meta.Std != nil || len(meta.Extra) != 0 {
		t.Errorf("empty meta came back as %#v", meta)
	}
}

// writeState writes tensors as a safetensors file.
func writeState(t *testing.T, path string, sd map[string]*safetensors.Tensor) {
	t.Helper()
	if err := safetensors.WriteFile(path, &safetensors.File{Tensors: sd}); err != nil {
		t.Fatal(err)
	}
}

func TestLoadStrictErrors(t *testing.T) {
	src := trainedCNN(1)
	cases := []struct {
		name   string
		edit   func(sd map[string]*safetensors.Tensor)
		report func(r nn.LoadReport) []string
		want   []string
	}{
		{"missing", func(sd map[string]*safetensors.Tensor) { delete(sd, "0.bias") },
			func(r nn.LoadReport) []string { return r.Missing }, []string{"0.bias"}},
		{"missing_buffer", func(sd map[string]*safetensors.Tensor) { delete(sd, "1.running_var") },
			func(r nn.LoadReport) []string { return r.Missing }, []string{"1.running_var"}},
		{"unexpected", func(sd map[string]*safetensors.Tensor) {
			sd["5.weight"] = &safetensors.Tensor{DType: safetensors.F32, Shape: []int{2}, F32: []float32{1, 2}}
		}, func(r nn.LoadReport) []string { return r.Unexpected }, []string{"5.weight"}},
		{"wrong_shape", func(sd map[string]*safetensors.Tensor) {
			sd["4.weight"] = &safetensors.Tensor{DType: safetensors.F32, Shape: []int{3, 32}, F32: make([]float32, 96)}
		}, func(r nn.LoadReport) []string { return r.WrongShape }, []string{"4.weight"}},
		{"transposed", func(sd map[string]*safetensors.Tensor) {
			sd["4.weight"] = &safetensors.Tensor{DType: safetensors.F32, Shape: []int{64, 3}, F32: make([]float32, 192)}
		}, func(r nn.LoadReport) []string { return r.WrongShape }, []string{"4.weight"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sd := nn.StateDict(src)
			c.edit(sd)
			path := tempPath(t, "bad.safetensors")
			writeState(t, path, sd)
			dst := tinyCNN(50)
			before := modelcheck.State(dst)
			_, rep, err := nn.Load(path, dst, nn.LoadOptions{})
			if err == nil {
				t.Fatal("strict Load accepted the file")
			}
			if !strings.Contains(err.Error(), c.want[0]) {
				t.Errorf("error %q does not name %s", err, c.want[0])
			}
			got := c.report(rep)
			if len(got) != 1 || !strings.HasPrefix(got[0], c.want[0]) {
				t.Errorf("report lists %q, want %q", got, c.want)
			}
			if rep.Clean() {
				t.Error("report is clean")
			}
			tensorcheck.SameState(t, "after a failed load", modelcheck.State(dst), before)
			// Partial does not excuse unexpected or wrong-shape tensors.
			if c.name != "missing" && c.name != "missing_buffer" {
				if _, _, err := nn.Load(path, dst, nn.LoadOptions{Partial: true}); err == nil {
					t.Error("Partial Load accepted the file")
				}
				tensorcheck.SameState(t, "after a failed partial load", modelcheck.State(dst), before)
			}
		})
	}
}

func TestLoadLenient(t *testing.T) {
	src := trainedCNN(1)
	sd := nn.StateDict(src)
	delete(sd, "0.bias")
	sd["head.weight"] = &safetensors.Tensor{DType: safetensors.F32, Shape: []int{2, 2}, F32: []float32{1, 2, 3, 4}}
	sd["4.weight"] = &safetensors.Tensor{DType: safetensors.F32, Shape: []int{5, 64}, F32: make([]float32, 320)}
	path := tempPath(t, "l.safetensors")
	writeState(t, path, sd)

	dst := tinyCNN(50)
	before := modelcheck.State(dst)
	_, rep, err := nn.Load(path, dst, nn.LoadOptions{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Missing, []string{"0.bias"}) || !slices.Equal(rep.Unexpected, []string{"head.weight"}) ||
		len(rep.WrongShape) != 1 || !strings.HasPrefix(rep.WrongShape[0], "4.weight:") {
		t.Errorf("report %+v", rep)
	}
	if rep.Loaded != 7 {
		t.Errorf("loaded %d tensors, want 7", rep.Loaded)
	}
	if !strings.Contains(rep.String(), "1 missing (0.bias)") {
		t.Errorf("report string %q", rep.String())
	}
	got, want := modelcheck.State(dst), modelcheck.State(src)
	for name := range want {
		switch name {
		case "0.bias", "4.weight":
			tensorcheck.SameState(t, "kept", map[string][]float32{name: got[name]}, map[string][]float32{name: before[name]})
		default:
			tensorcheck.SameState(t, "loaded", map[string][]float32{name: got[name]}, map[string][]float32{name: want[name]})
		}
	}
}

func TestLoadPartialDelta(t *testing.T) {
	base := trainedCNN(1)
	tuned := trainedCNN(1)
	copy(tuned.Layer(4).(*nn.Dense).Weight.Value.Data(), modelcheck.Randn(9, 3, 64).Data())
	copy(tuned.Layer(4).(*nn.Dense).Bias.Value.Data(), []float32{1, 2, 3})
	path := tempPath(t, "delta.safetensors")
	if err := nn.SaveSelected(path, tuned, nn.Meta{Arch: "delta"}, func(name string) bool { return strings.HasPrefix(name, "4.") }); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != 2 || f.Tensors["4.weight"] == nil || f.Tensors["4.bias"] == nil {
		t.Fatalf("delta holds %d tensors, want 4.weight and 4.bias", len(f.Tensors))
	}

	before := modelcheck.State(base)
	if _, _, err := nn.Load(path, base, nn.LoadOptions{}); err == nil {
		t.Error("strict Load accepted a delta checkpoint")
	}
	tensorcheck.SameState(t, "after a failed load", modelcheck.State(base), before)
	meta, rep, err := nn.Load(path, base, nn.LoadOptions{Partial: true})
	if err != nil {
		t.Fatal(err)
	}
	if meta.Arch != "delta" || rep.Loaded != 2 || len(rep.Missing) != 7 {
		t.Errorf("meta %q, report %+v", meta.Arch, rep)
	}
	tensorcheck.SameState(t, "base over delta", modelcheck.State(base), modelcheck.State(tuned))
}

func TestLoadI64ForFloatParam(t *testing.T) {
	sd := nn.StateDict(trainedCNN(1))
	sd["4.bias"] = &safetensors.Tensor{DType: safetensors.I64, Shape: []int{3}, I64: []int64{1, 2, 3}}
	path := tempPath(t, "i64.safetensors")
	writeState(t, path, sd)
	for _, o := range []nn.LoadOptions{{}, {Lenient: true}, {Partial: true}} {
		dst := tinyCNN(50)
		before := modelcheck.State(dst)
		if _, _, err := nn.Load(path, dst, o); err == nil || !strings.Contains(err.Error(), "4.bias") {
			t.Errorf("%+v: Load of an I64 parameter: error %v, want one naming 4.bias", o, err)
		}
		tensorcheck.SameState(t, "after a failed load", modelcheck.State(dst), before)
	}
}

// rawTensor is one tensor of a hand-written safetensors file.
type rawTensor struct {
	name, dtype string
	shape       []int
	data        []byte
}

// writeRaw writes a safetensors file byte by byte, so that it can hold
// dtypes graft never writes.
func writeRaw(t *testing.T, path string, ts []rawTensor) {
	t.Helper()
	header := map[string]any{}
	var data []byte
	for _, r := range ts {
		if r.shape == nil {
			r.shape = []int{} // a scalar: "shape": []
		}
		header[r.name] = map[string]any{"dtype": r.dtype, "shape": r.shape, "data_offsets": []int{len(data), len(data) + len(r.data)}}
		data = append(data, r.data...)
	}
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	out = append(append(out, h...), data...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func f32Bytes(v []float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// f16Bits encodes a float32 that binary16 holds exactly (normal numbers
// and zero only).
func f16Bits(t *testing.T, x float32) uint16 {
	b := math.Float32bits(x)
	sign := uint16(b>>16) & 0x8000
	if x == 0 {
		return sign
	}
	exp := int(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	if exp <= 0 || exp >= 31 || mant&0x1fff != 0 {
		t.Fatalf("%v is not an exact normal binary16", x)
	}
	return sign | uint16(exp)<<10 | uint16(mant>>13)
}

func TestLoadHalfPrecision(t *testing.T) {
	src := trainedCNN(1)
	sd := nn.StateDict(src)
	// Dense weight as F16, dense bias as BF16, every value exact in them.
	w := make([]float32, 3*64)
	var w16 []byte
	for i := range w {
		w[i] = float32(int(i%37)-18) / 64 // k/64: exact in binary16
		w16 = binary.LittleEndian.AppendUint16(w16, f16Bits(t, w[i]))
	}
	w[5] = 65504 // the largest binary16
	binary.LittleEndian.PutUint16(w16[10:], 0x7bff)
	bias := []float32{0.5, -1.25, math.Float32frombits(0x7f7f0000)} // the last: the largest bfloat16
	var b16 []byte
	for _, v := range bias {
		b16 = binary.LittleEndian.AppendUint16(b16, uint16(math.Float32bits(v)>>16))
	}
	var raw []rawTensor
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range sd {
			if !yield(k) {
				return
			}
		}
	}) {
		s := sd[name]
		switch {
		case name == "4.weight":
			raw = append(raw, rawTensor{name, "F16", s.Shape, w16})
		case name == "4.bias":
			raw = append(raw, rawTensor{name, "BF16", s.Shape, b16})
		case s.DType == safetensors.I64:
			raw = append(raw, rawTensor{name, "I64", s.Shape, binary.LittleEndian.AppendUint64(nil, uint64(s.I64[0]))})
		default:
			raw = append(raw, rawTensor{name, "F32", s.Shape, f32Bytes(s.F32)})
		}
	}
	path := tempPath(t, "half.safetensors")
	writeRaw(t, path, raw)

	dst := tinyCNN(50)
	if _, rep, err := nn.Load(path, dst, nn.LoadOptions{}); err != nil || rep.Loaded != 9 {
		t.Fatalf("Load: %v (report %v)", err, rep)
	}
	want := modelcheck.State(src)
	want["4.weight"], want["4.bias"] = w, bias
	tensorcheck.SameState(t, "half-precision load", modelcheck.State(dst), want)
}

func TestLoadCorruptFile(t *testing.T) {
	src := trainedCNN(1)
	path := tempPath(t, "m.safetensors")
	if err := nn.Save(path, src, nn.Meta{Arch: "x", Classes: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	hlen := int(binary.LittleEndian.Uint64(full))
	cuts := []int{0, 1, 7, 8, 9, 8 + hlen/2, 8 + hlen, 8 + hlen + 1, len(full) / 2, len(full) - 4, len(full) - 1}
	for _, n := range cuts {
		bad := filepath.Join(t.TempDir(), "cut.safetensors")
		if err := os.WriteFile(bad, full[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		dst := tinyCNN(50)
		before := modelcheck.State(dst)
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("Load of %d of %d bytes panicked: %v", n, len(full), r)
				}
			}()
			if _, _, err := nn.Load(bad, dst, nn.LoadOptions{Lenient: true, Partial: true}); err == nil {
				t.Errorf("Load of %d of %d bytes: no error", n, len(full))
			}
			opt := nn.NewAdam(nn.NewGroup(nn.Parameters(dst), 0.01, 0))
			if _, _, err := nn.LoadTraining(bad, dst, opt); err == nil {
				t.Errorf("LoadTraining of %d of %d bytes: no error", n, len(full))
			}
		}()
		tensorcheck.SameState(t, "after a corrupt file", modelcheck.State(dst), before)
	}
	// A header that is not JSON, and a metadata entry that does not parse.
	bad := filepath.Join(t.TempDir(), "garbage.safetensors")
	garbage := append(binary.LittleEndian.AppendUint64(nil, 8), []byte("{garbage")...)
	if err := os.WriteFile(bad, garbage, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := nn.Load(bad, tinyCNN(2), nn.LoadOptions{}); err == nil {
		t.Error("Load of a garbage header: no error")
	}
	sd := nn.StateDict(src)
	if err := safetensors.WriteFile(bad, &safetensors.File{Tensors: sd, Metadata: map[string]string{"input_shape": "[1,"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := nn.Load(bad, tinyCNN(2), nn.LoadOptions{}); err == nil || !strings.Contains(err.Error(), "input_shape") {
		t.Errorf("Load of bad metadata: %v, want an error naming input_shape", err)
	}
	if _, _, err := nn.Load(filepath.Join(t.TempDir(), "none.safetensors"), tinyCNN(2), nn.LoadOptions{}); err == nil {
		t.Error("Load of a missing file: no error")
	}
}

// mlp is Dense(4→6) → BatchNorm1D → ReLU → Dense(6→3), the tiny model of
// the training-checkpoint tests.
func mlp(seed uint64, extra ...nn.Layer) *nn.Sequential {
	ls := []nn.Layer{nn.NewDense(4, 6, true, seed), nn.NewBatchNorm(6), nn.ReLU()}
	ls = append(ls, extra...)
	ls = append(ls, nn.NewDense(6, 3, true, seed+1))
	return nn.NewSequential(ls...)
}

// trainStep runs one step of training on a batch.
func trainStep(m nn.Layer, opt nn.Optimizer, x *tensor.Tensor, labels []int) float32 {
	out := m.Forward(x)
	grad := tensor.Zeros(out.Shape()...)
	loss := nn.CrossEntropy{}.Loss(grad, out, labels, nil)
	m.Backward(grad, false)
	opt.Step()
	return loss
}

func batchAt(i int) (*tensor.Tensor, []int) {
	x := modelcheck.Randn(uint64(200+i), 8, 4)
	labels := make([]int, 8)
	for j := range labels {
		labels[j] = (i + j) % 3
	}
	return x, labels
}

func TestTrainingCheckpointResume(t *testing.T) {
	opts := map[string]func(m nn.Layer) nn.Optimizer{
		"adam": func(m nn.Layer) nn.Optimizer { return nn.NewAdam(nn.NewGroup(nn.Parameters(m), 0.01, 1e-3)) },
		"adamw": func(m nn.Layer) nn.Optimizer {
			return nn.NewAdamW(nn.NewGroup(nn.Parameters(m)[:2], 0.02, 0.1), nn.NewGroup(nn.Parameters(m)[2:], 0.01, 0))
		},
		"sgd_momentum": func(m nn.Layer) nn.Optimizer { return nn.NewSGD(0.9, false, nn.NewGroup(nn.Parameters(m), 0.1, 1e-3)) },
		"sgd_nesterov": func(m nn.Layer) nn.Optimizer { return nn.NewSGD(0.9, true, nn.NewGroup(nn.Parameters(m), 0.1, 0)) },
	}
	for _, name := range []string{"adam", "adamw", "sgd_momentum", "sgd_nesterov"} {
		newOpt := opts[name]
		t.Run(name, func(t *testing.T) {
			a := mlp(1)
			nn.SetTraining(a, true)
			optA := newOpt(a)
			for i := 0; i < 3; i++ {
				x, l := batchAt(i)
				trainStep(a, optA, x, l)
			}
			path := tempPath(t, "train.safetensors")
			meta := nn.Meta{Arch: "mlp", Classes: []string{"a", "b", "c"}}
			if err := nn.SaveTraining(path, a, optA, nn.TrainState{Epoch: 1, Step: 3}, meta); err != nil {
				t.Fatal(err)
			}
			for i := 3; i < 5; i++ {
				x, l := batchAt(i)
				trainStep(a, optA, x, l)
			}

			b := mlp(77)
			nn.SetTraining(b, true)
			optB := newOpt(b)
			st, gotMeta, err := nn.LoadTraining(path, b, optB)
			if err != nil {
				t.Fatal(err)
			}
			if st != (nn.TrainState{Epoch: 1, Step: 3}) {
				t.Errorf("train state %+v, want epoch 1 step 3", st)
			}
			if gotMeta.Arch != "mlp" || !slices.Equal(gotMeta.Classes, meta.Classes) || len(gotMeta.Extra) != 0 {
				t.Errorf("meta %#v", gotMeta)
			}
			for i := 3; i < 5; i++ {
				x, l := batchAt(i)
				trainStep(b, optB, x, l)
			}
			tensorcheck.SameState(t, "resumed", modelcheck.State(b), modelcheck.State(a))

			// Without the optimizer state, the same steps give other
			// weights: the test can tell.
			c := mlp(77)
			nn.SetTraining(c, true)
			if _, _, err := nn.Load(path, c, nn.LoadOptions{}); err != nil {
				t.Fatal(err)
			}
			optC := newOpt(c)
			for i := 3; i < 5; i++ {
				x, l := batchAt(i)
				trainStep(c, optC, x, l)
			}
			if reflect.DeepEqual(modelcheck.State(c), modelcheck.State(a)) {
				t.Error("a fresh optimizer resumes identically: the optimizer state is not exercised")
			}
		})
	}
}

// TestTrainingCheckpointResumeDropout resumes a model with dropout: its
// masks come from its seed and its step counter, so resuming exactly needs
// the counter.
func TestTrainingCheckpointResumeDropout(t *testing.T) {
	a := mlp(1, nn.NewDropout(0.5, 3))
	nn.SetTraining(a, true)
	optA := nn.NewSGD(0.9, false, nn.NewGroup(nn.Parameters(a), 0.1, 0))
	for i := 0; i < 3; i++ {
		x, l := batchAt(i)
		trainStep(a, optA, x, l)
	}
	path := tempPath(t, "train.safetensors")
	if err := nn.SaveTraining(path, a, optA, nn.TrainState{Step: 3}, nn.Meta{}); err != nil {
		t.Fatal(err)
	}
	for i := 3; i < 5; i++ {
		x, l := batchAt(i)
		trainStep(a, optA, x, l)
	}
	b := mlp(77, nn.NewDropout(0.5, 3))
	nn.SetTraining(b, true)
	optB := nn.NewSGD(0.9, false, nn.NewGroup(nn.Parameters(b), 0.1, 0))
	if _, _, err := nn.LoadTraining(path, b, optB); err != nil {
		t.Fatal(err)
	}
	for i := 3; i < 5; i++ {
		x, l := batchAt(i)
		trainStep(b, optB, x, l)
	}
	tensorcheck.SameState(t, "resumed with dropout", modelcheck.State(b), modelcheck.State(a))
}

func TestTrainingCheckpointLoadsAsModel(t *testing.T) {
	a := mlp(1)
	nn.SetTraining(a, true)
	opt := nn.NewAdam(nn.NewGroup(nn.Parameters(a), 0.01, 0))
	x, l := batchAt(0)
	trainStep(a, opt, x, l)
	path := tempPath(t, "train.safetensors")
	if err := nn.SaveTraining(path, a, opt, nn.TrainState{Epoch: 2, Step: 9}, nn.Meta{Arch: "mlp"}); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var optNames []string
	for k := range f.Tensors {
		if strings.HasPrefix(k, "optimizer.") {
			optNames = append(optNames, k)
		}
	}
	sort.Strings(optNames)
	if len(optNames) != 2*len(nn.Parameters(a)) || !slices.Contains(optNames, "optimizer.0.weight.exp_avg") {
		t.Errorf("optimizer tensors %v", optNames)
	}
	b := mlp(5)
	meta, rep, err := nn.Load(path, b, nn.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Clean() || meta.Arch != "mlp" || len(meta.Extra) != 0 {
		t.Errorf("report %v, meta %#v: the training entries leak", rep, meta)
	}
	tensorcheck.SameState(t, "model of a training checkpoint", modelcheck.State(b), modelcheck.State(a))

	// A plain checkpoint is no training checkpoint.
	plain := tempPath(t, "plain.safetensors")
	if err := nn.Save(plain, a, nn.Meta{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := nn.LoadTraining(plain, mlp(5), nn.NewAdam(nn.NewGroup(nn.Parameters(b), 0.01, 0))); err == nil {
		t.Error("LoadTraining accepted a checkpoint without training state")
	}
}

// TestSaveFailureKeepsOldFile: a Save that fails (metadata JSON cannot
// hold NaN) leaves the checkpoint already at the path as it was; and the
// state dict shares no storage with the model.
func TestSaveFailureKeepsOldFile(t *testing.T) {
	m := trainedCNN(1)
	path := tempPath(t, "m.safetensors")
	if err := nn.Save(path, m, nn.Meta{Arch: "old"}); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.Save(path, m, nn.Meta{Arch: "new", Mean: []float32{float32(math.NaN())}}); err == nil {
		t.Error("Save of a NaN mean: no error")
	}
	if now, err := os.ReadFile(path); err != nil || string(now) != string(old) {
		t.Errorf("a failed Save changed the file (%v)", err)
	}
	if err := nn.Save(filepath.Join(t.TempDir(), "no", "such", "dir", "m.safetensors"), m, nn.Meta{}); err == nil {
		t.Error("Save into a missing directory: no error")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("%d files beside the checkpoint, want none (temporary files left?)", len(entries)-1)
	}

	sd := nn.StateDict(m)
	before := modelcheck.State(m)
	sd["0.weight"].F32[0] += 1
	sd["1.num_batches_tracked"].I64[0] = 99
	tensorcheck.SameState(t, "model after editing its state dict", modelcheck.State(m), before)
}
