package nn

import (
	"fmt"
	"slices"

	"github.com/graftml/graft/kernels"
	"github.com/graftml/graft/tensor"
)

// InferChunk is how many examples of a batch a Graph's or a Sequential's
// Infer runs through the whole network at a time on the CPU backend. The
// chunks run side by side on the worker threads (tensor.ForEach), each
// operation of a chunk on one thread: the threads meet once per batch
// instead of once per operation, and each keeps its chunk's activations
// in its own caches. A network with a layer that mixes the examples of a
// batch (see perExample) and other backends run the batch whole.
//
// Zero, the default, chooses: with T threads (tensor.Threads) and a batch
// of N, one chunk of ⌈N/T⌉ examples per thread, when T ≥ 2 and each
// chunk holds at least inferChunkMin examples; else the batch runs whole,
// each operation cut across the threads. On a 2-core AMD Zen 5 at batch
// 32 (BenchmarkONNXInfer, GRAFT_BENCH_CHUNK), two chunks of 16 ran
// MobileNetV2 at 2 threads 25% faster than the whole batch (364 against
// 291 images/s, medians of 3) and ResNet-18 as fast (148 against 151);
// at 1 thread no chunk size gained (small chunks lose: their GEMMs are
// short; InferSplit runs only the first layers an example at a time). A
// Graph's chunks shrink when their values would crowd the L3 cache (see
// Graph.threadChunk), and each chunk runs split when its Graph splits.
// Chunks stay on the input's backend. A positive value fixes the chunk
// size; a negative one turns chunking off.
var InferChunk = 0

// inferChunkMin is the fewest examples per chunk the default chooses.
const inferChunkMin = 8

// chunkFor returns the chunk size Infer of l should use for x, or 0 to run
// the batch whole.
func chunkFor(l Layer, x *tensor.Tensor) int {
	if InferChunk < 0 || x.Rank() < 2 {
		return 0
	}
	c := InferChunk
	if c == 0 {
		t := tensor.Threads()
		if t < 2 {
			return 0
		}
		if c = (x.Dim(0) + t - 1) / t; c < inferChunkMin {
			return 0
		}
	}
	if x.Dim(0) <= c {
		return 0
	}
	if _, ok := x.Backend().(tensor.CPU); !ok {
		return 0
	}
	if !perExample(l) {
		return 0
	}
	if g, ok := l.(*Graph); ok && InferChunk == 0 {
		c = g.threadChunk(x, c)
	}
	return c
}

// threadChunk returns the size of the chunks the default gives a Graph's
// batch x on the threads, c (one a thread) or smaller: ⌈N/(k·T)⌉ for the
// least k for which a chunk's largest value after the split (see
// InferSplit) fits a share of the L3 cache (L3/(2T)), but no fewer than
// inferChunkMin examples. On a 2-core Zen 5 (32 MiB L3) at batch 32 and 2
// threads, MobileNetV2 (602 KB an example in its largest late value) ran
// 431–462 images/s in chunks of 8 against 338–348 in chunks of 16;
// ResNet-18 (401 KB) ran 15% slower in chunks of 8 (each chunk reads all
// of its 45 MB of weights).
func (g *Graph) threadChunk(x *tensor.Tensor, c int) int {
	sp := g.plan(x)
	if sp == nil {
		return c
	}
	late := sp.late
	if !InferSplit {
		late = sp.all
	}
	if late == 0 {
		return c
	}
	t, n := tensor.Threads(), x.Dim(0)
	budget := kernels.CacheSizes().L3 / (2 * t)
	for k := 2; c*late*4 > budget; k++ {
		next := (n + k*t - 1) / (k * t)
		if next < inferChunkMin {
			break
		}
		c = next
	}
	return c
}

// inferChunked runs infer on chunks of chunk examples of x side by side
// and joins their results along the batch axis.
func inferChunked(x *tensor.Tensor, chunk int, infer func(*tensor.Tensor) *tensor.Tensor) *tensor.Tensor {
	n := x.Dim(0)
	k := (n + chunk - 1) / chunk
	ys := make([]*tensor.Tensor, k)
	tensor.ForEach(k, func(i int) {
		ys[i] = infer(example(x, i*chunk, min(n, (i+1)*chunk)))
	})
	shape := slices.Clone(ys[0].Shape())
	if len(shape) == 0 {
		panic("nn: chunked inference: a scalar result")
	}
	shape[0] = n
	y := tensor.ZerosLike(x, shape...)
	yd := y.Data()
	off := 0
	for i, c := range ys {
		lo, hi := i*chunk, min(n, (i+1)*chunk)
		if c.Rank() != len(shape) || c.Dim(0) != hi-lo || !slices.Equal(c.Shape()[1:], shape[1:]) {
			panic(fmt.Sprintf("nn: chunked inference: examples %d..%d give shape %v, the first chunk %v", lo, hi, c.Shape(), ys[0].Shape()))
		}
		off += copy(yd[off:], c.Data())
	}
	return y
}

// perExample reports whether l's inference computes each example of a
// batch from that example alone, so that running a batch in chunks gives
// the same result. Layers it does not know are taken to mix examples.
func perExample(l Layer) bool {
	switch m := l.(type) {
	case *Sequential:
		return all(m.layers, perExample)
	case *Residual:
		return all(m.Children(), perExample) && (m.Post == nil || perExample(m.Post))
	case *Concat:
		return all(m.branches, perExample)
	case *Graph:
		for _, n := range m.nodes {
			if !perExample(n.Layer) {
				return false
			}
		}
		return true
	case *Reshape:
		// the batch dimension copied (0) or taken from what is left (−1)
		return len(m.Shape) > 0 && (m.Shape[0] == 0 || m.Shape[0] == -1)
	case *ConcatN:
		return m.Axis > 0 || m.Axis == -1
	case *Binary:
		if m.Const == nil {
			return true
		}
		c := m.Const.Value
		return c.Rank() < 2 || c.Dim(0) == 1
	case *Act, *BatchNorm, *Conv2D, *Dense, *HardSigmoid, *HardSwish, *Clip,
		*Softmax, *Pad2D, *MaxPool2D, *AvgPool2D, *GlobalAvgPool, *Flatten, *Dropout:
		return true
	}
	return false
}

// all reports whether every named layer is perExample.
func all(ls []Named[Layer], f func(Layer) bool) bool {
	for _, l := range ls {
		if !f(l.Value) {
			return false
		}
	}
	return true
}
