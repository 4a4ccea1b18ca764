package pth

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/graftml/graft/nn/safetensors"
)

// dtype is a torch storage's element type.
type dtype int

const (
	f32 dtype = iota
	f16
	bf16
	f64
	i64
	i32
	i16
	i8
	u8
	boolean
)

func (d dtype) size() int {
	switch d {
	case f64, i64:
		return 8
	case f32, i32:
		return 4
	case f16, bf16, i16:
		return 2
	}
	return 1
}

func (d dtype) float() bool { return d <= f64 }

// Options change what Read returns.
type Options struct {
	// StripModule removes the "module." prefix nn.DataParallel and
	// DistributedDataParallel put before every name, when every name has
	// it.
	StripModule bool
}

// StateDict is the state_dict found in a file.
type StateDict struct {
	// Tensors by name: floating tensors (float32, float16, bfloat16 and
	// float64 storages) as F32 values, with DType F32, F16 or BF16 (F32 for
	// float64, which is rounded); integer and bool tensors as I64.
	Tensors map[string]*safetensors.Tensor
	// Path is where the state_dict sat in the saved object: "" when the
	// file holds the state_dict itself, else the keys leading to it, as
	// in `["state_dict"]`.
	Path string
}

// maxDims bounds a tensor's rank.
const maxDims = 64

// ReadFile reads a state_dict from a .pth/.pt file (see Read).
func ReadFile(path string, o Options) (*StateDict, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pth: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("pth: %w", err)
	}
	sd, err := Read(f, st.Size(), o)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return sd, nil
}

// Is reports whether r starts like a file torch.save writes: a zip
// archive, or the legacy (before PyTorch 1.6) pickle, which Read names
// in its error.
func Is(r io.ReaderAt) bool {
	var b [4]byte
	if _, err := r.ReadAt(b[:], 0); err != nil {
		return false
	}
	return string(b[:]) == "PK\x03\x04" || (b[0] == 0x80 && b[1] == 2 && b[2] == 0x8a)
}

// Read reads the state_dict in a torch.save zip archive of size bytes.
func Read(r io.ReaderAt, size int64, o Options) (*StateDict, error) {
	sd, err := read(r, size, o)
	if err != nil {
		return nil, fmt.Errorf("pth: %w", err)
	}
	return sd, nil
}

// archive is an open torch.save zip: its entries by name under the
// archive's folder.
type archive struct {
	files    map[string]*zip.File
	prefix   string
	order    binary.ByteOrder
	storages map[string]*storage
	size     int64
}

func read(r io.ReaderAt, size int64, o Options) (*StateDict, error) {
	var head [3]byte
	if _, err := r.ReadAt(head[:], 0); err == nil && head[0] == 0x80 && head[1] == 2 && head[2] == 0x8a {
		return nil, errors.New("a legacy torch.save file (PyTorch before 1.6) is not read: " +
			"load and save it again with a recent PyTorch")
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("not a torch.save zip archive: %w", err)
	}
	a := &archive{files: map[string]*zip.File{}, storages: map[string]*storage{}, size: size, order: binary.LittleEndian}
	for _, f := range zr.File {
		dir, rest, ok := strings.Cut(f.Name, "/")
		if !ok {
			return nil, fmt.Errorf("zip entry %q outside the archive's folder", f.Name)
		}
		if a.prefix == "" {
			a.prefix = dir
		} else if dir != a.prefix {
			return nil, fmt.Errorf("zip entries in two folders (%q and %q)", a.prefix, dir)
		}
		a.files[rest] = f
	}
	if _, ok := a.files["data.pkl"]; !ok {
		if _, ts := a.files["constants.pkl"]; ts {
			return nil, errors.New("a TorchScript archive (torch.jit.save), not a state_dict: save model.state_dict() with torch.save")
		}
		return nil, fmt.Errorf("no %s/data.pkl in the archive", a.prefix)
	}
	if f, ok := a.files["byteorder"]; ok {
		b, err := a.entry(f, 16)
		if err != nil {
			return nil, err
		}
		switch string(b) {
		case "little":
		case "big":
			a.order = binary.BigEndian
		default:
			return nil, fmt.Errorf("byteorder %q", abbrev(b))
		}
	}
	pkl, err := a.entry(a.files["data.pkl"], size)
	if err != nil {
		return nil, err
	}
	u := &unpickler{b: pkl, persid: a.persistentLoad}
	obj, err := u.run()
	if err != nil {
		return nil, err
	}
	d, path, err := findStateDict(obj)
	if err != nil {
		return nil, err
	}
	return a.materialise(d, path, o)
}

// entry reads one stored (uncompressed) zip entry of at most limit bytes.
func (a *archive) entry(f *zip.File, limit int64) ([]byte, error) {
	if f.Method != zip.Store {
		return nil, fmt.Errorf("zip entry %s is compressed (method %d); torch.save stores entries uncompressed", f.Name, f.Method)
	}
	n := f.UncompressedSize64
	if n != f.CompressedSize64 || n > uint64(a.size) || n > uint64(limit) {
		return nil, fmt.Errorf("zip entry %s claims %d bytes (file of %d)", f.Name, n, a.size)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("zip entry %s: %w", f.Name, err)
	}
	defer rc.Close()
	b := make([]byte, n)
	if _, err := io.ReadFull(rc, b); err != nil {
		return nil, fmt.Errorf("zip entry %s: %w", f.Name, err)
	}
	// Reading to the end checks the CRC.
	if _, err := rc.Read(make([]byte, 1)); err != io.EOF {
		if err == nil {
			err = errors.New("longer than its size")
		}
		return nil, fmt.Errorf("zip entry %s: %w", f.Name, err)
	}
	return b, nil
}

// storage is one data/N entry, shared by the tensors that view it.
type storage struct {
	key   string
	dt    dtype
	numel int64
	data  []byte
}

// persistentLoad resolves torch.save's persistent ids,
// ('storage', <Type>Storage, key, location, numel), to the storage's
// bytes.
func (a *archive) persistentLoad(pid any) (any, error) {
	t, ok := pid.(tuple)
	if !ok || len(t) != 5 || t[0] != "storage" {
		return nil, fmt.Errorf("data.pkl: persistent id %s is not a storage reference", describe(pid))
	}
	g, ok1 := t[1].(global)
	key, ok2 := t[2].(string)
	_, ok3 := t[3].(string)
	numel, ok4 := t[4].(int64)
	dt, ok5 := storageTypes[g.String()]
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || numel < 0 {
		return nil, fmt.Errorf("data.pkl: persistent id %s is not a storage reference", describe(pid))
	}
	if s, ok := a.storages[key]; ok {
		if s.dt != dt || s.numel != numel {
			return nil, fmt.Errorf("data.pkl: storage %s referenced with two types or sizes", key)
		}
		return s, nil
	}
	f, ok := a.files["data/"+key]
	if !ok {
		return nil, fmt.Errorf("storage %s: no entry %s/data/%s", key, a.prefix, key)
	}
	if numel > a.size/int64(dt.size()) || uint64(numel)*uint64(dt.size()) != f.UncompressedSize64 {
		return nil, fmt.Errorf("storage %s: %d elements of %d bytes, the entry holds %d bytes", key, numel, dt.size(), f.UncompressedSize64)
	}
	b, err := a.entry(f, a.size)
	if err != nil {
		return nil, err
	}
	s := &storage{key: key, dt: dt, numel: numel, data: b}
	a.storages[key] = s
	return s, nil
}

// tensorRef is a view of a storage, checked to lie inside it.
type tensorRef struct {
	st            *storage
	offset, numel int64
	shape, stride []int64
}

func ints(v any, what string) ([]int64, error) {
	t, ok := v.(tuple)
	if !ok {
		return nil, fmt.Errorf("%s is a %s, not a tuple", what, typeName(v))
	}
	if len(t) > maxDims {
		return nil, fmt.Errorf("%s has %d dimensions", what, len(t))
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok || n < 0 {
			return nil, fmt.Errorf("%s %s", what, describe(v))
		}
		out[i] = n
	}
	return out, nil
}

// rebuildTensor is torch._utils._rebuild_tensor_v2(storage,
// storage_offset, size, stride, requires_grad, backward_hooks[,
// metadata]), checked: the view must lie inside its storage and hold no
// more elements than it (an expanded view could make a small file
// demand unbounded memory).
func rebuildTensor(args tuple) (any, error) {
	if len(args) != 6 && len(args) != 7 {
		return nil, fmt.Errorf("%d arguments, want 6 or 7", len(args))
	}
	st, ok := args[0].(*storage)
	if !ok {
		return nil, fmt.Errorf("storage argument is a %s", typeName(args[0]))
	}
	off, ok := args[1].(int64)
	if !ok || off < 0 {
		return nil, fmt.Errorf("storage offset %s", describe(args[1]))
	}
	shape, err := ints(args[2], "size")
	if err != nil {
		return nil, err
	}
	stride, err := ints(args[3], "stride")
	if err != nil {
		return nil, err
	}
	if len(shape) != len(stride) {
		return nil, fmt.Errorf("size %v and stride %v differ in rank", shape, stride)
	}
	if _, ok := args[4].(bool); !ok {
		return nil, fmt.Errorf("requires_grad is a %s", typeName(args[4]))
	}
	if err := noHooks(args[5]); err != nil {
		return nil, err
	}
	numel := int64(1)
	last := off // the highest element index the view reads
	for i, n := range shape {
		if n != 0 && numel > math.MaxInt64/n {
			return nil, fmt.Errorf("size %v overflows", shape)
		}
		numel *= n
		if n > 0 {
			if stride[i] != 0 && (n-1) > (math.MaxInt64-last)/stride[i] {
				return nil, fmt.Errorf("stride %v overflows", stride)
			}
			last += (n - 1) * stride[i]
		}
	}
	switch {
	case numel == 0 && off > st.numel:
		return nil, fmt.Errorf("storage offset %d past the storage's %d elements", off, st.numel)
	case numel > 0 && last >= st.numel:
		return nil, fmt.Errorf("view (offset %d, size %v, stride %v) reads element %d of a storage of %d", off, shape, stride, last, st.numel)
	case numel > st.numel:
		return nil, fmt.Errorf("view of size %v holds more elements than its storage (%d): expanded views are not loaded", shape, st.numel)
	}
	return &tensorRef{st: st, offset: off, numel: numel, shape: shape, stride: stride}, nil
}

// noHooks checks that backward_hooks is an empty (Ordered)Dict.
func noHooks(v any) error {
	if h, ok := v.(*dict); !ok || len(h.keys) != 0 {
		return errors.New("backward hooks are not loaded (a state_dict has none)")
	}
	return nil
}

// rebuildParameter is torch._utils._rebuild_parameter(data,
// requires_grad, backward_hooks[, state]): the tensor itself.
func rebuildParameter(args tuple) (any, error) {
	if len(args) != 3 && len(args) != 4 {
		return nil, fmt.Errorf("%d arguments, want 3 or 4", len(args))
	}
	t, ok := args[0].(*tensorRef)
	if !ok {
		return nil, fmt.Errorf("data is a %s", typeName(args[0]))
	}
	if err := noHooks(args[2]); err != nil {
		return nil, err
	}
	return t, nil
}

// stateDictKeys are where training scripts nest the model's state_dict,
// tried in this order.
var stateDictKeys = []string{"state_dict", "model", "model_state_dict", "module", "net", "network", "ema"}

// findStateDict returns the dict of tensors in obj: obj itself, or one
// nested under the keys above (up to three levels).
func findStateDict(obj any) (*dict, string, error) {
	var visit func(v any, path string, depth int) (*dict, string)
	visit = func(v any, path string, depth int) (*dict, string) {
		d, ok := v.(*dict)
		if !ok || depth > 3 {
			return nil, ""
		}
		if isStateDict(d) {
			return d, path
		}
		for _, k := range stateDictKeys {
			if c, ok := d.get(k); ok {
				if sd, p := visit(c, fmt.Sprintf("%s[%q]", path, k), depth+1); sd != nil {
					return sd, p
				}
			}
		}
		return nil, ""
	}
	if d, path := visit(obj, "", 0); d != nil {
		return d, path, nil
	}
	if d, ok := obj.(*dict); ok {
		return nil, "", fmt.Errorf("no state_dict in the file: a dict with keys %s, none a dict of tensors (tried %s)",
			describeKeys(d), strings.Join(stateDictKeys, ", "))
	}
	return nil, "", fmt.Errorf("no state_dict in the file: it holds a %s", typeName(obj))
}

// isStateDict: a non-empty dict of string keys to tensors.
func isStateDict(d *dict) bool {
	for i, k := range d.keys {
		if _, ok := k.(string); !ok {
			return false
		}
		if _, ok := d.vals[i].(*tensorRef); !ok {
			return false
		}
	}
	return len(d.keys) > 0
}

// materialise copies the state_dict's views out of their storages,
// within a budget of four times the file (float16 doubles in float32;
// shared storages count once per view).
func (a *archive) materialise(d *dict, path string, o Options) (*StateDict, error) {
	budget := 4*a.size + 1<<20
	prefix := ""
	if o.StripModule && len(d.keys) > 0 && !slices.ContainsFunc(d.keys, func(k any) bool { return !strings.HasPrefix(k.(string), "module.") }) {
		prefix = "module."
	}
	out := &StateDict{Tensors: make(map[string]*safetensors.Tensor, len(d.keys)), Path: path}
	for i, k := range d.keys {
		name := strings.TrimPrefix(k.(string), prefix)
		t := d.vals[i].(*tensorRef)
		if budget -= 8 * t.numel; budget < 0 {
			return nil, fmt.Errorf("tensor %s: the views hold more than four times the file's bytes", name)
		}
		out.Tensors[name] = t.values(a.order)
	}
	return out, nil
}

// values gathers the view's elements in row-major order.
func (t *tensorRef) values(order binary.ByteOrder) *safetensors.Tensor {
	shape := make([]int, len(t.shape))
	for i, n := range t.shape {
		shape[i] = int(n)
	}
	out := &safetensors.Tensor{Shape: shape}
	dt, b, es := t.st.dt, t.st.data, t.st.dt.size()
	var f []float32
	var n []int64
	if dt.float() {
		f = make([]float32, t.numel)
		out.F32 = f
		out.DType = map[dtype]safetensors.DType{f32: safetensors.F32, f16: safetensors.F16, bf16: safetensors.BF16, f64: safetensors.F32}[dt]
	} else {
		n = make([]int64, t.numel)
		out.I64 = n
		out.DType = safetensors.I64
	}
	put := func(j int64, at int64) {
		p := b[at*int64(es):]
		switch dt {
		case f32:
			f[j] = math.Float32frombits(order.Uint32(p))
		case f16:
			f[j] = safetensors.HalfToFloat32(order.Uint16(p))
		case bf16:
			f[j] = math.Float32frombits(uint32(order.Uint16(p)) << 16)
		case f64:
			f[j] = float32(math.Float64frombits(order.Uint64(p)))
		case i64:
			n[j] = int64(order.Uint64(p))
		case i32:
			n[j] = int64(int32(order.Uint32(p)))
		case i16:
			n[j] = int64(int16(order.Uint16(p)))
		case i8:
			n[j] = int64(int8(p[0]))
		case u8, boolean:
			n[j] = int64(p[0])
		}
	}
	if t.numel == 0 {
		return out
	}
	// Walk the index like an odometer, the last dimension fastest.
	idx := make([]int64, len(t.shape))
	at := t.offset
	for j := int64(0); j < t.numel; j++ {
		put(j, at)
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			at += t.stride[d]
			if idx[d] < t.shape[d] {
				break
			}
			at -= idx[d] * t.stride[d]
			idx[d] = 0
		}
	}
	return out
}

// describe prints a small value for an error message.
func describe(v any) string { return describeN(v, 3) }

func describeN(v any, depth int) string {
	switch v := v.(type) {
	case tuple:
		if depth == 0 {
			return "(…)"
		}
		parts := make([]string, 0, min(len(v), 8))
		for i, x := range v {
			if i == 8 {
				parts = append(parts, "…")
				break
			}
			parts = append(parts, describeN(x, depth-1))
		}
		return "(" + strings.Join(parts, ", ") + ")"
	case string:
		return fmt.Sprintf("%q", abbrev([]byte(v)))
	case int64, float64, bool:
		return fmt.Sprint(v)
	}
	return typeName(v)
}

func describeKeys(d *dict) string {
	var parts []string
	for i, k := range d.keys {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("… %d more", len(d.keys)-10))
			break
		}
		parts = append(parts, describe(k))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func abbrev(b []byte) string {
	if len(b) > 40 {
		return string(bytes.ToValidUTF8(b[:40], nil)) + "…"
	}
	return string(bytes.ToValidUTF8(b, nil))
}
