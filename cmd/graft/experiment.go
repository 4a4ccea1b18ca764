package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/graftml/graft/data"
	"github.com/graftml/graft/internal/assets"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/nn/safetensors"
	"github.com/graftml/graft/transfer"
)

func init() {
	register(command{name: "experiment", args: "scenarios|transferability", minArgs: 1, maxArgs: 1, device: true,
		summary: "the four transfer scenarios as a table, or Yosinski's transferability curves",
		doc: `scenarios: every strategy (scratch, features, top-k, all) and the advisor's pick (probe, race, then its plan) for each base (--bases: mnist, the embedded full-MNIST CNN; mnist04, a CNN trained here on MNIST digits 0–4; mobilenetv2, the ImageNet MobileNetV2 of a TF.js model.json given by --model, seeing the targets resized to --size, as demo --base mobilenetv2 does) × target (--targets: digits, scikit-learn's; mnist59, MNIST digits 5–9; fashion, Fashion-MNIST) × --per-class sizes, over --seeds seeds; a table of mean ± sd per strategy, the best, the advisor's pick and whether it is within 1 sd of the best and not more than 1 sd below scratch. --arms runs some of them (a costly base at a reduced set); a later run with more arms adds the rest.

transferability: Yosinski et al. 2014 on MNIST split into A = 0–4 and B = 5–9: a base trained on A and one on B; for each depth n over the layer groups, BnB and AnB (the first n groups copied and frozen, the rest re-initialised and trained on B) and BnB+ and AnB+ (all fine-tuned), over --seeds seeds, tested on B's test digits. Each arm trains --epochs epochs on --per-class of B's training images per class (drawn by seed); the bases learn from --base-per-class per class (seed 1) for --base-epochs, so with equal counts base B and the first seed's arms see the same images, as in the paper.

Results go to --dir: results.jsonl (a line per run, appended as each ends, so a rerun skips what is done and a killed run resumes), bases trained here (checkpoints), and NAME.md, NAME.json and NAME.png.`,
		run: experiment})
}

// expData is a target: a pool to draw k-shot training sets from and a
// fixed test set.
type expData struct {
	pool, test *data.Set
	name       string
}

// classRange returns the examples of classes [lo, hi) of s, relabelled
// from 0.
func classRange(s *data.Set, lo, hi int) *data.Set {
	var idx []int
	for i, l := range s.Labels {
		if l >= lo && l < hi {
			idx = append(idx, i)
		}
	}
	sub := s.Subset(idx)
	for i := range sub.Labels {
		sub.Labels[i] -= lo
	}
	sub.Classes = sub.Classes[lo:hi]
	return sub
}

// limit returns a seeded sample of at most n examples of s.
func limit(s *data.Set, n int) *data.Set {
	if s.Len() <= n {
		return s
	}
	return s.Subset(s.Shuffle(7)[:n])
}

// loadTarget reads a target by name.
func loadTarget(name string, testLimit int) (*expData, error) {
	switch name {
	case "digits":
		d, err := data.ReadDigits(bytes.NewReader(assets.Digits), "digits.csv.gz (embedded)")
		if err != nil {
			return nil, err
		}
		// a fixed test part: 40 of each class; the pool the rest
		test, pool, err := d.FewShotSplit(40, 99)
		if err != nil {
			return nil, err
		}
		return &expData{pool: pool, test: limit(test, testLimit), name: "digits (scikit-learn)"}, nil
	case "mnist59", "mnist04":
		tr, te, err := data.MNIST()
		if err != nil {
			return nil, err
		}
		lo := 5
		if name == "mnist04" {
			lo = 0
		}
		return &expData{pool: classRange(tr, lo, lo+5), test: limit(classRange(te, lo, lo+5), testLimit), name: fmt.Sprintf("MNIST %d–%d", lo, lo+4)}, nil
	case "fashion":
		tr, te, err := data.FashionMNIST()
		if err != nil {
			return nil, err
		}
		return &expData{pool: tr, test: limit(te, testLimit), name: "Fashion-MNIST"}, nil
	}
	return nil, fmt.Errorf("unknown target %q (digits, mnist59, fashion)", name)
}

// expBase is a base model with its class names, and how it takes the
// targets' 28×28 grey images (prep; nil: as they are).
type expBase struct {
	model   *models.Model
	classes []string
	name    string
	prep    func(*data.Set) (*data.Set, error)
}

// trainedBase returns the mnistcnn trained on MNIST digits [lo, lo+5)
// (perClass of each, epochs epochs, seed 1), from dir when an earlier
// run saved it, else trained and saved there.
func trainedBase(ctx context.Context, dir, target string, perClass, epochs int, progress io.Writer) (*expBase, error) {
	path := filepath.Join(dir, fmt.Sprintf("base-%s-%d-%d.safetensors", target, perClass, epochs))
	if m, meta, err := transfer.FromCheckpoint(path); err == nil {
		return &expBase{model: m, classes: meta.Classes, name: "mnistcnn on " + target}, nil
	}
	d, err := loadTarget(target, 2000)
	if err != nil {
		return nil, err
	}
	train, err := d.pool.FewShot(min(perClass, slicesMin(d.pool.Counts())), 1)
	if err != nil {
		return nil, err
	}
	fresh := models.MNISTCNN(models.Options{Classes: 5, Seed: 1})
	fmt.Fprintf(progress, "training a base on %s: %d images, %d epochs\n", d.name, train.Len(), epochs)
	res, err := transfer.Run(ctx, fresh, train, d.test, transfer.Options{Strategy: transfer.StrategyScratch, HeadEpochs: -1, Epochs: epochs, Seed: 1})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "  base on %s: test accuracy %.4f (%.0f s)\n", d.name, res.Accuracy, res.Cost.Seconds)
	meta := res.Model.Meta()
	meta.Classes, meta.Mean, meta.Std = train.Classes, train.Mean, train.Std
	if err := nn.Save(path, res.Model, meta); err != nil {
		return nil, err
	}
	return &expBase{model: res.Model, classes: train.Classes, name: "mnistcnn on " + target}, nil
}

func slicesMin(v []int) int {
	m := math.MaxInt
	for _, x := range v {
		m = min(m, x)
	}
	return m
}

// loadExpBase returns a base by name: mnist (embedded), mnist04 (trained
// here), or mobilenetv2 (the TF.js ImageNet MobileNetV2 at model, seeing
// the targets resized to size, as graft demo --base mobilenetv2 does).
func loadExpBase(ctx context.Context, name, dir string, perClass, epochs int, model string, size int, progress io.Writer) (*expBase, error) {
	switch name {
	case "mnist":
		f, err := safetensors.Read(bytes.NewReader(assets.MNISTCNN), int64(len(assets.MNISTCNN)))
		if err != nil {
			return nil, err
		}
		m, meta, err := transfer.FromFile(f)
		if err != nil {
			return nil, err
		}
		return &expBase{model: m, classes: meta.Classes, name: "mnistcnn on MNIST (embedded)"}, nil
	case "mnist04", "mnist59":
		return trainedBase(ctx, dir, name, perClass, epochs, progress)
	case "mobilenetv2":
		if model == "" {
			return nil, fmt.Errorf("base mobilenetv2 needs --model (its TF.js model.json)")
		}
		m, err := imagenetBase(model, size, "")
		if err != nil {
			return nil, fmt.Errorf("--model: %v", err)
		}
		return &expBase{model: m, name: fmt.Sprintf("mobilenetv2 (ImageNet) at %d×%d", size, size),
			prep: func(s *data.Set) (*data.Set, error) { return resized(s, size) }}, nil
	}
	return nil, fmt.Errorf("unknown base %q (mnist, mnist04, mobilenetv2)", name)
}

// parseInts reads a comma-separated list of positive integers.
func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func experiment(s *session, args []string) error {
	out := s.stdout
	fs := s.newFlags("experiment")
	dir := fs.String("dir", "experiment", "`folder` for results.jsonl, bases trained here and the reports")
	seeds := fs.Int("seeds", 3, "`N` seeds per cell")
	perClass := fs.String("per-class", "10,100,1000", "training images per class, a comma-separated `list` (transferability: its first)")
	bases := fs.String("bases", "mnist,mnist04", "scenarios: `bases`, comma-separated: mnist (embedded), mnist04 (trained here on digits 0–4), mobilenetv2 (ImageNet, TF.js, with --model)")
	model := fs.String("model", "", "scenarios: `model.json` of the TF.js MobileNetV2 for the mobilenetv2 base (npm nsfwjs@4.4.0's, as for demo --base mobilenetv2)")
	size := fs.Int("size", 96, "scenarios: image side `S` the 28×28 targets are resized to for the mobilenetv2 base")
	targets := fs.String("targets", "digits,mnist59,fashion", "scenarios: `targets`, comma-separated: digits, mnist59, fashion")
	headEpochs := fs.Int("head-epochs", 30, "`epochs` of the head (features, top-k, all; scratch adds them to --epochs)")
	epochs := fs.Int("epochs", 10, "`epochs` of the groups after the head (transferability: of every arm)")
	testLimit := fs.Int("test-limit", 1000, "at most `N` test images per target")
	basePerClass := fs.Int("base-per-class", 1000, "images per class the bases trained here learn from")
	baseEpochs := fs.Int("base-epochs", 3, "`epochs` of the bases trained here")
	budget := fs.Float64("budget", 1, "the advisor's race budget, in `multiples` of a full fine-tune")
	armList := fs.String("arms", "scratch,features,top-k,all,advisor", "scenarios: the `arms` to run, comma-separated (a rerun with more adds the rest)")
	quiet := fs.Bool("quiet", false, "no progress lines")
	report := fs.Bool("report", false, "scenarios: write the table from the runs results.jsonl holds for the cells asked, running nothing (cells without runs are left out)")
	if err := fs.parse(args); err != nil {
		return err
	}
	which := fs.Arg(0)
	if which != "scenarios" && which != "transferability" {
		return fs.usageErr("%q: not scenarios or transferability", which)
	}
	ks, kerr := parseInts(*perClass)
	arms, aerr := parseArms(*armList)
	if err := errorsOf(
		fs.check(kerr == nil, "per-class", fmt.Sprint(kerr)),
		fs.check(aerr == nil, "arms", fmt.Sprint(aerr)),
		fs.check(*seeds >= 1, "seeds", "must be at least 1"),
		fs.check(*headEpochs >= 1 && *epochs >= 1, "epochs", "--head-epochs and --epochs must be at least 1"),
		fs.check(*testLimit >= 1 && *basePerClass >= 1 && *baseEpochs >= 1, "test-limit", "--test-limit, --base-per-class and --base-epochs must be at least 1"),
		fs.check(*budget >= 0, "budget", "must be ≥ 0"),
		fs.check(*size >= 32 && *size <= 512, "size", "must be 32 to 512"),
	); err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return fs.usageErr("--dir: %v", err)
	}
	log, err := transfer.OpenLog(filepath.Join(*dir, "results.jsonl"))
	if err != nil {
		return fs.usageErr("%v", err)
	}
	ctx, stop := s.interrupt()
	defer stop()
	progress := out
	if *quiet {
		progress = io.Discard
	}
	e := &expRun{ctx: ctx, log: log, dir: *dir, seeds: *seeds, ks: ks, head: *headEpochs, epochs: *epochs, testLimit: *testLimit,
		basePerClass: *basePerClass, baseEpochs: *baseEpochs, budget: *budget, arms: arms, model: *model, size: *size, report: *report, progress: progress}
	if which == "scenarios" {
		err = e.scenarios(strings.Split(*bases, ","), strings.Split(*targets, ","))
	} else {
		err = e.transferability()
	}
	if ctx.Err() != nil {
		return &interrupted{fmt.Sprintf("experiment: interrupted; %d runs kept in %s (run it again to go on)", len(log.Records), filepath.Join(*dir, "results.jsonl"))}
	}
	if err != nil {
		return fs.usageErr("%v", err)
	}
	return nil
}

type expRun struct {
	ctx                            context.Context
	log                            *transfer.Log
	dir                            string
	seeds, head, epochs, testLimit int
	basePerClass, baseEpochs       int
	ks                             []int
	budget                         float64
	arms                           map[string]bool
	model                          string
	size                           int
	report                         bool
	progress                       io.Writer
}

// parseArms reads the --arms list: strategies and "advisor".
func parseArms(s string) (map[string]bool, error) {
	known := append(strategyNames(), "advisor")
	arms := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(known, f) {
			return nil, fmt.Errorf("%q is not an arm (%s)", f, strings.Join(known, ", "))
		}
		arms[f] = true
	}
	return arms, nil
}

// record runs f unless the log holds r's run, and appends what it
// measured.
func (e *expRun) record(r transfer.Record, f func(*transfer.Record) error) error {
	if e.log.Done(r.Key()) {
		return nil
	}
	if err := f(&r); err != nil {
		return err
	}
	arm := r.Arm
	if r.Depth > 0 {
		arm += fmt.Sprintf(" n=%d", r.Depth)
	}
	if r.Pick != "" {
		arm += " → " + r.Pick
	}
	fmt.Fprintf(e.progress, "  %s → %s, %d/class, seed %d: %-12s accuracy %.4f (%.1f s)\n", r.Base, r.Target, r.PerClass, r.Seed, arm, r.Accuracy, r.Seconds)
	return e.log.Append(r)
}

// cell is one row of the scenarios table.
type cell struct {
	Base     string          `json:"base"`
	Target   string          `json:"target"`
	PerClass int             `json:"per_class"`
	Stats    []transfer.Stat `json:"stats"`
	Best     string          `json:"best"`
	Advisor  *transfer.Stat  `json:"advisor"`
	WithinSD bool            `json:"advisor_within_1sd_of_best"`
	// Strict is WithinSD against the best strategy's own sd alone.
	Strict   bool `json:"advisor_within_best_sd"`
	NotBelow bool `json:"advisor_not_1sd_below_scratch"`
	// NoScratch: scratch was not run (--arms), NotBelow means nothing.
	NoScratch bool   `json:"no_scratch,omitempty"`
	Skipped   string `json:"skipped,omitempty"`
	bestStat  transfer.Stat
}

func (e *expRun) scenarios(bases, targets []string) error {
	start := time.Now()
	var cells []cell
	if e.report {
		for _, bn := range bases {
			for _, tn := range targets {
				for _, k := range e.ks {
					if c := summarise(cell{Base: bn, Target: tn, PerClass: k}, e.log.Records); len(c.Stats) > 0 {
						cells = append(cells, c)
					}
				}
			}
		}
		return e.writeScenarios(cells, time.Since(start))
	}
	for _, bn := range bases {
		base, err := loadExpBase(e.ctx, bn, e.dir, e.basePerClass, e.baseEpochs, e.model, e.size, e.progress)
		if err != nil {
			return err
		}
		prep := base.prep
		if prep == nil {
			prep = func(s *data.Set) (*data.Set, error) { return s, nil }
		}
		for _, tn := range targets {
			d, err := loadTarget(tn, e.testLimit)
			if err != nil {
				return err
			}
			test, err := prep(d.test)
			if err != nil {
				return err
			}
			// the strategies share the trunk's features (keyed by the
			// data and weights); the advisor starts with none, as a user's
			cache := &transfer.Cache{}
			newHead := !transfer.SameClasses(base.classes, d.pool.Classes)
			for _, k := range e.ks {
				c := cell{Base: bn, Target: tn, PerClass: k}
				if have := slicesMin(d.pool.Counts()); have < k {
					c.Skipped = fmt.Sprintf("%s has %d of its smallest class", tn, have)
					cells = append(cells, c)
					continue
				}
				for seed := 1; seed <= e.seeds; seed++ {
					train, err := d.pool.FewShot(k, uint64(seed))
					if err != nil {
						return err
					}
					if train, err = prep(train); err != nil {
						return err
					}
					rec := transfer.Record{Base: bn, Target: tn, PerClass: k, Seed: seed}
					for _, st := range transfer.Strategies {
						if !e.arms[string(st)] {
							continue
						}
						r := rec
						r.Arm = string(st)
						if err := e.record(r, func(r *transfer.Record) error {
							res, err := transfer.Run(e.ctx, base.model, train, test, transfer.Options{Strategy: st, HeadEpochs: e.head, Epochs: e.epochs, Seed: uint64(seed), NewHead: newHead, Cache: cache})
							if err != nil {
								return err
							}
							r.Accuracy, r.Seconds, r.FLOPs = res.Accuracy, res.Cost.Seconds, res.Cost.FLOPs()
							return nil
						}); err != nil {
							return err
						}
					}
					if !e.arms["advisor"] {
						continue
					}
					r := rec
					r.Arm = "advisor"
					if err := e.record(r, func(r *transfer.Record) error {
						b := e.budget
						if b == 0 {
							b = -1
						}
						plan, err := transfer.Advise(e.ctx, base.model, train, transfer.AdviseOptions{Seed: uint64(seed),
							Race: transfer.RaceOptions{Budget: b, HeadEpochs: e.head, Epochs: e.epochs}})
						if err != nil {
							return err
						}
						res, err := transfer.RunPlan(e.ctx, base.model, train, test, plan, transfer.Options{HeadEpochs: e.head, Epochs: e.epochs, Seed: uint64(seed), NewHead: newHead})
						if err != nil {
							return err
						}
						r.Pick = describePlan(plan)
						if plan.Race != nil {
							r.Pick = plan.Race.Winner.Name()
						}
						r.Accuracy, r.Seconds, r.FLOPs = res.Accuracy, res.Cost.Seconds, res.Cost.FLOPs()
						r.AdviceFLOPs, r.AdviceSeconds, r.FullFineTune = plan.Cost.FLOPs(), plan.Cost.Seconds, plan.FullFineTune
						return nil
					}); err != nil {
						return err
					}
				}
				cells = append(cells, summarise(c, e.log.Records))
			}
		}
	}
	return e.writeScenarios(cells, time.Since(start))
}

// summarise fills a cell's statistics from the records.
func summarise(c cell, all []transfer.Record) cell {
	var rs []transfer.Record
	for _, r := range all {
		if r.Base == c.Base && r.Target == c.Target && r.PerClass == c.PerClass {
			rs = append(rs, r)
		}
	}
	c.Stats = transfer.Stats(rs)
	var scratch transfer.Stat
	c.NoScratch = true
	for i, s := range c.Stats {
		switch {
		case s.Arm == "advisor":
			c.Advisor = &c.Stats[i]
		case c.Best == "" || s.Mean > c.bestStat.Mean:
			c.Best, c.bestStat = s.Arm, s
		}
		if s.Arm == string(transfer.StrategyScratch) {
			scratch, c.NoScratch = s, false
		}
	}
	if c.Advisor != nil {
		a := c.Advisor
		c.WithinSD = a.Mean >= c.bestStat.Mean-math.Max(c.bestStat.SD, a.SD)
		c.Strict = a.Mean >= c.bestStat.Mean-c.bestStat.SD
		c.NotBelow = !c.NoScratch && a.Mean >= scratch.Mean-math.Max(scratch.SD, a.SD)
	}
	return c
}

func (e *expRun) writeScenarios(cells []cell, took time.Duration) error {
	var md strings.Builder
	lo, hi := math.MaxInt, 0
	for _, c := range cells {
		for _, s := range c.Stats {
			lo, hi = min(lo, s.N), max(hi, s.N)
		}
	}
	seeds := fmt.Sprint(hi)
	if lo < hi {
		seeds = fmt.Sprintf("%d–%d", lo, hi)
	}
	fmt.Fprintf(&md, "# Transfer scenarios\n\n%s seeds, head %d + %d group epochs, advisor budget %g× a full fine-tune; test sets of at most %d images. Accuracy mean ± sd over seeds; – an arm not run.\n\n",
		seeds, e.head, e.epochs, e.budget, e.testLimit)
	md.WriteString("| base | target | per class | scratch | features | top-k | all | advisor (picks) | best | within 1 sd | ≥ scratch − 1 sd | advice cost |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	within, strict, notBelow, n, withScratch := 0, 0, 0, 0, 0
	for _, c := range cells {
		if c.Skipped != "" {
			fmt.Fprintf(&md, "| %s | %s | %d | skipped: %s |||||||||\n", c.Base, c.Target, c.PerClass, c.Skipped)
			continue
		}
		fmt.Fprintf(&md, "| %s | %s | %d |", c.Base, c.Target, c.PerClass)
		for _, st := range transfer.Strategies {
			i := slices.IndexFunc(c.Stats, func(s transfer.Stat) bool { return s.Arm == string(st) })
			if i < 0 {
				md.WriteString(" – |")
				continue
			}
			fmt.Fprintf(&md, " %.3f ± %.3f |", c.Stats[i].Mean, c.Stats[i].SD)
		}
		if a := c.Advisor; a != nil {
			n++
			if c.WithinSD {
				within++
			}
			if c.Strict {
				strict++
			}
			if c.NotBelow {
				notBelow++
			}
			below := "–"
			if !c.NoScratch {
				withScratch++
				below = fmt.Sprint(c.NotBelow)
			}
			fmt.Fprintf(&md, " %.3f ± %.3f (%s) | %s | %v | %s | %.2f× |\n", a.Mean, a.SD, strings.Join(a.Picks, ", "), c.Best, c.WithinSD, below, a.AdviceX)
		} else {
			md.WriteString(" – | – | – | – | – |\n")
		}
	}
	fmt.Fprintf(&md, "\nThe advisor's pick is within 1 sd (the larger of its own and the best's) of the best strategy in %d of %d cells (target ≥ 90%%; within the best's own sd: %d of %d) and not more than 1 sd below scratch in %d of %d with scratch run (target: all). %.0f s.\n",
		within, n, strict, n, notBelow, withScratch, took.Seconds())
	if err := os.WriteFile(filepath.Join(e.dir, "scenarios.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(map[string]any{"cells": cells, "within_1sd": within, "within_best_sd": strict, "not_below_scratch": notBelow, "cells_measured": n,
		"seeds": e.seeds, "head_epochs": e.head, "epochs": e.epochs, "budget": e.budget}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(e.dir, "scenarios.json"), js, 0o644); err != nil {
		return err
	}
	if err := plotScenarios(filepath.Join(e.dir, "scenarios.png"), cells); err != nil {
		return err
	}
	fmt.Fprint(e.progress, "\n"+md.String())
	fmt.Fprintf(e.progress, "wrote %s, scenarios.json, scenarios.png\n", filepath.Join(e.dir, "scenarios.md"))
	return nil
}

var armColors = []color.Color{
	color.RGBA{R: 127, G: 127, B: 127, A: 255}, color.RGBA{R: 31, G: 119, B: 180, A: 255},
	color.RGBA{R: 44, G: 160, B: 44, A: 255}, color.RGBA{R: 255, G: 127, B: 14, A: 255},
	color.RGBA{R: 214, G: 39, B: 40, A: 255},
}

// plotScenarios draws a panel per base × target: accuracy against
// examples per class (log scale), one line per strategy and the
// advisor's, with ±1 sd bars.
func plotScenarios(path string, cells []cell) error {
	type key struct{ base, target string }
	var order []key
	byKey := map[key][]cell{}
	for _, c := range cells {
		k := key{c.Base, c.Target}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		if c.Skipped == "" {
			byKey[k] = append(byKey[k], c)
		}
	}
	if len(order) == 0 {
		return nil
	}
	arms := append(append([]string(nil), strategyNames()...), "advisor")
	var plots []*plot.Plot
	for _, k := range order {
		p := plot.New()
		p.Title.Text = k.base + " → " + k.target
		p.X.Label.Text, p.Y.Label.Text = "examples per class", "test accuracy"
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		p.Legend.Top, p.Legend.Left = false, false
		for i, arm := range arms {
			var xy plotter.XYs
			var errs plotter.YErrors
			for _, c := range byKey[k] {
				for _, s := range c.Stats {
					if s.Arm == arm {
						// spread the arms a little along x so the bars do not overlap
						xy = append(xy, plotter.XY{X: float64(c.PerClass) * math.Pow(1.04, float64(i-2)), Y: s.Mean})
						errs = append(errs, struct{ Low, High float64 }{s.SD, s.SD})
					}
				}
			}
			if len(xy) == 0 {
				continue
			}
			if err := addArm(p, arm, xy, errs, armColors[i], arm == "advisor"); err != nil {
				return err
			}
		}
		plots = append(plots, p)
	}
	cols := min(3, len(plots))
	rows := (len(plots) + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
	}
	for i, p := range plots {
		grid[i/cols][i%cols] = p
	}
	img := vgimg.New(vg.Length(cols)*5*vg.Inch, vg.Length(rows)*4*vg.Inch)
	dc := draw.New(img)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Inch / 4, PadY: vg.Inch / 4, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 8, PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8}
	canvases := plot.Align(grid, tiles, dc)
	for r := range grid {
		for c, p := range grid[r] {
			if p != nil {
				p.Draw(canvases[r][c])
			}
		}
	}
	return savePNG(path, img)
}

func strategyNames() []string {
	var out []string
	for _, s := range transfer.Strategies {
		out = append(out, string(s))
	}
	return out
}

// transferability is Yosinski et al.'s experiment on MNIST A = 0–4, B =
// 5–9.
func (e *expRun) transferability() error {
	start := time.Now()
	baseA, err := trainedBase(e.ctx, e.dir, "mnist04", e.basePerClass, e.baseEpochs, e.progress)
	if err != nil {
		return err
	}
	baseB, err := trainedBase(e.ctx, e.dir, "mnist59", e.basePerClass, e.baseEpochs, e.progress)
	if err != nil {
		return err
	}
	d, err := loadTarget("mnist59", e.testLimit)
	if err != nil {
		return err
	}
	k := e.ks[0]
	g := len(baseA.model.Groups)
	rec := transfer.Record{Base: "A=0-4,B=5-9", Target: "mnist59", PerClass: k}
	r := rec
	r.Arm = "base B"
	if err := e.record(r, func(r *transfer.Record) error {
		_, acc, err := nn.Evaluate(e.ctx, baseB.model, d.test, 256, nil)
		r.Accuracy = acc
		return err
	}); err != nil {
		return err
	}
	for seed := 1; seed <= e.seeds; seed++ {
		train, err := d.pool.FewShot(k, uint64(seed))
		if err != nil {
			return err
		}
		for n := 1; n < g; n++ {
			for _, arm := range []struct {
				name string
				base *expBase
				plus bool
			}{{"BnB", baseB, false}, {"BnB+", baseB, true}, {"AnB", baseA, false}, {"AnB+", baseA, true}} {
				r := rec
				r.Seed, r.Arm, r.Depth = seed, arm.name, n
				if err := e.record(r, func(r *transfer.Record) error {
					res, err := transfer.RunCut(e.ctx, arm.base.model, train, d.test, n, e.epochs, arm.plus, transfer.Options{Seed: uint64(seed)})
					if err != nil {
						return err
					}
					r.Accuracy, r.Seconds, r.FLOPs = res.Accuracy, res.Cost.Seconds, res.Cost.FLOPs()
					return nil
				}); err != nil {
					return err
				}
			}
		}
	}
	var rs []transfer.Record
	for _, r := range e.log.Records {
		if r.Base == rec.Base && r.PerClass == k {
			rs = append(rs, r)
		}
	}
	stats := transfer.Stats(rs)
	return e.writeTransferability(stats, g, k, time.Since(start))
}

func (e *expRun) writeTransferability(stats []transfer.Stat, g, k int, took time.Duration) error {
	get := func(arm string, n int) transfer.Stat {
		for _, s := range stats {
			if s.Arm == arm && s.Depth == n {
				return s
			}
		}
		return transfer.Stat{Mean: math.NaN()}
	}
	baseB := get("base B", 0)
	var md strings.Builder
	fmt.Fprintf(&md, "# Transferability (Yosinski et al. 2014) on MNIST, A = 0–4, B = 5–9\n\nmnistcnn bases trained on %d images per class for %d epochs; each arm trains %d epochs on %d images per class of B, tested on B's test digits (at most %d); %d seeds; mean ± sd. Base B: %.4f.\n\n",
		e.basePerClass, e.baseEpochs, e.epochs, k, e.testLimit, e.seeds, baseB.Mean)
	md.WriteString("| n (groups copied) | BnB | BnB+ | AnB | AnB+ |\n|---|---|---|---|---|\n")
	for n := 1; n < g; n++ {
		fmt.Fprintf(&md, "| %d |", n)
		for _, arm := range []string{"BnB", "BnB+", "AnB", "AnB+"} {
			s := get(arm, n)
			fmt.Fprintf(&md, " %.4f ± %.4f |", s.Mean, s.SD)
		}
		md.WriteString("\n")
	}
	// the paper's findings, checked here
	first, last := get("AnB", 1), get("AnB", g-1)
	fmt.Fprintf(&md, "\n- AnB falls as n grows (%.4f at n = 1, %.4f at n = %d): %s\n", first.Mean, last.Mean, g-1, holds(last.Mean < first.Mean-math.Max(first.SD, last.SD)))
	worstPlus := math.Inf(1)
	for n := 1; n < g; n++ {
		worstPlus = math.Min(worstPlus, get("AnB+", n).Mean)
	}
	fmt.Fprintf(&md, "- AnB+ ≥ base B (lowest AnB+ %.4f, base B %.4f): %s\n", worstPlus, baseB.Mean, holds(worstPlus >= baseB.Mean))
	dip, dipN := math.Inf(1), 0
	for n := 2; n < g-1; n++ {
		if m := get("BnB", n).Mean; m < dip {
			dip, dipN = m, n
		}
	}
	ends := math.Min(get("BnB", 1).Mean, get("BnB", g-1).Mean)
	if dipN > 0 {
		fmt.Fprintf(&md, "- a BnB dip in the middle (co-adaptation; BnB %.4f at n = %d vs %.4f at the ends): %s\n", dip, dipN, ends, holds(dip < ends-get("BnB", dipN).SD))
	}
	fmt.Fprintf(&md, "\n%.0f s.\n", took.Seconds())
	if err := os.WriteFile(filepath.Join(e.dir, "transferability.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(map[string]any{"stats": stats, "groups": g, "per_class": k, "seeds": e.seeds, "epochs": e.epochs,
		"base_per_class": e.basePerClass, "base_epochs": e.baseEpochs}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(e.dir, "transferability.json"), js, 0o644); err != nil {
		return err
	}
	p := plot.New()
	p.Title.Text = "Transferability on MNIST (A = 0–4, B = 5–9), like Yosinski et al.'s Figure 2"
	p.X.Label.Text, p.Y.Label.Text = "layer groups copied (n)", "test accuracy on B"
	p.Legend.Top, p.Legend.Left = false, true
	for i, arm := range []string{"BnB", "BnB+", "AnB", "AnB+"} {
		var xy plotter.XYs
		var errs plotter.YErrors
		for n := 1; n < g; n++ {
			s := get(arm, n)
			if !math.IsNaN(s.Mean) {
				xy = append(xy, plotter.XY{X: float64(n) + 0.04*float64(i-2), Y: s.Mean})
				errs = append(errs, struct{ Low, High float64 }{s.SD, s.SD})
			}
		}
		if len(xy) == 0 {
			continue
		}
		if err := addArm(p, arm, xy, errs, armColors[i+1], strings.HasSuffix(arm, "+")); err != nil {
			return err
		}
	}
	if !math.IsNaN(baseB.Mean) {
		l, err := plotter.NewLine(plotter.XYs{{X: 0.8, Y: baseB.Mean}, {X: float64(g-1) + 0.2, Y: baseB.Mean}})
		if err != nil {
			return err
		}
		l.Color = armColors[0]
		p.Add(l)
		p.Legend.Add("base B", l)
	}
	img := vgimg.New(8*vg.Inch, 5*vg.Inch)
	dc := draw.New(img)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	p.Draw(dc)
	if err := savePNG(filepath.Join(e.dir, "transferability.png"), img); err != nil {
		return err
	}
	fmt.Fprint(e.progress, "\n"+md.String())
	fmt.Fprintf(e.progress, "wrote %s, transferability.json, transferability.png\n", filepath.Join(e.dir, "transferability.md"))
	return nil
}

func holds(ok bool) string {
	if ok {
		return "holds"
	}
	return "does not hold here"
}

// addArm draws one arm on p: its means as a line with points, dashed if
// dashed, and its standard deviations as error bars, all in c.
func addArm(p *plot.Plot, arm string, xy plotter.XYs, errs plotter.YErrors, c color.Color, dashed bool) error {
	l, pts, err := plotter.NewLinePoints(xy)
	if err != nil {
		return err
	}
	l.Color, pts.Color = c, c
	if dashed {
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
	}
	eb, err := plotter.NewYErrorBars(struct {
		plotter.XYer
		plotter.YErrorer
	}{xy, errs})
	if err != nil {
		return err
	}
	eb.Color = c
	p.Add(l, pts, eb)
	p.Legend.Add(arm, l, pts)
	return nil
}
