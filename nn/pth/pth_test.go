package pth

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/graftml/graft/nn/safetensors"
)

func fixture(name string) string { return filepath.Join("..", "..", "testdata", "pth", name) }

// sameTensors checks got against PyTorch's values bit for bit.
func sameTensors(t *testing.T, what string, got, want map[string]*safetensors.Tensor) {
	t.Helper()
	if g, w := slices.Sorted(mapsKeys(got)), slices.Sorted(mapsKeys(want)); !slices.Equal(g, w) {
		t.Fatalf("%s: names %v, PyTorch %v", what, g, w)
	}
	for name, w := range want {
		g := got[name]
		if !slices.Equal(g.Shape, w.Shape) {
			t.Errorf("%s %s: shape %v, PyTorch %v", what, name, g.Shape, w.Shape)
			continue
		}
		if (w.DType == safetensors.I64) != (g.DType == safetensors.I64) {
			t.Errorf("%s %s: dtype %s, PyTorch %s", what, name, g.DType, w.DType)
			continue
		}
		if !slices.Equal(g.I64, w.I64) {
			t.Errorf("%s %s: %v, PyTorch %v", what, name, g.I64, w.I64)
		}
		if len(g.F32) != len(w.F32) {
			t.Errorf("%s %s: %d values, PyTorch %d", what, name, len(g.F32), len(w.F32))
			continue
		}
		for i := range w.F32 {
			if math.Float32bits(g.F32[i]) != math.Float32bits(w.F32[i]) {
				t.Errorf("%s %s[%d] = %v, PyTorch %v", what, name, i, g.F32[i], w.F32[i])
				break
			}
		}
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// reference reads the values PyTorch held (gen.py's NAME.ref.safetensors).
func reference(t *testing.T, path string) map[string]*safetensors.Tensor {
	t.Helper()
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*safetensors.Tensor{}
	for k, v := range f.Tensors {
		if name, ok := strings.CutPrefix(k, "param."); ok {
			out[name] = v
		}
	}
	return out
}

func TestFixtures(t *testing.T) {
	for _, c := range []struct {
		name string
		o    Options
		path string
	}{
		{"small", Options{}, ""},
		{"views", Options{}, ""},
		{"dtypes", Options{}, ""},
		{"nested", Options{}, `["state_dict"]`},
		{"dataparallel", Options{StripModule: true}, ""},
		{"params", Options{}, ""},
		{"lenet5", Options{StripModule: true}, `["model"]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			sd, err := ReadFile(fixture(c.name+".pth"), c.o)
			if err != nil {
				t.Fatal(err)
			}
			if sd.Path != c.path {
				t.Errorf("found at %q, want %q", sd.Path, c.path)
			}
			sameTensors(t, c.name, sd.Tensors, reference(t, fixture(c.name+".ref.safetensors")))
		})
	}
}

func TestDTypes(t *testing.T) {
	sd, err := ReadFile(fixture("dtypes.pth"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]safetensors.DType{"half": safetensors.F16, "bf16": safetensors.BF16,
		"double": safetensors.F32, "int32": safetensors.I64, "bools": safetensors.I64, "long": safetensors.I64} {
		if got := sd.Tensors[name].DType; got != want {
			t.Errorf("%s: dtype %s, want %s", name, got, want)
		}
	}
	h := sd.Tensors["half"].F32
	if h[2] != 65504 || !math.IsInf(float64(h[4]), 1) || math.Float32bits(h[5]) != 1<<31 {
		t.Errorf("half values %v", h)
	}
}

func TestStripModuleOptional(t *testing.T) {
	sd, err := ReadFile(fixture("dataparallel.pth"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sd.Tensors["module.0.weight"]; !ok {
		t.Errorf("without StripModule the names keep their prefix: %v", slices.Sorted(mapsKeys(sd.Tensors)))
	}
	// Stripping needs every name prefixed.
	sd, err = ReadFile(fixture("small.pth"), Options{StripModule: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sd.Tensors["0.weight"]; !ok {
		t.Error("StripModule changed names without the prefix")
	}
}

func TestEvilRefused(t *testing.T) {
	const pwned = "/tmp/graft-pth-pwned"
	os.Remove(pwned)
	_, err := ReadFile(fixture("evil.pth"), Options{})
	if err == nil {
		t.Fatal("a pickle calling os.system was read")
	}
	msg := err.Error()
	if !strings.Contains(msg, "global posix.system is not allowed") || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "pth: ") {
		t.Errorf("error %q: want one line naming the global", msg)
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Fatal("the payload ran")
	}
}

// pickle helpers for hand-made files.
func binunicode(s string) []byte {
	b := []byte{'X', 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(b[1:], uint32(len(s)))
	return append(b, s...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func glob(mod, name string) []byte { return []byte("c" + mod + "\n" + name + "\n") }

// tensorPickle is {"w": _rebuild_tensor_v2(storage key "0" of numel
// float32s, off, size, stride, False, OrderedDict())}.
func tensorPickle(numel, off byte, size, stride []byte) []byte {
	tup := func(xs []byte) []byte {
		b := []byte{'('}
		for _, x := range xs {
			b = append(b, 'K', x)
		}
		return append(b, 't')
	}
	return cat([]byte{0x80, 2, '}'}, binunicode("w"), glob("torch._utils", "_rebuild_tensor_v2"),
		[]byte{'(', '('}, binunicode("storage"), glob("torch", "FloatStorage"), binunicode("0"), binunicode("cpu"),
		[]byte{'K', numel, 't', 'Q', 'K', off}, tup(size), tup(stride),
		[]byte{0x89}, glob("collections", "OrderedDict"), []byte{')', 'R', 't', 'R', 's', '.'})
}

type entry struct {
	name   string
	data   []byte
	method uint16
}

func zipOf(t testing.TB, entries ...entry) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: e.method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func archiveOf(t testing.TB, pkl []byte, storage []byte) []byte {
	return zipOf(t, entry{name: "a/data.pkl", data: pkl}, entry{name: "a/data/0", data: storage}, entry{name: "a/version", data: []byte("3\n")})
}

func readBytes(b []byte) (*StateDict, error) {
	return Read(bytes.NewReader(b), int64(len(b)), Options{})
}

func TestHandMade(t *testing.T) {
	st := make([]byte, 4*6)
	for i := range 6 {
		binary.LittleEndian.PutUint32(st[4*i:], math.Float32bits(float32(i)))
	}
	// A transposed 2×3 view with an offset: storage [0..5], offset 0,
	// size (3, 2), stride (1, 3) → [[0 3] [1 4] [2 5]].
	sd, err := readBytes(archiveOf(t, tensorPickle(6, 0, []byte{3, 2}, []byte{1, 3}), st))
	if err != nil {
		t.Fatal(err)
	}
	if w := sd.Tensors["w"]; !slices.Equal(w.F32, []float32{0, 3, 1, 4, 2, 5}) || !slices.Equal(w.Shape, []int{3, 2}) {
		t.Errorf("transposed view: %v %v", w.Shape, w.F32)
	}
	sd, err = readBytes(archiveOf(t, tensorPickle(6, 4, []byte{2}, []byte{1}), st))
	if err != nil || !slices.Equal(sd.Tensors["w"].F32, []float32{4, 5}) {
		t.Errorf("offset view: %v %v", sd, err)
	}
}

func TestHostile(t *testing.T) {
	st := make([]byte, 24)
	good := tensorPickle(6, 0, []byte{2, 3}, []byte{3, 1})
	for _, c := range []struct {
		name, want string
		file       []byte
	}{
		{"eval", "global builtins.eval is not allowed", archiveOf(t, cat([]byte{0x80, 2}, glob("builtins", "eval"), binunicode("1"), []byte{0x85, 'R', '.'}), st)},
		{"stack global", "global os.system is not allowed", archiveOf(t, cat([]byte{0x80, 4}, binunicode("os"), binunicode("system"), []byte{0x93, '.'}), st)},
		{"inst", "opcode INST is not allowed", archiveOf(t, []byte("(ios\nsystem\n."), st)},
		{"newobj", "opcode NEWOBJ is not allowed", archiveOf(t, cat(glob("collections", "OrderedDict"), []byte{')', 0x81, '.'}), st)},
		{"ext", "opcode EXT1 is not allowed", archiveOf(t, []byte{0x82, 1, '.'}, st)},
		{"unknown op", "unknown opcode 0xff", archiveOf(t, []byte{0xff}, st)},
		{"no stop", "ends without STOP", archiveOf(t, []byte{0x80, 2, '}'}, st)},
		{"underflow", "stack underflow", archiveOf(t, []byte{'s', '.'}, st)},
		{"memo", "memo 7 read before", archiveOf(t, []byte{'h', 7, '.'}, st)},
		{"tuple key", "dict key of type tuple", archiveOf(t, []byte{'}', ')', 'N', 's', '.'}, st)},
		{"huge string", "is longer than the file", archiveOf(t, []byte{'X', 0xff, 0xff, 0xff, 0x7f}, st)},
		{"long int", "more than 64 bits", archiveOf(t, []byte{0x8a, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, '.'}, st)},
		{"reduce int", "REDUCE calls a int", archiveOf(t, []byte{'K', 1, ')', 'R', '.'}, st)},
		{"out of storage", "reads element 6 of a storage of 6", archiveOf(t, tensorPickle(6, 1, []byte{2, 3}, []byte{3, 1}), st)},
		{"expanded", "expanded views are not loaded", archiveOf(t, tensorPickle(6, 0, []byte{4, 3}, []byte{0, 1}), st)},
		{"storage size", "the entry holds 24 bytes", archiveOf(t, tensorPickle(7, 0, []byte{2}, []byte{1}), st)},
		{"missing storage", "no entry a/data/0", zipOf(t, entry{name: "a/data.pkl", data: good})},
		{"compressed", "is compressed", zipOf(t, entry{name: "a/data.pkl", data: good, method: zip.Deflate})},
		{"no pickle", "no a/data.pkl", zipOf(t, entry{name: "a/data/0", data: st})},
		{"two folders", "two folders", zipOf(t, entry{name: "a/data.pkl", data: good}, entry{name: "b/data/0", data: st})},
		{"torchscript", "TorchScript", zipOf(t, entry{name: "a/constants.pkl", data: good})},
		{"byteorder", "byteorder", zipOf(t, entry{name: "a/data.pkl", data: good}, entry{name: "a/byteorder", data: []byte("middle")})},
		{"no state_dict", `no state_dict in the file: a dict with keys ["epoch"]`, archiveOf(t, cat([]byte{'}'}, binunicode("epoch"), []byte{'K', 3, 's', '.'}), st)},
		{"not a dict", "it holds a list", archiveOf(t, []byte{']', '.'}, st)},
		{"legacy", "legacy torch.save", []byte{0x80, 2, 0x8a, 10, 0x6c, 0xfc}},
		{"not zip", "not a torch.save zip", []byte("hello")},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := readBytes(c.file)
			if err == nil {
				t.Fatal("read")
			}
			msg := err.Error()
			if !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "pth: ") {
				t.Errorf("error %q, want one line with %q", msg, c.want)
			}
		})
	}
}

// TestCorrupted reads every truncation and many byte flips of a real
// file: errors or values, never a panic.
func TestCorrupted(t *testing.T) {
	b, err := os.ReadFile(fixture("small.pth"))
	if err != nil {
		t.Fatal(err)
	}
	step := 1
	if testing.Short() {
		step = 7
	}
	for n := 0; n < len(b); n += step {
		readBytes(b[:n])
	}
	// Flips inside data.pkl, the archive rebuilt around it (so the CRC
	// holds and the unpickler sees the damage).
	entries := unzip(t, b)
	pkl := entries[0].data
	for i := 0; i < len(pkl); i += step {
		for _, x := range []byte{1, 0x80, 0xff} {
			c := slices.Clone(pkl)
			c[i] ^= x
			readBytes(zipOf(t, append([]entry{{name: entries[0].name, data: c}}, entries[1:]...)...))
		}
	}
}

// unzip returns a zip's entries, data.pkl first.
func unzip(t testing.TB, b []byte) []entry {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var out []entry
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		d, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		e := entry{name: f.Name, data: d}
		if strings.HasSuffix(f.Name, "/data.pkl") {
			out = append([]entry{e}, out...)
		} else {
			out = append(out, e)
		}
	}
	return out
}

func TestIs(t *testing.T) {
	b, err := os.ReadFile(fixture("small.pth"))
	if err != nil {
		t.Fatal(err)
	}
	if !Is(bytes.NewReader(b)) || Is(strings.NewReader("{\"a\":1}")) || Is(strings.NewReader("")) {
		t.Error("Is")
	}
}

// TestSharedViewsBudget: one storage viewed under many names is read
// once, but the views' copies together may not pass four times the file.
func TestSharedViewsBudget(t *testing.T) {
	const numel = 1 << 16
	st := make([]byte, 4*numel)
	tensor := cat(glob("torch._utils", "_rebuild_tensor_v2"), []byte{'(', '('}, binunicode("storage"), glob("torch", "FloatStorage"),
		binunicode("0"), binunicode("cpu"), []byte{'J', 0, 0, 1, 0, 't', 'Q', 'K', 0, '(', 'J', 0, 0, 1, 0, 't', '(', 'K', 1, 't', 0x89},
		glob("collections", "OrderedDict"), []byte{')', 'R', 't', 'R', 'q', 0})
	pickle := func(refs int) []byte {
		p := cat([]byte{0x80, 2, '}', '('}, binunicode("t0"), tensor)
		for i := 1; i < refs; i++ {
			p = cat(p, binunicode(string(rune('a'+i))), []byte{'h', 0})
		}
		return cat(p, []byte{'u', '.'})
	}
	sd, err := readBytes(archiveOf(t, pickle(3), st))
	if err != nil || len(sd.Tensors) != 3 {
		t.Fatalf("three views of one storage: %v", err)
	}
	_, err = readBytes(archiveOf(t, pickle(20), st))
	if err == nil || !strings.Contains(err.Error(), "more than four times the file") {
		t.Errorf("twenty views of one storage: %v", err)
	}
}
