package nn

import (
	"fmt"
	"math"

	"github.com/graftml/graft/tensor"
)

// Flatten turns [N, H, W, C] activations into [N, C·H·W] features in
// PyTorch's channel-major (C, H, W) order, so a dense layer after it loads
// PyTorch weights unchanged. [N, 1, 1, C] and rank-2 inputs only change
// shape.
type Flatten struct {
	Leaf
	xshape          []int
	y, yv, dx, dxv  *tensor.Tensor
	inView, outView *tensor.Tensor
}

// NewFlatten returns a Flatten.
func NewFlatten() *Flatten { return &Flatten{} }

func flatDims(x *tensor.Tensor) (n, f int, transpose bool) {
	switch x.Rank() {
	case 2:
		return x.Dim(0), x.Dim(1), false
	case 4:
		return x.Dim(0), x.Len() / max(x.Dim(0), 1), x.Dim(1)*x.Dim(2) > 1 && x.Dim(3) > 1
	}
	panic(fmt.Sprintf("nn.Flatten: input %v, want [N, H, W, C] or [N, F]", x.Shape()))
}

// Forward flattens x.
func (f *Flatten) Forward(x *tensor.Tensor) *tensor.Tensor {
	n, k, tr := flatDims(x)
	f.xshape = x.Shape()
	if !tr {
		return view(&f.inView, x, n, k)
	}
	s := x.Shape()
	y := ensure(x, &f.y, n, s[3], s[1], s[2])
	tensor.NHWCToNCHW(y, x)
	return view(&f.yv, y, n, k)
}

// Infer flattens x into a fresh tensor.
func (f *Flatten) Infer(x *tensor.Tensor) *tensor.Tensor {
	n, k, tr := flatDims(x)
	if !tr {
		return x.Clone().Reshape(n, k)
	}
	s := x.Shape()
	y := tensor.ZerosLike(x, n, s[3], s[1], s[2])
	tensor.NHWCToNCHW(y, x)
	return y.Reshape(n, k)
}

// Backward restores dy to the input's layout.
func (f *Flatten) Backward(dy *tensor.Tensor, needInputGrad bool) *tensor.Tensor {
	like := likeOf(dy, f.y) // the gradient may follow the default: run where the forward did
	if !needInputGrad {
		return nil
	}
	if len(f.xshape) == 2 || f.xshape[1]*f.xshape[2] == 1 || f.xshape[3] == 1 {
		return view(&f.outView, dy, f.xshape...)
	}
	s := f.xshape
	dx := ensure(like, &f.dx, s...)
	tensor.NCHWToNHWC(dx, view(&f.dxv, dy, s[0], s[3], s[1], s[2]))
	return dx
}

// Dropout zeroes each element with probability P in training mode and
// scales the rest by 1/(1−P); in inference mode it is the identity. The
// masks are drawn from Seed and a step counter, so a run repeats exactly.
type Dropout struct {
	Leaf
	P    float32
	Seed uint64

	step        uint64
	active      bool
	y, mask, dx *tensor.Tensor
}

// NewDropout returns a dropout layer.
func NewDropout(p float32, seed uint64) *Dropout {
	if p < 0 || p >= 1 {
		panic(fmt.Sprintf("nn.Dropout: probability %v outside [0, 1)", p))
	}
	return &Dropout{P: p, Seed: seed}
}

// Forward drops elements in training mode.
func (d *Dropout) Forward(x *tensor.Tensor) *tensor.Tensor {
	d.active = d.training && d.P > 0
	if !d.active {
		return x
	}
	y := ensure(x, &d.y, x.Shape()...)
	m := ensure(x, &d.mask, x.Shape()...)
	d.step++
	x.Backend().Dropout(y, m, x, d.P, d.Seed^(d.step*0x9e3779b97f4a7c15))
	return y
}

// Steps returns how many masks the layer has drawn: with Seed, its random
// state (training checkpoints save it, so a resumed run draws the same
// masks).
func (d *Dropout) Steps() uint64 { return d.step }

// SetSteps restores the count Steps returned.
func (d *Dropout) SetSteps(n uint64) { d.step = n }

// Infer returns x itself: dropout is the identity at inference.
func (d *Dropout) Infer(x *tensor.Tensor) *tensor.Tensor { return x }

// Backward multiplies dy by the mask.
func (d *Dropout) Backward(dy *tensor.Tensor, needInputGrad bool) *tensor.Tensor {
	like := likeOf(dy, d.y) // the gradient may follow the default: run where the forward did
	if !needInputGrad {
		return nil
	}
	if !d.active {
		return dy
	}
	dx := ensure(like, &d.dx, dy.Shape()...)
	like.Backend().Mul(dx, dy, d.mask)
	return dx
}

// Embedding maps token ids to rows of a table [Num, Dim]: an input [N, T]
// of ids (held as float32 integers) gives [N, T, Dim]. The row PadIndex
// (−1 for none) starts at zero and gets no gradient, PyTorch's
// padding_idx.
type Embedding struct {
	Leaf
	Num, Dim int
	PadIndex int
	Weight   *Param

	params []Named[*Param]
	ids    []int
	y      *tensor.Tensor
	sparse sparseRows
}

// NewEmbedding returns an embedding table with N(0, 1) rows (PyTorch's
// default) drawn from seed.
func NewEmbedding(num, dim, padIndex int, seed uint64) *Embedding {
	if padIndex >= num {
		panic(fmt.Sprintf("nn.Embedding: padding index %d outside a table of %d rows", padIndex, num))
	}
	e := &Embedding{Num: num, Dim: dim, PadIndex: padIndex, Weight: NewParam(tensor.RandNormal(seed, 0, 1, num, dim))}
	if padIndex >= 0 {
		clear(e.Weight.Value.Data()[padIndex*dim : (padIndex+1)*dim])
	}
	e.params = []Named[*Param]{{"weight", e.Weight}}
	return e
}

// Params returns the table.
func (e *Embedding) Params() []Named[*Param] { return e.params }

func (e *Embedding) lookup(y *tensor.Tensor, x *tensor.Tensor, ids []int) []int {
	ids = ids[:0]
	w, yd := e.Weight.Value.Data(), y.Data()
	for i, v := range x.Data() {
		id := int(v)
		if float32(id) != v || id < 0 || id >= e.Num || math.IsNaN(float64(v)) {
			panic(fmt.Sprintf("nn.Embedding: id %v at %d is not an integer in [0, %d)", v, i, e.Num))
		}
		ids = append(ids, id)
		copy(yd[i*e.Dim:(i+1)*e.Dim], w[id*e.Dim:(id+1)*e.Dim])
	}
	return ids
}

func (e *Embedding) check(x *tensor.Tensor) {
	if x.Rank() != 2 {
		panic(fmt.Sprintf("nn.Embedding: input %v, want [N, T] ids", x.Shape()))
	}
}

// Forward looks the ids up.
func (e *Embedding) Forward(x *tensor.Tensor) *tensor.Tensor {
	e.check(x)
	y := ensure(x, &e.y, x.Dim(0), x.Dim(1), e.Dim)
	e.ids = e.lookup(y, x, e.ids)
	return y
}

// Infer looks the ids up into a fresh tensor.
func (e *Embedding) Infer(x *tensor.Tensor) *tensor.Tensor {
	e.check(x)
	y := tensor.ZerosLike(x, x.Dim(0), x.Dim(1), e.Dim)
	e.lookup(y, x, make([]int, 0, x.Len()))
	return y
}

// Backward accumulates dy into the rows that were looked up (except the
// padding row). Ids have no gradient: it returns nil. The gradient is
// sparse: only the rows of this batch and the last are written (Weight.Rows
// lists this batch's), every other row stays zero, so the
// cost does not grow with the vocabulary. Optimizers update the whole
// table, as PyTorch does for a dense-gradient nn.Embedding, unless the
// table's Group is Lazy (see Group).
func (e *Embedding) Backward(dy *tensor.Tensor, _ bool) *tensor.Tensor {
	if !e.Weight.Trainable {
		return nil
	}
	g, d := e.sparse.begin(e.Weight.Grad, e.Num, e.Dim, len(e.ids)), dy.Data()
	for i, id := range e.ids {
		if id == e.PadIndex {
			continue
		}
		e.sparse.touch(id)
		row := g[id*e.Dim : (id+1)*e.Dim]
		for j, v := range d[i*e.Dim : (i+1)*e.Dim] {
			row[j] += v
		}
	}
	e.Weight.Rows = e.sparse.rows
	return nil
}

// SeqMean averages [N, T, D] over the sequence into [N, D].
type SeqMean struct {
	Leaf
	xshape []int
	y, dx  *tensor.Tensor
}

// NewSeqMean returns a mean over the sequence axis.
func NewSeqMean() *SeqMean { return &SeqMean{} }

func seqMean(y, x *tensor.Tensor) {
	n, t, d := x.Dim(0), x.Dim(1), x.Dim(2)
	xd, yd := x.Data(), y.Data()
	for i := 0; i < n; i++ {
		out := yd[i*d : (i+1)*d]
		clear(out)
		for s := 0; s < t; s++ {
			for j, v := range xd[(i*t+s)*d : (i*t+s+1)*d] {
				out[j] += v
			}
		}
		if t > 0 {
			for j := range out {
				out[j] /= float32(t)
			}
		}
	}
}

// Forward averages x over its second axis.
func (m *SeqMean) Forward(x *tensor.Tensor) *tensor.Tensor {
	mustRank("SeqMean", x, 3)
	y := ensure(x, &m.y, x.Dim(0), x.Dim(2))
	seqMean(y, x)
	m.xshape = x.Shape()
	return y
}

// Infer averages into a fresh tensor.
func (m *SeqMean) Infer(x *tensor.Tensor) *tensor.Tensor {
	mustRank("SeqMean", x, 3)
	y := tensor.ZerosLike(x, x.Dim(0), x.Dim(2))
	seqMean(y, x)
	return y
}

// Backward spreads dy evenly over the sequence.
func (m *SeqMean) Backward(dy *tensor.Tensor, needInputGrad bool) *tensor.Tensor {
	like := likeOf(dy, m.y) // the gradient may follow the default: run where the forward did
	if !needInputGrad {
		return nil
	}
	dx := ensure(like, &m.dx, m.xshape...)
	n, t, d := m.xshape[0], m.xshape[1], m.xshape[2]
	dd, xd := dy.Data(), dx.Data()
	for i := 0; i < n; i++ {
		for s := 0; s < t; s++ {
			out := xd[(i*t+s)*d : (i*t+s+1)*d]
			for j, v := range dd[i*d : (i+1)*d] {
				out[j] = v / float32(t)
			}
		}
	}
	return dx
}
