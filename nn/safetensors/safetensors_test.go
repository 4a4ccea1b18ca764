package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// raw builds a file from a header string and a data buffer.
func raw(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func readBytes(b []byte) (*File, error) { return Read(bytes.NewReader(b), int64(len(b))) }

func sampleFile() *File {
	return &File{
		Tensors: map[string]*Tensor{
			"conv1.weight":           {DType: F32, Shape: []int{2, 1, 2, 2}, F32: []float32{1, -2, 3.5, 0, float32(math.Inf(1)), float32(math.Inf(-1)), math.Float32frombits(0x80000000), math.SmallestNonzeroFloat32}},
			"scale":                  {DType: F32, Shape: []int{}, F32: []float32{0.25}},
			"empty":                  {DType: F32, Shape: []int{0, 3}, F32: []float32{}},
			"bn.num_batches_tracked": {DType: I64, Shape: nil, I64: []int64{12345}},
			"ids":                    {DType: I64, Shape: []int{4}, I64: []int64{math.MinInt64, -1, 0, math.MaxInt64}},
			"no_ids":                 {DType: I64, Shape: []int{2, 0}, I64: nil},
			"nan":                    {DType: F32, Shape: []int{2}, F32: []float32{math.Float32frombits(0x7fc00001), math.Float32frombits(0xffa00000)}},
		},
		Metadata: map[string]string{"format": "pt", "note": "<&> ünïcode"},
	}
}

// equalFiles reports whether two files hold the same tensors, comparing
// floats bit for bit, and the same metadata (nil and empty alike).
func equalFiles(t *testing.T, want, got *File) {
	t.Helper()
	if len(want.Tensors) != len(got.Tensors) {
		t.Fatalf("got %d tensors, want %d", len(got.Tensors), len(want.Tensors))
	}
	for name, w := range want.Tensors {
		g, ok := got.Tensors[name]
		if !ok {
			t.Fatalf("tensor %q missing", name)
		}
		if g.DType != w.DType {
			t.Errorf("tensor %q: dtype %s, want %s", name, g.DType, w.DType)
		}
		if len(g.Shape) != len(w.Shape) || (len(w.Shape) > 0 && !reflect.DeepEqual(g.Shape, w.Shape)) {
			t.Errorf("tensor %q: shape %v, want %v", name, g.Shape, w.Shape)
		}
		if len(g.F32) != len(w.F32) || len(g.I64) != len(w.I64) {
			t.Fatalf("tensor %q: lengths F32 %d I64 %d, want %d %d", name, len(g.F32), len(g.I64), len(w.F32), len(w.I64))
		}
		for i := range w.F32 {
			if math.Float32bits(g.F32[i]) != math.Float32bits(w.F32[i]) {
				t.Errorf("tensor %q[%d] = %v (%#x), want %v (%#x)", name, i, g.F32[i], math.Float32bits(g.F32[i]), w.F32[i], math.Float32bits(w.F32[i]))
			}
		}
		for i := range w.I64 {
			if g.I64[i] != w.I64[i] {
				t.Errorf("tensor %q[%d] = %d, want %d", name, i, g.I64[i], w.I64[i])
			}
		}
	}
	if len(want.Metadata) != len(got.Metadata) || (len(want.Metadata) > 0 && !reflect.DeepEqual(want.Metadata, got.Metadata)) {
		t.Errorf("metadata %v, want %v", got.Metadata, want.Metadata)
	}
}

func TestRoundTrip(t *testing.T) {
	f := sampleFile()
	var buf bytes.Buffer
	if err := Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	got, err := readBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	equalFiles(t, f, got)
	if got.Tensors["scale"].Shape == nil {
		t.Error("scalar shape read as nil, want []int{}")
	}

	// Without metadata: no __metadata__ key, and Read gives an empty map.
	f.Metadata = nil
	buf.Reset()
	if err := Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte(metadataKey)) {
		t.Error("empty metadata written")
	}
	got, err = readBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	equalFiles(t, f, got)
	if got.Metadata == nil || got.Tensors == nil {
		t.Error("Read returned a nil map")
	}
}

func TestRoundTripEmptyFile(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, &File{}); err != nil {
		t.Fatal(err)
	}
	got, err := readBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Tensors) != 0 || len(got.Metadata) != 0 {
		t.Errorf("got %+v, want an empty file", got)
	}
}

func TestWriteLayout(t *testing.T) {
	f := &File{
		Tensors: map[string]*Tensor{
			"b": {DType: I64, Shape: []int{1}, I64: []int64{-2}},
			"a": {DType: F32, Shape: []int{2}, F32: []float32{1, 2}},
		},
		Metadata: map[string]string{"k": "v"},
	}
	var buf bytes.Buffer
	if err := Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	n := binary.LittleEndian.Uint64(b)
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	hdr := string(b[8 : 8+n])
	want := `{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}}`
	if strings.TrimRight(hdr, " ") != want {
		t.Errorf("header\n%s\nwant\n%s", hdr, want)
	}
	data := b[8+n:]
	wantData := []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if !bytes.Equal(data, wantData) {
		t.Errorf("data % x, want % x", data, wantData)
	}
}

func TestWriteFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	f := sampleFile()
	if err := WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	equalFiles(t, f, got)
	// Overwriting an existing file works too.
	delete(f.Tensors, "nan")
	if err := WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	if got, err = ReadFile(path); err != nil {
		t.Fatal(err)
	}
	equalFiles(t, f, got)
}

// Large enough to cross the write buffer's chunks.
func TestRoundTripLarge(t *testing.T) {
	xs := make([]float32, 100_003)
	for i := range xs {
		xs[i] = float32(i) * 0.5
	}
	is := make([]int64, 9_999)
	for i := range is {
		is[i] = int64(i) * -3
	}
	f := &File{Tensors: map[string]*Tensor{
		"x": {DType: F32, Shape: []int{100_003}, F32: xs},
		"i": {DType: I64, Shape: []int{3, 3333}, I64: is},
	}}
	var buf bytes.Buffer
	if err := Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	got, err := readBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	equalFiles(t, f, got)
}

func le16(vs ...uint16) []byte {
	b := make([]byte, 2*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint16(b[2*i:], v)
	}
	return b
}

func TestHalfConversion(t *testing.T) {
	f16 := []uint16{0x3c00, 0xc100, 0x7bff, 0x0001, 0x7c00, 0x7e00, 0x8000, 0xfc00, 0x03ff, 0x0400, 0x8001}
	bf16 := []uint16{0x3f80, 0xc020, 0x4049, 0x7f80, 0x7fc0, 0x0001, 0xff80}
	data := append(le16(f16...), le16(bf16...)...)
	hdr := `{"h":{"dtype":"F16","shape":[11],"data_offsets":[0,22]},"b":{"dtype":"BF16","shape":[7],"data_offsets":[22,36]}}`
	f, err := readBytes(raw(hdr, data))
	if err != nil {
		t.Fatal(err)
	}
	h, b := f.Tensors["h"], f.Tensors["b"]
	if h.DType != F16 || b.DType != BF16 {
		t.Errorf("dtypes %s %s, want F16 BF16", h.DType, b.DType)
	}
	inf := float32(math.Inf(1))
	wantH := []float32{1, -2.5, 65504, float32(math.Ldexp(1, -24)), inf, float32(math.NaN()),
		math.Float32frombits(0x80000000), -inf, float32(math.Ldexp(1023, -24)), float32(math.Ldexp(1, -14)), -float32(math.Ldexp(1, -24))}
	wantB := []float32{1, -2.5, 3.140625, inf, float32(math.NaN()), math.Float32frombits(0x00010000), -inf}
	check := func(name string, got, want []float32) {
		for i := range want {
			g, w := got[i], want[i]
			if w != w {
				if g == g {
					t.Errorf("%s[%d] = %v, want NaN", name, i, g)
				}
				continue
			}
			if math.Float32bits(g) != math.Float32bits(w) {
				t.Errorf("%s[%d] = %v, want %v", name, i, g, w)
			}
		}
	}
	check("F16", h.F32, wantH)
	check("BF16", b.F32, wantB)
}

// TestF16Exhaustive checks every binary16 value against a float64
// reference built from the definition.
func TestF16Exhaustive(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		sign := 1.0
		if h&0x8000 != 0 {
			sign = -1
		}
		exp := (h >> 10) & 0x1f
		mant := float64(h & 0x3ff)
		var want float64
		switch exp {
		case 0:
			want = sign * math.Ldexp(mant, -24)
		case 0x1f:
			want = math.Inf(int(sign))
			if mant != 0 {
				want = math.NaN()
			}
		default:
			want = sign * math.Ldexp(1+mant/1024, exp-15)
		}
		got := HalfToFloat32(uint16(h))
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) || math.Float32bits(got)&0x7fffff != uint32(h&0x3ff)<<13 {
				t.Fatalf("HalfToFloat32(%#04x) = %#x, want NaN with payload", h, math.Float32bits(got))
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want) {
			t.Fatalf("HalfToFloat32(%#04x) = %v, want %v", h, got, want)
		}
	}
}

// hostile lists malformed files and a substring each error must contain.
var hostile = []struct {
	name string
	file []byte
	want []string
}{
	{"empty", nil, []string{"shorter than the 8-byte"}},
	{"seven bytes", []byte{1, 0, 0, 0, 0, 0, 0}, []string{"shorter than the 8-byte"}},
	{"header past EOF", append([]byte{100, 0, 0, 0, 0, 0, 0, 0}, "{}"...), []string{"header length 100", "past the end"}},
	{"header over limit", append(binary.LittleEndian.AppendUint64(nil, 200<<20), "{}"...), []string{"header length 209715200", "limit"}},
	{"header length huge", append(binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "{}"...), []string{"limit"}},
	{"not JSON", raw(`{"a":`, nil), []string{"not valid JSON"}},
	{"trailing JSON", raw(`{}{}`, nil), []string{"not valid JSON"}},
	{"not object", raw(`[1,2]`, nil), []string{"not a JSON object"}},
	{"entry not object", raw(`{"a":5}`, nil), []string{`tensor "a"`, "not an object"}},
	{"missing dtype", raw(`{"a":{"shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)), []string{`tensor "a"`, `no "dtype"`}},
	{"null dtype", raw(`{"a":{"dtype":null,"shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)), []string{`tensor "a"`, `no "dtype"`}},
	{"missing shape", raw(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, make([]byte, 4)), []string{`tensor "a"`, `no "shape"`}},
	{"missing data_offsets", raw(`{"a":{"dtype":"F32","shape":[]}}`, make([]byte, 4)), []string{`tensor "a"`, `no "data_offsets"`}},
	{"dtype not string", raw(`{"a":{"dtype":5,"shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)), []string{`tensor "a"`, "dtype is 5, not a string"}},
	{"dtype case", raw(`{"a":{"DTYPE":"F32","shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)), []string{`tensor "a"`, `no "dtype"`}},
	{"shape not array", raw(`{"a":{"dtype":"F32","shape":"4","data_offsets":[0,4]}}`, make([]byte, 4)), []string{`tensor "a"`, "shape", "not an array of integers"}},
	{"shape float", raw(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, make([]byte, 4)), []string{`tensor "a"`, "shape", "not a 64-bit integer"}},
	{"shape string dim", raw(`{"a":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}`, make([]byte, 4)), []string{`tensor "a"`, "shape", "not a 64-bit integer"}},
	{"offsets not array", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":{}}}`, make([]byte, 4)), []string{`tensor "a"`, "data_offsets", "not an array"}},
	{"offsets one", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}}`, make([]byte, 4)), []string{`tensor "a"`, "not [begin, end]"}},
	{"offsets three", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, make([]byte, 8)), []string{`tensor "a"`, "not [begin, end]"}},
	{"offsets too big", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,99999999999999999999]}}`, make([]byte, 4)), []string{`tensor "a"`, "not a 64-bit integer"}},
	{"metadata value number", raw(`{"__metadata__":{"k":1}}`, nil), []string{"__metadata__", `"k"`, "not a string"}},
	{"metadata value object", raw(`{"__metadata__":{"k":{"x":"y"}}}`, nil), []string{"__metadata__", `"k"`, "not a string"}},
	{"metadata not object", raw(`{"__metadata__":"x"}`, nil), []string{"__metadata__", "not a JSON object"}},
	{"metadata twice", raw(`{"__metadata__":{},"__metadata__":{}}`, nil), []string{"__metadata__ twice"}},
	{"duplicate tensor", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), []string{`tensor "a"`, "twice"}},
	{"dtype F64", raw(`{"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)), []string{`tensor "w": unsupported dtype "F64" (graft reads F32, F16, BF16 and I64)`}},
	{"dtype BOOL", raw(`{"w":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}`, make([]byte, 1)), []string{`tensor "w": unsupported dtype "BOOL"`}},
	{"negative dim", raw(`{"a":{"dtype":"F32","shape":[-1,-4],"data_offsets":[0,16]}}`, make([]byte, 16)), []string{`tensor "a"`, "negative dimension -1"}},
	{"shape overflow", raw(`{"a":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,0]}}`, nil), []string{`tensor "a"`, "overflows"}},
	{"shape overflow with size", raw(`{"a":{"dtype":"I64","shape":[4611686018427387904],"data_offsets":[0,0]}}`, nil), []string{`tensor "a"`, "overflows"}},
	{"shape overflow wraps to 0", raw(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}}`, nil), []string{`tensor "a"`, "overflows"}},
	{"begin after end", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}`, make([]byte, 8)), []string{`tensor "a"`, "[8,4]", "begin <= end"}},
	{"negative begin", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, make([]byte, 8)), []string{`tensor "a"`, "[-4,0]", "begin <= end"}},
	{"end past buffer", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4)), []string{`tensor "a"`, "[0,8]", "past the 4-byte data buffer"}},
	{"huge end past buffer", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[9223372036854775800,9223372036854775804]}}`, make([]byte, 4)), []string{`tensor "a"`, "past the 4-byte data buffer"}},
	{"overlap", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)), []string{`tensor "b"`, "overlap", `tensor "a"`}},
	{"same range", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), []string{"overlap"}},
	{"size mismatch", raw(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 12)), []string{`tensor "a"`, "hold 8 bytes", "needs 12"}},
	{"F16 size mismatch", raw(`{"a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,4]}}`, make([]byte, 8)), []string{`tensor "a"`, "hold 4 bytes", "needs 8"}},
}

func TestReadHostile(t *testing.T) {
	for _, tc := range hostile {
		t.Run(tc.name, func(t *testing.T) {
			f, err := readBytes(tc.file)
			if err == nil {
				t.Fatalf("Read accepted a hostile file: %+v", f)
			}
			if f != nil {
				t.Error("Read returned a File with its error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "safetensors: ") {
				t.Errorf("error %q lacks the package prefix", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
		})
	}
}

// A reader shorter than the size it is said to have.
func TestReadTruncatedReader(t *testing.T) {
	b := raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8))
	_, err := Read(bytes.NewReader(b[:len(b)-3]), int64(len(b)))
	if err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("got %v, want a truncation error", err)
	}
}

// Lenient cases the format allows: padding, unknown fields, empty tensors,
// unused bytes after the tensors, null metadata.
func TestReadAccepts(t *testing.T) {
	b := raw(`{"__metadata__":null, "e":{"dtype":"I64","shape":[0],"data_offsets":[4,4],"extra":1}, "a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}      `, []byte{0, 0, 0x80, 0x3f, 9, 9})
	f, err := readBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if a := f.Tensors["a"]; len(a.F32) != 1 || a.F32[0] != 1 || len(a.Shape) != 0 {
		t.Errorf("a = %+v", a)
	}
	if e := f.Tensors["e"]; e.DType != I64 || len(e.I64) != 0 || !reflect.DeepEqual(e.Shape, []int{0}) {
		t.Errorf("e = %+v", e)
	}
}

func TestWriteErrors(t *testing.T) {
	cases := []struct {
		name string
		f    *File
		want string
	}{
		{"nil file", nil, "nil File"},
		{"F16", &File{Tensors: map[string]*Tensor{"h": {DType: F16, Shape: []int{1}, F32: []float32{1}}}}, `tensor "h": cannot write dtype "F16"`},
		{"BF16", &File{Tensors: map[string]*Tensor{"h": {DType: BF16, Shape: []int{1}, F32: []float32{1}}}}, `cannot write dtype "BF16"`},
		{"no dtype", &File{Tensors: map[string]*Tensor{"h": {Shape: []int{1}, F32: []float32{1}}}}, `cannot write dtype ""`},
		{"F32 length", &File{Tensors: map[string]*Tensor{"w": {DType: F32, Shape: []int{2, 3}, F32: make([]float32, 5)}}}, `tensor "w": shape [2 3] holds 6 elements but F32 has 5`},
		{"I64 length", &File{Tensors: map[string]*Tensor{"i": {DType: I64, Shape: []int{}, I64: nil}}}, `tensor "i": shape [] holds 1 elements but I64 has 0`},
		{"F32 with I64 data", &File{Tensors: map[string]*Tensor{"w": {DType: F32, Shape: []int{1}, F32: []float32{1}, I64: []int64{1}}}}, "I64 holds 1 values"},
		{"I64 with F32 data", &File{Tensors: map[string]*Tensor{"w": {DType: I64, Shape: []int{1}, F32: []float32{1}, I64: []int64{1}}}}, "F32 holds 1 values"},
		{"negative dim", &File{Tensors: map[string]*Tensor{"w": {DType: F32, Shape: []int{-1, -1}, F32: []float32{1}}}}, "negative dimension -1"},
		{"overflow", &File{Tensors: map[string]*Tensor{"w": {DType: F32, Shape: []int{1 << 40, 1 << 40}}}}, "overflows"},
		{"nil tensor", &File{Tensors: map[string]*Tensor{"w": nil}}, `tensor "w": nil Tensor`},
		{"reserved name", &File{Tensors: map[string]*Tensor{metadataKey: {DType: F32, Shape: []int{}, F32: []float32{1}}}}, "reserved"},
		{"bad UTF-8 name", &File{Tensors: map[string]*Tensor{"\xff": {DType: F32, Shape: []int{}, F32: []float32{1}}}}, "not valid UTF-8"},
		{"bad UTF-8 metadata", &File{Metadata: map[string]string{"k": "\xfe"}}, "not valid UTF-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, tc.f)
			if err == nil {
				t.Fatal("Write accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if buf.Len() != 0 {
				t.Errorf("Write wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

// errWriter fails after n bytes.
type errWriter struct{ n int }

func (w *errWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, os.ErrClosed
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteWriterError(t *testing.T) {
	f := &File{Tensors: map[string]*Tensor{"w": {DType: F32, Shape: []int{100}, F32: make([]float32, 100)}}}
	err := Write(&errWriter{n: 80}, f)
	if err == nil || !strings.Contains(err.Error(), `tensor "w"`) {
		t.Errorf("got %v, want an error naming the tensor", err)
	}
	if err := Write(&errWriter{n: 3}, f); err == nil {
		t.Error("header write error lost")
	}
}

// dirNames lists dir's entries.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	good := sampleFile()

	t.Run("missing dir", func(t *testing.T) {
		err := WriteFile(filepath.Join(dir, "no", "such", "dir", "m.safetensors"), good)
		if err == nil {
			t.Fatal("WriteFile into a missing directory succeeded")
		}
	})

	t.Run("bad tensor keeps old file", func(t *testing.T) {
		path := filepath.Join(dir, "keep.safetensors")
		if err := WriteFile(path, good); err != nil {
			t.Fatal(err)
		}
		before, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		bad := &File{Tensors: map[string]*Tensor{"h": {DType: F16, Shape: []int{1}, F32: []float32{1}}}}
		err = WriteFile(path, bad)
		if err == nil || !strings.Contains(err.Error(), "F16") || !strings.Contains(err.Error(), path) {
			t.Fatalf("got %v, want an F16 error naming the path", err)
		}
		after, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(before, after) {
			t.Error("failed WriteFile changed the existing file")
		}
		if names := dirNames(t, dir); !reflect.DeepEqual(names, []string{"keep.safetensors"}) {
			t.Errorf("directory holds %v, want only keep.safetensors", names)
		}
	})

	// A failure after the temporary file is written: the rename onto a
	// non-empty directory fails, and the temporary file must go.
	t.Run("rename fails", func(t *testing.T) {
		sub := t.TempDir()
		target := filepath.Join(sub, "target")
		if err := os.MkdirAll(filepath.Join(target, "inner"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := WriteFile(target, good); err == nil {
			t.Fatal("WriteFile over a non-empty directory succeeded")
		}
		if names := dirNames(t, sub); !reflect.DeepEqual(names, []string{"target"}) {
			t.Errorf("directory holds %v, want only target", names)
		}
	})
}

func TestWriteFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := WriteFile(path, &File{}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("ReadFile of a missing file succeeded")
	}
	if _, err := ReadFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("ReadFile of a directory: %v", err)
	}
	path := filepath.Join(dir, "short")
	if err := os.WriteFile(path, []byte{1, 2, 3}, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "shorter") {
		t.Errorf("ReadFile of a short file: %v", err)
	}
}
