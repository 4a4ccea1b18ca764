package nn

import (
	"github.com/graftml/graft/kernels"
	"github.com/graftml/graft/tensor"
)

// dwpwRun is a run of Graph nodes inference computes in one fused call:
// a depthwise convolution (its activation fused or not) whose output only
// a pointwise convolution (its activation fused or not) reads, and
// optionally, before them, a pointwise convolution (its activation fused
// or not) that only the depthwise one reads: MobileNet's blocks.
type dwpwRun struct {
	nodes            []int // the nodes, in order
	expand, dw, proj *Conv2D
	act0, act1, act2 tensor.FusedAct
	p                tensor.ConvParams // the depthwise convolution's
}

// irMinPixels is the fewest input pixels an image for which inference
// fuses the expansion too (InvertedResidual): it works an image at a
// time, so smaller maps would make its GEMMs short. MobileNetV2 at batch
// 32 on one thread ran 1–3% faster fusing every block (7² and up) than
// only those of 56² and up, on a Zen 5 with 8 MiB of L3 (where the
// unfused expansions of the 28² and 14² blocks, 10–19 MB, miss it), and
// within noise on one with 32 MiB.
const irMinPixels = 7 * 7

// matchDWPW returns the fused run starting at node i, reading x, if any.
// Inference fuses only on the CPU on one thread (inside a chunk or a
// split, or at GOMAXPROCS 1), not where a BatchNorm would fold into a
// convolution, and not when the projection's weights exceed L2.
func (g *Graph) matchDWPW(i int, x *tensor.Tensor, fused, sole []int) (dwpwRun, bool) {
	var r dwpwRun
	if _, ok := x.Backend().(tensor.CPU); !ok || tensor.Threads() != 1 || x.Rank() != 4 {
		return r, false
	}
	conv := func(k int) *Conv2D {
		c, ok := g.nodes[k].Layer.(*Conv2D)
		if !ok || len(g.nodeIn[k]) != 1 {
			return nil
		}
		if _, _, folds := g.runAt(k, sole); folds {
			return nil
		}
		return c
	}
	// next returns the node after conv k (and its fused activation), the
	// only reader of their value, and that activation.
	next := func(k int) (int, tensor.FusedAct) {
		var act tensor.FusedAct
		v := g.nodeOut[k]
		if j := fused[k]; j > 0 {
			act, _ = fusableAct(g.nodes[j].Layer)
			r.nodes, v = append(r.nodes, j), g.nodeOut[j]
		}
		if v == g.out {
			return -1, act
		}
		return sole[v], act
	}
	h, w := x.Dim(1), x.Dim(2)
	k := i
	c := conv(k)
	if c == nil || x.Dim(3) != c.In {
		return r, false
	}
	r.nodes = []int{k}
	if c.pointwise(c.paramsFor(h, w, c.In)) {
		if h*w < irMinPixels {
			return r, false
		}
		r.expand = c
		if k, r.act0 = next(k); k < 0 {
			return r, false
		}
		if c = conv(k); c == nil || c.In != r.expand.Out {
			return r, false
		}
		r.nodes = append(r.nodes, k)
	}
	r.p = c.paramsFor(h, w, c.In)
	if c.In < 2 || c.Out != c.In || max(r.p.Groups, 1) != c.In {
		return r, false
	}
	r.dw = c
	if k, r.act1 = next(k); k < 0 {
		return r, false
	}
	oh, ow := r.p.OutSize(h, w, c.KH, c.KW)
	if c = conv(k); c == nil || c.In != r.dw.Out || !c.pointwise(c.paramsFor(oh, ow, c.In)) {
		return r, false
	}
	// Each band reads all of the projection's weights: past L2 they cost
	// more than the depthwise output saved (MobileNetV2's last block, 960
	// → 320: 6.5 ms fused against 6.0 apart at batch 32 on Zen 5).
	if c.In*c.Out*4 > kernels.CacheSizes().L2 {
		return r, false
	}
	r.proj = c
	r.nodes = append(r.nodes, k)
	_, r.act2 = next(k)
	return r, true
}

// inferDWPW runs node i and the nodes after it in one fused call when
// matchDWPW finds a run there (tensor.CPU.DepthwisePointwise, or
// InvertedResidual with the expansion): the depthwise output, and the
// expansion's, the widest tensors of a MobileNet block, are then never
// written whole. It returns the nodes it ran (the first i), or nil when it
// ran nothing; the result is the same, bit for bit, as running the nodes
// one by one.
func (g *Graph) inferDWPW(i int, vals []*tensor.Tensor, fused, sole []int, pool *recycler) []int {
	x := vals[g.nodeIn[i][0]]
	r, ok := g.matchDWPW(i, x, fused, sole)
	if !ok {
		return nil
	}
	cpu := x.Backend().(tensor.CPU)
	oh, ow := r.p.OutSize(x.Dim(1), x.Dim(2), r.dw.KH, r.dw.KW)
	y := pool.get(x.Dim(0), oh, ow, r.proj.Out)
	wt := r.proj.wt.get(r.proj.Weight.Value, r.proj.Out, r.proj.In)
	if r.expand != nil {
		we := r.expand.wt.get(r.expand.Weight.Value, r.expand.Out, r.expand.In)
		cpu.InvertedResidual(y, x, we, biasValue(r.expand.Bias), r.act0, r.dw.Weight.Value, biasValue(r.dw.Bias), r.p, r.act1,
			wt, biasValue(r.proj.Bias), r.act2)
	} else {
		cpu.DepthwisePointwise(y, x, r.dw.Weight.Value, biasValue(r.dw.Bias), r.p, r.act1, wt, biasValue(r.proj.Bias), r.act2)
	}
	vals[g.nodeOut[r.nodes[len(r.nodes)-1]]] = y
	return r.nodes
}
