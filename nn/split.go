package nn

import (
	"slices"
	"sync"

	"github.com/graftml/graft/tensor"
)

// InferSplit turns the split inference of Graphs on and off (on by
// default). When a Graph's inference runs on one thread (tensor.Threads:
// GOMAXPROCS 1, or inside a chunk of InferChunk), its nodes of large
// feature maps run an example at a time and the rest on the whole batch.
// A CNN's first layers hold the largest activations: a whole batch of them
// goes through memory at every layer (a batch of 32 MobileNetV2 images
// holds 154 MB after its third convolution), while one example's stay in
// the caches and its convolutions still have thousands of pixels to tile.
// The later layers, of a few hundred pixels an example, need the batch to
// make their GEMMs long. On a 2-core AMD Zen 5 at batch 32 and 1 thread
// (BenchmarkONNXInfer), the split ran MobileNetV2 at 252–262 images/s
// against 216–223 whole, and ResNet-18 at 92–95 against 88–89.
//
// The split is at a value every later node reads alone from what came
// before (between MobileNetV2's blocks, after a ResNet's residual
// additions), the smallest such value (the latest of equals) before the
// first node whose output has fewer than splitMinPixels pixels an example
// or is not a feature map. Graphs with a layer that mixes the examples of
// a batch (see perExample) run whole. The results are the same, bit for
// bit, as the whole batch's. The split is planned by running one example
// through the Graph, once per input shape (for the last maxPlans shapes).
// Whether a call splits depends on tensor.Threads at the time, which is 1
// also while another goroutine is inside tensor.ForEach: a Graph may then
// keep the buffers of both ways.
var InferSplit = true

// splitMinPixels is the fewest pixels an example (H·W) a node's output
// may have to run in the split's first part: below it, an example's GEMMs
// get short. With 28·28, MobileNetV2 ran as fast and ResNet-18 5% slower
// (cut after its 28×28 stage instead of its 56×56 one).
const splitMinPixels = 56 * 56

// splitChunk is how many examples the split's first part runs at a time
// (2 and 4 were 5–10% slower for MobileNetV2, as fast for ResNet-18).
const splitChunk = 1

// inferSplit is a Graph's split inference for inputs of one shape (less
// the batch): the nodes before the split in prefix, those after it in
// suffix; both nil when the Graph does not split for that shape.
type inferSplit struct {
	shape          []int // the input's shape less its batch dimension
	prefix, suffix *Graph
	// late is the most floats an example holds in one value after the
	// split (in the whole Graph when it does not split), all in any value
	late, all int
	mu        sync.Mutex
	bufs      []*tensor.Tensor // batches of the split value, for reuse
}

// splitFor returns g's split for inputs shaped as x when inference runs
// on the calling thread (see InferSplit), or nil when x runs whole.
func (g *Graph) splitFor(x *tensor.Tensor) *inferSplit {
	if !InferSplit || tensor.Threads() != 1 || x.Dim(0) <= splitChunk {
		return nil
	}
	if sp := g.plan(x); sp != nil && sp.prefix != nil {
		return sp
	}
	return nil
}

// plan returns g's plan for inputs shaped as x, planning it (one example's
// inference) when the shape is new; nil for inputs that cannot be split
// (not on the CPU, not batched, or a Graph mixing the examples).
func (g *Graph) plan(x *tensor.Tensor) *inferSplit {
	if x.Rank() < 2 || x.Dim(0) < 1 {
		return nil
	}
	if _, ok := x.Backend().(tensor.CPU); !ok || !perExample(g) {
		return nil
	}
	shape := x.Shape()[1:]
	g.infer.mu.Lock()
	for _, sp := range g.infer.splits {
		if slices.Equal(sp.shape, shape) {
			g.infer.mu.Unlock()
			return sp
		}
	}
	g.infer.mu.Unlock()
	sp := g.planSplit(x)
	g.infer.mu.Lock()
	if len(g.infer.splits) == maxPlans {
		g.infer.splits = slices.Delete(g.infer.splits, 0, 1) // the oldest
	}
	g.infer.splits = append(g.infer.splits, sp)
	g.infer.mu.Unlock()
	return sp
}

// maxPlans is how many input shapes a Graph keeps split plans for.
const maxPlans = 4

// planSplit runs x's first example through the Graph to learn its values'
// shapes and returns the split for x's shape.
func (g *Graph) planSplit(x *tensor.Tensor) *inferSplit {
	sp := &inferSplit{shape: slices.Clone(x.Shape()[1:])}
	shapes := make([][]int, len(g.index))
	g.inferNodes(example(x, 0, 1), func(v int, t *tensor.Tensor) { shapes[v] = t.Shape() })
	cut := g.splitPoint(shapes)
	// the largest value an example holds after the split (anywhere
	// without one)
	for i, v := range g.nodeOut {
		if sh := shapes[v]; g.live[i] && sh != nil {
			sp.all = max(sp.all, elems(sh[1:]))
			if i > cut {
				sp.late = max(sp.late, elems(sh[1:]))
			}
		}
	}
	if cut < 0 {
		return sp
	}
	cutName := g.nodes[cut].Output
	sp.prefix, sp.suffix = NewGraph(g.input), NewGraph(cutName)
	for i, n := range g.nodes {
		if !g.live[i] {
			continue
		}
		part := sp.prefix
		if i > cut {
			part = sp.suffix
		}
		if err := part.Add(n.Name, n.Layer, n.Output, n.Inputs...); err != nil {
			panic("nn: splitting a Graph: " + err.Error()) // a bug: the nodes come from a valid Graph
		}
	}
	if err := sp.prefix.SetOutput(cutName); err != nil {
		panic("nn: splitting a Graph: " + err.Error())
	}
	if err := sp.suffix.SetOutput(g.output); err != nil {
		panic("nn: splitting a Graph: " + err.Error())
	}
	return sp
}

// splitPoint returns the node whose output the split is at (see
// InferSplit), given the values' shapes from one example (nil for values
// inference never writes: those a fold skips), or −1 for no split.
func (g *Graph) splitPoint(shapes [][]int) int {
	// lastRead[v]: the last live node reading value v
	lastRead := make([]int, len(g.index))
	for i := range lastRead {
		lastRead[i] = -1
	}
	for i, ins := range g.nodeIn {
		if g.live[i] {
			for _, v := range ins {
				lastRead[v] = i
			}
		}
	}
	cut, best, nodes := -1, 0, 0
	open := map[int]bool{g.in: true} // values written so far that a later node reads
	for i, n := range g.nodes {
		if !g.live[i] {
			continue
		}
		if !perExample(n.Layer) {
			break
		}
		for _, v := range g.nodeIn[i] {
			if lastRead[v] == i {
				delete(open, v)
			}
		}
		v := g.nodeOut[i]
		s := shapes[v]
		if s != nil && (len(s) != 4 || s[1]*s[2] < splitMinPixels) {
			break
		}
		if lastRead[v] > i {
			open[v] = true
		}
		nodes++
		if v == g.out {
			break
		}
		if s != nil && len(open) == 1 && open[v] && nodes >= 2 {
			if size := s[1] * s[2] * s[3]; cut < 0 || size <= best {
				cut, best = i, size
			}
		}
	}
	return cut
}

// example returns examples [lo, hi) of the CPU tensor x, sharing its
// storage and on its backend.
func example(x *tensor.Tensor, lo, hi int) *tensor.Tensor {
	per := x.Len() / x.Dim(0)
	s := slices.Clone(x.Shape())
	s[0] = hi - lo
	t := tensor.FromSlice(x.Data()[lo*per:hi*per], s...)
	if x.Placed() {
		t.MoveTo(x.Backend()) // host backends share memory: nothing is copied
	}
	return t
}

// inferSplit runs x through sp: the first part splitChunk examples at a
// time, the rest on the whole batch.
func (g *Graph) inferSplit(x *tensor.Tensor, sp *inferSplit) *tensor.Tensor {
	n := x.Dim(0)
	var mid *tensor.Tensor
	var md []float32
	for lo := 0; lo < n; lo += splitChunk {
		hi := min(n, lo+splitChunk)
		xc := example(x, lo, hi)
		yc := sp.prefix.inferWhole(xc)
		if mid == nil {
			s := slices.Clone(yc.Shape())
			s[0] = n
			mid = sp.take(x, s)
			md = mid.Data()
		}
		per := yc.Len() / (hi - lo)
		copy(md[lo*per:hi*per], yc.Data())
		if !yc.Shares(xc) {
			sp.prefix.recycle(yc)
		}
	}
	y := sp.suffix.inferWhole(mid)
	if !y.Shares(mid) {
		sp.put(mid)
	}
	return y
}

// take returns a tensor of the shape on x's backend for the split value
// of a batch: one an earlier call left, or a new one.
func (sp *inferSplit) take(x *tensor.Tensor, shape []int) *tensor.Tensor {
	n := elems(shape)
	sp.mu.Lock()
	defer sp.mu.Unlock()
	for i, t := range sp.bufs {
		if t.Len() == n && t.Backend() == x.Backend() {
			sp.bufs = slices.Delete(sp.bufs, i, i+1)
			return t.Reshape(shape...)
		}
	}
	return tensor.ZerosLike(x, shape...)
}

// put keeps t for a later take: two at most (a call in flight each),
// the oldest dropped.
func (sp *inferSplit) put(t *tensor.Tensor) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if len(sp.bufs) == 2 {
		sp.bufs = slices.Delete(sp.bufs, 0, 1)
	}
	sp.bufs = append(sp.bufs, t)
}

// recycle gives an output of g's inference, which the caller no longer
// needs, to g's next Infer call.
func (g *Graph) recycle(t *tensor.Tensor) {
	g.infer.mu.Lock()
	defer g.infer.mu.Unlock()
	if n := len(g.infer.free); n > 0 {
		g.infer.free[n-1].put(t)
	}
}

// elems returns the number of elements of a tensor of the shape.
func elems(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
