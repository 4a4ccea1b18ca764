package nn

import (
	"fmt"
	"math"

	"github.com/graftml/graft/tensor"
)

// Group is a set of parameters sharing a learning rate and weight decay
// (PyTorch's param_groups), so layer groups can train at their own rates.
type Group struct {
	Params []Named[*Param]
	// BaseLR is the rate schedules scale; LR is the rate of the next step.
	BaseLR, LR  float64
	WeightDecay float64
	// Lazy updates a parameter with row-sparse gradients (Param.Rows set:
	// an embedding table) only in the rows of the last batch, as PyTorch's
	// SparseAdam: a step then costs O(rows in the batch), not
	// O(vocabulary), and the other rows' momentum and weight decay wait
	// until their next gradient. Without it the whole table is updated, as
	// PyTorch does for an nn.Embedding with dense gradients (momentum keeps
	// moving rows the batch did not use).
	Lazy bool
}

// NewGroup returns a group with LR = BaseLR = lr.
func NewGroup(params []Named[*Param], lr, weightDecay float64) *Group {
	return &Group{Params: params, BaseLR: lr, LR: lr, WeightDecay: weightDecay}
}

// Optimizer updates the trainable parameters of its groups from their
// gradients. Step reads each parameter's Trainable flag at every call:
// frozen parameters are left alone and keep their state.
type Optimizer interface {
	Step()
	Groups() []*Group
	// State returns the optimizer's per-parameter tensors named
	// "<param>.<slot>" and its scalar state, for a training checkpoint.
	State() (map[string]*tensor.Tensor, map[string]float64)
	// LoadState restores what State returned.
	LoadState(tensors map[string]*tensor.Tensor, scalars map[string]float64) error
}

// SGD is stochastic gradient descent with momentum, Nesterov momentum and
// L2 weight decay, as PyTorch's torch.optim.SGD (dampening 0).
type SGD struct {
	groups   []*Group
	Momentum float64
	Nesterov bool

	buf map[*Param]*tensor.Tensor
}

// NewSGD returns an SGD optimizer over the groups.
func NewSGD(momentum float64, nesterov bool, groups ...*Group) *SGD {
	return &SGD{groups: groups, Momentum: momentum, Nesterov: nesterov, buf: map[*Param]*tensor.Tensor{}}
}

// Groups returns the parameter groups.
func (o *SGD) Groups() []*Group { return o.groups }

// Step applies one update.
func (o *SGD) Step() {
	m := float32(o.Momentum)
	for _, g := range o.groups {
		lr, wd := float32(g.LR), float32(g.WeightDecay)
		for _, np := range g.Params {
			p := np.Value
			if !p.Trainable {
				continue
			}
			lazy := g.Lazy && p.Rows != nil
			be := p.Value.Backend() // the parameter's: see MoveTo
			if m == 0 && !lazy {
				be.SGDStep(p.Value, p.Grad, nil, lr, 0, wd, false, false)
				continue
			}
			b, ok := o.buf[p]
			if !ok && m != 0 {
				b = tensor.ZerosLike(p.Value, p.Value.Shape()...)
				o.buf[p] = b
			}
			follow(b, p.Value)
			if lazy {
				// a zero buffer's first update, m·0 + g, is g: the same as
				// a first step
				eachRow(p, func(lo, hi int) {
					var bd []float32
					if m != 0 {
						bd = b.Data()[lo:hi]
					}
					tensor.SGDUpdate(p.Value.Data()[lo:hi], p.Grad.Data()[lo:hi], bd, lr, m, wd, o.Nesterov, false)
				})
				continue
			}
			be.SGDStep(p.Value, p.Grad, b, lr, m, wd, o.Nesterov, !ok)
		}
	}
}

// follow moves an optimizer's state tensor t to w's backend when the
// model moved since it was made (MoveTo).
func follow(t, w *tensor.Tensor) {
	if t != nil && t.Backend() != w.Backend() {
		t.MoveTo(w.Backend())
	}
}

// eachRow calls fn with the element range of every row in p.Rows.
func eachRow(p *Param, fn func(lo, hi int)) {
	d := p.Value.Len() / max(p.Value.Dim(0), 1)
	for _, r := range p.Rows {
		fn(r*d, (r+1)*d)
	}
}

// State returns the momentum buffers.
func (o *SGD) State() (map[string]*tensor.Tensor, map[string]float64) {
	t := map[string]*tensor.Tensor{}
	eachState(o.groups, func(name string, p *Param) {
		if b, ok := o.buf[p]; ok {
			t[name+".momentum_buffer"] = b
		}
	})
	return t, map[string]float64{}
}

// LoadState restores the momentum buffers.
func (o *SGD) LoadState(tensors map[string]*tensor.Tensor, _ map[string]float64) error {
	var err error
	eachState(o.groups, func(name string, p *Param) {
		if b, ok := tensors[name+".momentum_buffer"]; ok && err == nil {
			if err = checkStateShape(name+".momentum_buffer", b, p); err == nil {
				o.buf[p] = b.Clone()
			}
		}
	})
	return err
}

func eachState(groups []*Group, fn func(name string, p *Param)) {
	for _, g := range groups {
		for _, np := range g.Params {
			fn(np.Name, np.Value)
		}
	}
}

func checkStateShape(name string, t *tensor.Tensor, p *Param) error {
	if !t.SameShape(p.Value) {
		return fmt.Errorf("nn: optimizer state %s has shape %v, parameter %v", name, t.Shape(), p.Value.Shape())
	}
	return nil
}

// Adam is the Adam optimizer (Kingma & Ba) as torch.optim.Adam, with L2
// weight decay added to the gradient; with Decoupled set it is AdamW
// (Loshchilov & Hutter): the weights decay by lr·wd before the update.
type Adam struct {
	groups       []*Group
	Beta1, Beta2 float64
	Eps          float64
	Decoupled    bool

	state map[*Param]*adamState
}

type adamState struct {
	step int
	m, v *tensor.Tensor
}

// NewAdam returns Adam with betas (0.9, 0.999) and eps 1e-8.
func NewAdam(groups ...*Group) *Adam {
	return &Adam{groups: groups, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, state: map[*Param]*adamState{}}
}

// NewAdamW returns AdamW with betas (0.9, 0.999) and eps 1e-8.
func NewAdamW(groups ...*Group) *Adam {
	a := NewAdam(groups...)
	a.Decoupled = true
	return a
}

// Groups returns the parameter groups.
func (o *Adam) Groups() []*Group { return o.groups }

// Step applies one update.
func (o *Adam) Step() {
	b1, b2 := float32(o.Beta1), float32(o.Beta2)
	for _, g := range o.groups {
		for _, np := range g.Params {
			p := np.Value
			if !p.Trainable {
				continue
			}
			s, ok := o.state[p]
			if !ok {
				s = &adamState{m: tensor.ZerosLike(p.Value, p.Value.Shape()...), v: tensor.ZerosLike(p.Value, p.Value.Shape()...)}
				o.state[p] = s
			}
			follow(s.m, p.Value)
			follow(s.v, p.Value)
			s.step++
			bc1 := 1 - math.Pow(o.Beta1, float64(s.step))
			bc2 := 1 - math.Pow(o.Beta2, float64(s.step))
			stepSize := float32(g.LR / bc1)
			sq2 := float32(math.Sqrt(bc2))
			eps := float32(o.Eps)
			if g.Lazy && p.Rows != nil {
				eachRow(p, func(lo, hi int) {
					tensor.AdamUpdate(p.Value.Data()[lo:hi], p.Grad.Data()[lo:hi], s.m.Data()[lo:hi], s.v.Data()[lo:hi],
						float32(g.LR), b1, b2, eps, float32(g.WeightDecay), stepSize, sq2, o.Decoupled)
				})
				continue
			}
			p.Value.Backend().AdamStep(p.Value, p.Grad, s.m, s.v, tensor.AdamParams{LR: float32(g.LR), Beta1: b1, Beta2: b2,
				Eps: eps, WeightDecay: float32(g.WeightDecay), StepSize: stepSize, SqrtBC2: sq2, Decoupled: o.Decoupled})
		}
	}
}

// State returns the moment estimates and step counts.
func (o *Adam) State() (map[string]*tensor.Tensor, map[string]float64) {
	t, sc := map[string]*tensor.Tensor{}, map[string]float64{}
	eachState(o.groups, func(name string, p *Param) {
		if s, ok := o.state[p]; ok {
			t[name+".exp_avg"], t[name+".exp_avg_sq"] = s.m, s.v
			sc[name+".step"] = float64(s.step)
		}
	})
	return t, sc
}

// LoadState restores the moment estimates and step counts.
func (o *Adam) LoadState(tensors map[string]*tensor.Tensor, scalars map[string]float64) error {
	var err error
	eachState(o.groups, func(name string, p *Param) {
		m, ok1 := tensors[name+".exp_avg"]
		v, ok2 := tensors[name+".exp_avg_sq"]
		st, ok3 := scalars[name+".step"]
		if !ok1 || !ok2 || !ok3 || err != nil {
			return
		}
		if err = checkStateShape(name+".exp_avg", m, p); err != nil {
			return
		}
		if err = checkStateShape(name+".exp_avg_sq", v, p); err != nil {
			return
		}
		o.state[p] = &adamState{step: int(st), m: m.Clone(), v: v.Clone()}
	})
	return err
}

// ClipGradNorm scales the gradients of the trainable parameters so that
// their global L2 norm is at most maxNorm, and returns the norm before
// clipping (PyTorch's clip_grad_norm_).
func ClipGradNorm(params []Named[*Param], maxNorm float64) float64 {
	var s float64
	for _, np := range params {
		if !np.Value.Trainable {
			continue
		}
		for _, g := range np.Value.Grad.Data() {
			s += float64(g) * float64(g)
		}
	}
	norm := math.Sqrt(s)
	if norm > maxNorm {
		f := float32(maxNorm / (norm + 1e-6))
		for _, np := range params {
			if np.Value.Trainable {
				g := np.Value.Grad
				g.Backend().Scale(g, f, g)
			}
		}
	}
	return norm
}
