package text

import "fmt"

// Set is an encoded corpus: each document as Len() rows of SeqLen token
// ids (float32, PadID-padded), ready for graft's training loop (it
// implements nn.Dataset).
type Set struct {
	SeqLen  int
	Classes []string
	IDs     []float32 // Len()·SeqLen
	Labels  []int
	Lengths []int // tokens before padding
	Groups  []string
}

// Docs tokenizes documents (Clean then Tokenize, at most maxTokens each when
// positive).
func Docs(c *Corpus, maxTokens int) [][]string {
	out := make([][]string, len(c.Docs))
	for i, d := range c.Docs {
		out[i] = Tokenize(nil, Clean(d.Text), maxTokens)
	}
	return out
}

// Encode turns tokenized documents of c into a Set of sequences of seqLen
// ids.
func Encode(c *Corpus, toks [][]string, v *Vocab, seqLen int) *Set {
	if len(toks) != len(c.Docs) || seqLen <= 0 {
		panic(fmt.Sprintf("text.Encode: %d token lists for %d documents, sequence length %d", len(toks), len(c.Docs), seqLen))
	}
	s := &Set{SeqLen: seqLen, Classes: c.Classes, IDs: make([]float32, len(toks)*seqLen),
		Labels: make([]int, len(toks)), Lengths: make([]int, len(toks)), Groups: make([]string, len(toks))}
	for i, t := range toks {
		s.Lengths[i] = v.Encode(s.IDs[i*seqLen:(i+1)*seqLen], t)
		s.Labels[i] = c.Docs[i].Label
		s.Groups[i] = c.Docs[i].Group
	}
	return s
}

// Len returns the number of documents.
func (s *Set) Len() int { return len(s.Labels) }

// ExampleShape is [SeqLen].
func (s *Set) ExampleShape() []int { return []int{s.SeqLen} }

// NumClasses returns the number of classes.
func (s *Set) NumClasses() int { return len(s.Classes) }

// Load copies the documents idx into x and their labels into labels.
func (s *Set) Load(x []float32, labels []int, idx []int) error {
	for k, i := range idx {
		if i < 0 || i >= s.Len() {
			return fmt.Errorf("text: document %d of %d", i, s.Len())
		}
		copy(x[k*s.SeqLen:(k+1)*s.SeqLen], s.IDs[i*s.SeqLen:(i+1)*s.SeqLen])
		labels[k] = s.Labels[i]
	}
	return nil
}
