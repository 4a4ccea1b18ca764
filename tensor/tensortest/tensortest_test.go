package tensortest

import (
	"strings"
	"testing"

	"github.com/graftml/graft/tensor"
)

// The suite must catch a backend's bugs: each broken backend below is the
// CPU backend with one mistake, and the suite must report it by name.

// unwritten leaves Add's last element unwritten.
type unwritten struct{ tensor.CPU }

func (unwritten) Name() string { return "unwritten" }
func (b unwritten) Add(z, x, y *tensor.Tensor) {
	n := z.Len()
	if n < 2 {
		b.CPU.Add(z, x, y)
		return
	}
	zz, xx, yy := z.Data(), x.Data(), y.Data()
	for i := range n - 1 {
		zz[i] = xx[i] + yy[i]
	}
}

// scribbler zeroes ReLU's source after reading it.
type scribbler struct{ tensor.CPU }

func (scribbler) Name() string { return "scribbler" }
func (b scribbler) ReLU(y, x *tensor.Tensor) {
	b.CPU.ReLU(y, x)
	if x != y {
		clear(x.Data())
	}
}

// coupledAdam runs AdamW as Adam (weight decay through the gradient).
type coupledAdam struct{ tensor.CPU }

func (coupledAdam) Name() string { return "coupledAdam" }
func (b coupledAdam) AdamStep(w, g, m, v *tensor.Tensor, p tensor.AdamParams) {
	p.Decoupled = false
	b.CPU.AdamStep(w, g, m, v, p)
}

// betaZero overwrites c where it should add beta·c.
type betaZero struct{ tensor.CPU }

func (betaZero) Name() string { return "betaZero" }
func (b betaZero) MatMul(c, a, bb *tensor.Tensor, transA, transB bool, alpha, beta float32) {
	b.CPU.MatMul(c, a, bb, transA, transB, alpha, 0)
}

func TestSuiteCatchesBugs(t *testing.T) {
	for _, c := range []struct {
		b    tensor.Backend
		want string
	}{
		{unwritten{}, "AddMulScale/1000 on unwritten: output 0"},
		{scribbler{}, "ReLU/17 on scribbler: input 0"},
		{coupledAdam{}, "Optimizers/17 on coupledAdam: output 3"},
		{betaZero{}, "MatMul/7x17x33/tfalsefalse/beta=0.5 on betaZero: output 0"},
	} {
		fs := failures(c.b, allCases())
		if !strings.Contains(strings.Join(fs, "\n"), c.want) {
			t.Errorf("%s: the suite did not report %q; it reported:\n%s", c.b.Name(), c.want, strings.Join(fs, "\n"))
		}
	}
}

// TestReferenceConforms runs the suite on the reference itself: every
// case must give the same bits twice (no case depends on anything but its
// seed), and the reference must leave its inputs alone.
func TestReferenceConforms(t *testing.T) { Run(t, tensor.Reference{}) }
