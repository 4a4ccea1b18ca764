package text

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTokenize(t *testing.T) {
	cases := map[string]string{
		"Hello, World!":                         "hello world",
		"ÉCOLE Straße ĞÜNEŞ":                    "école straße ğüneş",
		"Win $1,000,000 now!!! 3.14 or 42":      "win <num> now <num> or <num>",
		"see http://x.com/a?b=1, or www.y.org.": "see <url> or <url>",
		"mail Jane.Doe+x@Example.co.uk today.":  "mail <email> today",
		"a@b is not an address; mp3 4u":         "a b is not an address mp3 4u",
		"don't re-use":                          "don t re use",
		"":                                      "",
		"   \n\t ":                              "",
		"one":                                   "one",
		"x" + strings.Repeat("y", 50) + " z":    "z",
	}
	for in, want := range cases {
		got := strings.Join(Tokenize(nil, in, 0), " ")
		if got != want {
			t.Errorf("Tokenize(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Tokenize(nil, "a b c d e", 3); len(got) != 3 {
		t.Errorf("max 3: %v", got)
	}
}

func TestClean(t *testing.T) {
	msg := "Return-Path: <x@y.com>\nReceived: from a.b.c\n\tby d.e.f\nSubject: Cheap =?\n FOLDED\nFrom: Bob <bob@z.org>\n\n" +
		"Body line=\nsoft break, caf=C3=A9\n" +
		"TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n" +
		"<html><head><style>p {color: red}</style><script>var x=1;</script></head>" +
		"<body><p>Buy&nbsp;now &amp; save &#233;</p></body></html>\n"
	got := Clean(msg)
	toks := strings.Join(Tokenize(nil, got, 0), " ")
	want := "cheap folded bob <email> body linesoft break café buy now save é <html>"
	if toks != want {
		t.Fatalf("Clean+Tokenize = %q\nwant %q\n(clean: %q)", toks, want, got)
	}
	// plain prose is left as it is
	if got := Clean("Dear: friend\nhello"); !strings.Contains(got, "hello") || !strings.Contains(got, "friend") {
		t.Fatalf("prose lost: %q", got)
	}
}

// TestTokenizeHostile: empty, one token, 1 MB and binary messages neither
// crash nor stall (a quadratic step would take minutes on 4 MB).
func TestTokenizeHostile(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	bin := make([]byte, 1<<20)
	for i := range bin {
		bin[i] = byte(r.Uint32())
	}
	big := strings.Repeat("word <b>bold</b> &amp; http://u.rl x@y.zz 12,345 ", 1<<20/48)
	inputs := map[string]string{
		"empty":          "",
		"one":            "Subject: hi\n\n",
		"binary":         string(bin),
		"1MB prose+html": big,
		"2MB open tags":  strings.Repeat("<a ", 2<<20/3),
		"2MB scripts":    strings.Repeat("<script>x", 2<<20/9),
		"2MB folds":      "Subject: x\n" + strings.Repeat(" y\n", 2<<20/3) + "\nbody",
		"2MB at-signs":   strings.Repeat("a@", 1<<20),
		"2MB entities":   strings.Repeat("&#x", 2<<20/3),
		"2MB equals":     strings.Repeat("=\n=4", 1<<19),
	}
	for name, in := range inputs {
		toks := Tokenize(nil, Clean(in), 0)
		for _, tk := range toks {
			if tk == "" || !utf8.ValidString(tk) {
				t.Fatalf("%s: bad token %q", name, tk)
			}
		}
		if name == "1MB prose+html" && len(toks) < 100000 {
			t.Fatalf("%s: only %d tokens", name, len(toks))
		}
	}
}

func FuzzClean(f *testing.F) {
	f.Add("Subject: hi\nFrom: a@b.c\n\n<p>x&amp;y</p> http://z =3D")
	f.Add("plain text 1,000 don't")
	f.Fuzz(func(t *testing.T, s string) {
		for _, tk := range Tokenize(nil, Clean(s), 0) {
			if tk == "" || !utf8.ValidString(tk) {
				t.Fatalf("bad token %q", tk)
			}
		}
	})
}

func TestVocab(t *testing.T) {
	docs := [][]string{{"b", "a", "a", "c"}, {"a", "b", "d"}}
	v := BuildVocab(docs, 2, 0)
	if strings.Join(v.Words, " ") != "<pad> <unk> a b" {
		t.Fatalf("vocab %v", v.Words)
	}
	if v.ID("a") != 2 || v.ID("zzz") != UnkID || v.ID("c") != UnkID {
		t.Fatal("ids")
	}
	if w := BuildVocab(docs, 1, 3).Words; len(w) != 3 || w[2] != "a" {
		t.Fatalf("max size 3: %v", w)
	}
	dst := make([]float32, 5)
	if n := v.Encode(dst, []string{"b", "x", "a"}); n != 3 || dst[0] != 3 || dst[1] != 1 || dst[2] != 2 || dst[3] != 0 || dst[4] != 0 {
		t.Fatalf("encode %v", dst)
	}
	var buf bytes.Buffer
	v.WriteTo(&buf)
	w, err := ReadVocab(&buf)
	if err != nil || strings.Join(w.Words, " ") != strings.Join(v.Words, " ") {
		t.Fatalf("round trip %v %v", w, err)
	}
	if _, err := ReadVocab(strings.NewReader("a\nb\na\n")); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("duplicate: %v", err)
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCorpora(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "f", "pos", "1.txt"), "good")
	write(t, filepath.Join(dir, "f", "pos", "2.txt"), "great")
	write(t, filepath.Join(dir, "f", "neg", "1.txt"), "bad")
	write(t, filepath.Join(dir, "f", "neg", "x.md"), "ignored")
	write(t, filepath.Join(dir, "d.csv"), "id,text,label\n1,\"good, really\",pos\n2,bad,neg\n3,\"multi\nline\",pos\n")
	write(t, filepath.Join(dir, "d.jsonl"), `{"text":"good","label":"pos"}`+"\n\n"+`{"text":"bad","label":"neg"}`+"\n"+`{"text":"x","label":1}`+"\n")
	for _, src := range []string{"f", "d.csv", "d.jsonl"} {
		c, err := LoadCorpus(filepath.Join(dir, src))
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if c.Classes[0] != "1" && c.Classes[0] != "neg" {
			t.Fatalf("%s: classes %v", src, c.Classes)
		}
		if len(c.Docs) != 3 {
			t.Fatalf("%s: %d docs", src, len(c.Docs))
		}
	}
	c, _ := LoadCSV(filepath.Join(dir, "d.csv"))
	if c.Docs[0].Text != "good, really" || c.Docs[0].Label != 1 || c.Docs[1].Label != 0 {
		t.Fatalf("csv: %+v", c.Docs)
	}
	write(t, filepath.Join(dir, "bad.csv"), "text,label\n\"open,pos\n")
	write(t, filepath.Join(dir, "bad2.csv"), "text,lbl\nx,y\n")
	write(t, filepath.Join(dir, "bad.jsonl"), `{"text":"a","label":"x"}`+"\n{oops\n")
	write(t, filepath.Join(dir, "one.jsonl"), `{"text":"a","label":"x"}`+"\n")
	for src, want := range map[string]string{"bad.csv": "line", "bad2.csv": "lacks", "bad.jsonl": "line 2", "one.jsonl": "at least two labels"} {
		if _, err := LoadCorpus(filepath.Join(dir, src)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", src, err, want)
		}
	}
}

func TestSplitPerClass(t *testing.T) {
	c := &Corpus{Classes: []string{"a", "b"}}
	for i := 0; i < 300; i++ {
		c.Docs = append(c.Docs, Doc{Text: string(rune('a' + i%26)), Label: min(i/100, 1), ID: string(rune(i))})
	}
	tr, te := c.Split(0.2, 7)
	if n := te.Counts(); n[0] != 20 || n[1] != 40 {
		t.Fatalf("test counts %v", n)
	}
	if len(tr.Docs)+len(te.Docs) != 300 {
		t.Fatal("lost documents")
	}
	seen := map[string]bool{}
	for _, d := range append(tr.Docs, te.Docs...) {
		if seen[d.ID] {
			t.Fatal("document in both parts")
		}
		seen[d.ID] = true
	}
	k := tr.PerClass(10, 1)
	if n := k.Counts(); n[0] != 10 || n[1] != 10 {
		t.Fatalf("per class %v", n)
	}
	if k2 := tr.PerClass(10, 2); k2.Docs[0].ID == k.Docs[0].ID && k2.Docs[5].ID == k.Docs[5].ID && k2.Docs[15].ID == k.Docs[15].ID {
		t.Fatal("seeds draw the same documents")
	}
}

// TestSpamAssassinReal reads the fetched corpus (skipped when absent).
func TestSpamAssassinReal(t *testing.T) {
	dir := SpamAssassinDir()
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("SpamAssassin corpus absent (%v): run tools/fetch/text.sh", err)
	}
	c, err := LoadSpamAssassin(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := c.Counts()
	hard := 0
	for _, d := range c.Docs {
		if d.Group == "hard-ham-1" {
			hard++
			if d.Label != 0 {
				t.Fatal("hard ham labelled spam")
			}
		}
	}
	if n[0] != 4150 || n[1] != 1896 || hard != 250 {
		t.Fatalf("ham %d spam %d hard ham %d, want 4150 1896 250", n[0], n[1], hard)
	}
	toks := Docs(c.PerClass(20, 1), 0)
	for i, tk := range toks {
		if len(tk) == 0 {
			t.Fatalf("message %d has no tokens", i)
		}
	}
}

// FuzzCorpusFiles: CSV, JSONL and vocabulary files of any content give a
// corpus or an error, never a panic.
func FuzzCorpusFiles(f *testing.F) {
	f.Add([]byte("text,label\n\"a, b\",x\nc,y\n"))
	f.Add([]byte(`{"text":"a","label":"x"}` + "\n" + `{"text":"b","label":2}` + "\n"))
	f.Add([]byte("w1\nw2\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{"f.csv", "f.jsonl"} {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := LoadCorpus(p)
			if err != nil {
				continue
			}
			for _, d := range c.Docs {
				if d.Label < 0 || d.Label >= len(c.Classes) {
					t.Fatalf("%s: label %d of %d classes", name, d.Label, len(c.Classes))
				}
			}
		}
		if v, err := ReadVocab(bytes.NewReader(data)); err == nil {
			for i, w := range v.Words {
				if v.ID(w) != i {
					t.Fatalf("vocabulary id of %q is %d, want %d", w, v.ID(w), i)
				}
			}
		}
	})
}
