package nn

import (
	"hash/maphash"
	"math"
	"unsafe"

	"github.com/graftml/graft/tensor"
)

// Inference folds a BatchNorm into the convolution before it: with
// s = γ/√(σ²+ε) per output channel, conv(x, W) + b followed by
// (y − μ)·s + β is conv(x, W·s) + β + (b − μ)·s, one convolution with a
// bias instead of a convolution and a memory-bound pass over its output.
// An activation after the BatchNorm (ReLU, ReLU6, Clip, or the
// BatchNorm's own ReLU) then runs in place over the convolution's output,
// and a zero Pad2D before the convolution (Keras's ZeroPadding2D ahead of
// a strided "valid" convolution) joins the convolution's own padding
// instead of copying the input. Sequential and Graph inference (Infer)
// run every such run of layers so on the CPU backend; Forward and
// Backward never fold, so training is unchanged. The folded values differ
// from the layers run one by one by a few roundings.
//
// The folded weights are a cache on the Conv2D, keyed by a fingerprint of
// everything they are computed from (the convolution's weight and bias,
// the BatchNorm's parameters, statistics and ε), checked at every Infer:
// an optimizer step, a checkpoint load, a BatchNorm update in training
// or any write into the tensors' data recomputes them on the next Infer.

// convFold is a Conv2D's folded weight and bias for one BatchNorm.
type convFold struct {
	bn   *BatchNorm
	key  uint64
	w, b *tensor.Tensor
	wt   *tensor.Tensor // w transposed to [In, Out] for a 1×1 convolution, else nil
}

// foldSeed seeds the fingerprints (a process's own).
var foldSeed = maphash.MakeSeed()

// fingerprint hashes the bits of tensors' values and of a few floats.
func fingerprint(ts []*tensor.Tensor, fs ...float32) uint64 {
	var h maphash.Hash
	h.SetSeed(foldSeed)
	var buf [8]byte
	for _, t := range ts {
		if t == nil {
			h.WriteByte(0)
			continue
		}
		d := t.Data()
		put64(&buf, maphash.Bytes(foldSeed, f32Bytes(d)))
		h.Write(buf[:])
		put64(&buf, uint64(len(d)))
		h.Write(buf[:])
	}
	for _, f := range fs {
		put64(&buf, uint64(math.Float32bits(f)))
		h.Write(buf[:])
	}
	return h.Sum64()
}

func put64(b *[8]byte, v uint64) {
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
}

// f32Bytes views float32s as their bytes (in memory order), for hashing.
func f32Bytes(d []float32) []byte {
	if len(d) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(d))), 4*len(d))
}

// foldSources lists what a fold is computed from.
func foldSources(c *Conv2D, bn *BatchNorm) []*tensor.Tensor {
	return []*tensor.Tensor{c.Weight.Value, biasValue(c.Bias), bn.Weight.Value, bn.Bias.Value,
		bn.RunningMean.Value, bn.RunningVar.Value}
}

// folded returns c's weight and bias with bn folded in, from the cache
// while nothing they are computed from has changed.
func (c *Conv2D) folded(bn *BatchNorm) *convFold {
	key := fingerprint(foldSources(c, bn), bn.Eps)
	if f := c.fold.Load(); f != nil && f.bn == bn && f.key == key {
		return f
	}
	f := &convFold{bn: bn, key: key, w: tensor.Zeros(c.Weight.Value.Shape()...), b: tensor.Zeros(c.Out)}
	foldBN(f.w.Data(), f.b.Data(), c.Weight.Value.Data(), biasData(c.Bias), bn.Weight.Value.Data(),
		bn.Bias.Value.Data(), bn.RunningMean.Value.Data(), bn.RunningVar.Value.Data(), bn.Eps)
	if c.KH == 1 && c.KW == 1 {
		f.wt = transpose2(f.w.Data(), c.Out, c.In)
	}
	c.fold.Store(f)
	return f
}

func biasData(p *Param) []float32 {
	if p == nil {
		return nil
	}
	return p.Value.Data()
}

// foldBN writes w2 = w·s per output channel (w's rows) and b2 = β + (b −
// μ)·s, s = γ/√(σ²+ε), computed in float64 and rounded once; b nil is a
// zero bias.
func foldBN(w2, b2, w, b, gamma, beta, mean, variance []float32, eps float32) {
	out := len(b2)
	per := len(w) / out
	for o := range out {
		s := float64(gamma[o]) / math.Sqrt(float64(variance[o])+float64(eps))
		bo := 0.0
		if b != nil {
			bo = float64(b[o])
		}
		b2[o] = float32(float64(beta[o]) + (bo-float64(mean[o]))*s)
		for i := o * per; i < (o+1)*per; i++ {
			w2[i] = float32(float64(w[i]) * s)
		}
	}
}

// epilogue is the activation a fold runs over the convolution's output.
type epilogue int

const (
	epiNone epilogue = iota
	epiReLU
	epiClamp
)

// convRun is a run of layers Infer runs as one convolution: an optional
// zero Pad2D (added to the convolution's padding), the Conv2D, and
// optionally a BatchNorm over its output (folded into its weights) and
// an activation after the BatchNorm (run in place over the output).
type convRun struct {
	pad    *Pad2D
	conv   *Conv2D
	bn     *BatchNorm
	epi    epilogue
	lo, hi float32 // epiClamp's bounds
	n      int     // layers in the run, 2 to 4
}

// foldable reports whether inference of conv followed by bn folds: on
// the CPU backend (a GPU keeps its tensors on the device), bn over the
// convolution's channels.
func foldable(conv *Conv2D, bn *BatchNorm) bool {
	if _, ok := conv.Weight.Value.Backend().(tensor.CPU); !ok {
		return false
	}
	return bn.C == conv.Out && bn.Weight != nil && bn.Bias != nil && bn.RunningMean != nil && bn.RunningVar != nil
}

// zeroPad reports whether l pads height and width with zeros (and crops
// nothing).
func zeroPad(l Layer) (*Pad2D, bool) {
	p, ok := l.(*Pad2D)
	if !ok || p.Value != 0 || math.Signbit(float64(p.Value)) || min(p.Top, p.Bottom, p.Left, p.Right) < 0 {
		return nil, false
	}
	return p, true
}

// matchRun returns the run of layers that starts with at(0): at(k) is the
// k-th layer of the chain (each reading only the one before), nil past
// its end. A run is an optional zero Pad2D, a Conv2D, an optional
// BatchNorm and, after either of those, an optional ReLU, ReLU6 or Clip;
// ok is false unless it has a Pad2D or a BatchNorm (a convolution and an
// activation alone run as they are).
func matchRun(at func(k int) Layer) (r convRun, ok bool) {
	k := 0
	if p, ok := zeroPad(at(0)); ok {
		r.pad, k = p, 1
	}
	conv, ok := at(k).(*Conv2D)
	if !ok {
		return convRun{}, false
	}
	r.conv, k = conv, k+1
	if bn, ok := at(k).(*BatchNorm); ok && foldable(conv, bn) {
		r.bn, k = bn, k+1
		if bn.ReLU {
			r.epi, r.n = epiReLU, k
			return r, true
		}
	}
	if r.bn == nil && r.pad == nil {
		return convRun{}, false
	}
	switch act := at(k).(type) {
	case *Act:
		switch act.Kind {
		case tensor.ActReLU:
			r.epi, k = epiReLU, k+1
		case tensor.ActReLU6:
			r.epi, r.lo, r.hi, k = epiClamp, 0, 6, k+1
		}
	case *Clip:
		if act.a == act.a && act.b == act.b { // bounds not NaN
			r.epi, r.lo, r.hi, k = epiClamp, act.a, act.b, k+1
		}
	}
	r.n = k
	return r, true
}

// infer runs the layers on x into a tensor from alloc.
func (r convRun) infer(x *tensor.Tensor, alloc func(...int) *tensor.Tensor) *tensor.Tensor {
	c := r.conv
	mustRank("Conv2D", x, 4)
	n, h, wd := x.Dim(0), x.Dim(1), x.Dim(2)
	if r.pad != nil {
		h += r.pad.Top + r.pad.Bottom
		wd += r.pad.Left + r.pad.Right
	}
	p := c.paramsFor(h, wd, x.Dim(3))
	oh, ow := p.OutSize(h, wd, c.KH, c.KW)
	if r.pad != nil {
		p.PadTop += r.pad.Top
		p.PadBottom += r.pad.Bottom
		p.PadLeft += r.pad.Left
		p.PadRight += r.pad.Right
	}
	y := alloc(n, oh, ow, c.Out)
	var fold *convFold
	if r.bn != nil {
		fold = c.folded(r.bn)
	}
	var act tensor.FusedAct
	switch r.epi {
	case epiReLU: // a clamp, as the Clamp this replaces (−0 becomes +0)
		act = tensor.ClampAct(0, float32(math.Inf(1)))
	case epiClamp:
		act = tensor.ClampAct(r.lo, r.hi)
	}
	c.inferConv(y, x, fold, p, act)
	return y
}
