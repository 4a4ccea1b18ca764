package tensor

import "math"

// Reference is the plain-loop backend, always compiled: each method is the
// obviously-correct loop that defines the operation. Fast backends are
// tested against it.
type Reference struct{}

// Name returns "reference".
func (Reference) Name() string { return "reference" }

// MatMul is SgemmRef on the tensors' storage.
func (Reference) MatMul(c, a, b *Tensor, transA, transB bool, alpha, beta float32) {
	hostOnly(c, a, b)
	m, n, k := matMulDims(c, a, b, transA, transB)
	SgemmRef(transA, transB, m, n, k, alpha, a.data, max(a.shape[1], 1), b.data, max(b.shape[1], 1), beta, c.data, max(n, 1))
}

// Add computes z[i] = x[i] + y[i].
func (Reference) Add(z, x, y *Tensor) {
	hostOnly(z, x, y)
	mustSameShape("Add", z, x, y)
	for i := range z.data {
		z.data[i] = x.data[i] + y.data[i]
	}
}

// Mul computes z[i] = x[i] · y[i].
func (Reference) Mul(z, x, y *Tensor) {
	hostOnly(z, x, y)
	mustSameShape("Mul", z, x, y)
	for i := range z.data {
		z.data[i] = x.data[i] * y.data[i]
	}
}

// Scale computes y[i] = alpha · x[i].
func (Reference) Scale(y *Tensor, alpha float32, x *Tensor) {
	hostOnly(y, x)
	mustSameShape("Scale", y, x)
	for i := range y.data {
		y.data[i] = alpha * x.data[i]
	}
}

// Axpy computes y[i] = y[i] + alpha·x[i], in float64 then rounded (as
// close as float32 allows to the vector kernels' fused multiply-add).
func (Reference) Axpy(y *Tensor, alpha float32, x *Tensor) {
	hostOnly(y, x)
	mustSameShape("Axpy", y, x)
	for i := range y.data {
		y.data[i] = float32(float64(y.data[i]) + float64(alpha)*float64(x.data[i]))
	}
}

// ReLU computes y[i] = 0 if x[i] < 0, else x[i] (so NaN passes through).
func (Reference) ReLU(y, x *Tensor) {
	hostOnly(y, x)
	mustSameShape("ReLU", y, x)
	for i, v := range x.data {
		if v < 0 {
			v = 0
		}
		y.data[i] = v
	}
}

// ReLUGrad computes dx[i] = dy[i] if x[i] > 0, else 0.
func (Reference) ReLUGrad(dx, x, dy *Tensor) {
	hostOnly(dx, x, dy)
	mustSameShape("ReLUGrad", dx, x, dy)
	for i, v := range x.data {
		if v > 0 {
			dx.data[i] = dy.data[i]
		} else {
			dx.data[i] = 0
		}
	}
}

// Sum computes dst[o, j] = Σ_a src[o, a, j] in float64, a in axis order.
func (Reference) Sum(dst, src *Tensor, axis int) {
	hostOnly(dst, src)
	outer, r, inner := reduceDims("Sum", dst, src, axis)
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			var s float64
			for a := 0; a < r; a++ {
				s += float64(src.data[(o*r+a)*inner+j])
			}
			dst.data[o*inner+j] = float32(s)
		}
	}
}

// Max computes dst[o, j] = max_a src[o, a, j]; a NaN anywhere gives NaN.
// An empty axis gives -Inf.
func (Reference) Max(dst, src *Tensor, axis int) {
	hostOnly(dst, src)
	outer, r, inner := reduceDims("Max", dst, src, axis)
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			m := float32(math.Inf(-1))
			for a := 0; a < r; a++ {
				v := src.data[(o*r+a)*inner+j]
				if v > m || v != v {
					m = v
				}
				if m != m {
					break
				}
			}
			dst.data[o*inner+j] = m
		}
	}
}

// SGDStep is SGDUpdate as its doc comment spells it, one element after
// another: for every i, d = g[i] + weightDecay·w[i]; with momentum,
// buf[i] = d on the first step and momentum·buf[i] + d after, and d is
// d + momentum·buf[i] with nesterov, buf[i] without; then
// w[i] = w[i] − lr·d; each operation rounded to float32 (the conversions
// keep Go from fusing a multiply and an add).
func (Reference) SGDStep(w, g, buf *Tensor, lr, momentum, weightDecay float32, nesterov, first bool) {
	hostOnly(w, g, buf)
	sgdDims(w, g, buf, momentum)
	for i, wi := range w.data {
		d := g.data[i] + float32(weightDecay*wi)
		if momentum != 0 {
			if first {
				buf.data[i] = d
			} else {
				buf.data[i] = float32(momentum*buf.data[i]) + d
			}
			if nesterov {
				d = d + float32(momentum*buf.data[i])
			} else {
				d = buf.data[i]
			}
		}
		w.data[i] = wi - float32(lr*d)
	}
}

// AdamStep is AdamUpdate as its doc comment spells it, one element after
// another, each operation rounded to float32: the decoupled decay factor
// 1 − lr·weightDecay computed in float64 and rounded once, the square root
// correctly rounded.
func (Reference) AdamStep(w, g, m, v *Tensor, p AdamParams) {
	hostOnly(w, g, m, v)
	mustSameShape("AdamStep", w, g, m, v)
	decay := float32(1 - float64(p.LR)*float64(p.WeightDecay))
	oneMinusB1, oneMinusB2 := 1-p.Beta1, 1-p.Beta2
	for i, wi := range w.data {
		d := g.data[i]
		if p.Decoupled {
			wi = wi * decay
		} else {
			d = d + float32(p.WeightDecay*wi)
		}
		mi := float32(p.Beta1*m.data[i]) + float32(oneMinusB1*d)
		vi := float32(p.Beta2*v.data[i]) + float32(float32(oneMinusB2*d)*d)
		m.data[i], v.data[i] = mi, vi
		den := float32(float32(math.Sqrt(float64(vi)))/p.SqrtBC2) + p.Eps
		w.data[i] = wi - float32(float32(p.StepSize*mi)/den)
	}
}

// hostOnly brings the tensors a GPU holds (those that follow the default
// backend, a CUDA one) to the host, as the host's only current values:
// the Reference backend works on host slices, and may write any of them.
func hostOnly(ts ...*Tensor) {
	for _, t := range ts {
		if t != nil && t.dev != nil {
			t.hostWrite()
		}
	}
}
