package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/graftml/graft/data"
	"github.com/graftml/graft/internal/assets"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/nn/safetensors"
	"github.com/graftml/graft/transfer"
)

func init() {
	register(command{name: "demo", device: true,
		summary: "transfer learning end to end on data embedded in the binary",
		doc:     `Re-uses an MNIST CNN trained by graft (embedded) for scikit-learn's digits (embedded) at --per-class images per class: trains from scratch, a new head on cached features, the top layer groups, and everything, over --seeds seeds, and prints test accuracy (mean ± sd), wall time, FLOPs, the speed-up over scratch, and the advisor's pick with its reasons. --target fashion uses Fashion-MNIST (Debian's dataset-fashion-mnist), a task unlike MNIST. --base mobilenetv2 --model PATH/model.json transfers from ImageNet features instead (a TF.js Keras MobileNetV2, such as npm nsfwjs@4.4.0's converted by tools/jsmodel; nothing is fetched): its backbone up to the last spatial layer, globally pooled, under a new head, seeing the grey targets resized to --size (first convolution's RGB weights summed), and runs the MNIST CNN on the same splits beside it; the report compares the best strategies of the two and says how much the feature cache saved (seed 1's features run, with the cache empty and again warm).`,
		run:     demo})
}

// demoResult is one strategy's row of the demo, also its JSON form.
type demoResult struct {
	Strategy   string    `json:"strategy"`
	Accuracy   float64   `json:"accuracy"`
	AccuracySD float64   `json:"accuracy_sd"`
	Seconds    float64   `json:"seconds"`
	FLOPs      float64   `json:"flops"`
	Speedup    float64   `json:"speedup"`
	FLOPsSaved float64   `json:"flops_saved"`
	PerSeed    []float64 `json:"per_seed_accuracy"`
}

type demoReport struct {
	// EpochSpeedup is a head epoch on cached features over an epoch of
	// fine-tuning every group, both measured in the runs.
	EpochSpeedup float64      `json:"epoch_speedup_features_over_all"`
	Base         string       `json:"base"`
	Target       string       `json:"target"`
	PerClass     int          `json:"per_class"`
	Seeds        int          `json:"seeds"`
	Size         int          `json:"size"`
	TestImages   int          `json:"test_images"`
	Results      []demoResult `json:"results"`
	Advice       struct {
		Strategy string   `json:"strategy,omitempty"`
		Reasons  []string `json:"reasons,omitempty"`
	} `json:"advice"`
	// Cache is the feature cache's saving, measured on seed 1's features
	// run: once with the cache empty, then again over the same images.
	Cache *cacheReport `json:"cache,omitempty"`
	// Compare is the embedded MNIST CNN on the same splits (with --base
	// mobilenetv2), and Margin the best strategies' difference.
	Compare *demoReport   `json:"compare,omitempty"`
	Margin  *marginReport `json:"margin,omitempty"`
	Seconds float64       `json:"seconds"`
}

type cacheReport struct {
	ColdSeconds float64 `json:"cold_seconds"`
	WarmSeconds float64 `json:"warm_seconds"`
	SavedFrac   float64 `json:"saved_fraction"`
	// Accuracies of the two runs: a warm cache must give the same result.
	ColdAccuracy float64 `json:"cold_accuracy"`
	WarmAccuracy float64 `json:"warm_accuracy"`
}

// marginReport compares the best strategy of the base with the best of
// the MNIST CNN on the same splits.
type marginReport struct {
	Best, CompareBest string
	Diff              float64 `json:"accuracy_difference"`
	// PairedSD is the sample sd of the per-seed differences; MaxSD the
	// larger of the two strategies' sds.
	PairedSD float64 `json:"paired_sd"`
	MaxSD    float64 `json:"max_sd"`
	// Beats is Diff > 2·MaxSD.
	Beats bool `json:"beats_by_2sd"`
}

// embeddedBase returns the MNIST CNN base model embedded in the binary.
func embeddedBase() (*models.Model, error) {
	f, err := safetensors.Read(bytes.NewReader(assets.MNISTCNN), int64(len(assets.MNISTCNN)))
	if err != nil {
		return nil, fmt.Errorf("embedded base checkpoint: %v", err)
	}
	m, _, err := transfer.FromFile(f)
	if err != nil {
		return nil, fmt.Errorf("embedded base checkpoint: %v", err)
	}
	return m, nil
}

// demoBase is one base of a demo: the model, how the 28×28 target images
// are prepared for it, and what its runs gathered.
type demoBase struct {
	name  string
	model *models.Model
	prep  func(*data.Set) (*data.Set, error)
	cache *transfer.Cache
	rep   *demoReport
	runs  map[transfer.Strategy]*demoAcc
}

type demoAcc struct{ acc, secs, flops, epochSecs []float64 }

// demo is `graft demo`: transfer from an MNIST CNN (or an ImageNet
// MobileNetV2) to scikit-learn's digits or Fashion-MNIST at a few images
// per class, every strategy against scratch.
func demo(s *session, args []string) error {
	out := s.stdout
	fs := s.newFlags("demo")
	seeds := fs.Int("seeds", 3, "`N` seeds (each a new few-shot split and initialisation)")
	perClass := fs.Int("per-class", 10, "training images per class, `K` (the rest are the test set)")
	asJSON := fs.Bool("json", false, "print JSON")
	quiet := fs.Bool("quiet", false, "no progress lines")
	target := fs.String("target", "digits", "`target` task: digits (embedded, similar to MNIST) or fashion (Fashion-MNIST from Debian's dataset-fashion-mnist, different)")
	testLimit := fs.Int("test-limit", 2000, "`N` test images (a seeded sample of fashion's 10,000, or of the digits left after the training split)")
	baseName := fs.String("base", "mnistcnn", "`base`: mnistcnn (embedded, trained on MNIST) or mobilenetv2 (ImageNet features: a TF.js Keras MobileNetV2 given by --model, compared with mnistcnn on the same splits)")
	modelPath := fs.String("model", "", "`model.json` of the TF.js MobileNetV2 for --base mobilenetv2 (npm nsfwjs@4.4.0's, converted by tools/jsmodel)")
	cut := fs.String("cut", "", "top-level `layer` that ends the MobileNetV2 backbone (default its last spatial layer, out_relu; graft info --model lists them)")
	size := fs.Int("size", 96, "image side `S` the 28×28 targets are resized to for --base mobilenetv2")
	epochs := fs.Int("epochs", 0, "`N` epochs of fine-tuning (top-k, all) and of scratch (0: transfer's default, 10)")
	headEpochs := fs.Int("head-epochs", 0, "`N` epochs of the head alone on cached features (0: transfer's default, 30)")
	only := fs.String("strategies", "", "comma-separated `list` of strategies to run (default all: scratch, features, top-k, all)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *seeds < 1 || *perClass < 1 {
		return fmt.Errorf("demo: --seeds %d, --per-class %d: both must be at least 1", *seeds, *perClass)
	}
	if err := errorsOf(
		fs.check(*testLimit >= 1, "test-limit", "must be at least 1"),
		fs.check(*target == "digits" || *target == "fashion", "target", "not digits or fashion"),
		fs.check(*baseName == "mnistcnn" || *baseName == "mobilenetv2", "base", "not mnistcnn or mobilenetv2"),
		fs.check(*baseName != "mobilenetv2" || *modelPath != "", "model", "needed by --base mobilenetv2 (its TF.js model.json)"),
		fs.check(*baseName == "mobilenetv2" || *modelPath == "", "model", "only with --base mobilenetv2"),
		fs.check(*baseName == "mobilenetv2" || *cut == "", "cut", "only with --base mobilenetv2"),
		fs.check(*size >= 32 && *size <= 512, "size", "must be 32 to 512"),
		fs.check(*epochs >= 0, "epochs", "must not be negative"),
		fs.check(*headEpochs >= 0, "head-epochs", "must not be negative"),
	); err != nil {
		return err
	}
	strategies := transfer.Strategies
	if *only != "" {
		strategies = nil
		for _, name := range strings.Split(*only, ",") {
			st, err := transfer.ParseStrategy(strings.TrimSpace(name))
			if err != nil {
				return fmt.Errorf("demo: --strategies: %v", err)
			}
			if !slices.Contains(strategies, st) {
				strategies = append(strategies, st)
			}
		}
	}
	start := time.Now()
	mnist, err := embeddedBase()
	if err != nil {
		return fmt.Errorf("demo: %v", err)
	}
	same := func(s *data.Set) (*data.Set, error) { return s, nil }
	bases := []*demoBase{{name: "mnistcnn (MNIST)", model: mnist, prep: same}}
	if *baseName == "mobilenetv2" {
		m, err := imagenetBase(*modelPath, *size, *cut)
		if err != nil {
			return fmt.Errorf("demo: --model: %v", err)
		}
		sz := *size
		bases = append([]*demoBase{{name: "mobilenetv2 (ImageNet, " + m.Extra[models.MetaSource] + ")", model: m,
			prep: func(s *data.Set) (*data.Set, error) { return resized(s, sz) }}}, bases...)
	}
	var pool, fixedTest *data.Set
	targetName := "scikit-learn digits (20×20 in 28×28)"
	switch *target {
	case "digits":
		pool, err = data.ReadDigits(bytes.NewReader(assets.Digits), "digits.csv.gz (embedded)")
	case "fashion":
		var test *data.Set
		pool, test, err = data.FashionMNIST()
		if err == nil {
			fixedTest = test.Subset(test.Shuffle(7)[:min(*testLimit, test.Len())])
		}
		targetName = "Fashion-MNIST"
	default:
		err = fmt.Errorf("unknown --target %q (digits or fashion)", *target)
	}
	if err != nil {
		return fmt.Errorf("demo: %v", err)
	}
	ctx, stop := s.interrupt()
	defer stop()
	progress := io.Discard
	if !*quiet && !*asJSON {
		progress = out
	}
	for _, b := range bases {
		b.cache = &transfer.Cache{}
		b.rep = &demoReport{Base: b.name, Target: targetName, PerClass: *perClass, Seeds: *seeds, Size: b.model.InputShape[0]}
		b.runs = map[transfer.Strategy]*demoAcc{}
		for _, st := range strategies {
			b.runs[st] = &demoAcc{}
		}
		fmt.Fprintf(progress, "base: %s, %v inputs; target: %s, %d per class, %d seeds, %s\n",
			b.name, b.model.InputShape, targetName, *perClass, *seeds, s.backendName())
	}
	var fixedPrepped []*data.Set
	for seed := 1; seed <= *seeds; seed++ {
		train28, test28, err := pool.FewShotSplit(*perClass, uint64(seed))
		if err != nil {
			return fmt.Errorf("demo: %v", err)
		}
		switch {
		case fixedTest != nil:
			test28 = fixedTest
		case test28.Len() > *testLimit:
			test28 = test28.Subset(test28.Shuffle(7)[:*testLimit])
		}
		for bi, b := range bases {
			train, err := b.prep(train28)
			if err != nil {
				return fmt.Errorf("demo: %v", err)
			}
			var test *data.Set
			switch {
			case fixedTest != nil && len(fixedPrepped) > bi:
				test = fixedPrepped[bi]
			default:
				if test, err = b.prep(test28); err != nil {
					return fmt.Errorf("demo: %v", err)
				}
				if fixedTest != nil {
					fixedPrepped = append(fixedPrepped, test)
				}
			}
			b.rep.TestImages = test.Len()
			if err := demoSeed(ctx, b, train, test, seed, strategies, transfer.Options{Epochs: *epochs, HeadEpochs: *headEpochs}, progress); err != nil {
				return err
			}
		}
	}
	for _, b := range bases {
		b.summarize(strategies)
		b.rep.Seconds = time.Since(start).Seconds()
	}
	rep := bases[0].rep
	if len(bases) > 1 {
		rep.Compare = bases[1].rep
		rep.Margin = margin(bases[0], bases[1], strategies)
	}
	if *asJSON {
		return printJSON(out, rep)
	}
	for _, b := range bases {
		printDemo(out, b.rep)
	}
	if mg := rep.Margin; mg != nil {
		verdict := "does not beat"
		if mg.Beats {
			verdict = "beats"
		}
		fmt.Fprintf(out, "\nbest of %s: %s; best of %s: %s\n%s %s it by %+.4f (per-seed paired differences: sd %.4f; 2 × the larger sd: %.4f)\n",
			rep.Base, mg.Best, rep.Compare.Base, mg.CompareBest, rep.Base, verdict, mg.Diff, mg.PairedSD, 2*mg.MaxSD)
	}
	fmt.Fprintf(out, "(%.0f s in all)\n", time.Since(start).Seconds())
	return nil
}

// demoSeed runs the strategies of one seed on one base.
func demoSeed(ctx context.Context, b *demoBase, train, test *data.Set, seed int, strategies []transfer.Strategy, o transfer.Options, progress io.Writer) error {
	stopped := &interrupted{"demo: interrupted; nothing saved (the demo writes no files)"}
	if seed == 1 && !b.model.Imported() {
		plan, err := transfer.Advise(ctx, b.model, train, transfer.AdviseOptions{Seed: 1})
		if ctx.Err() != nil {
			return stopped
		}
		if err != nil {
			return fmt.Errorf("demo: %v", err)
		}
		b.rep.Advice.Strategy, b.rep.Advice.Reasons = string(plan.Strategy), plan.Reasons
	}
	for _, st := range strategies {
		o.Strategy, o.Seed, o.Cache = st, uint64(seed), b.cache
		r, err := transfer.Run(ctx, b.model, train, test, o)
		if ctx.Err() != nil {
			return stopped
		}
		if err != nil {
			return fmt.Errorf("demo: %s, seed %d: %v", st, seed, err)
		}
		a := b.runs[st]
		switch st {
		case transfer.StrategyFeatures:
			for _, e := range r.Epochs {
				a.epochSecs = append(a.epochSecs, e.Seconds)
			}
			if b.rep.Cache == nil {
				// The same run again: the trunk's pass over the same
				// images now comes from the cache.
				w, err := transfer.Run(ctx, b.model, train, test, o)
				if ctx.Err() != nil {
					return stopped
				}
				if err != nil {
					return fmt.Errorf("demo: %s, seed %d, warm cache: %v", st, seed, err)
				}
				b.rep.Cache = &cacheReport{ColdSeconds: r.Cost.Seconds, WarmSeconds: w.Cost.Seconds,
					SavedFrac: 1 - w.Cost.Seconds/r.Cost.Seconds, ColdAccuracy: r.Accuracy, WarmAccuracy: w.Accuracy}
				fmt.Fprintf(progress, "  feature cache: features run %.2f s with it empty, %.2f s warm (accuracy %.4f, %.4f)\n",
					r.Cost.Seconds, w.Cost.Seconds, r.Accuracy, w.Accuracy)
			}
		case transfer.StrategyAll:
			for _, e := range r.Epochs[r.HeadEpochs:] {
				a.epochSecs = append(a.epochSecs, e.Seconds)
			}
		}
		a.acc = append(a.acc, r.Accuracy)
		a.secs = append(a.secs, r.Cost.Seconds)
		a.flops = append(a.flops, r.Cost.FLOPs())
		fmt.Fprintf(progress, "  %s seed %d %-8s accuracy %.4f  %7.2f s  %8.2f GFLOP\n", strings.Fields(b.name)[0], seed, st, r.Accuracy, r.Cost.Seconds, r.Cost.FLOPs()/1e9)
	}
	return nil
}

// summarize fills the base's report rows from its runs.
func (b *demoBase) summarize(strategies []transfer.Strategy) {
	var ss, sf float64
	if scratch, ok := b.runs[transfer.StrategyScratch]; ok {
		ss, _ = transfer.MeanSD(scratch.secs)
		sf, _ = transfer.MeanSD(scratch.flops)
	}
	for _, st := range strategies {
		a := b.runs[st]
		m, sd := transfer.MeanSD(a.acc)
		secs, _ := transfer.MeanSD(a.secs)
		flops, _ := transfer.MeanSD(a.flops)
		r := demoResult{Strategy: string(st), Accuracy: m, AccuracySD: sd, Seconds: secs, FLOPs: flops, PerSeed: a.acc}
		if ss > 0 {
			r.Speedup, r.FLOPsSaved = ss/secs, 1-flops/sf
		}
		b.rep.Results = append(b.rep.Results, r)
	}
	f, okf := b.runs[transfer.StrategyFeatures]
	a, oka := b.runs[transfer.StrategyAll]
	if okf && oka {
		fe, _ := transfer.MeanSD(f.epochSecs)
		ae, _ := transfer.MeanSD(a.epochSecs)
		b.rep.EpochSpeedup = ae / fe
	}
}

// margin compares the best strategies of two bases run on the same
// splits.
func margin(a, b *demoBase, strategies []transfer.Strategy) *marginReport {
	best := func(d *demoBase) (transfer.Strategy, demoResult) {
		var bs transfer.Strategy
		var br demoResult
		for i, r := range d.rep.Results {
			if i == 0 || r.Accuracy > br.Accuracy {
				bs, br = strategies[i], r
			}
		}
		return bs, br
	}
	sa, ra := best(a)
	sb, rb := best(b)
	diffs := make([]float64, len(ra.PerSeed))
	for i := range diffs {
		diffs[i] = ra.PerSeed[i] - rb.PerSeed[i]
	}
	_, psd := transfer.MeanSD(diffs)
	return &marginReport{Best: string(sa), CompareBest: string(sb), Diff: ra.Accuracy - rb.Accuracy, PairedSD: psd,
		MaxSD: max(ra.AccuracySD, rb.AccuracySD), Beats: ra.Accuracy-rb.Accuracy > 2*max(ra.AccuracySD, rb.AccuracySD)}
}

// printDemo prints a base's table.
func printDemo(out io.Writer, rep *demoReport) {
	fmt.Fprintf(out, "\n%s → %s, %d per class, %d seeds, %d×%d inputs, %d test images\n", rep.Base, rep.Target, rep.PerClass, rep.Seeds, rep.Size, rep.Size, rep.TestImages)
	fmt.Fprintf(out, "%-9s %-16s %9s %11s %10s %12s\n", "strategy", "test accuracy", "seconds", "GFLOP", "speed-up", "FLOPs saved")
	for _, r := range rep.Results {
		fmt.Fprintf(out, "%-9s %.4f ± %.4f  %9.2f %11.2f %9.1f× %11.0f%%\n", r.Strategy, r.Accuracy, r.AccuracySD, r.Seconds, r.FLOPs/1e9, r.Speedup, 100*r.FLOPsSaved)
	}
	if rep.EpochSpeedup > 0 {
		fmt.Fprintf(out, "an epoch of the head on cached features is %.0f× faster than one of fine-tuning everything\n", rep.EpochSpeedup)
	}
	if c := rep.Cache; c != nil {
		fmt.Fprintf(out, "feature cache: seed 1's features run took %.2f s with the cache empty, %.2f s over the same images again (%.0f%% saved)\n",
			c.ColdSeconds, c.WarmSeconds, 100*c.SavedFrac)
	}
	if rep.Advice.Strategy != "" {
		fmt.Fprintf(out, "advisor: %s\n", rep.Advice.Strategy)
		for _, why := range rep.Advice.Reasons {
			fmt.Fprintf(out, "  - %s\n", why)
		}
	}
}
