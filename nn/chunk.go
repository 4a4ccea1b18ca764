package nn

import (
	"fmt"
	"slices"

	"github.com/graftml/graft/tensor"
)

// InferChunk is how many examples of a batch a Graph's or a Sequential's
// Infer runs through the whole network at a time on the CPU backend. The
// chunks run side by side on the worker threads (tensor.ForEach), each
// operation of a chunk on one thread: the activations of a few images
// stay in that thread's caches from one layer to the next, and the
// threads meet once per batch instead of once per operation. A batch of
// at most InferChunk examples, a network with a layer that mixes the
// examples of a batch (see perExample), and other backends run whole.
// Zero, the default, turns chunking off: on a 2-core AMD Zen 5, chunks of
// 2 to 16 images changed MobileNetV2's and ResNet-18's batch-32
// throughput by less than the machine's noise at 1 and 2 threads
// (BenchmarkONNXInfer with GRAFT_BENCH_CHUNK); machines with more cores,
// whose per-operation synchronisation costs more, may gain.
var InferChunk = 0

// chunkFor returns the chunk size Infer of l should use for x, or 0 to run
// the batch whole.
func chunkFor(l Layer, x *tensor.Tensor) int {
	c := InferChunk
	if c <= 0 || x.Rank() < 2 || x.Dim(0) <= c {
		return 0
	}
	if _, ok := x.Backend().(tensor.CPU); !ok {
		return 0
	}
	if !perExample(l) {
		return 0
	}
	return c
}

// inferChunked runs infer on chunks of chunk examples of x side by side
// and joins their results along the batch axis.
func inferChunked(x *tensor.Tensor, chunk int, infer func(*tensor.Tensor) *tensor.Tensor) *tensor.Tensor {
	n := x.Dim(0)
	per := x.Len() / n
	xd := x.Data()
	k := (n + chunk - 1) / chunk
	ys := make([]*tensor.Tensor, k)
	tensor.ForEach(k, func(i int) {
		lo, hi := i*chunk, min(n, (i+1)*chunk)
		s := slices.Clone(x.Shape())
		s[0] = hi - lo
		ys[i] = infer(tensor.FromSlice(xd[lo*per:hi*per], s...))
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
