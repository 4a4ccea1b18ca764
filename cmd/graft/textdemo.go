package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/graftml/graft/text"
	"github.com/graftml/graft/transfer"
)

// textDemoRow is one (training size, method) cell of the experiment.
type textDemoRow struct {
	PerClass   string    `json:"per_class"` // a number or "full"
	TrainDocs  int       `json:"train_docs"`
	Method     string    `json:"method"`
	AccMean    float64   `json:"accuracy_mean"`
	AccSD      float64   `json:"accuracy_sd"`
	F1Mean     float64   `json:"f1_mean"`
	F1SD       float64   `json:"f1_sd"`
	HardHam    float64   `json:"hard_ham_accuracy_mean"`
	Seconds    float64   `json:"seconds_mean"`
	Coverage   float64   `json:"glove_coverage,omitempty"`
	Accuracies []float64 `json:"accuracies"`
}

// textDemoReport is what graft text demo prints.
type textDemoReport struct {
	Data          string        `json:"data"`
	Model         string        `json:"model"`
	Embeddings    string        `json:"embeddings"`
	Seeds         int           `json:"seeds"`
	TrainDocs     int           `json:"train_split_docs"`
	TestDocs      int           `json:"test_docs"`
	TestHardHam   int           `json:"test_hard_ham"`
	VectorsLoad   float64       `json:"vectors_load_seconds"`
	VectorsCached bool          `json:"vectors_from_cache"`
	Rows          []textDemoRow `json:"rows"`
	Advice        []string      `json:"advice"`
	Seconds       float64       `json:"seconds"`
}

var textMethods = []string{"random", "frozen", "finetune", "tfidf-logreg"}

func textDemo(s *session, args []string) error {
	out := s.stdout
	fs := flag.NewFlagSet("text demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	tf := addTextFlags(fs)
	embeddings := fs.String("embeddings", "glove", "word vectors (a file, or glove)")
	seeds := fs.Int("seeds", 5, "seeds per cell (each a new sample and initialisation)")
	sizes := fs.String("per-class", "10,50,200,full", "training documents per class, comma-separated (full: the whole training split)")
	asJSON := fs.Bool("json", false, "print JSON")
	quiet := fs.Bool("quiet", false, "no progress lines")
	if err := parseSub(fs, args); err != nil {
		return err
	}
	if *seeds < 1 {
		return fmt.Errorf("text demo: --seeds must be ≥ 1")
	}
	var ks []int // 0: full
	for _, s := range strings.Split(*sizes, ",") {
		if s == "full" {
			ks = append(ks, 0)
			continue
		}
		k, err := strconv.Atoi(s)
		if err != nil || k < 1 {
			return fmt.Errorf("text demo: --per-class %q: want numbers ≥ 1 or full", s)
		}
		ks = append(ks, k)
	}
	if _, err := tf.config("random", 2, 1); err != nil {
		return fmt.Errorf("text demo: %v", err)
	}
	start := time.Now()
	progress := io.Discard
	if !*quiet && !*asJSON {
		progress = out
	}
	vecs, secs, hit, err := s.loadVectors(*embeddings)
	if err != nil {
		return fmt.Errorf("text demo: %v", err)
	}
	fmt.Fprintf(progress, "word vectors: %d words of %d in %.2f s (cache hit %v)\n", vecs.Len(), vecs.Dim, secs, hit)
	d, err := s.loadTextData(*tf.data, *tf.testFrac, 0, *tf.seqLen)
	if err != nil {
		return fmt.Errorf("text demo: %v", err)
	}
	rep := textDemoReport{Data: *tf.data, Model: *tf.model, Embeddings: *embeddings, Seeds: *seeds,
		TrainDocs: len(d.train.Docs), TestDocs: len(d.test.Docs), VectorsLoad: secs, VectorsCached: hit}
	for _, doc := range d.test.Docs {
		if doc.Group == "hard-ham-1" {
			rep.TestHardHam++
		}
	}
	fmt.Fprintf(progress, "data: %s, training split %d (%s), test %d (%s; %d hard ham), model %s, %s\n",
		*tf.data, len(d.train.Docs), countsString(d.train), len(d.test.Docs), countsString(d.test), rep.TestHardHam, *tf.model, s.backendName())
	ctx, stop := s.interrupt()
	defer stop()
	testSetTokens := d.tokens(d.test)
	for _, k := range ks {
		label := strconv.Itoa(k)
		if k == 0 {
			label = "full"
		}
		rows := map[string]*textDemoRow{}
		var f1s = map[string][]float64{}
		var covs []float64
		for _, m := range textMethods {
			rows[m] = &textDemoRow{PerClass: label, Method: m}
		}
		for seed := 1; seed <= *seeds; seed++ {
			train := d.train
			if k > 0 {
				train = d.train.PerClass(k, uint64(seed))
			}
			for _, m := range textMethods {
				var res textResult
				if m == "tfidf-logreg" {
					res, err = runTFIDF(d.tokens(train), train, testSetTokens, d.test)
				} else {
					var cfg textConfig
					if cfg, err = tf.config(m, 2, uint64(seed)); err == nil {
						cfg.Dim = vecs.Dim
						res, err = runText(ctx, d, train, vecs, cfg, *tf.extra, "")
					}
				}
				if err != nil {
					return fmt.Errorf("text demo: %s, %s per class, seed %d: %v", m, label, seed, err)
				}
				r := rows[m]
				r.TrainDocs = len(train.Docs)
				r.Accuracies = append(r.Accuracies, res.Scores.Accuracy)
				f1s[m] = append(f1s[m], res.Scores.F1)
				r.HardHam += res.Scores.HardHamAcc / float64(*seeds)
				r.Seconds += res.Seconds / float64(*seeds)
				if m == "frozen" {
					covs = append(covs, res.Coverage)
				}
				fmt.Fprintf(progress, "  %5s/class seed %d %-13s acc %.4f F1 %.4f (%.1f s)\n", label, seed, m, res.Scores.Accuracy, res.Scores.F1, res.Seconds)
			}
		}
		for _, m := range textMethods {
			r := rows[m]
			r.AccMean, r.AccSD = transfer.MeanSD(r.Accuracies)
			r.F1Mean, r.F1SD = transfer.MeanSD(f1s[m])
			if m != "random" && m != "tfidf-logreg" {
				r.Coverage, _ = transfer.MeanSD(covs)
			}
			rep.Rows = append(rep.Rows, *r)
		}
		rep.Advice = append(rep.Advice, textAdvice(label, k, rows, covs))
	}
	rep.Seconds = since(start)
	if *asJSON {
		return printJSON(out, rep)
	}
	fmt.Fprintf(out, "\n%-6s %-13s %-17s %-17s %-8s %s\n", "class", "method", "accuracy", "F1 (spam)", "hard ham", "s/run")
	for _, r := range rep.Rows {
		fmt.Fprintf(out, "%-6s %-13s %.4f ± %.4f   %.4f ± %.4f   %.4f   %.1f\n", r.PerClass, r.Method, r.AccMean, r.AccSD, r.F1Mean, r.F1SD, r.HardHam, r.Seconds)
	}
	fmt.Fprintln(out)
	for _, a := range rep.Advice {
		fmt.Fprintln(out, a)
	}
	fmt.Fprintf(out, "(%.0f s in all)\n", rep.Seconds)
	return nil
}

// runTFIDF trains and tests the TF-IDF + logistic-regression baseline.
func runTFIDF(trainToks [][]string, train *text.Corpus, testToks [][]string, test *text.Corpus) (textResult, error) {
	start := time.Now()
	m := text.NewTFIDF(trainToks, 1)
	x := make([]text.SparseVec, len(trainToks))
	y := make([]int, len(trainToks))
	for i, t := range trainToks {
		x[i], y[i] = m.Transform(t), train.Docs[i].Label
	}
	lr, err := text.TrainLogReg(x, y, len(train.Classes), len(m.Terms), text.LogRegOptions{})
	if err != nil {
		return textResult{}, err
	}
	pred := make([]int, len(testToks))
	for i, t := range testToks {
		pred[i], _ = lr.Predict(m.Transform(t))
	}
	set := &text.Set{Classes: test.Classes, Labels: make([]int, len(test.Docs)), Groups: make([]string, len(test.Docs))}
	for i, doc := range test.Docs {
		set.Labels[i], set.Groups[i] = doc.Label, doc.Group
	}
	return textResult{Scores: scorePredictions(pred, set), Vocab: len(m.Terms), Seconds: since(start)}, nil
}

// textAdvice is the text analogue of transfer.Advise: a rule on examples
// per class and the vectors' coverage of the training words, set against
// the best method measured.
func textAdvice(label string, k int, rows map[string]*textDemoRow, covs []float64) string {
	cov, _ := transfer.MeanSD(covs)
	var rule, why string
	switch {
	case cov < 0.5:
		rule, why = "random", fmt.Sprintf("the vectors cover only %.0f%% of the training words", 100*cov)
	case k > 0 && k < 100:
		rule, why = "frozen", fmt.Sprintf("%d examples per class are too few to move a table of word vectors (coverage %.0f%%)", k, 100*cov)
	default:
		rule, why = "finetune", fmt.Sprintf("enough examples to adapt the vectors at a lower rate (coverage %.0f%%)", 100*cov)
	}
	best := ""
	for _, m := range textMethods[:3] {
		if best == "" || rows[m].AccMean > rows[best].AccMean {
			best = m
		}
	}
	agree := "agrees"
	if best != rule {
		agree = fmt.Sprintf("differs: %s measured %.4f, %s %.4f", best, rows[best].AccMean, rule, rows[rule].AccMean)
	}
	return fmt.Sprintf("advice at %s/class: %s embeddings, since %s; the best embedding model measured is %s (%s)", label, rule, why, best, agree)
}
