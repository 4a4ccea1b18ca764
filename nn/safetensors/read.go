package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
)

// DType names a tensor element type as safetensors spells it.
type DType string

// The dtypes graft reads. Write accepts only F32 and I64.
const (
	F32  DType = "F32"  // IEEE 754 binary32
	F16  DType = "F16"  // IEEE 754 binary16, read as float32
	BF16 DType = "BF16" // bfloat16, read as float32
	I64  DType = "I64"  // signed 64-bit integer
)

// size is the number of bytes one element of d takes in a file, or 0 when
// graft does not read d.
func (d DType) size() int {
	switch d {
	case F32:
		return 4
	case F16, BF16:
		return 2
	case I64:
		return 8
	}
	return 0
}

// Tensor is one named tensor. Floating tensors (F32, F16, BF16 in the file)
// are held converted to float32 in F32; I64 tensors in I64.
type Tensor struct {
	DType DType // the dtype it had in the file (or will be written as: F32 or I64 only)
	Shape []int // row-major dimensions; empty for a scalar
	F32   []float32
	I64   []int64
}

// File is a whole safetensors file.
type File struct {
	Tensors  map[string]*Tensor
	Metadata map[string]string
}

const (
	metadataKey = "__metadata__"
	// maxHeader bounds the JSON header, so a hostile length cannot make
	// Read allocate without limit.
	maxHeader = 100 << 20
)

// Read reads a safetensors file of size bytes from r.
//
// Floating tensors (F32, F16, BF16) are converted exactly to float32 and
// keep their file dtype in Tensor.DType; I64 tensors stay int64. Any other
// dtype, and any malformed header or data offsets, is an error naming the
// problem and the tensor. The returned File's maps are never nil.
func Read(r io.ReaderAt, size int64) (*File, error) {
	f, err := read(r, size)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return f, nil
}

// ReadFile reads the safetensors file at path; see Read.
func ReadFile(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("safetensors: %s: not a regular file", path)
	}
	f, err := read(fd, st.Size())
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	return f, nil
}

// readFull reads len(buf) bytes at off, accepting the io.EOF a ReaderAt may
// return together with the last bytes.
func readFull(r io.ReaderAt, buf []byte, off int64) error {
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return fmt.Errorf("file truncated: read %d of %d bytes at offset %d", n, len(buf), off)
	}
	return err
}

// entry is one tensor's header entry once checked.
type entry struct {
	name       string
	dtype      DType
	shape      []int
	n          int // number of elements
	begin, end int64
}

func read(r io.ReaderAt, size int64) (*File, error) {
	if size < 8 {
		return nil, fmt.Errorf("file is %d bytes, shorter than the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if err := readFull(r, lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxHeader {
		return nil, fmt.Errorf("header length %d exceeds the %d-byte limit", n, maxHeader)
	}
	if n > uint64(size-8) {
		return nil, fmt.Errorf("header length %d runs past the end of the %d-byte file", n, size)
	}
	hdr := make([]byte, n)
	if err := readFull(r, hdr, 8); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	dataStart := 8 + int64(n)
	dataLen := size - dataStart

	entries, meta, err := parseHeader(hdr, dataLen)
	if err != nil {
		return nil, err
	}

	// One read of the part of the data buffer the tensors use.
	var used int64
	for i := range entries {
		used = max(used, entries[i].end)
	}
	data := make([]byte, used)
	if err := readFull(r, data, dataStart); err != nil {
		return nil, fmt.Errorf("data buffer: %w", err)
	}

	f := &File{Tensors: make(map[string]*Tensor, len(entries)), Metadata: meta}
	for i := range entries {
		e := &entries[i]
		f.Tensors[e.name] = decode(e, data[e.begin:e.end])
	}
	return f, nil
}

// parseHeader checks the JSON header against a data buffer of dataLen bytes
// and returns its tensor entries and metadata (never nil).
func parseHeader(hdr []byte, dataLen int64) ([]entry, map[string]string, error) {
	if !json.Valid(hdr) {
		// Unmarshal again only for its description of the syntax error.
		var v any
		err := json.Unmarshal(hdr, &v)
		if err == nil {
			err = errors.New("invalid")
		}
		return nil, nil, fmt.Errorf("header is not valid JSON: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, fmt.Errorf("header: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, fmt.Errorf("header is not a JSON object")
	}
	meta := map[string]string{}
	var entries []entry
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("header: %v", err)
		}
		name, _ := tok.(string) // object keys are always strings
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("header: %v", err)
		}
		if seen[name] {
			if name == metadataKey {
				return nil, nil, fmt.Errorf("header has %s twice", metadataKey)
			}
			return nil, nil, fmt.Errorf("tensor %q: appears twice in the header", name)
		}
		seen[name] = true
		if name == metadataKey {
			if meta, err = parseMetadata(raw); err != nil {
				return nil, nil, err
			}
			continue
		}
		e, err := parseEntry(name, raw, dataLen)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}

	// No two tensors may share bytes. Empty tensors hold no bytes and so
	// overlap nothing.
	byBegin := make([]*entry, 0, len(entries))
	for i := range entries {
		if entries[i].begin < entries[i].end {
			byBegin = append(byBegin, &entries[i])
		}
	}
	sort.Slice(byBegin, func(i, j int) bool { return byBegin[i].begin < byBegin[j].begin })
	for i := 1; i < len(byBegin); i++ {
		a, b := byBegin[i-1], byBegin[i]
		if b.begin < a.end {
			return nil, nil, fmt.Errorf("tensor %q: data_offsets [%d,%d] overlap tensor %q at [%d,%d]",
				b.name, b.begin, b.end, a.name, a.begin, a.end)
		}
	}
	return entries, meta, nil
}

func parseMetadata(raw json.RawMessage) (map[string]string, error) {
	meta := map[string]string{}
	if string(raw) == "null" {
		return meta, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object of strings", metadataKey)
	}
	for k, v := range fields {
		var s string
		if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
			return nil, fmt.Errorf("%s: value of %q is %s, not a string", metadataKey, k, abbrev(v))
		}
		meta[k] = s
	}
	return meta, nil
}

// parseEntry checks one tensor's header entry against a data buffer of
// dataLen bytes.
func parseEntry(name string, raw json.RawMessage, dataLen int64) (entry, error) {
	e := entry{name: name}
	var fields map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &fields) != nil {
		return e, fmt.Errorf("tensor %q: header entry is %s, not an object", name, abbrev(raw))
	}
	field := func(key string) (json.RawMessage, error) {
		v, ok := fields[key]
		if !ok || string(v) == "null" {
			return nil, fmt.Errorf("tensor %q: header entry has no %q", name, key)
		}
		return v, nil
	}

	// dtype
	v, err := field("dtype")
	if err != nil {
		return e, err
	}
	var dt string
	if v[0] != '"' || json.Unmarshal(v, &dt) != nil {
		return e, fmt.Errorf("tensor %q: dtype is %s, not a string", name, abbrev(v))
	}
	e.dtype = DType(dt)
	esize := e.dtype.size()
	if esize == 0 {
		return e, fmt.Errorf("tensor %q: unsupported dtype %q (graft reads F32, F16, BF16 and I64)", name, dt)
	}

	// shape
	if v, err = field("shape"); err != nil {
		return e, err
	}
	dims, err := intArray(v)
	if err != nil {
		return e, fmt.Errorf("tensor %q: shape %s: %v", name, abbrev(v), err)
	}
	e.shape = make([]int, len(dims))
	e.n = 1
	for i, d := range dims {
		if d < 0 {
			return e, fmt.Errorf("tensor %q: shape %v has negative dimension %d", name, dims, d)
		}
		if d > math.MaxInt {
			return e, fmt.Errorf("tensor %q: shape %v: dimension %d too large", name, dims, d)
		}
		if d != 0 && e.n > math.MaxInt/esize/int(d) {
			return e, fmt.Errorf("tensor %q: shape %v: element count overflows", name, dims)
		}
		e.shape[i] = int(d)
		e.n *= int(d)
	}

	// data_offsets
	if v, err = field("data_offsets"); err != nil {
		return e, err
	}
	offs, err := intArray(v)
	if err != nil {
		return e, fmt.Errorf("tensor %q: data_offsets %s: %v", name, abbrev(v), err)
	}
	if len(offs) != 2 {
		return e, fmt.Errorf("tensor %q: data_offsets %v is not [begin, end]", name, offs)
	}
	e.begin, e.end = offs[0], offs[1]
	if e.begin < 0 || e.end < e.begin {
		return e, fmt.Errorf("tensor %q: data_offsets [%d,%d] are not 0 <= begin <= end", name, e.begin, e.end)
	}
	if e.end > dataLen {
		return e, fmt.Errorf("tensor %q: data_offsets [%d,%d] run past the %d-byte data buffer", name, e.begin, e.end, dataLen)
	}
	if want := int64(e.n) * int64(esize); e.end-e.begin != want {
		return e, fmt.Errorf("tensor %q: data_offsets [%d,%d] hold %d bytes but %s shape %v needs %d",
			name, e.begin, e.end, e.end-e.begin, e.dtype, e.shape, want)
	}
	return e, nil
}

// intArray parses a JSON array of integers.
func intArray(raw json.RawMessage) ([]int64, error) {
	var elems []json.RawMessage
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &elems) != nil {
		return nil, errors.New("not an array of integers")
	}
	out := make([]int64, len(elems))
	for i, el := range elems {
		x, err := strconv.ParseInt(string(bytes.TrimSpace(el)), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("element %d (%s) is not a 64-bit integer", i, abbrev(el))
		}
		out[i] = x
	}
	return out, nil
}

// abbrev shortens a JSON value for an error message.
func abbrev(raw []byte) string {
	const limit = 40
	if len(raw) > limit {
		return string(raw[:limit]) + "..."
	}
	return string(raw)
}

// decode converts the checked bytes b of entry e into a Tensor.
func decode(e *entry, b []byte) *Tensor {
	t := &Tensor{DType: e.dtype, Shape: e.shape}
	switch e.dtype {
	case F32:
		out := make([]float32, e.n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		t.F32 = out
	case F16:
		out := make([]float32, e.n)
		for i := range out {
			out[i] = HalfToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
		}
		t.F32 = out
	case BF16:
		out := make([]float32, e.n)
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
		t.F32 = out
	case I64:
		out := make([]int64, e.n)
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		}
		t.I64 = out
	}
	return t
}

// HalfToFloat32 converts an IEEE 754 binary16 value exactly to float32,
// subnormals, infinities and NaN payloads included.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0: // ±0
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: mant × 2^-24, exact in float32
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 0x1f: // ±Inf, NaN (payload kept)
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}
