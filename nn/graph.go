package nn

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/graftml/graft/tensor"
)

// MultiInput is a layer that takes several inputs in a Graph (Add, Mul,
// Concat). Its Forward, Backward and Infer take the first input alone;
// a Graph calls the N forms.
type MultiInput interface {
	Layer
	// ForwardN computes the output from the inputs, keeping what
	// BackwardN needs in training mode.
	ForwardN(xs []*tensor.Tensor) *tensor.Tensor
	// InferN is ForwardN in inference mode into fresh tensors, keeping
	// nothing (goroutine-safe).
	InferN(xs []*tensor.Tensor) *tensor.Tensor
	// BackwardN returns the gradient of each input whose need flag is set
	// (nil for the others) and writes the trainable parameters' gradients.
	BackwardN(dy *tensor.Tensor, need []bool) []*tensor.Tensor
}

// GraphNode is one step of a Graph: a layer, the values it reads and the
// value it writes.
type GraphNode struct {
	// Name is the layer's dotted path in the Graph's layer tree, the
	// prefix of its parameter names ("layer1.0.conv1").
	Name  string
	Layer Layer
	// Inputs name the values the layer reads: the Graph's input or other
	// nodes' outputs. Only a MultiInput layer takes more than one.
	Inputs []string
	// Output names the value the layer writes.
	Output string
}

// Graph is a directed acyclic graph of layers over named values: skip
// connections, concatenations and layers of several inputs (MultiInput),
// as imported models have. It has one input value and one output value.
//
// Its layers form a tree by their dotted names, so parameters keep their
// source's names: a node named "layer1.0.conv1" is the child "conv1" of
// the Module "0" of the Module "layer1", and its weight is
// layer1.0.conv1.weight. Modules are namespaces only: the Graph runs the
// layers, in the order they were added (a topological order).
//
// Backward accumulates the gradients of a value read by several nodes and,
// like Sequential, skips every node whose inputs need no gradient and that
// has no trainable parameter: a frozen trunk costs no backward work when
// the input gradient is not needed.
type Graph struct {
	Leaf
	input, output string
	nodes         []GraphNode
	root          *Module

	// compiled: value indices
	index   map[string]int
	in, out int
	nodeIn  [][]int
	nodeOut []int
	// live[i] says the output depends on node i: only those run
	live []bool
	// run state, reused across calls
	vals, grads, acc []*tensor.Tensor
	owned            []bool
	xshape           []int
	need             []bool
	xs               [][]*tensor.Tensor
	needs            [][]bool
	// infer holds tensors Infer calls wrote and no longer need, one set
	// a call in flight, reused by the next calls (no allocation, no
	// clearing of fresh memory).
	infer struct {
		mu   sync.Mutex
		free []*recycler
		// splits are the split inference plans for the last input
		// shapes (see InferSplit); Add and SetOutput drop them
		splits []*inferSplit
	}
}

// NewGraph returns an empty Graph reading the value named input.
func NewGraph(input string) *Graph {
	g := &Graph{input: input, root: &Module{}, index: map[string]int{input: 0}}
	return g
}

// Input returns the name of the Graph's input value.
func (g *Graph) Input() string { return g.input }

// Output returns the name of the Graph's output value ("" until set).
func (g *Graph) Output() string { return g.output }

// Nodes returns the nodes in the order they run. The slice is the Graph's
// own: do not modify it.
func (g *Graph) Nodes() []GraphNode { return g.nodes }

// Runs reports whether Nodes()[i] runs: whether the output depends on
// it (see SetOutput).
func (g *Graph) Runs(i int) bool { return i >= 0 && i < len(g.live) && g.live[i] }

// Children returns the top level of the layer tree.
func (g *Graph) Children() []Named[Layer] { return g.root.children }

// Add appends a node: the layer at the dotted path name reads the values
// inputs and writes the value output. Inputs must be the Graph's input or
// earlier nodes' outputs; an output is written once. It is an error to use
// a name twice, or to give several inputs to a layer that is not a
// MultiInput.
func (g *Graph) Add(name string, l Layer, output string, inputs ...string) error {
	if l == nil {
		return fmt.Errorf("nn.Graph: node %q has no layer", name)
	}
	if len(inputs) == 0 {
		return fmt.Errorf("nn.Graph: node %q has no input", name)
	}
	if _, ok := l.(MultiInput); !ok && len(inputs) > 1 {
		return fmt.Errorf("nn.Graph: node %q: %T takes one input, not %d", name, l, len(inputs))
	}
	for _, in := range inputs {
		if _, ok := g.index[in]; !ok {
			return fmt.Errorf("nn.Graph: node %q reads %q, which no earlier node writes", name, in)
		}
	}
	if _, ok := g.index[output]; ok {
		return fmt.Errorf("nn.Graph: node %q writes %q, which is already written", name, output)
	}
	if err := g.root.place(name, l); err != nil {
		return fmt.Errorf("nn.Graph: %w", err)
	}
	g.index[output] = len(g.index)
	g.nodes = append(g.nodes, GraphNode{Name: name, Layer: l, Inputs: slices.Clone(inputs), Output: output})
	g.nodeIn = append(g.nodeIn, nil)
	for _, in := range inputs {
		g.nodeIn[len(g.nodeIn)-1] = append(g.nodeIn[len(g.nodeIn)-1], g.index[in])
	}
	g.nodeOut = append(g.nodeOut, g.index[output])
	g.dropSplit()
	g.live = append(g.live, false) // written after the output: not read by it
	g.xs = append(g.xs, make([]*tensor.Tensor, len(inputs)))
	g.needs = append(g.needs, make([]bool, len(inputs)))
	n := len(g.index)
	g.vals, g.grads, g.acc = make([]*tensor.Tensor, n), make([]*tensor.Tensor, n), slices.Grow(g.acc, n-len(g.acc))[:n]
	g.owned, g.need = make([]bool, n), make([]bool, n)
	return nil
}

// SetOutput names the value the Graph returns. Forward, Backward and
// Infer then run only the nodes the output depends on: the others (a
// classifier above a cut, say) stay in the graph, parameters included,
// but do not run.
func (g *Graph) SetOutput(name string) error {
	i, ok := g.index[name]
	if !ok {
		return fmt.Errorf("nn.Graph: output %q is written by no node", name)
	}
	g.output, g.out = name, i
	g.markLive()
	g.dropSplit()
	return nil
}

// markLive marks the nodes the output depends on, walking back from it.
func (g *Graph) markLive() {
	want := make([]bool, len(g.index))
	want[g.out] = true
	for i := len(g.nodes) - 1; i >= 0; i-- {
		g.live[i] = want[g.nodeOut[i]]
		if g.live[i] {
			for _, v := range g.nodeIn[i] {
				want[v] = true
			}
		}
	}
}

func (g *Graph) mustReady() {
	if g.output == "" {
		panic("nn.Graph: no output set (SetOutput)")
	}
}

// Forward runs the nodes in order and returns the output value.
func (g *Graph) Forward(x *tensor.Tensor) *tensor.Tensor {
	g.mustReady()
	g.vals[g.in], g.xshape = x, x.Shape()
	for i, n := range g.nodes {
		if g.live[i] {
			g.vals[g.nodeOut[i]] = g.run(i, n, g.vals, false)
		}
	}
	y := g.vals[g.out]
	clear(g.vals) // keep no references beyond the layers' own
	return y
}

func (g *Graph) run(i int, n GraphNode, vals []*tensor.Tensor, infer bool) *tensor.Tensor {
	if m, ok := n.Layer.(MultiInput); ok && len(n.Inputs) > 1 {
		xs := g.xs[i]
		if infer {
			xs = make([]*tensor.Tensor, len(n.Inputs))
		}
		for j, v := range g.nodeIn[i] {
			xs[j] = vals[v]
		}
		if infer {
			return m.InferN(xs)
		}
		y := m.ForwardN(xs)
		clear(xs)
		return y
	}
	x := vals[g.nodeIn[i][0]]
	if infer {
		return n.Layer.Infer(x)
	}
	return n.Layer.Forward(x)
}

// inPlacer is an elementwise layer whose inference can overwrite its
// input, when nothing else reads it: Graph and Sequential inference then
// allocate no new tensor for it.
type inPlacer interface {
	inferInPlace(x *tensor.Tensor) *tensor.Tensor
}

// Infer runs the nodes' inference paths; it keeps no reference to x or
// to the result. An elementwise node whose input only it reads, computed
// inside this call, overwrites that input. A convolution whose output only
// a BatchNorm reads runs with the BatchNorm folded into its weights, and
// with the activation that alone reads the BatchNorm's output (see
// fold.go). The Graph keeps the intermediate tensors of a call for the
// next ones (ReleaseInferBuffers frees them); calls from several
// goroutines at once each get their own.
func (g *Graph) Infer(x *tensor.Tensor) *tensor.Tensor {
	g.mustReady()
	if c := chunkFor(g, x); c > 0 {
		return inferChunked(x, c, g.inferBatch)
	}
	return g.inferBatch(x)
}

// inferBatch is Infer of a batch (or of a chunk of one) on the calling
// threads: split (see InferSplit) or whole.
func (g *Graph) inferBatch(x *tensor.Tensor) *tensor.Tensor {
	if sp := g.splitFor(x); sp != nil {
		return g.inferSplit(x, sp)
	}
	return g.inferWhole(x)
}

// inferWhole is Infer of the whole batch at once.
func (g *Graph) inferWhole(x *tensor.Tensor) *tensor.Tensor { return g.inferNodes(x, nil) }

// inferNodes is inferWhole, calling rec (when not nil) with each value
// inference writes (not those a fold skips) once its node has run.
func (g *Graph) inferNodes(x *tensor.Tensor, rec func(v int, t *tensor.Tensor)) *tensor.Tensor {
	vals := make([]*tensor.Tensor, len(g.index))
	vals[g.in] = x
	readers := g.readers()
	left := slices.Clone(readers)
	fused := g.fusions(readers)
	pool := g.takeRecycler()
	pool.like = x
	defer g.keepRecycler(pool, vals)
	sole := g.soleReaders(readers)
	var folded []bool // nodes already run inside a fold
	prev := -1        // the last node run
	for i, n := range g.nodes {
		if !g.live[i] {
			continue
		}
		if prev >= 0 {
			if rec != nil && vals[g.nodeOut[prev]] != nil {
				rec(g.nodeOut[prev], vals[g.nodeOut[prev]])
			}
			g.release(pool, vals, left, prev)
		}
		prev = i
		if folded != nil && folded[i] {
			continue
		}
		// a run of nodes as one call: a MobileNet block, or a convolution
		// with the BatchNorm folded into it
		nodes := g.inferDWPW(i, vals, fused, sole, pool)
		if nodes == nil {
			if r, run, ok := g.runAt(i, sole); ok {
				vals[g.nodeOut[run[len(run)-1]]] = r.infer(vals[g.nodeIn[i][0]], pool.get)
				nodes = run
			}
		}
		if nodes != nil {
			if folded == nil {
				folded = make([]bool, len(g.nodes))
			}
			for _, j := range nodes[1:] {
				folded[j] = true
			}
			continue
		}
		if fused[i] == fusedIn {
			continue // its value was written with its input's
		}
		if j := fused[i]; j > 0 {
			act, _ := fusableAct(g.nodes[j].Layer)
			y := g.inferFused(i, n, vals, readers, pool, act)
			vals[g.nodeOut[i]], vals[g.nodeOut[j]] = y, y
			continue
		}
		if y := g.inferAdd(i, n, vals, readers, pool, tensor.FusedAct{}); y != nil {
			vals[g.nodeOut[i]] = y
			continue
		}
		if ia, ok := n.Layer.(allocInferer); ok && len(n.Inputs) == 1 {
			vals[g.nodeOut[i]] = ia.inferAlloc(vals[g.nodeIn[i][0]], pool.get)
			continue
		}
		if ip, ok := n.Layer.(inPlacer); ok && len(n.Inputs) == 1 {
			v := g.nodeIn[i][0]
			if in := vals[v]; v != g.in && readers[v] == 1 && v != g.out && !sharedElsewhere(vals, v) {
				vals[g.nodeOut[i]] = ip.inferInPlace(in)
				continue
			}
		}
		vals[g.nodeOut[i]] = g.run(i, n, vals, true)
	}
	if rec != nil && prev >= 0 && vals[g.nodeOut[prev]] != nil {
		rec(g.nodeOut[prev], vals[g.nodeOut[prev]])
	}
	return vals[g.out]
}

// dropSplit forgets the split inference planned for the Graph as it was.
func (g *Graph) dropSplit() {
	g.infer.mu.Lock()
	g.infer.splits = nil
	g.infer.mu.Unlock()
}

// soleReaders returns, for each value that exactly one running node
// reads, that node (−1 for the others).
func (g *Graph) soleReaders(readers []int) []int {
	sole := make([]int, len(readers))
	for v := range sole {
		sole[v] = -1
	}
	for i, ins := range g.nodeIn {
		if !g.live[i] {
			continue
		}
		for _, v := range ins {
			if readers[v] == 1 {
				sole[v] = i
			}
		}
	}
	return sole
}

// runAt returns the run of nodes from node i that inference runs as one
// convolution (see fold.go) and their indices: each node of the run
// after the first is the only reader of the value before it, and no
// value the Graph returns is folded away.
func (g *Graph) runAt(i int, sole []int) (convRun, []int, bool) {
	switch g.nodes[i].Layer.(type) {
	case *Pad2D, *Conv2D:
	default:
		return convRun{}, nil, false
	}
	chain := []int{i}
	r, ok := matchRun(func(k int) Layer {
		for len(chain) <= k {
			v := g.nodeOut[chain[len(chain)-1]]
			if v == g.out || sole[v] < 0 {
				return nil
			}
			chain = append(chain, sole[v])
		}
		return g.nodes[chain[k]].Layer
	})
	if !ok {
		return convRun{}, nil, false
	}
	return r, chain[:r.n], true
}

// fusedIn marks, in Graph.fusions, an activation node computed by the
// convolution it reads.
const fusedIn = -1

// inferFused runs node i (a convolution or an Add, fusions says) with the
// activation act of the node reading its output fused in.
func (g *Graph) inferFused(i int, n GraphNode, vals []*tensor.Tensor, readers []int, pool *recycler, act tensor.FusedAct) *tensor.Tensor {
	if c, ok := n.Layer.(*Conv2D); ok {
		return c.inferAllocAct(vals[g.nodeIn[i][0]], pool.get, act)
	}
	if y := g.inferAdd(i, n, vals, readers, pool, act); y != nil {
		return y
	}
	// An Add that broadcasts: the activation in place after it (the
	// value is the node's own, only the activation reads it).
	y := g.run(i, n, vals, true)
	switch act.Kind {
	case tensor.FuseReLU:
		tensor.ReLU(y, y)
	case tensor.FuseClamp:
		tensor.Clamp(y, y, act.Lo, act.Hi)
	}
	return y
}

// inferAdd runs node i when it adds two values of one shape (a residual
// connection), with act fused in (tensor.AddAct), into one of the inputs
// when only this node reads it and nothing else shares it, else into a
// recycled tensor; it returns nil for other nodes.
func (g *Graph) inferAdd(i int, n GraphNode, vals []*tensor.Tensor, readers []int, pool *recycler, act tensor.FusedAct) *tensor.Tensor {
	b, ok := n.Layer.(*Binary)
	if !ok || !plainAdd(b) || len(g.nodeIn[i]) != 2 {
		return nil
	}
	v0, v1 := g.nodeIn[i][0], g.nodeIn[i][1]
	x0, x1 := vals[v0], vals[v1]
	if !x0.SameShape(x1) {
		return nil
	}
	var y *tensor.Tensor
	for _, v := range []int{v0, v1} {
		if v != g.in && v != g.out && v0 != v1 && readers[v] == 1 && !sharedElsewhere(vals, v) {
			y = vals[v]
			break
		}
	}
	if y == nil {
		y = pool.get(x0.Shape()...)
	}
	tensor.AddAct(y, x0, x1, act)
	return y
}

// plainAdd reports whether b adds its two inputs (no constant).
func plainAdd(b *Binary) bool { return b.Op == OpAdd && b.Const == nil }

// fusions finds the convolutions and Adds of two inputs whose output only
// a ReLU or a Clip reads, and that is not the Graph's output: f[i] = j
// for the convolution or Add i and f[j] = fusedIn for the activation j,
// which inference then computes in i's store (bit for bit the same
// values; i's own value, read by nobody else, is never written).
func (g *Graph) fusions(readers []int) []int {
	f := make([]int, len(g.nodes))
	reader := make([]int, len(g.index)) // the last live node reading each value
	for i, ins := range g.nodeIn {
		if g.live[i] {
			for _, v := range ins {
				reader[v] = i
			}
		}
	}
	for i, n := range g.nodes {
		v := g.nodeOut[i]
		conv, _ := n.Layer.(*Conv2D)
		add, _ := n.Layer.(*Binary)
		ok := (conv != nil && len(n.Inputs) == 1) || (add != nil && plainAdd(add) && len(n.Inputs) == 2)
		if !ok || !g.live[i] || readers[v] != 1 || v == g.out {
			continue
		}
		j := reader[v]
		if _, ok := fusableAct(g.nodes[j].Layer); ok && len(g.nodeIn[j]) == 1 {
			f[i], f[j] = j, fusedIn
		}
	}
	return f
}

// fusableAct returns the activation of a layer a convolution can apply
// in its store (tensor.FusedAct): ReLU, and Clip with bounds not NaN.
func fusableAct(l Layer) (tensor.FusedAct, bool) {
	switch a := l.(type) {
	case *Act:
		if a.Kind == tensor.ActReLU {
			return tensor.ReLUAct(), true
		}
	case *Clip:
		if lo, hi := a.pointwise.a, a.pointwise.b; lo == lo && hi == hi { // the bounds apply uses
			return tensor.ClampAct(lo, hi), true
		}
	}
	return tensor.FusedAct{}, false
}

// sharedElsewhere reports whether another value (the input included)
// shares vals[v]'s storage: a pass-through layer (Dropout) made it.
func sharedElsewhere(vals []*tensor.Tensor, v int) bool {
	for i, o := range vals {
		if i != v && o != nil && o.Shares(vals[v]) {
			return true
		}
	}
	return false
}

// allocInferer is a layer whose inference writes every value of an
// output it takes from alloc: Graph inference hands it tensors of values
// nobody reads any more.
type allocInferer interface {
	inferAlloc(x *tensor.Tensor, alloc func(...int) *tensor.Tensor) *tensor.Tensor
}

// recycler holds tensors of dead values by length.
type recycler struct {
	// like is the call's input: new tensors go on its backend
	like *tensor.Tensor
	free map[int][]*tensor.Tensor
	// max, when positive, bounds the tensors put holds (the oldest go to
	// the garbage collector), in put order
	max   int
	order []*tensor.Tensor
	// asked counts the tensors of each length get handed out in this
	// call: what the next call keeps.
	asked map[int]int
}

// takeRecycler returns the tensors an earlier Infer call left, or an
// empty recycler.
func (g *Graph) takeRecycler() *recycler {
	g.infer.mu.Lock()
	defer g.infer.mu.Unlock()
	if n := len(g.infer.free); n > 0 {
		r := g.infer.free[n-1]
		g.infer.free = g.infer.free[:n-1]
		return r
	}
	return &recycler{free: map[int][]*tensor.Tensor{}, asked: map[int]int{}}
}

// keepRecycler puts r back for the next call, with the values of vals
// this call wrote (neither the input nor the output, nor a tensor either
// shares), and only as many tensors of each length as the call asked for
// (so that inputs of changing shapes do not pile tensors up).
func (g *Graph) keepRecycler(r *recycler, vals []*tensor.Tensor) {
	r.like = nil
	in, out := vals[g.in], vals[g.out]
	for v, t := range vals {
		if t == nil || v == g.in || v == g.out || t.Shares(in) || (out != nil && t.Shares(out)) {
			continue
		}
		dup := false
		for _, o := range vals[:v] {
			dup = dup || (o != nil && o.Shares(t))
		}
		if !dup {
			r.free[t.Len()] = append(r.free[t.Len()], t)
		}
	}
	for n, l := range r.free {
		kept := l[:0]
		for _, t := range l {
			if len(kept) < r.asked[n] && (out == nil || !t.Shares(out)) {
				kept = append(kept, t)
			}
		}
		clear(l[len(kept):])
		if len(kept) == 0 {
			delete(r.free, n)
			continue
		}
		r.free[n] = kept
	}
	clear(r.asked)
	g.infer.mu.Lock()
	g.infer.free = append(g.infer.free, r)
	g.infer.mu.Unlock()
}

// ReleaseInferBuffers drops the tensors Infer keeps between calls.
func (g *Graph) ReleaseInferBuffers() {
	g.infer.mu.Lock()
	g.infer.free = nil
	g.infer.splits = nil // their parts' buffers with them
	g.infer.mu.Unlock()
}

// get returns a tensor of the shape: a recycled one (its values stale)
// or a new one.
func (r *recycler) get(shape ...int) *tensor.Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if r.asked != nil {
		r.asked[n]++
	}
	if l := r.free[n]; len(l) > 0 && (r.like == nil || l[len(l)-1].Backend() == r.like.Backend()) {
		t := l[len(l)-1]
		r.free[n] = l[:len(l)-1]
		if r.max > 0 {
			r.order = slices.DeleteFunc(r.order, func(u *tensor.Tensor) bool { return u == t })
		}
		return t.Reshape(shape...)
	}
	if r.like != nil {
		return tensor.ZerosLike(r.like, shape...)
	}
	return tensor.Zeros(shape...)
}

// put gives t's storage, which nothing reads any more, to later gets.
func (r *recycler) put(t *tensor.Tensor) {
	if r.free == nil {
		r.free = map[int][]*tensor.Tensor{}
	}
	r.free[t.Len()] = append(r.free[t.Len()], t)
	if r.max <= 0 {
		return
	}
	r.order = append(r.order, t)
	if len(r.order) > r.max {
		old := r.order[0]
		r.order = slices.Delete(r.order, 0, 1)
		l := r.free[old.Len()]
		r.free[old.Len()] = slices.DeleteFunc(l, func(u *tensor.Tensor) bool { return u == old })
	}
}

// release recycles the tensors of node i's inputs that no node reads any
// more, unless the input, the output or a live value shares them.
func (g *Graph) release(r *recycler, vals []*tensor.Tensor, left []int, i int) {
	for _, v := range g.nodeIn[i] {
		left[v]--
		if left[v] != 0 || v == g.in || v == g.out || vals[v] == nil {
			continue
		}
		t := vals[v]
		shared := false
		for u, o := range vals {
			if u != v && o != nil && (left[u] > 0 || u == g.out || u == g.in || u == g.nodeOut[i]) && o.Shares(t) {
				shared = true
				break
			}
		}
		vals[v] = nil
		if !shared {
			r.put(t)
		}
	}
}

// readers counts the nodes that run reading each value.
func (g *Graph) readers() []int {
	r := make([]int, len(g.index))
	for i, ins := range g.nodeIn {
		if !g.live[i] {
			continue
		}
		for _, v := range ins {
			r[v]++
		}
	}
	return r
}

// Backward sends dy back through the nodes in reverse order, summing the
// gradients of values read by several nodes. A node runs only when one of
// its inputs needs a gradient or it has a trainable parameter.
func (g *Graph) Backward(dy *tensor.Tensor, needInputGrad bool) *tensor.Tensor {
	g.mustReady()
	clear(g.need)
	g.need[g.in] = needInputGrad
	for i, n := range g.nodes {
		if !g.live[i] {
			g.need[g.nodeOut[i]] = false
			continue
		}
		run := HasTrainable(n.Layer)
		for _, v := range g.nodeIn[i] {
			run = run || g.need[v]
		}
		g.need[g.nodeOut[i]] = run
	}
	clear(g.grads)
	clear(g.owned)
	if !g.need[g.out] {
		return nil
	}
	g.grads[g.out] = dy
	for i := len(g.nodes) - 1; i >= 0; i-- {
		n := g.nodes[i]
		d := g.grads[g.nodeOut[i]]
		if !g.need[g.nodeOut[i]] || d == nil {
			continue
		}
		ins := g.nodeIn[i]
		if m, ok := n.Layer.(MultiInput); ok && len(ins) > 1 {
			need := g.needs[i]
			for j, v := range ins {
				need[j] = g.need[v]
			}
			dxs := m.BackwardN(d, need)
			for j, v := range ins {
				if need[j] {
					g.accumulate(n.Name, v, dxs[j])
				}
			}
			continue
		}
		need := g.need[ins[0]]
		dx := n.Layer.Backward(d, need)
		if need {
			g.accumulate(n.Name, ins[0], dx)
		}
	}
	dx := g.grads[g.in]
	clear(g.grads)
	if !needInputGrad {
		return nil
	}
	if dx == nil { // the output does not depend on the input
		dx = ensure(dy, &g.acc[g.in], g.xshape...)
		clear(dx.Data())
	}
	return dx
}

// accumulate adds d to the gradient of value v: the first gradient is
// kept as it is, a second one is summed into the Graph's own buffer.
func (g *Graph) accumulate(node string, v int, d *tensor.Tensor) {
	if d == nil {
		panic(fmt.Sprintf("nn.Graph: node %q returned no input gradient", node))
	}
	cur := g.grads[v]
	if cur == nil {
		g.grads[v] = d
		return
	}
	if !cur.SameShape(d) {
		panic(fmt.Sprintf("nn.Graph: gradients %v and %v for one value (node %q)", cur.Shape(), d.Shape(), node))
	}
	be := d.Backend()
	if !g.owned[v] {
		buf := ensure(d, &g.acc[v], cur.Shape()...)
		be.Add(buf, cur, d)
		g.grads[v], g.owned[v] = buf, true
		return
	}
	be.Add(cur, cur, d)
}

// Module is a namespace in a Graph's layer tree: it holds named children
// so that parameter names keep the source's dotted paths. It does not run
// by itself (its Graph runs the layers): Forward, Backward and Infer
// panic.
type Module struct {
	Leaf
	children []Named[Layer]
}

// Children returns the namespace's entries.
func (m *Module) Children() []Named[Layer] { return m.children }

func (m *Module) child(name string) Layer {
	for _, c := range m.children {
		if c.Name == name {
			return c.Value
		}
	}
	return nil
}

// place puts l at the dotted path under m, making namespaces on the way.
func (m *Module) place(path string, l Layer) error {
	parts := strings.Split(path, ".")
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("layer name %q has an empty part", path)
		}
	}
	cur := m
	for i, p := range parts[:len(parts)-1] {
		switch c := cur.child(p).(type) {
		case nil:
			next := &Module{}
			cur.children = append(cur.children, Named[Layer]{p, next})
			cur = next
		case *Module:
			cur = c
		default:
			return fmt.Errorf("layer name %q: %q is a %T, not a namespace", path, strings.Join(parts[:i+1], "."), c)
		}
	}
	last := parts[len(parts)-1]
	if cur.child(last) != nil {
		return fmt.Errorf("two layers named %q", path)
	}
	cur.children = append(cur.children, Named[Layer]{last, l})
	return nil
}

// Forward panics: a Module is run by its Graph.
func (m *Module) Forward(*tensor.Tensor) *tensor.Tensor {
	panic("nn.Module: a namespace of a Graph does not run by itself")
}

// Backward panics: a Module is run by its Graph.
func (m *Module) Backward(*tensor.Tensor, bool) *tensor.Tensor {
	panic("nn.Module: a namespace of a Graph does not run by itself")
}

// Infer panics: a Module is run by its Graph.
func (m *Module) Infer(*tensor.Tensor) *tensor.Tensor {
	panic("nn.Module: a namespace of a Graph does not run by itself")
}
