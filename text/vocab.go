package text

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// The reserved ids of every Vocab.
const (
	PadID = 0 // padding: models ignore it
	UnkID = 1 // any token outside the vocabulary
)

// The words of the reserved ids.
const (
	PadWord = "<pad>"
	UnkWord = "<unk>"
)

// Vocab maps tokens to ids: PadID and UnkID first, then the tokens.
type Vocab struct {
	Words []string
	index map[string]int
}

// BuildVocab counts the tokens of docs and keeps those seen at least
// minCount times, the most frequent first (ties in alphabetical order), at
// most maxSize ids in all (0: no limit) including the two reserved ones.
func BuildVocab(docs [][]string, minCount, maxSize int) *Vocab {
	counts := map[string]int{}
	for _, d := range docs {
		for _, t := range d {
			counts[t]++
		}
	}
	type wc struct {
		w string
		c int
	}
	var all []wc
	for w, c := range counts {
		if c >= minCount && w != PadWord && w != UnkWord {
			all = append(all, wc{w, c})
		}
	}
	slices.SortFunc(all, func(a, b wc) int {
		if a.c != b.c {
			return b.c - a.c
		}
		return strings.Compare(a.w, b.w)
	})
	words := []string{PadWord, UnkWord}
	for _, x := range all {
		if maxSize > 0 && len(words) >= maxSize {
			break
		}
		words = append(words, x.w)
	}
	v, _ := NewVocab(words[2:])
	return v
}

// NewVocab returns the vocabulary of PadWord, UnkWord and words, in order;
// a duplicate or a reserved word is an error.
func NewVocab(words []string) (*Vocab, error) {
	v := &Vocab{Words: append([]string{PadWord, UnkWord}, words...), index: make(map[string]int, len(words)+2)}
	for i, w := range v.Words {
		if _, dup := v.index[w]; dup {
			return nil, fmt.Errorf("text: vocabulary word %d %q appears twice (or is reserved)", i, w)
		}
		v.index[w] = i
	}
	return v, nil
}

// Len returns the number of ids.
func (v *Vocab) Len() int { return len(v.Words) }

// ID returns the id of tok, UnkID when it is not in the vocabulary.
func (v *Vocab) ID(tok string) int {
	if i, ok := v.index[tok]; ok {
		return i
	}
	return UnkID
}

// Has reports whether tok has an id of its own.
func (v *Vocab) Has(tok string) bool { _, ok := v.index[tok]; return ok }

// Encode writes the ids of the first len(dst) tokens into dst, padding
// with PadID, and returns how many tokens it wrote. Ids are float32 because
// graft's models take float32 tensors; they are exact up to 2^24.
func (v *Vocab) Encode(dst []float32, tokens []string) int {
	n := min(len(dst), len(tokens))
	for i := 0; i < n; i++ {
		dst[i] = float32(v.ID(tokens[i]))
	}
	clear(dst[n:])
	return n
}

// WriteTo writes the words after the reserved ones, one a line.
func (v *Vocab) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriter(w)
	var n int64
	for _, t := range v.Words[2:] {
		m, _ := bw.WriteString(t)
		bw.WriteByte('\n')
		n += int64(m) + 1
	}
	return n, bw.Flush()
}

// ReadVocab reads what WriteTo wrote; a line that is not UTF-8, empty or a
// duplicate is an error naming the line.
func ReadVocab(r io.Reader) (*Vocab, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var words []string
	seen := map[string]bool{PadWord: true, UnkWord: true}
	for line := 1; sc.Scan(); line++ {
		w := sc.Text()
		if w == "" || !utf8.ValidString(w) || seen[w] {
			return nil, fmt.Errorf("text: vocabulary line %d: %q is empty, not UTF-8, reserved or a duplicate", line, w)
		}
		seen[w] = true
		words = append(words, w)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("text: vocabulary: %w", err)
	}
	return NewVocab(words)
}
