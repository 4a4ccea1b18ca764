package nn

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/graftml/graft/nn/safetensors"
	"github.com/graftml/graft/tensor"
)

// Meta is what a checkpoint records beside the tensors, in the
// safetensors "__metadata__" header, so that a model can be rebuilt and
// fed without anything else: the architecture and its options, the class
// names, the input shape (H, W, C) and the per-channel normalisation.
type Meta struct {
	Arch       string
	Options    map[string]string
	Classes    []string
	InputShape []int
	Mean, Std  []float32
	// Extra holds any other metadata entries.
	Extra map[string]string
}

const (
	metaArch    = "arch"
	metaOptions = "arch_options"
	metaClasses = "classes"
	metaInput   = "input_shape"
	metaMean    = "mean"
	metaStd     = "std"
	metaStep    = "train_step"
	metaEpoch   = "train_epoch"
	metaOptim   = "optimizer_scalars"
	metaDropout = "dropout_steps"
	optimPrefix = "optimizer."
)

func (m Meta) encode() (map[string]string, error) {
	out := map[string]string{}
	maps.Copy(out, m.Extra)
	put := func(k string, v any, skip bool) error {
		if skip {
			return nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("nn: metadata %s: %w", k, err)
		}
		out[k] = string(b)
		return nil
	}
	if m.Arch != "" {
		out[metaArch] = m.Arch
	}
	for _, e := range []struct {
		k    string
		v    any
		skip bool
	}{{metaOptions, m.Options, len(m.Options) == 0}, {metaClasses, m.Classes, m.Classes == nil},
		{metaInput, m.InputShape, m.InputShape == nil}, {metaMean, m.Mean, m.Mean == nil}, {metaStd, m.Std, m.Std == nil}} {
		if err := put(e.k, e.v, e.skip); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func decodeMeta(md map[string]string) (Meta, error) {
	m := Meta{Arch: md[metaArch], Extra: map[string]string{}}
	get := func(k string, v any) error {
		s, ok := md[k]
		if !ok {
			return nil
		}
		if err := json.Unmarshal([]byte(s), v); err != nil {
			return fmt.Errorf("metadata %s: %w", k, err)
		}
		return nil
	}
	for _, e := range []struct {
		k string
		v any
	}{{metaOptions, &m.Options}, {metaClasses, &m.Classes}, {metaInput, &m.InputShape}, {metaMean, &m.Mean}, {metaStd, &m.Std}} {
		if err := get(e.k, e.v); err != nil {
			return m, err
		}
	}
	for k, v := range md {
		switch k {
		case metaArch, metaOptions, metaClasses, metaInput, metaMean, metaStd, metaStep, metaEpoch, metaOptim, metaDropout:
		default:
			m.Extra[k] = v
		}
	}
	return m, nil
}

// StateDict returns the model's parameters and buffers by their dotted
// names (PyTorch's state_dict), as safetensors tensors sharing no storage
// with the model: F32 for floats, I64 for integer buffers.
func StateDict(model Layer) map[string]*safetensors.Tensor {
	out := map[string]*safetensors.Tensor{}
	for _, p := range Parameters(model) {
		out[p.Name] = f32Tensor(p.Value.Value)
	}
	for _, b := range Buffers(model) {
		if b.Value.Int {
			d := b.Value.Value.Data()
			iv := make([]int64, len(d))
			for i, v := range d {
				iv[i] = int64(v)
			}
			out[b.Name] = &safetensors.Tensor{DType: safetensors.I64, Shape: slices.Clone(b.Value.Value.Shape()), I64: iv}
			continue
		}
		out[b.Name] = f32Tensor(b.Value.Value)
	}
	return out
}

func f32Tensor(t *tensor.Tensor) *safetensors.Tensor {
	return &safetensors.Tensor{DType: safetensors.F32, Shape: slices.Clone(t.Shape()), F32: slices.Clone(t.Data())}
}

// Save writes the model's state_dict and meta to path as safetensors,
// atomically (a temporary file, fsync, rename).
func Save(path string, model Layer, meta Meta) error {
	return SaveSelected(path, model, meta, nil)
}

// SaveSelected is Save restricted to the tensors whose names keep accepts
// (all when keep is nil): a delta checkpoint holding only what training
// changed, to be loaded over its base with LoadOptions.Partial.
func SaveSelected(path string, model Layer, meta Meta, keep func(name string) bool) error {
	md, err := meta.encode()
	if err != nil {
		return err
	}
	sd := StateDict(model)
	if keep != nil {
		maps.DeleteFunc(sd, func(k string, _ *safetensors.Tensor) bool { return !keep(k) })
	}
	if err := safetensors.WriteFile(path, &safetensors.File{Tensors: sd, Metadata: md}); err != nil {
		return fmt.Errorf("nn: save checkpoint: %w", err)
	}
	return nil
}

// LoadOptions relax Load's checks.
type LoadOptions struct {
	// Lenient loads what matches and reports the rest instead of failing.
	Lenient bool
	// Partial accepts a file that lacks some of the model's tensors (a
	// delta checkpoint); unexpected and wrong-shape tensors still fail
	// unless Lenient.
	Partial bool
}

// LoadReport lists the tensors that did not match between a checkpoint
// and a model.
type LoadReport struct {
	Missing    []string // in the model, not in the file
	Unexpected []string // in the file, not in the model
	WrongShape []string // "name: file [..], model [..]"
	Loaded     int
}

// Clean reports whether every tensor matched.
func (r LoadReport) Clean() bool {
	return len(r.Missing) == 0 && len(r.Unexpected) == 0 && len(r.WrongShape) == 0
}

// String lists the mismatches, or the count loaded when there are none.
func (r LoadReport) String() string {
	var parts []string
	add := func(what string, names []string) {
		if len(names) == 0 {
			return
		}
		shown := names
		if len(shown) > 8 {
			shown = append(slices.Clone(shown[:8]), fmt.Sprintf("… %d more", len(names)-8))
		}
		parts = append(parts, fmt.Sprintf("%d %s (%s)", len(names), what, strings.Join(shown, ", ")))
	}
	add("missing", r.Missing)
	add("unexpected", r.Unexpected)
	add("wrong shape", r.WrongShape)
	if len(parts) == 0 {
		return fmt.Sprintf("%d tensors loaded", r.Loaded)
	}
	return strings.Join(parts, "; ")
}

// Load reads a safetensors checkpoint into the model by name and returns
// its metadata. Strict by default: any missing, unexpected or wrong-shape
// tensor is an error and the model is left unchanged. Integer buffers
// accept I64 (PyTorch's num_batches_tracked); F16 and BF16 are converted.
// Optimizer state in a training checkpoint is ignored here (see
// LoadTraining).
func Load(path string, model Layer, o LoadOptions) (Meta, LoadReport, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return Meta{}, LoadReport{}, fmt.Errorf("nn: load checkpoint: %w", err)
	}
	meta, rep, err := LoadFile(f, model, o)
	if err != nil {
		return meta, rep, fmt.Errorf("nn: load checkpoint %s: %w", path, err)
	}
	return meta, rep, nil
}

// LoadFile is Load from a safetensors file already read (an embedded
// checkpoint, say).
func LoadFile(f *safetensors.File, model Layer, o LoadOptions) (Meta, LoadReport, error) {
	meta, err := decodeMeta(f.Metadata)
	if err != nil {
		return meta, LoadReport{}, err
	}
	rep, err := LoadState(f.Tensors, model, o)
	return meta, rep, err
}

// MetaOf returns the metadata of a safetensors file already read.
func MetaOf(f *safetensors.File) (Meta, error) { return decodeMeta(f.Metadata) }

// LoadState copies named tensors into the model (see Load).
func LoadState(tensors map[string]*safetensors.Tensor, model Layer, o LoadOptions) (LoadReport, error) {
	type dst struct {
		t   *tensor.Tensor
		int bool
	}
	want := map[string]dst{}
	var order []string
	for _, p := range Parameters(model) {
		want[p.Name] = dst{p.Value.Value, false}
		order = append(order, p.Name)
	}
	for _, b := range Buffers(model) {
		want[b.Name] = dst{b.Value.Value, b.Value.Int}
		order = append(order, b.Name)
	}
	var rep LoadReport
	bad := map[string]bool{} // wrong-shape names, never copied
	for _, name := range order {
		if _, ok := tensors[name]; !ok {
			rep.Missing = append(rep.Missing, name)
		}
	}
	names := slices.Sorted(maps.Keys(tensors))
	for _, name := range names {
		if strings.HasPrefix(name, optimPrefix) {
			continue
		}
		d, ok := want[name]
		if !ok {
			rep.Unexpected = append(rep.Unexpected, name)
			continue
		}
		t := tensors[name]
		if !slices.Equal(t.Shape, d.t.Shape()) && !(len(t.Shape) == 0 && d.t.Len() == 1) {
			rep.WrongShape = append(rep.WrongShape, fmt.Sprintf("%s: file %v, model %v", name, t.Shape, d.t.Shape()))
			bad[name] = true
			continue
		}
		if t.DType == safetensors.I64 && !d.int {
			return rep, fmt.Errorf("tensor %s: I64 in the file, the model holds floats", name)
		}
	}
	fail := len(rep.Unexpected) > 0 || len(rep.WrongShape) > 0 || (len(rep.Missing) > 0 && !o.Partial)
	if fail && !o.Lenient {
		return rep, errors.New(rep.String() + " (LoadOptions.Lenient loads what matches)")
	}
	for _, name := range names {
		d, ok := want[name]
		if !ok || bad[name] {
			continue
		}
		t := tensors[name]
		out := d.t.Data()
		if t.DType == safetensors.I64 {
			for i, v := range t.I64 {
				out[i] = float32(v)
			}
		} else {
			copy(out, t.F32)
		}
		rep.Loaded++
	}
	return rep, nil
}

// TrainState is the progress of a training run saved beside the model.
type TrainState struct {
	Epoch, Step int
}

// SaveTraining writes a training checkpoint: the model, the optimizer's
// state (tensors named "optimizer.<param>.<slot>") and the progress, so
// training resumes exactly.
func SaveTraining(path string, model Layer, opt Optimizer, st TrainState, meta Meta) error {
	md, err := meta.encode()
	if err != nil {
		return err
	}
	sd := StateDict(model)
	ts, sc := opt.State()
	for k, t := range ts {
		sd[optimPrefix+k] = f32Tensor(t)
	}
	b, err := json.Marshal(sc)
	if err != nil {
		return err
	}
	md[metaOptim] = string(b)
	drop := map[string]uint64{}
	Walk(model, func(name string, l Layer) {
		if d, ok := l.(*Dropout); ok {
			drop[name] = d.Steps()
		}
	})
	if b, err = json.Marshal(drop); err != nil {
		return err
	}
	md[metaDropout] = string(b)
	md[metaStep] = strconv.Itoa(st.Step)
	md[metaEpoch] = strconv.Itoa(st.Epoch)
	if err := safetensors.WriteFile(path, &safetensors.File{Tensors: sd, Metadata: md}); err != nil {
		return fmt.Errorf("nn: save training checkpoint: %w", err)
	}
	return nil
}

// LoadTraining reads a training checkpoint into model and opt (strictly)
// and returns the progress and metadata.
func LoadTraining(path string, model Layer, opt Optimizer) (TrainState, Meta, error) {
	var st TrainState
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return st, Meta{}, fmt.Errorf("nn: load training checkpoint: %w", err)
	}
	meta, err := decodeMeta(f.Metadata)
	if err != nil {
		return st, meta, fmt.Errorf("nn: load training checkpoint %s: %w", path, err)
	}
	if _, err := LoadState(f.Tensors, model, LoadOptions{}); err != nil {
		return st, meta, fmt.Errorf("nn: load training checkpoint %s: %w", path, err)
	}
	if st.Step, err = strconv.Atoi(f.Metadata[metaStep]); err != nil {
		return st, meta, fmt.Errorf("nn: training checkpoint %s: no step count (%v)", path, err)
	}
	if st.Epoch, err = strconv.Atoi(f.Metadata[metaEpoch]); err != nil {
		return st, meta, fmt.Errorf("nn: training checkpoint %s: no epoch count (%v)", path, err)
	}
	sc := map[string]float64{}
	if err := json.Unmarshal([]byte(f.Metadata[metaOptim]), &sc); err != nil {
		return st, meta, fmt.Errorf("nn: training checkpoint %s: optimizer scalars: %v", path, err)
	}
	if s, ok := f.Metadata[metaDropout]; ok {
		drop := map[string]uint64{}
		if err := json.Unmarshal([]byte(s), &drop); err != nil {
			return st, meta, fmt.Errorf("nn: training checkpoint %s: dropout steps: %v", path, err)
		}
		Walk(model, func(name string, l Layer) {
			if d, ok := l.(*Dropout); ok {
				d.SetSteps(drop[name])
			}
		})
	}
	ts := map[string]*tensor.Tensor{}
	for k, t := range f.Tensors {
		if name, ok := strings.CutPrefix(k, optimPrefix); ok {
			if t.DType == safetensors.I64 {
				return st, meta, fmt.Errorf("nn: training checkpoint %s: optimizer tensor %s is I64", path, k)
			}
			ts[name] = tensor.FromSlice(t.F32, t.Shape...)
		}
	}
	if err := opt.LoadState(ts, sc); err != nil {
		return st, meta, fmt.Errorf("nn: training checkpoint %s: %w", path, err)
	}
	return st, meta, nil
}

// ReadMeta returns a checkpoint's metadata without loading it into a
// model.
func ReadMeta(path string) (Meta, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return Meta{}, fmt.Errorf("nn: read checkpoint: %w", err)
	}
	m, err := decodeMeta(f.Metadata)
	if err != nil {
		return m, fmt.Errorf("nn: checkpoint %s: %w", path, err)
	}
	return m, nil
}
