package text

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Vectors is a table of word vectors: row i of Data (Dim floats) is the
// vector of Words[i].
type Vectors struct {
	Dim   int
	Words []string
	Data  []float32

	index map[string]int
}

// Len returns the number of words.
func (v *Vectors) Len() int { return len(v.Words) }

// Index returns the row of word.
func (v *Vectors) Index(word string) (int, bool) {
	i, ok := v.index[word]
	return i, ok
}

// Vector returns row i (a view into Data).
func (v *Vectors) Vector(i int) []float32 { return v.Data[i*v.Dim : (i+1)*v.Dim] }

// Lookup returns the vector of word, or nil when the table lacks it.
func (v *Vectors) Lookup(word string) []float32 {
	if i, ok := v.index[word]; ok {
		return v.Vector(i)
	}
	return nil
}

// Format names a word-vector file format.
type Format string

// The formats Load reads.
const (
	// FormatText is GloVe, word2vec and fastText text: one word and its
	// values per line, separated by spaces, optionally after a "count dim"
	// header line.
	FormatText Format = "text"
	// FormatWord2VecBinary is word2vec's binary format: a "count dim" text
	// line, then per word the word, a space and dim little-endian float32s.
	FormatWord2VecBinary Format = "word2vec-binary"
	// FormatWink is the JSON of npm's wink-embeddings packages.
	FormatWink Format = "wink-json"
)

// ReadOptions configure Load.
type ReadOptions struct {
	// Format is the file's format; empty picks it from the name: ".json"
	// is FormatWink, ".bin" FormatWord2VecBinary, anything else FormatText.
	Format Format
	// Keep, when set, restricts the table to the words it accepts (the
	// others are still checked). Duplicates are detected among kept words.
	Keep func(word string) bool
	// Limit, when positive, stops after that many kept words (files list
	// words by frequency, so this keeps the most frequent).
	Limit int
}

// ParseError is a problem in a word-vector file: the file, the 1-based line
// (text formats) or byte offset (JSON and binary), and what is wrong.
type ParseError struct {
	Path   string
	Line   int   // 1-based; 0 when Offset applies
	Offset int64 // byte offset, for JSON and binary files
	Err    error
}

// Error formats the error as "text: PATH: line N: problem" (or "byte N").
func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("text: %s: line %d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("text: %s: byte %d: %v", e.Path, e.Offset, e.Err)
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }

// errStop ends a read early (Limit reached).
var errStop = errors.New("limit reached")

// FormatOf returns the format Load assumes for a file name.
func FormatOf(path string) Format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return FormatWink
	case ".bin":
		return FormatWord2VecBinary
	}
	return FormatText
}

// Load reads the word vectors of the file at path.
func Load(path string, opts ReadOptions) (*Vectors, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("text: %s: not a regular file", path)
	}
	format := opts.Format
	if format == "" {
		format = FormatOf(path)
	}
	return read(f, path, format, opts, st.Size()/2)
}

// Read reads word vectors of the format from r; name labels errors.
func Read(r io.Reader, name string, format Format, opts ReadOptions) (*Vectors, error) {
	return read(r, name, format, opts, 0)
}

func read(r io.Reader, name string, format Format, opts ReadOptions, maxFloats int64) (*Vectors, error) {
	b := newBuilder(opts)
	b.maxFloats = maxFloats
	var err error
	switch format {
	case FormatText:
		err = readText(bufio.NewReaderSize(r, 1<<20), name, b)
	case FormatWord2VecBinary:
		err = readBinary(bufio.NewReaderSize(r, 1<<20), name, b)
	case FormatWink:
		err = readWink(r, name, b)
	default:
		return nil, fmt.Errorf("text: %s: unknown word-vector format %q", name, format)
	}
	if err != nil && err != errStop {
		return nil, err
	}
	if b.dim == 0 {
		return nil, fmt.Errorf("text: %s: no word vectors", name)
	}
	return b.finish(), nil
}

// chunkFloats is the size of the chunks a builder stores vectors in.
const chunkFloats = 1 << 20

// builder collects kept vectors in fixed chunks, so growing never copies;
// finish joins them once.
type builder struct {
	opts   ReadOptions
	dim    int
	chunks [][]float32
	words  []string
	index  map[string]int
	skip   []float32 // where the values of skipped words go

	// hint is the word count a header announced (0: unknown); maxFloats
	// bounds what the file can hold (values take at least 2 bytes each in
	// text, 4 in binary), so a hostile header cannot make it allocate.
	hint      int
	maxFloats int64
}

func newBuilder(opts ReadOptions) *builder {
	return &builder{opts: opts, index: map[string]int{}}
}

// setDim fixes the dimension once.
func (b *builder) setDim(d int) error {
	if d <= 0 || d > 1<<16 {
		return fmt.Errorf("dimension %d outside [1, 65536]", d)
	}
	b.dim = d
	b.skip = make([]float32, d)
	return nil
}

// add registers word and returns where its dim values go (a scratch row
// when Keep rejects it), or an error for a duplicate or non-UTF-8 word.
func (b *builder) add(w string) ([]float32, error) {
	if len(w) == 0 {
		return nil, errors.New("empty word")
	}
	if !utf8.ValidString(w) {
		return nil, fmt.Errorf("word %q is not valid UTF-8", w)
	}
	if _, dup := b.index[w]; dup {
		return nil, fmt.Errorf("duplicate word %q", w)
	}
	if b.opts.Limit > 0 && len(b.words) >= b.opts.Limit {
		return nil, errStop
	}
	if b.opts.Keep != nil && !b.opts.Keep(w) {
		return b.skip, nil
	}
	b.index[w] = len(b.words)
	b.words = append(b.words, w)
	per := max(chunkFloats/b.dim, 1) * b.dim
	if len(b.chunks) == 0 && b.hint > 0 && b.opts.Keep == nil {
		n := b.hint
		if b.opts.Limit > 0 {
			n = min(n, b.opts.Limit)
		}
		if int64(n)*int64(b.dim) <= b.maxFloats {
			per = max(per, n*b.dim) // one chunk that finish needs not copy
		}
	}
	if len(b.chunks) == 0 || cap(b.chunks[len(b.chunks)-1])-len(b.chunks[len(b.chunks)-1]) < b.dim {
		b.chunks = append(b.chunks, make([]float32, 0, per))
	}
	c := &b.chunks[len(b.chunks)-1]
	n := len(*c)
	*c = (*c)[:n+b.dim]
	return (*c)[n : n+b.dim], nil
}

func (b *builder) finish() *Vectors {
	if len(b.chunks) == 1 {
		return &Vectors{Dim: b.dim, Words: b.words, Data: b.chunks[0], index: b.index}
	}
	data := make([]float32, 0, len(b.words)*b.dim)
	for i, c := range b.chunks {
		data = append(data, c...)
		b.chunks[i] = nil
	}
	return &Vectors{Dim: b.dim, Words: b.words, Data: data, index: b.index}
}

// New returns a table over words and their vectors (len(words)·dim
// floats), or an error for a duplicate word or a length mismatch.
func New(dim int, words []string, data []float32) (*Vectors, error) {
	if dim <= 0 || len(data) != len(words)*dim {
		return nil, fmt.Errorf("text: %d words of dimension %d need %d values, have %d", len(words), dim, len(words)*dim, len(data))
	}
	idx := make(map[string]int, len(words))
	for i, w := range words {
		if _, dup := idx[w]; dup {
			return nil, fmt.Errorf("text: duplicate word %q", w)
		}
		idx[w] = i
	}
	return &Vectors{Dim: dim, Words: words, Data: data, index: idx}, nil
}

// Restrict returns the table of the words keep accepts, in their order.
func (v *Vectors) Restrict(keep func(string) bool, limit int) *Vectors {
	b := newBuilder(ReadOptions{Keep: keep, Limit: limit})
	b.setDim(v.Dim)
	for i, w := range v.Words {
		row, err := b.add(w)
		if err != nil {
			break
		}
		copy(row, v.Vector(i))
	}
	return b.finish()
}
