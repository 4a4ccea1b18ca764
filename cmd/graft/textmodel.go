package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/safetensors"
	"github.com/graftml/graft/tensor"
	"github.com/graftml/graft/text"
)

// textConfig describes a text classifier and how to train it.
type textConfig struct {
	Model   string // bag or cnn
	SeqLen  int
	Dim     int
	Hidden  int // bag: the MLP's hidden width
	Filters int // cnn: filters per width
	Classes int
	// Embed is "random" (trained from scratch), "frozen" or "finetune"
	// (initialised from word vectors).
	Embed     string
	Epochs    int
	Batch     int
	LR, EmbLR float64
	Seed      uint64
	// SIF weights the bag's mean by smooth inverse frequency.
	SIF bool
	// Norm puts a BatchNorm between the bag's mean and its MLP.
	Norm bool
	// Lazy updates only the embedding rows of each batch.
	Lazy bool
}

// buildTextModel returns the classifier and its embedding table.
func buildTextModel(c textConfig, vocab int) (nn.Layer, *nn.Embedding, error) {
	switch c.Model {
	case "bag":
		bag := nn.NewEmbeddingBag(vocab, c.Dim, text.PadID, c.Seed)
		m := nn.NewSequential().Add("embedding", bag)
		if c.Norm {
			m.Add("norm", nn.NewBatchNorm(c.Dim))
		}
		if c.Hidden == 0 {
			m.Add("fc", nn.NewDense(c.Dim, c.Classes, true, c.Seed+1))
			return m, bag.Embedding, nil
		}
		m.Add("fc1", nn.NewDense(c.Dim, c.Hidden, true, c.Seed+1)).
			Add("relu", nn.ReLU()).
			Add("fc2", nn.NewDense(c.Hidden, c.Classes, true, c.Seed+2))
		return m, bag.Embedding, nil
	case "cnn":
		if c.SeqLen < 5 {
			return nil, nil, fmt.Errorf("--seq-len %d: the CNN needs at least 5 tokens", c.SeqLen)
		}
		emb := nn.NewEmbedding(vocab, c.Dim, text.PadID, c.Seed)
		var convs []nn.Named[nn.Layer]
		for i, w := range []int{3, 4, 5} {
			convs = append(convs, nn.Named[nn.Layer]{Name: fmt.Sprint("conv", w), Value: nn.NewConv1DMax(c.Dim, c.Filters, w, true, c.Seed+uint64(1+i))})
		}
		m := nn.NewSequential().Add("embedding", emb).
			Add("convs", nn.NewConcat(convs...)).
			Add("dropout", nn.NewDropout(0.5, c.Seed+4)).
			Add("fc", nn.NewDense(3*c.Filters, c.Classes, true, c.Seed+5))
		return m, emb, nil
	}
	return nil, nil, fmt.Errorf("unknown --model %q (bag or cnn)", c.Model)
}

// initEmbedding fills the table: rows of words the vectors have get their
// vector, the others (and every row with Embed "random") N(0, σ²) with σ
// the vectors' standard deviation (0.1σ for missing words beside
// pre-trained ones). It returns the share of the vocabulary's words (not
// counting padding and unknown) the vectors cover.
func initEmbedding(e *nn.Embedding, vocab *text.Vocab, vecs *text.Vectors, embed string, seed uint64) (coverage float64, err error) {
	sigma := 0.4
	if vecs != nil {
		sigma = stdOf(vecs.Data)
	}
	r := rand.New(rand.NewPCG(seed, 0xe3b))
	rows := make([]float32, e.Num*e.Dim)
	found := 0
	for i, w := range vocab.Words {
		row := rows[i*e.Dim : (i+1)*e.Dim]
		var v []float32
		if vecs != nil && i >= 2 {
			v = vecs.Lookup(w)
			if v == nil && specialWords[w] != "" {
				v = vecs.Lookup(specialWords[w])
			}
		}
		if v != nil {
			found++
		}
		if v != nil && embed != "random" {
			copy(row, v)
			continue
		}
		s := sigma
		if embed != "random" {
			s = 0.1 * sigma
		}
		for j := range row {
			row[j] = float32(r.NormFloat64() * s)
		}
	}
	if vecs != nil && vecs.Dim != e.Dim {
		return 0, fmt.Errorf("word vectors of dimension %d for a %d-d embedding", vecs.Dim, e.Dim)
	}
	if err := e.FromVectors(rows); err != nil {
		return 0, err
	}
	return float64(found) / float64(max(vocab.Len()-2, 1)), nil
}

// specialWords are the words whose vectors the tokenizer's placeholder
// tokens take.
var specialWords = map[string]string{text.URLTok: "url", text.EmailTok: "email", text.NumTok: "number", text.HTMLTok: "html"}

// sifWeights returns a/(a + p(w)) per id, p(w) the Zipf frequency of the
// word's rank in the vectors (which list words by frequency), 1 for words
// they lack.
func sifWeights(vocab *text.Vocab, vecs *text.Vectors) []float32 {
	const a = 1e-3
	h := math.Log(float64(vecs.Len())) + 0.5772
	w := make([]float32, vocab.Len())
	for i, word := range vocab.Words {
		w[i] = 1
		if r, ok := vecs.Index(word); ok {
			p := 1 / (float64(r+1) * h)
			w[i] = float32(a / (a + p))
		}
	}
	return w
}

func stdOf(v []float32) float64 {
	var s, s2 float64
	for _, x := range v {
		s += float64(x)
		s2 += float64(x) * float64(x)
	}
	n := float64(max(len(v), 1))
	return math.Sqrt(max(s2/n-(s/n)*(s/n), 1e-12))
}

// fitText trains m on train with Adam: the embedding at EmbLR (frozen when
// Embed is "frozen"; with Lazy only the rows of each batch are updated),
// the rest at LR.
func fitText(ctx context.Context, m nn.Layer, emb *nn.Embedding, train nn.Dataset, c textConfig) error {
	emb.Weight.Trainable = c.Embed != "frozen"
	var embParams, rest []nn.Named[*nn.Param]
	for _, p := range nn.Parameters(m) {
		if p.Value == emb.Weight {
			embParams = append(embParams, p)
		} else {
			rest = append(rest, p)
		}
	}
	eg := nn.NewGroup(embParams, c.EmbLR, 0)
	eg.Lazy = c.Lazy
	opt := nn.NewAdam(nn.NewGroup(rest, c.LR, 0), eg)
	_, err := nn.Fit(ctx, m, train, nil, nn.FitOptions{Epochs: c.Epochs, BatchSize: c.Batch, Optimizer: opt, Seed: c.Seed})
	return err
}

// textScores are a model's results on a test set.
type textScores struct {
	Accuracy   float64 `json:"accuracy"`
	F1         float64 `json:"f1"` // of class 1 (spam) for two classes, macro otherwise
	HardHamAcc float64 `json:"hard_ham_accuracy,omitempty"`
}

// scorePredictions compares predicted classes with a set's labels.
func scorePredictions(pred []int, s *text.Set) textScores {
	k := s.NumClasses()
	tp, fp, fn := make([]float64, k), make([]float64, k), make([]float64, k)
	var correct, hard, hardOK float64
	for i, p := range pred {
		y := s.Labels[i]
		if p == y {
			correct++
			tp[y]++
		} else {
			fp[p]++
			fn[y]++
		}
		if s.Groups[i] == "hard-ham-1" {
			hard++
			if p == y {
				hardOK++
			}
		}
	}
	f1 := func(c int) float64 {
		if tp[c] == 0 {
			return 0
		}
		return 2 * tp[c] / (2*tp[c] + fp[c] + fn[c])
	}
	sc := textScores{Accuracy: correct / float64(len(pred))}
	if k == 2 {
		sc.F1 = f1(1)
	} else {
		for c := 0; c < k; c++ {
			sc.F1 += f1(c) / float64(k)
		}
	}
	if hard > 0 {
		sc.HardHamAcc = hardOK / hard
	}
	return sc
}

// predictText returns the model's class probabilities for every document
// of s (inference mode, in batches).
func predictText(m nn.Layer, s *text.Set) ([]int, [][]float64, error) {
	nn.SetTraining(m, false)
	const batch = 256
	pred := make([]int, 0, s.Len())
	var probs [][]float64
	for i := 0; i < s.Len(); i += batch {
		n := min(batch, s.Len()-i)
		x := tensor.FromSlice(s.IDs[i*s.SeqLen:(i+n)*s.SeqLen], n, s.SeqLen)
		y, err := nn.Predict(m, x)
		if err != nil {
			return nil, nil, err
		}
		k := y.Dim(1)
		for r := 0; r < n; r++ {
			p := softmax(y.Data()[r*k : (r+1)*k])
			best := 0
			for c := range p {
				if p[c] > p[best] {
					best = c
				}
			}
			pred = append(pred, best)
			probs = append(probs, p)
		}
	}
	return pred, probs, nil
}

// The checkpoint of a text model: nn's Meta with Arch "text-bag" or
// "text-cnn", the sizes in Options and the vocabulary (one word a line) in
// Extra["text_vocab"].
const metaVocab = "text_vocab"

func saveTextModel(path string, m nn.Layer, c textConfig, vocab *text.Vocab, classes []string) error {
	var b strings.Builder
	vocab.WriteTo(&b)
	meta := nn.Meta{Arch: "text-" + c.Model, Classes: classes, InputShape: []int{c.SeqLen},
		Options: map[string]string{"dim": strconv.Itoa(c.Dim), "hidden": strconv.Itoa(c.Hidden),
			"filters": strconv.Itoa(c.Filters), "seq_len": strconv.Itoa(c.SeqLen), "vocab": strconv.Itoa(vocab.Len()),
			"norm": strconv.FormatBool(c.Norm), "token_weights": strconv.FormatBool(hasTokenWeights(m))},
		Extra: map[string]string{metaVocab: b.String()}}
	return nn.Save(path, m, meta)
}

// hasTokenWeights reports a bag model with token weights.
func hasTokenWeights(m nn.Layer) bool {
	s, ok := m.(*nn.Sequential)
	if !ok || s.Len() == 0 {
		return false
	}
	bag, ok := s.Layer(0).(*nn.EmbeddingBag)
	return ok && bag.Weights != nil
}

// loadTextModel rebuilds a model saveTextModel wrote.
func loadTextModel(path string) (nn.Layer, *text.Vocab, textConfig, []string, error) {
	var c textConfig
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, nil, c, nil, err
	}
	meta, err := nn.MetaOf(f)
	if err != nil {
		return nil, nil, c, nil, fmt.Errorf("%s: %v", path, err)
	}
	kind, ok := strings.CutPrefix(meta.Arch, "text-")
	if !ok {
		return nil, nil, c, nil, fmt.Errorf("%s: not a text model (arch %q); graft text train writes them", path, meta.Arch)
	}
	vocab, err := text.ReadVocab(strings.NewReader(meta.Extra[metaVocab]))
	if err != nil {
		return nil, nil, c, nil, fmt.Errorf("%s: %v", path, err)
	}
	num := func(k string, lo, hi int) (int, error) {
		v, err := strconv.Atoi(meta.Options[k])
		if err != nil || v < lo || v > hi {
			return 0, fmt.Errorf("%s: option %s = %q outside [%d, %d]", path, k, meta.Options[k], lo, hi)
		}
		return v, nil
	}
	c = textConfig{Model: kind, Classes: len(meta.Classes)}
	for _, o := range []struct {
		k      string
		dst    *int
		lo, hi int
	}{{"dim", &c.Dim, 1, 4096}, {"hidden", &c.Hidden, 0, 1 << 16}, {"filters", &c.Filters, 0, 1 << 16}, {"seq_len", &c.SeqLen, 1, 1 << 20}} {
		if *o.dst, err = num(o.k, o.lo, o.hi); err != nil {
			return nil, nil, c, nil, err
		}
	}
	if c.Classes < 2 {
		return nil, nil, c, nil, fmt.Errorf("%s: %d classes named", path, c.Classes)
	}
	if c.Model == "cnn" && c.Filters < 1 {
		return nil, nil, c, nil, fmt.Errorf("%s: a %s model with hidden %d, filters %d", path, c.Model, c.Hidden, c.Filters)
	}
	c.Norm = meta.Options["norm"] == "true"
	m, _, err := buildTextModel(c, vocab.Len())
	if err != nil {
		return nil, nil, c, nil, fmt.Errorf("%s: %v", path, err)
	}
	if meta.Options["token_weights"] == "true" {
		if bag, ok := m.(*nn.Sequential).Layer(0).(*nn.EmbeddingBag); ok {
			bag.Weights = make([]float32, vocab.Len()) // read from the checkpoint below
		}
	}
	if _, rep, err := nn.LoadFile(f, m, nn.LoadOptions{}); err != nil {
		return nil, nil, c, nil, fmt.Errorf("%s: %v", path, err)
	} else if !rep.Clean() {
		return nil, nil, c, nil, fmt.Errorf("%s: %v", path, rep)
	}
	return m, vocab, c, meta.Classes, nil
}

// since returns the seconds since t.
func since(t time.Time) float64 { return time.Since(t).Seconds() }
