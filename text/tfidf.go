package text

import (
	"fmt"
	"math"
	"sort"
)

// TFIDF is a TF-IDF document representation learned from a training set:
// term frequency log(1 + count) times the smoothed inverse document
// frequency log((1 + n) / (1 + df)) + 1, each document L2-normalised (as
// scikit-learn's TfidfVectorizer(sublinear_tf=True)).
type TFIDF struct {
	Terms map[string]int
	IDF   []float64
}

// SparseVec is a sparse vector: sorted indices and their values.
type SparseVec struct {
	Idx []int
	Val []float64
}

// NewTFIDF learns the terms seen in at least minDF training documents.
func NewTFIDF(docs [][]string, minDF int) *TFIDF {
	df := map[string]int{}
	seen := map[string]bool{}
	for _, d := range docs {
		clear(seen)
		for _, t := range d {
			if !seen[t] {
				seen[t] = true
				df[t]++
			}
		}
	}
	terms := make([]string, 0, len(df))
	for t, n := range df {
		if n >= minDF {
			terms = append(terms, t)
		}
	}
	sort.Strings(terms)
	m := &TFIDF{Terms: make(map[string]int, len(terms)), IDF: make([]float64, len(terms))}
	n := float64(len(docs))
	for i, t := range terms {
		m.Terms[t] = i
		m.IDF[i] = math.Log((1+n)/(1+float64(df[t]))) + 1
	}
	return m
}

// Transform returns the TF-IDF vector of a document.
func (m *TFIDF) Transform(doc []string) SparseVec {
	counts := map[int]int{}
	for _, t := range doc {
		if i, ok := m.Terms[t]; ok {
			counts[i]++
		}
	}
	v := SparseVec{Idx: make([]int, 0, len(counts))}
	for i := range counts {
		v.Idx = append(v.Idx, i)
	}
	sort.Ints(v.Idx)
	v.Val = make([]float64, len(v.Idx))
	var norm float64
	for k, i := range v.Idx {
		x := (1 + math.Log(float64(counts[i]))) * m.IDF[i]
		v.Val[k] = x
		norm += x * x
	}
	if norm > 0 {
		norm = 1 / math.Sqrt(norm)
		for k := range v.Val {
			v.Val[k] *= norm
		}
	}
	return v
}

// LogReg is multinomial logistic regression over sparse features.
type LogReg struct {
	Classes, Features int
	W                 []float64 // [Classes, Features]
	B                 []float64
}

// LogRegOptions configure TrainLogReg; zero fields take the defaults.
type LogRegOptions struct {
	L2     float64 // weight decay on W (default 1e-4)
	Epochs int     // full-batch Adam steps (default 300)
	LR     float64 // Adam rate (default 0.1)
}

// TrainLogReg fits a multinomial logistic regression by full-batch Adam
// on the mean cross-entropy plus L2/2·|W|². It is deterministic.
func TrainLogReg(x []SparseVec, y []int, classes, features int, o LogRegOptions) (*LogReg, error) {
	if len(x) != len(y) || len(x) == 0 || classes < 2 {
		return nil, fmt.Errorf("text: logistic regression on %d vectors, %d labels, %d classes", len(x), len(y), classes)
	}
	if o.L2 == 0 {
		o.L2 = 1e-4
	}
	if o.Epochs == 0 {
		o.Epochs = 300
	}
	if o.LR == 0 {
		o.LR = 0.1
	}
	m := &LogReg{Classes: classes, Features: features, W: make([]float64, classes*features), B: make([]float64, classes)}
	np := len(m.W) + len(m.B)
	g := make([]float64, np)
	mo, ve := make([]float64, np), make([]float64, np)
	p := make([]float64, classes)
	const b1, b2, eps = 0.9, 0.999, 1e-8
	inv := 1 / float64(len(x))
	for step := 1; step <= o.Epochs; step++ {
		clear(g)
		for n, v := range x {
			m.probs(p, v)
			p[y[n]]--
			for c := 0; c < classes; c++ {
				d := p[c] * inv
				g[len(m.W)+c] += d
				row := g[c*features:]
				for k, i := range v.Idx {
					row[i] += d * v.Val[k]
				}
			}
		}
		for i, w := range m.W {
			g[i] += o.L2 * w
		}
		bc1, bc2 := 1-math.Pow(b1, float64(step)), 1-math.Pow(b2, float64(step))
		for i := range g {
			mo[i] = b1*mo[i] + (1-b1)*g[i]
			ve[i] = b2*ve[i] + (1-b2)*g[i]*g[i]
			d := o.LR * (mo[i] / bc1) / (math.Sqrt(ve[i]/bc2) + eps)
			if i < len(m.W) {
				m.W[i] -= d
			} else {
				m.B[i-len(m.W)] -= d
			}
		}
	}
	return m, nil
}

// probs writes the class probabilities of v into p.
func (m *LogReg) probs(p []float64, v SparseVec) {
	mx := math.Inf(-1)
	for c := range p {
		z := m.B[c]
		row := m.W[c*m.Features:]
		for k, i := range v.Idx {
			z += row[i] * v.Val[k]
		}
		p[c] = z
		mx = math.Max(mx, z)
	}
	var s float64
	for c := range p {
		p[c] = math.Exp(p[c] - mx)
		s += p[c]
	}
	for c := range p {
		p[c] /= s
	}
}

// Predict returns the most probable class of v and the probabilities.
func (m *LogReg) Predict(v SparseVec) (int, []float64) {
	p := make([]float64, m.Classes)
	m.probs(p, v)
	best := 0
	for c := range p {
		if p[c] > p[best] {
			best = c
		}
	}
	return best, p
}
