package nn

import "github.com/graftml/graft/tensor"

// inferDWPW runs node i and the nodes after it as one
// tensor.CPU.DepthwisePointwise when they are a depthwise convolution
// (its activation fused or not) whose output only a pointwise convolution
// (its activation fused or not) reads, as in MobileNet's blocks: the
// depthwise output, the widest tensor of such a block, is then never
// written whole. It runs on the CPU on one thread only (inside a chunk or
// a split, or at GOMAXPROCS 1), and not where a BatchNorm would fold into
// either convolution. It returns the nodes it ran (the first i), or nil
// when it ran nothing; the result is the same, bit for bit, as running
// the nodes one by one.
func (g *Graph) inferDWPW(i int, vals []*tensor.Tensor, fused, sole []int, pool *recycler) []int {
	c1, ok := g.nodes[i].Layer.(*Conv2D)
	if !ok || len(g.nodeIn[i]) != 1 || c1.In < 2 || c1.Out != c1.In {
		return nil
	}
	x := vals[g.nodeIn[i][0]]
	cpu, ok := x.Backend().(tensor.CPU)
	if !ok || tensor.Threads() != 1 || x.Rank() != 4 || x.Dim(3) != c1.In {
		return nil
	}
	p1 := c1.params2(x)
	if max(p1.Groups, 1) != c1.In {
		return nil
	}
	if _, _, folds := g.runAt(i, sole); folds {
		return nil
	}
	nodes := []int{i}
	var act1, act2 tensor.FusedAct
	v := g.nodeOut[i]
	if j := fused[i]; j > 0 {
		act1, _ = fusableAct(g.nodes[j].Layer)
		nodes, v = append(nodes, j), g.nodeOut[j]
	}
	if v == g.out || sole[v] < 0 {
		return nil
	}
	k := sole[v]
	c2, ok := g.nodes[k].Layer.(*Conv2D)
	if !ok || len(g.nodeIn[k]) != 1 || c2.In != c1.Out {
		return nil
	}
	oh, ow := p1.OutSize(x.Dim(1), x.Dim(2), c1.KH, c1.KW)
	if !c2.pointwise(c2.paramsFor(oh, ow, c2.In)) {
		return nil
	}
	if _, _, folds := g.runAt(k, sole); folds {
		return nil
	}
	nodes = append(nodes, k)
	if j := fused[k]; j > 0 {
		act2, _ = fusableAct(g.nodes[j].Layer)
		nodes = append(nodes, j)
	}
	y := pool.get(x.Dim(0), oh, ow, c2.Out)
	wt := c2.wt.get(c2.Weight.Value, c2.Out, c2.In)
	cpu.DepthwisePointwise(y, x, c1.Weight.Value, biasValue(c1.Bias), p1, act1, wt, biasValue(c2.Bias), act2)
	vals[g.nodeOut[nodes[len(nodes)-1]]] = y
	return nodes
}
