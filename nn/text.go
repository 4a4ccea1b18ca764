package nn

import (
	"fmt"
	"math"

	"github.com/graftml/graft/tensor"
)

// This file holds the layers of graft's text models: the sparse gradient
// of embedding tables, EmbeddingBag (a masked mean of embeddings) and
// Conv1DMax (a 1-D convolution over time with max-over-time pooling, Kim
// 2014).

// sparseRows tracks the rows of a table's gradient a backward pass wrote,
// so the next one clears only those: the gradient of an embedding table
// costs O(rows in the batch), not O(vocabulary). Rows outside the list are
// zero.
type sparseRows struct {
	rows []int
	mark []bool
	grad *tensor.Tensor // the gradient the list describes
}

// begin zeroes the rows of the previous pass (the whole table the first
// time, or when the gradient tensor was replaced) and empties the list,
// which then holds up to ids rows without growing.
func (s *sparseRows) begin(g *tensor.Tensor, num, dim, ids int) []float32 {
	if n := min(num, ids); cap(s.rows) < n {
		s.rows = append(make([]int, 0, n), s.rows...)
	}
	gd := g.Data()
	if s.grad != g || len(s.mark) != num {
		clear(gd)
		s.mark = make([]bool, num)
		s.rows = s.rows[:0]
		s.grad = g
		return gd
	}
	for _, r := range s.rows {
		clear(gd[r*dim : (r+1)*dim])
		s.mark[r] = false
	}
	s.rows = s.rows[:0]
	return gd
}

// touch records row r.
func (s *sparseRows) touch(r int) {
	if !s.mark[r] {
		s.mark[r] = true
		s.rows = append(s.rows, r)
	}
}

// FromVectors copies rows into the table (len(rows) = Num·Dim) and zeroes
// the padding row.
func (e *Embedding) FromVectors(rows []float32) error {
	w := e.Weight.Value.Data()
	if len(rows) != len(w) {
		return fmt.Errorf("nn.Embedding: %d values for a %d×%d table", len(rows), e.Num, e.Dim)
	}
	copy(w, rows)
	if e.PadIndex >= 0 {
		clear(w[e.PadIndex*e.Dim : (e.PadIndex+1)*e.Dim])
	}
	return nil
}

// EmbeddingBag averages the embeddings of each sequence's tokens, leaving
// out the padding id (PyTorch's EmbeddingBag(mode="mean", padding_idx)): an
// input [N, T] of ids gives [N, Dim]. A sequence of padding only gives
// zeros. The table, its name ("weight"), initialisation and padding row are
// Embedding's; its gradient is sparse the same way.
//
// With Weights set (one per id), the mean is weighted: y = Σ w_id·e_id /
// Σ w_id over the sequence's non-padding tokens, as PyTorch's
// per_sample_weights with the weights normalised; a smooth inverse
// frequency (Arora et al. 2017) down-weights the words every text has.
type EmbeddingBag struct {
	*Embedding
	// Weights holds one weight per id (nil: every token counts 1). It is
	// the buffer "token_weights", so checkpoints keep it.
	Weights []float32

	counts []float32
	y      *tensor.Tensor
	wbuf   []Named[*Buffer]
}

// Buffers returns the token weights when they are set.
func (e *EmbeddingBag) Buffers() []Named[*Buffer] {
	if e.Weights == nil {
		return nil
	}
	if e.wbuf == nil || !sameSlice(e.wbuf[0].Value.Value.Data(), e.Weights) {
		e.wbuf = []Named[*Buffer]{{"token_weights", &Buffer{Value: tensor.FromSlice(e.Weights, len(e.Weights))}}}
	}
	return e.wbuf
}

func sameSlice(a, b []float32) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// NewEmbeddingBag returns a mean-of-embeddings layer over a table with
// N(0, 1) rows drawn from seed.
func NewEmbeddingBag(num, dim, padIndex int, seed uint64) *EmbeddingBag {
	return &EmbeddingBag{Embedding: NewEmbedding(num, dim, padIndex, seed)}
}

func (e *EmbeddingBag) bag(y, x *tensor.Tensor, ids []int, counts []float32) ([]int, []float32) {
	e.check(x)
	if e.Weights != nil && len(e.Weights) != e.Num {
		panic(fmt.Sprintf("nn.EmbeddingBag: %d weights for %d ids", len(e.Weights), e.Num))
	}
	n, t, dim := x.Dim(0), x.Dim(1), e.Dim
	w, yd, xd := e.Weight.Value.Data(), y.Data(), x.Data()
	ids, counts = ids[:0], counts[:0]
	for i := 0; i < n; i++ {
		out := yd[i*dim : (i+1)*dim]
		clear(out)
		c := float32(0)
		for s := 0; s < t; s++ {
			v := xd[i*t+s]
			id := int(v)
			if float32(id) != v || id < 0 || id >= e.Num || math.IsNaN(float64(v)) {
				panic(fmt.Sprintf("nn.EmbeddingBag: id %v at %d is not an integer in [0, %d)", v, i*t+s, e.Num))
			}
			ids = append(ids, id)
			if id == e.PadIndex {
				continue
			}
			wt := float32(1)
			if e.Weights != nil {
				wt = e.Weights[id]
			}
			c += wt
			for j, a := range w[id*dim : (id+1)*dim] {
				out[j] += wt * a
			}
		}
		inv := float32(0)
		if c > 0 {
			inv = 1 / float32(c)
		}
		for j := range out {
			out[j] *= inv
		}
		counts = append(counts, inv)
	}
	return ids, counts
}

// Forward averages the embeddings of each row of ids.
func (e *EmbeddingBag) Forward(x *tensor.Tensor) *tensor.Tensor {
	e.check(x)
	y := ensure(x, &e.y, x.Dim(0), e.Dim)
	e.ids, e.counts = e.bag(y, x, e.ids, e.counts)
	return y
}

// Infer averages into a fresh tensor.
func (e *EmbeddingBag) Infer(x *tensor.Tensor) *tensor.Tensor {
	e.check(x)
	y := tensor.ZerosLike(x, x.Dim(0), e.Dim)
	e.bag(y, x, make([]int, 0, x.Len()), make([]float32, 0, x.Dim(0)))
	return y
}

// Backward spreads dy[n]/count over the rows sequence n used (not the
// padding row), touching only those rows of the gradient. Ids have no
// gradient: it returns nil.
func (e *EmbeddingBag) Backward(dy *tensor.Tensor, _ bool) *tensor.Tensor {
	if !e.Weight.Trainable {
		return nil
	}
	dim := e.Dim
	g := e.sparse.begin(e.Weight.Grad, e.Num, dim, len(e.ids))
	d := dy.Data()
	t := len(e.ids) / max(len(e.counts), 1)
	for i, inv := range e.counts {
		src := d[i*dim : (i+1)*dim]
		for _, id := range e.ids[i*t : (i+1)*t] {
			if id == e.PadIndex {
				continue
			}
			e.sparse.touch(id)
			row := g[id*dim : (id+1)*dim]
			a := inv
			if e.Weights != nil {
				a *= e.Weights[id]
			}
			for j, v := range src {
				row[j] += v * a
			}
		}
	}
	e.Weight.Rows = e.sparse.rows
	return nil
}

// Conv1DMax is a 1-D convolution over time followed by max-over-time
// pooling, the feature extractor of Kim's (2014) sentence CNN: over an
// input [N, T, D] (a sequence of D-dimensional embeddings) it computes, for
// each of F filters of Width taps,
//
//	y[n, f] = act(max over t ∈ [0, T−Width] of Σ_k Σ_d x[n, t+k, d]·W[f, d, k] + b[f])
//
// with act the identity or, with ReLU set, max(0, ·) (ReLU commutes with
// the max, so it is applied once per output). The weight keeps PyTorch
// Conv1d's [F, D, Width] layout and names (weight, bias). T must be at
// least Width.
//
// The forward pass is Width matrix products over the whole batch at once:
// the windows of a [N·T, D] row-major input are its rows read with a
// stride of D, so tap k is the product of the rows shifted by k with the
// weights of tap k; nothing is copied. The backward pass uses only the
// arg-max position of each (sequence, filter): it costs O(N·F·Width·D), not
// the O(N·T·F·Width·D) of a dense convolution gradient.
type Conv1DMax struct {
	Leaf
	In, Filters, Width int
	ReLU               bool
	Weight, Bias       *Param

	params []Named[*Param]
	wkd    []float32 // the weight as [F, Width, D]
	gkd    []float32 // its gradient
	conv   []float32 // [N·T − Width + 1, F]
	arg    []int32   // [N, F] the time of each maximum
	x      *tensor.Tensor
	y, dx  *tensor.Tensor
}

// NewConv1DMax returns the layer with PyTorch Conv1d's default
// initialisation (Kaiming-uniform weights, uniform bias) drawn from seed.
func NewConv1DMax(in, filters, width int, relu bool, seed uint64) *Conv1DMax {
	if in <= 0 || filters <= 0 || width <= 0 {
		panic(fmt.Sprintf("nn.Conv1DMax: in %d, filters %d, width %d", in, filters, width))
	}
	c := &Conv1DMax{In: in, Filters: filters, Width: width, ReLU: relu,
		Weight: NewParam(tensor.Zeros(filters, in, width)), Bias: NewParam(tensor.Zeros(filters))}
	TorchDefaultInit(c.Weight.Value, c.Bias.Value, in*width, seed)
	c.params = []Named[*Param]{{"weight", c.Weight}, {"bias", c.Bias}}
	return c
}

// Params returns weight and bias.
func (c *Conv1DMax) Params() []Named[*Param] { return c.params }

func (c *Conv1DMax) check(x *tensor.Tensor) {
	if x.Rank() != 3 || x.Dim(2) != c.In || x.Dim(1) < c.Width {
		panic(fmt.Sprintf("nn.Conv1DMax: input %v, want [N, T ≥ %d, %d]", x.Shape(), c.Width, c.In))
	}
}

// layout copies the [F, D, W] weight into [F, W, D] order.
func (c *Conv1DMax) layout(wkd []float32) {
	w := c.Weight.Value.Data()
	d, k := c.In, c.Width
	for f := 0; f < c.Filters; f++ {
		for i := 0; i < d; i++ {
			for j := 0; j < k; j++ {
				wkd[(f*k+j)*d+i] = w[(f*d+i)*k+j]
			}
		}
	}
}

// compute writes y [N, F] and the arg-max times, using conv and wkd as
// scratch.
func (c *Conv1DMax) compute(y, x *tensor.Tensor, wkd, conv []float32, arg []int32) {
	n, t, d, f, k := x.Dim(0), x.Dim(1), c.In, c.Filters, c.Width
	xd, yd, b := x.Data(), y.Data(), c.Bias.Value.Data()
	c.layout(wkd)
	m := n*t - k + 1
	sgemm := tensor.Sgemm
	if cpu, ok := x.Backend().(tensor.CPU); ok { // the input's tier
		sgemm = cpu.Sgemm
	}
	for j := 0; j < k; j++ {
		beta := float32(1)
		if j == 0 {
			beta = 0
		}
		sgemm(false, true, m, f, d, 1, xd[j*d:], d, wkd[j*d:], k*d, beta, conv, f)
	}
	valid := t - k + 1
	for i := 0; i < n; i++ {
		out := yd[i*f : (i+1)*f]
		a := arg[i*f : (i+1)*f]
		copy(out, conv[i*t*f:(i*t+1)*f])
		clear(a)
		for s := 1; s < valid; s++ {
			row := conv[(i*t+s)*f : (i*t+s+1)*f]
			for j, v := range row {
				if v > out[j] {
					out[j], a[j] = v, int32(s)
				}
			}
		}
		for j := range out {
			v := out[j] + b[j]
			if c.ReLU && v < 0 {
				v = 0
			}
			out[j] = v
		}
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Forward convolves and pools x.
func (c *Conv1DMax) Forward(x *tensor.Tensor) *tensor.Tensor {
	c.check(x)
	n, t := x.Dim(0), x.Dim(1)
	y := ensure(x, &c.y, n, c.Filters)
	c.wkd = grow(c.wkd, c.Filters*c.Width*c.In)
	c.conv = grow(c.conv, (n*t-c.Width+1)*c.Filters)
	c.arg = grow(c.arg, n*c.Filters)
	c.compute(y, x, c.wkd, c.conv, c.arg)
	c.x = x
	return y
}

// Infer convolves and pools x into fresh tensors.
func (c *Conv1DMax) Infer(x *tensor.Tensor) *tensor.Tensor {
	c.check(x)
	n, t := x.Dim(0), x.Dim(1)
	y := tensor.ZerosLike(x, n, c.Filters)
	c.compute(y, x, make([]float32, c.Filters*c.Width*c.In), make([]float32, (n*t-c.Width+1)*c.Filters), make([]int32, n*c.Filters))
	return y
}

// Backward sends each output's gradient to the window that won its max.
func (c *Conv1DMax) Backward(dy *tensor.Tensor, needInputGrad bool) *tensor.Tensor {
	like := likeOf(dy, c.y) // the gradient may follow the default: run where the forward did
	n, t, d, f, k := c.x.Dim(0), c.x.Dim(1), c.In, c.Filters, c.Width
	xd, yd, gd := c.x.Data(), c.y.Data(), dy.Data()
	train := c.Weight.Trainable
	var dw, db []float32
	if train {
		c.gkd = grow(c.gkd, f*k*d)
		clear(c.gkd)
		dw = c.gkd
		db = c.Bias.Grad.Data()
		clear(db)
	}
	var dx []float32
	if needInputGrad {
		dxt := ensure(like, &c.dx, n, t, d)
		dx = dxt.Data()
		clear(dx)
	}
	if !train && !needInputGrad {
		return nil
	}
	kd := k * d
	for i := 0; i < n; i++ {
		for j := 0; j < f; j++ {
			g := gd[i*f+j]
			if g == 0 || (c.ReLU && yd[i*f+j] <= 0) {
				continue
			}
			at := (i*t + int(c.arg[i*f+j])) * d
			if train {
				db[j] += g
				axpy(dw[j*kd:(j+1)*kd], g, xd[at:at+kd])
			}
			if needInputGrad {
				axpy(dx[at:at+kd], g, c.wkd[j*kd:(j+1)*kd])
			}
		}
	}
	if train {
		w := c.Weight.Grad.Data()
		for j := 0; j < f; j++ {
			for i := 0; i < d; i++ {
				for s := 0; s < k; s++ {
					w[(j*d+i)*k+s] = dw[(j*k+s)*d+i]
				}
			}
		}
	}
	if !needInputGrad {
		return nil
	}
	return c.dx
}

// axpy computes y += a·x (unrolled by four: one bounds check a group).
func axpy(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	n := len(y) &^ 3
	for i := 0; i < n; i += 4 {
		y4, x4 := y[i:i+4:i+4], x[i:i+4:i+4]
		y4[0] += a * x4[0]
		y4[1] += a * x4[1]
		y4[2] += a * x4[2]
		y4[3] += a * x4[3]
	}
	for i := n; i < len(y); i++ {
		y[i] += a * x[i]
	}
}
