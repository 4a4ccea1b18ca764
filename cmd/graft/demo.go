package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
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
		doc:     `Re-uses an MNIST CNN trained by graft (embedded) for scikit-learn's digits (embedded) at --per-class images per class: trains from scratch, a new head on cached features, the top layer groups, and everything, over --seeds seeds, and prints test accuracy (mean ± sd), wall time, FLOPs, the speed-up over scratch, and the advisor's pick with its reasons. --target fashion uses Fashion-MNIST (Debian's dataset-fashion-mnist), a task unlike MNIST.`,
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
	Results      []demoResult `json:"results"`
	Advice       struct {
		Strategy string   `json:"strategy"`
		Reasons  []string `json:"reasons"`
	} `json:"advice"`
	Seconds float64 `json:"seconds"`
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

// demo is `graft demo`: transfer from an MNIST CNN to scikit-learn's
// digits at a few images per class, every strategy against scratch.
func demo(args []string, out io.Writer) error {
	fs := newFlags("demo")
	seeds := fs.Int("seeds", 3, "`N` seeds (each a new few-shot split and initialisation)")
	perClass := fs.Int("per-class", 10, "training images per class, `K` (the rest are the test set)")
	asJSON := fs.Bool("json", false, "print JSON")
	quiet := fs.Bool("quiet", false, "no progress lines")
	target := fs.String("target", "digits", "`target` task: digits (embedded, similar to MNIST) or fashion (Fashion-MNIST from Debian's dataset-fashion-mnist, different)")
	testLimit := fs.Int("test-limit", 2000, "`N` test images for fashion (a seeded sample of its 10,000)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *seeds < 1 || *perClass < 1 {
		return fmt.Errorf("demo: --seeds %d, --per-class %d: both must be at least 1", *seeds, *perClass)
	}
	if err := errorsOf(
		fs.check(*testLimit >= 1, "test-limit", "must be at least 1"),
		fs.check(*target == "digits" || *target == "fashion", "target", "not digits or fashion"),
	); err != nil {
		return err
	}
	start := time.Now()
	base, err := embeddedBase()
	if err != nil {
		return fmt.Errorf("demo: %v", err)
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
	ctx, stop := interruptContext()
	defer stop()
	progress := io.Discard
	if !*quiet && !*asJSON {
		progress = out
	}
	fmt.Fprintf(progress, "base: %s trained on MNIST (embedded); target: %s, %d per class, %d seeds, %s\n",
		base.Arch, targetName, *perClass, *seeds, backendName())
	rep := demoReport{Base: "mnistcnn (MNIST)", Target: targetName, PerClass: *perClass, Seeds: *seeds}
	type acc struct{ acc, secs, flops, epochSecs []float64 }
	runs := map[transfer.Strategy]*acc{}
	for _, st := range transfer.Strategies {
		runs[st] = &acc{}
	}
	for seed := 1; seed <= *seeds; seed++ {
		train, test, err := pool.FewShotSplit(*perClass, uint64(seed))
		if err != nil {
			return fmt.Errorf("demo: %v", err)
		}
		if fixedTest != nil {
			test = fixedTest
		}
		if seed == 1 {
			plan, err := transfer.Advise(ctx, base, train, transfer.AdviseOptions{Seed: 1})
			if ctx.Err() != nil {
				return &interrupted{"demo: interrupted; nothing saved (the demo writes no files)"}
			}
			if err != nil {
				return fmt.Errorf("demo: %v", err)
			}
			rep.Advice.Strategy, rep.Advice.Reasons = string(plan.Strategy), plan.Reasons
		}
		for _, st := range transfer.Strategies {
			r, err := transfer.Run(ctx, base, train, test, transfer.Options{Strategy: st, Seed: uint64(seed)})
			if ctx.Err() != nil {
				return &interrupted{"demo: interrupted; nothing saved (the demo writes no files)"}
			}
			if err != nil {
				return fmt.Errorf("demo: %s, seed %d: %v", st, seed, err)
			}
			a := runs[st]
			switch st {
			case transfer.StrategyFeatures:
				for _, e := range r.Epochs {
					a.epochSecs = append(a.epochSecs, e.Seconds)
				}
			case transfer.StrategyAll:
				for _, e := range r.Epochs[r.HeadEpochs:] {
					a.epochSecs = append(a.epochSecs, e.Seconds)
				}
			}
			a.acc = append(a.acc, r.Accuracy)
			a.secs = append(a.secs, r.Cost.Seconds)
			a.flops = append(a.flops, r.Cost.FLOPs())
			fmt.Fprintf(progress, "  seed %d %-8s accuracy %.4f  %5.2f s  %7.2f GFLOP\n", seed, st, r.Accuracy, r.Cost.Seconds, r.Cost.FLOPs()/1e9)
		}
	}
	scratch := runs[transfer.StrategyScratch]
	for _, st := range transfer.Strategies {
		a := runs[st]
		m, sd := meanSD(a.acc)
		secs, _ := meanSD(a.secs)
		flops, _ := meanSD(a.flops)
		ss, _ := meanSD(scratch.secs)
		sf, _ := meanSD(scratch.flops)
		rep.Results = append(rep.Results, demoResult{Strategy: string(st), Accuracy: m, AccuracySD: sd, Seconds: secs,
			FLOPs: flops, Speedup: ss / secs, FLOPsSaved: 1 - flops/sf, PerSeed: a.acc})
	}
	fe, _ := meanSD(runs[transfer.StrategyFeatures].epochSecs)
	ae, _ := meanSD(runs[transfer.StrategyAll].epochSecs)
	rep.EpochSpeedup = ae / fe
	rep.Seconds = time.Since(start).Seconds()
	if *asJSON {
		return printJSON(out, rep)
	}
	fmt.Fprintf(out, "\n%-9s %-16s %9s %11s %10s %12s\n", "strategy", "test accuracy", "seconds", "GFLOP", "speed-up", "FLOPs saved")
	for _, r := range rep.Results {
		fmt.Fprintf(out, "%-9s %.4f ± %.4f  %9.2f %11.2f %9.1f× %11.0f%%\n", r.Strategy, r.Accuracy, r.AccuracySD, r.Seconds, r.FLOPs/1e9, r.Speedup, 100*r.FLOPsSaved)
	}
	fmt.Fprintf(out, "\nan epoch of the head on cached features: %.1f ms; of fine-tuning everything: %.1f ms (%.0f× faster)\n",
		fe*1e3, ae*1e3, rep.EpochSpeedup)
	fmt.Fprintf(out, "\nadvisor: %s\n", rep.Advice.Strategy)
	for _, why := range rep.Advice.Reasons {
		fmt.Fprintf(out, "  - %s\n", why)
	}
	fmt.Fprintf(out, "(%.0f s in all)\n", rep.Seconds)
	return nil
}

// meanSD returns the mean and the sample standard deviation.
func meanSD(v []float64) (mean, sd float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, 0
	}
	for _, x := range v {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(v)-1))
}
