package tensor

import (
	"fmt"
	"math"
)

// Fused optimizer updates: one pass over the parameter, gradient and state
// arrays, vectorised where the CPU tier allows and split over the worker
// pool for large parameters. Every element is computed by the same
// sequence of float32 operations, each rounded (never a fused
// multiply-add), whatever the tier and the number of threads: the results
// are the same bits as the plain Go references below.

// optimParallelMin is the parameter length from which an update is split
// over the worker pool.
const optimParallelMin = 1 << 16

// optimChunk is the most floats one assembly call updates: assembly is not
// preemptible, so a long loop stays in Go.
const optimChunk = 1 << 14

// AdamParams is one step of Adam or AdamW as AdamUpdate takes it: with t
// the step number, StepSize = LR/(1 − Beta1ᵗ) and SqrtBC2 = √(1 − Beta2ᵗ);
// Decoupled selects AdamW's decoupled weight decay.
type AdamParams struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32
	StepSize, SqrtBC2                  float32
	Decoupled                          bool
}

// sgdDims checks SGDStep's tensors.
func sgdDims(w, g, buf *Tensor, momentum float32) {
	if momentum != 0 {
		if buf == nil {
			panic(fmt.Sprintf("tensor.SGDStep: momentum %v needs a buffer for w %v", momentum, w.shape))
		}
		mustSameShape("SGDStep", w, g, buf)
		return
	}
	mustSameShape("SGDStep", w, g)
}

// SGDStep applies SGDUpdate to tensors.
func (cpu CPU) SGDStep(w, g, buf *Tensor, lr, momentum, weightDecay float32, nesterov, first bool) {
	sameBackend("SGDStep", cpu, w, g, buf)
	sgdDims(w, g, buf, momentum)
	var b []float32
	if momentum != 0 {
		b = buf.data
	}
	sgdUpdate(cpu.kern(), w.data, g.data, b, lr, momentum, weightDecay, nesterov, first)
}

// AdamStep applies AdamUpdate to tensors.
func (cpu CPU) AdamStep(w, g, m, v *Tensor, p AdamParams) {
	sameBackend("AdamStep", cpu, w, g, m, v)
	mustSameShape("AdamStep", w, g, m, v)
	adamUpdate(cpu.kern(), w.data, g.data, m.data, v.data, p.LR, p.Beta1, p.Beta2, p.Eps, p.WeightDecay, p.StepSize, p.SqrtBC2, p.Decoupled)
}

// SGDUpdate applies one step of PyTorch's torch.optim.SGD (dampening 0) to
// w in place, for every i:
//
//	d = g[i] + weightDecay·w[i]
//	if momentum ≠ 0:
//		buf[i] = d                      on the first step (first)
//		buf[i] = momentum·buf[i] + d    otherwise
//		d = d + momentum·buf[i]         with nesterov
//		d = buf[i]                      without
//	w[i] = w[i] − lr·d
//
// each product, sum and difference rounded to float32 in that order (no
// fused multiply-add). With momentum 0 buf is not used and may be nil.
// g (and buf when used) must be as long as w.
func SGDUpdate(w, g, buf []float32, lr, momentum, weightDecay float32, nesterov, first bool) {
	sgdUpdate(cpuKernel(), w, g, buf, lr, momentum, weightDecay, nesterov, first)
}

// sgdUpdate is SGDUpdate on kernel set kn.
func sgdUpdate(kn *gemmKernel, w, g, buf []float32, lr, momentum, weightDecay float32, nesterov, first bool) {
	n := len(w)
	if len(g) != n || (momentum != 0 && len(buf) != n) {
		panic("tensor: SGDUpdate slices differ in length")
	}
	if momentum == 0 {
		buf = nil
	}
	u := optimCall{kn: kn, w: w, g: g, m: buf, lr: lr, mom: momentum, wd: weightDecay, nesterov: nesterov, first: first}
	runOptim(&u)
}

// AdamUpdate applies one step of PyTorch's torch.optim.Adam (decoupled
// false) or torch.optim.AdamW (decoupled true) to w, m and v in place, for
// every i:
//
//	d = g[i]
//	w[i] = w[i]·(1 − lr·weightDecay)    if decoupled (the factor computed in float64)
//	d = d + weightDecay·w[i]            otherwise
//	m[i] = beta1·m[i] + (1−beta1)·d
//	v[i] = beta2·v[i] + ((1−beta2)·d)·d
//	w[i] = w[i] − (stepSize·m[i]) / (√v[i]/sqrtBC2 + eps)
//
// each operation rounded to float32 in that order (no fused multiply-add;
// the square root correctly rounded). With t the step number,
// stepSize = lr/(1 − beta1ᵗ) and sqrtBC2 = √(1 − beta2ᵗ). g, m and v must
// be as long as w.
func AdamUpdate(w, g, m, v []float32, lr, beta1, beta2, eps, weightDecay, stepSize, sqrtBC2 float32, decoupled bool) {
	adamUpdate(cpuKernel(), w, g, m, v, lr, beta1, beta2, eps, weightDecay, stepSize, sqrtBC2, decoupled)
}

// adamUpdate is AdamUpdate on kernel set kn.
func adamUpdate(kn *gemmKernel, w, g, m, v []float32, lr, beta1, beta2, eps, weightDecay, stepSize, sqrtBC2 float32, decoupled bool) {
	n := len(w)
	if len(g) != n || len(m) != n || len(v) != n {
		panic("tensor: AdamUpdate slices differ in length")
	}
	u := optimCall{kn: kn, w: w, g: g, m: m, v: v, adam: true, decoupled: decoupled}
	u.c = adamConsts{
		beta1, 1 - beta1, beta2, 1 - beta2, eps, weightDecay, stepSize, sqrtBC2,
		float32(1 - float64(lr)*float64(weightDecay)),
	}
	runOptim(&u)
}

// adamConsts are the constants of an Adam update, in the order the
// kernels read them: β1, 1−β1, β2, 1−β2, eps, wd, stepSize, sqrtBC2, decay.
type adamConsts [9]float32

// optimCall is one update; its parts get fixed element ranges.
type optimCall struct {
	kn                    *gemmKernel
	w, g, m, v            []float32 // m is SGD's momentum buffer
	lr, mom, wd           float32
	nesterov, first, adam bool
	decoupled             bool
	c                     adamConsts
}

var optimCalls = freeList[optimCall]{}

func runOptim(u *optimCall) {
	n := len(u.w)
	parts := 1
	if n >= optimParallelMin {
		parts = min(goMaxProcs(), n/(optimParallelMin/2))
	}
	if parts <= 1 {
		u.run(0, 1)
		return
	}
	c := optimCalls.Get()
	*c = *u
	parallel(parts, c)
	*c = optimCall{}
	optimCalls.Put(c)
}

func (u *optimCall) run(part, parts int) {
	n := len(u.w)
	per := ((n+parts-1)/parts + 7) &^ 7
	i0 := min(part*per, n)
	i1 := min(i0+per, n)
	for i := i0; i < i1; i += optimChunk {
		j := min(i+optimChunk, i1)
		w, g := u.w[i:j], u.g[i:j]
		if u.adam {
			m, v := u.m[i:j], u.v[i:j]
			k := adamFast(u.kn, w, g, m, v, &u.c, u.decoupled)
			adamRef(w[k:], g[k:], m[k:], v[k:], &u.c, u.decoupled)
			continue
		}
		var b []float32
		if u.m != nil {
			b = u.m[i:j]
		}
		k := sgdFast(u.kn, w, g, b, u.lr, u.mom, u.wd, u.nesterov, u.first)
		if b != nil {
			b = b[k:]
		}
		sgdRef(w[k:], g[k:], b, u.lr, u.mom, u.wd, u.nesterov, u.first)
	}
}

// sgdRef is SGDUpdate's reference on one thread (buf nil: no momentum).
// The float32 conversions keep the compiler from fusing a product and a
// sum (Go may fuse x*y + z otherwise, and does on arm64).
func sgdRef(w, g, buf []float32, lr, momentum, wd float32, nesterov, first bool) {
	g = g[:len(w)]
	if buf == nil {
		for i := range w {
			d := g[i] + float32(wd*w[i])
			w[i] -= float32(lr * d)
		}
		return
	}
	buf = buf[:len(w)]
	for i := range w {
		d := g[i] + float32(wd*w[i])
		b := d
		if !first {
			b = float32(momentum*buf[i]) + d
		}
		buf[i] = b
		if nesterov {
			d += float32(momentum * b)
		} else {
			d = b
		}
		w[i] -= float32(lr * d)
	}
}

// adamRef is AdamUpdate's reference on one thread.
func adamRef(w, g, m, v []float32, c *adamConsts, decoupled bool) {
	b1, c1, b2, c2, eps, wd, stepSize, sq2, decay := c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	for i := range w {
		d := g[i]
		wi := w[i]
		if decoupled {
			wi *= decay
		} else {
			d += float32(wd * wi)
		}
		mi := float32(b1*m[i]) + float32(c1*d)
		vi := float32(b2*v[i]) + float32(float32(c2*d)*d)
		m[i], v[i] = mi, vi
		den := float32(float32(math.Sqrt(float64(vi)))/sq2) + eps
		w[i] = wi - float32(float32(stepSize*mi)/den)
	}
}
