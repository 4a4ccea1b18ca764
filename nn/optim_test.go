package nn_test

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/graftml/graft/internal/modelcheck"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/tensor"
)

// refParam is a float64 twin of a parameter with the optimizer state that
// torch.optim keeps for it.
type refParam struct {
	w, buf, m, v []float64
	step         int
	hasBuf       bool
}

// refUpdate is one optimizer's update rule in float64, as torch.optim
// states it.
type refUpdate func(p *refParam, g []float64, lr, wd float64)

func refSGD(momentum float64, nesterov bool) refUpdate {
	return func(p *refParam, g []float64, lr, wd float64) {
		if p.buf == nil {
			p.buf = make([]float64, len(p.w))
		}
		for i := range p.w {
			d := g[i] + wd*p.w[i]
			if momentum != 0 {
				if p.hasBuf {
					p.buf[i] = momentum*p.buf[i] + d
				} else {
					p.buf[i] = d
				}
				if nesterov {
					d += momentum * p.buf[i]
				} else {
					d = p.buf[i]
				}
			}
			p.w[i] -= lr * d
		}
		p.hasBuf = true
	}
}

func refAdam(decoupled bool) refUpdate {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	return func(p *refParam, g []float64, lr, wd float64) {
		if p.m == nil {
			p.m, p.v = make([]float64, len(p.w)), make([]float64, len(p.w))
		}
		p.step++
		bc1 := 1 - math.Pow(b1, float64(p.step))
		bc2 := 1 - math.Pow(b2, float64(p.step))
		for i := range p.w {
			d := g[i]
			if decoupled {
				p.w[i] *= 1 - lr*wd
			} else {
				d += wd * p.w[i]
			}
			p.m[i] = b1*p.m[i] + (1-b1)*d
			p.v[i] = b2*p.v[i] + (1-b2)*d*d
			p.w[i] -= lr / bc1 * p.m[i] / (math.Sqrt(p.v[i])/math.Sqrt(bc2) + eps)
		}
	}
}

type optCase struct {
	name string
	make func(groups ...*nn.Group) nn.Optimizer
	ref  func() refUpdate
}

var optCases = []optCase{
	{"sgd", func(g ...*nn.Group) nn.Optimizer { return nn.NewSGD(0, false, g...) }, func() refUpdate { return refSGD(0, false) }},
	{"sgd_momentum", func(g ...*nn.Group) nn.Optimizer { return nn.NewSGD(0.9, false, g...) }, func() refUpdate { return refSGD(0.9, false) }},
	{"sgd_nesterov", func(g ...*nn.Group) nn.Optimizer { return nn.NewSGD(0.8, true, g...) }, func() refUpdate { return refSGD(0.8, true) }},
	{"adam", func(g ...*nn.Group) nn.Optimizer { return nn.NewAdam(g...) }, func() refUpdate { return refAdam(false) }},
	{"adamw", func(g ...*nn.Group) nn.Optimizer { return nn.NewAdamW(g...) }, func() refUpdate { return refAdam(true) }},
}

func to64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// optRun drives an optimizer and its float64 reference over the same
// gradients, step by step.
type optRun struct {
	t      *testing.T
	params []*nn.Param
	refs   []*refParam
	lr, wd []float64 // per parameter, from its group
}

func newOptRun(t *testing.T, shapes [][]int, seed uint64) *optRun {
	r := &optRun{t: t}
	for i, s := range shapes {
		p := nn.NewParam(modelcheck.Randn(seed+uint64(i), s...))
		r.params = append(r.params, p)
		r.refs = append(r.refs, &refParam{w: to64(p.Value.Data())})
	}
	return r
}

// step sets fresh gradients, steps the optimizer and the reference (for
// the trainable parameters) and compares.
func (r *optRun) step(o nn.Optimizer, ref refUpdate, k int) {
	for i, p := range r.params {
		g := modelcheck.Randn(uint64(500+10*k+i), p.Value.Shape()...)
		copy(p.Grad.Data(), g.Data())
		if p.Trainable {
			ref(r.refs[i], to64(g.Data()), r.lr[i], r.wd[i])
		}
	}
	o.Step()
	for i, p := range r.params {
		want := r.refs[i].w
		for j, v := range p.Value.Data() {
			if d := math.Abs(float64(v) - want[j]); !(d <= 2e-5*math.Max(math.Abs(want[j]), 1)) {
				r.t.Fatalf("step %d, parameter %d [%d] = %.8g, reference %.8g", k+1, i, j, v, want[j])
			}
		}
	}
}

func TestOptimizersMatchReference(t *testing.T) {
	for _, c := range optCases {
		for _, wd := range []float64{0, 0.05} {
			t.Run(fmt.Sprintf("%s/wd=%v", c.name, wd), func(t *testing.T) {
				r := newOptRun(t, [][]int{{2, 3}, {4}}, 10)
				lr := 0.1
				if c.name == "adam" || c.name == "adamw" {
					lr = 0.01
				}
				named := []nn.Named[*nn.Param]{{Name: "a", Value: r.params[0]}, {Name: "b", Value: r.params[1]}}
				o := c.make(nn.NewGroup(named, lr, wd))
				r.lr, r.wd = []float64{lr, lr}, []float64{wd, wd}
				ref := c.ref()
				start := r.params[0].Value.Data()[0]
				for k := 0; k < 6; k++ {
					r.step(o, ref, k)
				}
				if r.params[0].Value.Data()[0] == start {
					t.Error("the optimizer changed nothing")
				}
			})
		}
	}
}

// TestOptimizerFrozenParam freezes a parameter for two steps: it must keep
// its value (and its optimizer state: torch.optim skips a parameter
// without a gradient), and train again once unfrozen.
func TestOptimizerFrozenParam(t *testing.T) {
	for _, c := range optCases {
		t.Run(c.name, func(t *testing.T) {
			r := newOptRun(t, [][]int{{3, 2}, {5}}, 20)
			named := []nn.Named[*nn.Param]{{Name: "a", Value: r.params[0]}, {Name: "b", Value: r.params[1]}}
			o := c.make(nn.NewGroup(named, 0.05, 0.01))
			r.lr, r.wd = []float64{0.05, 0.05}, []float64{0.01, 0.01}
			ref := c.ref()
			for k := 0; k < 7; k++ {
				frozen := k == 2 || k == 3
				r.params[1].Trainable = !frozen
				before := append([]float32(nil), r.params[1].Value.Data()...)
				r.step(o, ref, k)
				if frozen {
					for j, v := range r.params[1].Value.Data() {
						if v != before[j] {
							t.Fatalf("step %d: frozen parameter changed at %d", k+1, j)
						}
					}
				}
			}
		})
	}
}

func TestOptimizerGroups(t *testing.T) {
	for _, c := range optCases {
		t.Run(c.name, func(t *testing.T) {
			r := newOptRun(t, [][]int{{2, 2}, {3}, {2}}, 30)
			g1 := nn.NewGroup([]nn.Named[*nn.Param]{{Name: "a", Value: r.params[0]}, {Name: "c", Value: r.params[2]}}, 0.1, 0.1)
			g2 := nn.NewGroup([]nn.Named[*nn.Param]{{Name: "b", Value: r.params[1]}}, 0.003, 0)
			if g1.LR != 0.1 || g1.BaseLR != 0.1 || g1.WeightDecay != 0.1 {
				t.Fatalf("NewGroup: %+v", g1)
			}
			o := c.make(g1, g2)
			if len(o.Groups()) != 2 || o.Groups()[0] != g1 || o.Groups()[1] != g2 {
				t.Fatal("Groups does not return the groups")
			}
			r.lr, r.wd = []float64{0.1, 0.003, 0.1}, []float64{0.1, 0, 0.1}
			ref := c.ref()
			for k := 0; k < 3; k++ {
				r.step(o, ref, k)
			}
			// A changed rate takes effect at the next step.
			g2.LR = 0.03
			r.lr[1] = 0.03
			for k := 3; k < 5; k++ {
				r.step(o, ref, k)
			}
		})
	}
}

func TestOptimizerState(t *testing.T) {
	p := nn.NewParam(modelcheck.Randn(1, 2, 2))
	q := nn.NewParam(modelcheck.Randn(2, 3))
	named := []nn.Named[*nn.Param]{{Name: "l.weight", Value: p}, {Name: "l.bias", Value: q}}
	copy(p.Grad.Data(), []float32{1, 2, 3, 4})
	copy(q.Grad.Data(), []float32{1, 1, 1})

	sgd := nn.NewSGD(0.9, false, nn.NewGroup(named, 0.1, 0))
	if ts, _ := sgd.State(); len(ts) != 0 {
		t.Errorf("SGD state before a step: %v", ts)
	}
	sgd.Step()
	ts, _ := sgd.State()
	if b := ts["l.weight.momentum_buffer"]; b == nil || b.At(1, 1) != 4 || ts["l.bias.momentum_buffer"] == nil || len(ts) != 2 {
		t.Errorf("SGD state %v", ts)
	}
	if err := sgd.LoadState(map[string]*tensor.Tensor{"l.weight.momentum_buffer": tensor.Zeros(4)}, nil); err == nil {
		t.Error("SGD LoadState accepted a wrong-shape buffer")
	}

	adam := nn.NewAdam(nn.NewGroup(named, 0.1, 0))
	adam.Step()
	adam.Step()
	ts, sc := adam.State()
	if len(ts) != 4 || ts["l.weight.exp_avg"] == nil || ts["l.bias.exp_avg_sq"] == nil || sc["l.weight.step"] != 2 || sc["l.bias.step"] != 2 {
		t.Errorf("Adam state %v %v", ts, sc)
	}
	bad := map[string]*tensor.Tensor{"l.weight.exp_avg": tensor.Zeros(2, 2), "l.weight.exp_avg_sq": tensor.Zeros(3)}
	if err := adam.LoadState(bad, map[string]float64{"l.weight.step": 1}); err == nil {
		t.Error("Adam LoadState accepted a wrong-shape moment")
	}
}

func TestClipGradNorm(t *testing.T) {
	mk := func(g ...float32) *nn.Param {
		p := nn.NewParam(tensor.Zeros(len(g)))
		copy(p.Grad.Data(), g)
		return p
	}
	a, b, frozen := mk(3, 4), mk(12), mk(100, 100)
	frozen.Trainable = false
	params := []nn.Named[*nn.Param]{{Name: "a", Value: a}, {Name: "b", Value: b}, {Name: "f", Value: frozen}}

	if n := nn.ClipGradNorm(params, 20); math.Abs(n-13) > 1e-9 {
		t.Errorf("norm %v, want 13 (the frozen gradient excluded)", n)
	}
	if a.Grad.Data()[0] != 3 || b.Grad.Data()[0] != 12 {
		t.Error("gradients below the limit were scaled")
	}
	if n := nn.ClipGradNorm(params, 6.5); math.Abs(n-13) > 1e-9 {
		t.Errorf("norm %v, want 13", n)
	}
	var s float64
	for _, p := range []*nn.Param{a, b} {
		for _, g := range p.Grad.Data() {
			s += float64(g) * float64(g)
		}
	}
	if got := math.Sqrt(s); math.Abs(got-6.5) > 1e-5 {
		t.Errorf("norm after clipping %v, want 6.5", got)
	}
	if r := a.Grad.Data()[1] / a.Grad.Data()[0]; math.Abs(float64(r)-4.0/3) > 1e-6 {
		t.Errorf("clipping changed the direction: ratio %v", r)
	}
	if frozen.Grad.Data()[0] != 100 || frozen.Grad.Data()[1] != 100 {
		t.Errorf("the frozen gradient was scaled: %v", frozen.Grad.Data())
	}
}

func TestSchedules(t *testing.T) {
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("%s = %.10g, want %.10g", what, got, want)
		}
	}
	if f := (nn.Constant{}).Factor(17, 20); f != 1 {
		t.Errorf("Constant %v", f)
	}

	sd := nn.StepDecay{Every: 3, Gamma: 0.5}
	for s, want := range []float64{1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25} {
		near(fmt.Sprintf("StepDecay(%d)", s), sd.Factor(s, 8), want)
	}

	cos := nn.Cosine{MinFactor: 0.1}
	const total = 11
	near("Cosine(0)", cos.Factor(0, total), 1)
	near("Cosine(mid)", cos.Factor(5, total), 0.55)
	near("Cosine(last)", cos.Factor(total-1, total), 0.1)
	for s := 1; s < total; s++ {
		if cos.Factor(s, total) >= cos.Factor(s-1, total) {
			t.Errorf("Cosine rises at %d", s)
		}
	}

	// OneCycle against PyTorch's OneCycleLR (cos annealing).
	oc := nn.OneCycle{}
	const n = 100
	peak := 0
	for s := 0; s < n; s++ {
		near(fmt.Sprintf("OneCycle(%d)", s), oc.Factor(s, n), refOneCycle(0.3, 25, 1e4, n, s))
		if oc.Factor(s, n) > oc.Factor(peak, n) {
			peak = s
		}
	}
	near("OneCycle(0)", oc.Factor(0, n), 1.0/25)
	near("OneCycle(end)", oc.Factor(n-1, n), 1/25e4)
	if peak < 28 || peak > 30 {
		t.Errorf("OneCycle peaks at step %d of %d, want ~30%%", peak, n)
	}
	near("OneCycle peak", oc.Factor(peak, n), 1)
	custom := nn.OneCycle{PctStart: 0.5, DivFactor: 10, FinalDiv: 100}
	for s := 0; s < 21; s++ {
		near(fmt.Sprintf("OneCycle{0.5, 10, 100}(%d)", s), custom.Factor(s, 21), refOneCycle(0.5, 10, 100, 21, s))
	}

	w := nn.Warmup{Steps: 4, Then: nn.Cosine{}}
	for s, want := range []float64{0.25, 0.5, 0.75, 1} {
		near(fmt.Sprintf("Warmup(%d)", s), w.Factor(s, 14), want)
	}
	near("Warmup then Cosine(4)", w.Factor(4, 14), 1)
	near("Warmup then Cosine(mid)", w.Factor(4+5, 14), (nn.Cosine{}).Factor(5, 10))
	near("Warmup then Cosine(last)", w.Factor(13, 14), 0)
	w = nn.Warmup{Steps: 2}
	near("Warmup(0)", w.Factor(0, 10), 0.5)
	near("Warmup after", w.Factor(7, 10), 1)
}

// refOneCycle is torch.optim.lr_scheduler.OneCycleLR's factor (the rate
// over max_lr) with anneal_strategy "cos" and three_phase off.
func refOneCycle(pct, div, fdiv float64, total, step int) float64 {
	initial := 1 / div
	minLR := initial / fdiv
	phases := []struct{ end, start, stop float64 }{{pct*float64(total) - 1, initial, 1}, {float64(total - 1), 1, minLR}}
	start := 0.0
	for i, ph := range phases {
		if float64(step) <= ph.end || i == len(phases)-1 {
			f := (float64(step) - start) / (ph.end - start)
			return ph.stop + (ph.start-ph.stop)/2*(math.Cos(math.Pi*f)+1)
		}
		start = ph.end
	}
	return math.NaN()
}

func TestApplySchedule(t *testing.T) {
	p := nn.NewParam(tensor.Zeros(1))
	g1 := nn.NewGroup([]nn.Named[*nn.Param]{{Name: "a", Value: p}}, 0.1, 0)
	g2 := nn.NewGroup(nil, 0.02, 0)
	g1.LR, g2.LR = 7, 7
	for _, o := range []nn.Optimizer{nn.NewSGD(0.9, false, g1, g2), nn.NewAdam(g1, g2)} {
		nn.ApplySchedule(o, nn.StepDecay{Every: 2, Gamma: 0.1}, 5, 10)
		if math.Abs(g1.LR-0.1*0.01) > 1e-15 || math.Abs(g2.LR-0.02*0.01) > 1e-15 {
			t.Errorf("LRs %v, %v, want %v, %v", g1.LR, g2.LR, 0.1*0.01, 0.02*0.01)
		}
		if g1.BaseLR != 0.1 || g2.BaseLR != 0.02 {
			t.Errorf("BaseLR changed: %v, %v", g1.BaseLR, g2.BaseLR)
		}
		nn.ApplySchedule(o, nn.Constant{}, 5, 10)
		if g1.LR != 0.1 || g2.LR != 0.02 {
			t.Errorf("Constant: LRs %v, %v", g1.LR, g2.LR)
		}
	}
}

// TestOneCycleShortRun compares OneCycle with PyTorch's OneCycleLR on runs
// so short that the warm-up phase ends before the first step (0.3·total − 1
// ≤ 0): PyTorch then anneals from the peak down to the final rate over the
// run.
func TestOneCycleShortRun(t *testing.T) {
	for total := 1; total <= 6; total++ {
		for s := 0; s < total; s++ {
			got, want := (nn.OneCycle{}).Factor(s, total), refOneCycle(0.3, 25, 1e4, total, s)
			if math.Abs(got-want) > 1e-9 {
				t.Errorf("OneCycle.Factor(%d, %d) = %.6g, PyTorch %.6g", s, total, got, want)
			}
		}
	}
}

// TestSGDLoadStateWrongShape: a LoadState that fails must leave the
// optimizer as it was, able to step.
func TestSGDLoadStateWrongShape(t *testing.T) {
	p := nn.NewParam(modelcheck.Randn(1, 2, 2))
	copy(p.Grad.Data(), []float32{1, 2, 3, 4})
	o := nn.NewSGD(0.9, false, nn.NewGroup([]nn.Named[*nn.Param]{{Name: "w", Value: p}}, 0.1, 0))
	o.Step()
	ts, _ := o.State()
	before := append([]float32(nil), ts["w.momentum_buffer"].Data()...)
	if err := o.LoadState(map[string]*tensor.Tensor{"w.momentum_buffer": tensor.Zeros(3)}, nil); err == nil {
		t.Fatal("LoadState accepted a buffer of 3 values for a [2 2] parameter")
	}
	ts, _ = o.State()
	if got := ts["w.momentum_buffer"]; got == nil || !slices.Equal(got.Shape(), []int{2, 2}) || !slices.Equal(got.Data(), before) {
		t.Errorf("after a failed LoadState the momentum buffer is %v", got)
	}
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("Step after a failed LoadState panicked: %v", r)
		}
	}()
	o.Step()
}
