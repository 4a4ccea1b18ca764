package transfer_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/graftml/graft/internal/modelcheck"
	"github.com/graftml/graft/internal/tensorcheck"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
	"github.com/graftml/graft/tensor"
	"github.com/graftml/graft/transfer"
)

const gradSentinel = 12345.5

// warmResNet is smallResNet whose BatchNorms have seen a batch, so their
// running statistics are not the defaults (0 and 1). The same seed gives
// the same model.
func warmResNet(seed uint64) *models.Model {
	m := smallResNet(seed)
	nn.SetTraining(m, true)
	m.Forward(modelcheck.Randn(seed+100, 8, 32, 32, 3))
	return m
}

// The check 2: with the bottom groups frozen, Backward(dy, false)
// gives the trainable parameters the gradients a full backward gives them,
// and leaves the frozen parameters' Grad alone.
//
// The two forward passes must compute the same thing, and a frozen
// BatchNorm under the default BNFreezeStats normalises with its running
// statistics where a trainable one uses the batch's. So the comparison is
// made in two ways: with BNUpdateStats (frozen BatchNorms still use batch
// statistics, exactly as the full model's do), and with BNFreezeStats
// against a full model that has the same statistics switches but every
// parameter trainable (which also exercises the frozen-statistics
// backward).
func TestPartialBackwardMatchesFull(t *testing.T) {
	type build func() *models.Model
	nets := []struct {
		name  string
		build build
		batch int
	}{
		{"lenet5", func() *models.Model { return models.LeNet5(models.Options{Seed: 1}) }, 4},
		{"resnet18cifar-w0.125", func() *models.Model { return warmResNet(1) }, 4},
	}
	policies := []struct {
		name string
		o    transfer.FreezeOptions
		// statsLikePartial: the full model takes the partial one's
		// BatchNorm switches before every parameter is made trainable.
		statsLikePartial bool
	}{
		{"BNUpdateStats", transfer.FreezeOptions{BN: transfer.BNUpdateStats}, false},
		{"BNFreezeStats", transfer.FreezeOptions{BN: transfer.BNFreezeStats}, true},
		// frozen BatchNorms' weight and bias train: the backward must
		// reach the lowest of them through the frozen convolutions
		{"TrainBNAffine", transfer.FreezeOptions{BN: transfer.BNUpdateStats, TrainBNAffine: true}, false},
	}
	for _, net := range nets {
		for _, pol := range policies {
			g := len(net.build().Groups)
			for n := 1; n < g; n++ {
				t.Run(fmt.Sprintf("%s/%s/freeze-to-%d", net.name, pol.name, n), func(t *testing.T) {
					full, part := net.build(), net.build()
					if err := transfer.FreezeTo(part, n, pol.o); err != nil {
						t.Fatal(err)
					}
					if pol.statsLikePartial {
						if err := transfer.FreezeTo(full, n, pol.o); err != nil {
							t.Fatal(err)
						}
						nn.SetTrainable(full, true)
					}
					checkPartialGrads(t, full, part, net.batch, uint64(n))
				})
			}
		}
	}
}

func checkPartialGrads(t *testing.T, full, part *models.Model, batch int, seed uint64) {
	t.Helper()
	nn.SetTraining(full, true)
	nn.SetTraining(part, true)
	fullParams := map[string]*nn.Param{}
	for _, p := range nn.Parameters(full) {
		if !p.Value.Trainable {
			t.Fatalf("full model: %s frozen", p.Name)
		}
		fullParams[p.Name] = p.Value
		tensorcheck.Fill(p.Value.Grad.Data(), -gradSentinel)
	}
	nFrozen := 0
	for _, p := range nn.Parameters(part) {
		tensorcheck.Fill(p.Value.Grad.Data(), gradSentinel)
		if !p.Value.Trainable {
			nFrozen++
		}
	}
	if nFrozen == 0 {
		t.Fatal("nothing frozen")
	}
	x := modelcheck.Randn(seed+1, append([]int{batch}, full.InputShape...)...)
	yf, yp := full.Forward(x), part.Forward(x)
	if !tensorcheck.BitsEqual(yf.Data(), yp.Data()) {
		t.Fatalf("forward passes differ by %g", tensorcheck.MaxAbsDiff(yf.Data(), yp.Data()))
	}
	dy := modelcheck.Randn(seed+2, yf.Shape()...)
	if dx := full.Backward(dy, false); dx != nil {
		t.Error("full Backward(dy, false) returned an input gradient")
	}
	if dx := part.Backward(dy, false); dx != nil {
		t.Error("partial Backward(dy, false) returned an input gradient")
	}
	inexact := 0
	for _, p := range nn.Parameters(part) {
		got := p.Value.Grad.Data()
		if !p.Value.Trainable {
			for i, v := range got {
				if v != gradSentinel {
					t.Errorf("frozen %s: Grad[%d] = %v, written", p.Name, i, v)
					break
				}
			}
			continue
		}
		want := fullParams[p.Name].Grad.Data()
		if tensorcheck.MaxAbs(want) == gradSentinel {
			t.Fatalf("full backward wrote no gradient for %s", p.Name)
		}
		if tensorcheck.BitsEqual(got, want) {
			continue
		}
		inexact++
		if d, s := tensorcheck.MaxAbsDiff(got, want), tensorcheck.MaxAbs(want); d > 1e-6*s {
			t.Errorf("%s: gradient differs from the full backward's by %g (max |g| %g)", p.Name, d, s)
		}
	}
	if inexact > 0 {
		t.Logf("%d trainable gradients equal within 1e-6, not bit for bit", inexact)
	}
}

// planLowest returns the index of the first leaf of group n that has
// parameters: where the backward pass of FreezeTo(n) stops.
func planLowest(t *testing.T, m *models.Model, n int, s *nn.Summary) int {
	t.Helper()
	for i, r := range s.Layers {
		if r.Params > 0 && under(r.Name, m.Groups[n]...) {
			return i
		}
	}
	t.Fatalf("group %d has no parameters", n)
	return -1
}

func TestPlanBackprop(t *testing.T) {
	for _, c := range []struct {
		name  string
		m     *models.Model
		batch int
	}{
		{"lenet5", models.LeNet5(models.Options{Seed: 1}), 1},
		{"resnet18cifar-w0.125", smallResNet(1), 2},
		{"mnistcnn", models.MNISTCNN(models.Options{Seed: 1}), 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := c.m
			in := append([]int{c.batch}, m.InputShape...)
			s, err := nn.Summarize(m, in)
			if err != nil {
				t.Fatal(err)
			}
			tot := s.Totals()
			prevBwd, prevKept := math.Inf(1), math.MaxInt
			for n := 0; n < len(m.Groups); n++ {
				if err := transfer.FreezeTo(m, n, transfer.FreezeOptions{}); err != nil {
					t.Fatal(err)
				}
				p, err := transfer.PlanBackprop(m, in)
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Layers) != len(s.Layers) {
					t.Fatalf("FreezeTo(%d): %d plan layers, %d in the summary", n, len(p.Layers), len(s.Layers))
				}
				lowest := planLowest(t, m, n, s)
				if p.Lowest != lowest {
					t.Errorf("FreezeTo(%d): Lowest = %d (%s), want %d (%s)", n, p.Lowest, s.Layers[min(p.Lowest, len(s.Layers)-1)].Name, lowest, s.Layers[lowest].Name)
				}
				if p.FwdFLOPs != tot.FwdFLOPs {
					t.Errorf("FreezeTo(%d): FwdFLOPs = %g, summary total %g", n, p.FwdFLOPs, tot.FwdFLOPs)
				}
				if !(p.BwdFLOPs < prevBwd) {
					t.Errorf("FreezeTo(%d): BwdFLOPs %g, not below FreezeTo(%d)'s %g", n, p.BwdFLOPs, n-1, prevBwd)
				}
				if !(p.KeptBytes < prevKept) {
					t.Errorf("FreezeTo(%d): KeptBytes %d, not below FreezeTo(%d)'s %d", n, p.KeptBytes, n-1, prevKept)
				}
				prevBwd, prevKept = p.BwdFLOPs, p.KeptBytes
				kept := 0
				for i, l := range p.Layers {
					if l.Name != s.Layers[i].Name {
						t.Fatalf("plan layer %d is %s, summary's %s", i, l.Name, s.Layers[i].Name)
					}
					if l.WeightGrad != (l.Trainable > 0) {
						t.Errorf("FreezeTo(%d): %s WeightGrad = %v with %d trainable", n, l.Name, l.WeightGrad, l.Trainable)
					}
					if l.Backward != (i >= lowest) {
						t.Errorf("FreezeTo(%d): %s Backward = %v", n, l.Name, l.Backward)
					}
					if i <= lowest && l.InputGrad {
						t.Errorf("FreezeTo(%d): %s at or below the lowest trainable layer computes its input gradient", n, l.Name)
					}
					if i < lowest && l.KeptBytes != 0 {
						t.Errorf("FreezeTo(%d): %s below the lowest trainable layer keeps %d bytes", n, l.Name, l.KeptBytes)
					}
					if i >= lowest && l.KeptBytes <= 0 {
						t.Errorf("FreezeTo(%d): %s keeps no activation", n, l.Name)
					}
					kept += l.KeptBytes
				}
				if kept != p.KeptBytes {
					t.Errorf("FreezeTo(%d): KeptBytes %d, layers sum to %d", n, p.KeptBytes, kept)
				}
				if got, want := p.StepFLOPs(c.batch), (p.FwdFLOPs+p.BwdFLOPs)/float64(c.batch); got != want {
					t.Errorf("StepFLOPs(%d) = %g, want %g", c.batch, got, want)
				}
				switch n {
				case 0: // everything but the first layer's input gradient
					if want := tot.BwdWeightFLOPs + tot.BwdDataFLOPs - s.Layers[0].BwdDataFLOPs; p.BwdFLOPs != want {
						t.Errorf("all trainable: BwdFLOPs = %g, want %g", p.BwdFLOPs, want)
					}
				case len(m.Groups) - 1: // the head's weight gradients alone
					var want float64
					for _, r := range s.Layers {
						if under(r.Name, m.Groups[n]...) {
							want += r.BwdWeightFLOPs
						}
					}
					if p.BwdFLOPs != want {
						t.Errorf("head only: BwdFLOPs = %g, want %g", p.BwdFLOPs, want)
					}
				}
			}

			// Nothing trainable: no backward at all.
			if err := transfer.Freeze(m, transfer.FreezeOptions{}); err != nil {
				t.Fatal(err)
			}
			p, err := transfer.PlanBackprop(m, in)
			if err != nil {
				t.Fatal(err)
			}
			if p.BwdFLOPs != 0 || p.KeptBytes != 0 || p.Lowest != len(p.Layers) {
				t.Errorf("all frozen: BwdFLOPs %g, KeptBytes %d, Lowest %d of %d", p.BwdFLOPs, p.KeptBytes, p.Lowest, len(p.Layers))
			}
			if p.FwdFLOPs != tot.FwdFLOPs {
				t.Errorf("all frozen: FwdFLOPs = %g, want %g", p.FwdFLOPs, tot.FwdFLOPs)
			}
			for _, l := range p.Layers {
				if l.Backward || l.InputGrad || l.WeightGrad {
					t.Errorf("all frozen: %s plans backward work %+v", l.Name, l)
				}
			}
		})
	}
}

func TestPlanBackpropBadInput(t *testing.T) {
	m := models.LeNet5(models.Options{Seed: 1})
	for _, in := range [][]int{{1, 28, 28, 3}, {1, 28, 28}, {1, 5, 5, 1}} {
		if _, err := transfer.PlanBackprop(m, in); err == nil {
			t.Errorf("PlanBackprop(lenet5, %v): no error", in)
		}
	}
}

// The activation a layer's backward reads is its input. A residual
// block's downsampling shortcut reads the block's input, not the output of
// the main path's last layer (the leaf listed just before it).
func TestPlanBackpropShortcutKeptBytes(t *testing.T) {
	m := smallResNet(1)
	in := []int{1, 32, 32, 3}
	p, err := transfer.PlanBackprop(m, in) // everything trainable
	if err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"layer2", "layer3", "layer4"} {
		trunk, _, err := transfer.Cut(m, stage)
		if err != nil {
			t.Fatal(err)
		}
		x := trunk.Infer(tensor.Zeros(in...)) // the stage's (and its first block's) input
		want := 4 * x.Len()
		name := stage + ".0.downsample.0"
		found := false
		for _, l := range p.Layers {
			if l.Name == name {
				found = true
				if l.KeptBytes != want {
					t.Errorf("%s (input %v): KeptBytes = %d, want %d", name, x.Shape(), l.KeptBytes, want)
				}
			}
		}
		if !found {
			t.Errorf("no plan layer %s", name)
		}
	}
}

// With layer2 the lowest trainable group, nothing trainable lies below
// layer2.0's shortcut convolution (its input is layer1's output), and
// nn.Residual/Sequential call its Backward without the input gradient: the
// plan must neither flag nor count it.
func TestPlanBackpropShortcutInputGrad(t *testing.T) {
	m := smallResNet(1)
	if err := transfer.FreezeTo(m, 2, transfer.FreezeOptions{}); err != nil { // stem and layer1 frozen
		t.Fatal(err)
	}
	in := []int{1, 32, 32, 3}
	p, err := transfer.PlanBackprop(m, in)
	if err != nil {
		t.Fatal(err)
	}
	var want float64
	for _, l := range p.Layers {
		switch l.Name {
		case "layer2.0.conv1", "layer2.0.downsample.0":
			if l.InputGrad {
				t.Errorf("%s: InputGrad set, but its input comes from the frozen layer1", l.Name)
			}
			if !l.WeightGrad {
				t.Errorf("%s: no WeightGrad", l.Name)
			}
		default:
			if l.InputGrad {
				want += l.BwdDataFLOPs
			}
		}
		if l.WeightGrad {
			want += l.BwdWeightFLOPs
		}
	}
	if p.BwdFLOPs != want {
		t.Errorf("BwdFLOPs = %g, want %g (no input gradient for layer2.0's first convolutions)", p.BwdFLOPs, want)
	}
}

// A graph's nodes after its output (a 7×7 pooling that would not fit a
// 5×5 input, a dense layer) do not run, so they are not in the plan.
func TestPlanBackpropGraphAfterOutput(t *testing.T) {
	g := nn.NewGraph("x")
	for _, err := range []error{
		g.Add("conv", nn.NewConv2D(1, 2, 3, nn.ConvOpts{Padding: 1}, 1), "c", "x"),
		g.Add("pool", nn.NewGlobalAvgPool(), "p", "c"),
		g.Add("fc", nn.NewDense(2, 3, true, 2), "y", "p"),
		g.Add("old.pool", nn.NewMaxPool2D(7, 1, 0), "o", "c"),
		g.Add("old.fc", nn.NewDense(2, 3, true, 3), "z", "p"),
		g.SetOutput("y"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	p, err := transfer.PlanBackprop(g, []int{1, 5, 5, 1})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range p.Layers {
		names = append(names, l.Name)
	}
	if fmt.Sprint(names) != "[conv pool fc]" || !p.Layers[0].WeightGrad || p.Layers[0].InputGrad {
		t.Errorf("plan %v: %+v", names, p.Layers)
	}
}
