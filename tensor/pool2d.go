package tensor

import (
	"fmt"
	"math"
)

// PoolParams describes a 2-D pooling window over NHWC activations.
// Window positions in the padding are ignored by max pooling; average
// pooling counts them only with CountIncludePad. CeilMode rounds the output
// size up (a last window must still start inside the input or its left
// padding, PyTorch's rule).
type PoolParams struct {
	KH, KW int
	ConvParams
	CeilMode        bool
	CountIncludePad bool
}

// OutSize returns the pooled height and width of an h×w input.
func (p PoolParams) OutSize(h, w int) (oh, ow int) {
	c := p.ConvParams.norm()
	size := func(in, k, s, d, pb, pa int) int {
		span := in + pb + pa - d*(k-1) - 1
		if span < 0 { // the window is larger than the padded input
			return 0
		}
		out := span/s + 1
		if p.CeilMode {
			out = (span+s-1)/s + 1
			if (out-1)*s >= in+pb {
				out--
			}
		}
		return out
	}
	return size(h, p.KH, c.StrideH, c.DilationH, c.PadTop, c.PadBottom),
		size(w, p.KW, c.StrideW, c.DilationW, c.PadLeft, c.PadRight)
}

// poolGeom is a checked pooling problem.
type poolGeom struct {
	kn             *gemmKernel // the kernels of the backend that runs it
	p              PoolParams
	n, h, w, c     int
	oh, ow         int
	sh, sw, dh, dw int
}

func poolDims(kn *gemmKernel, op string, x, y *Tensor, p PoolParams) poolGeom {
	c := p.ConvParams.norm()
	p.ConvParams = c
	if x.Rank() != 4 || y.Rank() != 4 || p.KH < 1 || p.KW < 1 {
		panic(fmt.Sprintf("tensor.%s: want 4-D NHWC x and y and a window ≥ 1; have x %v, y %v, window %dx%d", op, x.shape, y.shape, p.KH, p.KW))
	}
	g := poolGeom{kn: kn, p: p, n: x.shape[0], h: x.shape[1], w: x.shape[2], c: x.shape[3],
		sh: c.StrideH, sw: c.StrideW, dh: c.DilationH, dw: c.DilationW}
	g.oh, g.ow = p.OutSize(g.h, g.w)
	if ys := y.shape; g.oh < 1 || g.ow < 1 || ys[0] != g.n || ys[1] != g.oh || ys[2] != g.ow || ys[3] != g.c {
		panic(fmt.Sprintf("tensor.%s: x %v with window %dx%d %+v gives %v, y is %v", op, x.shape, p.KH, p.KW, c, []int{g.n, g.oh, g.ow, g.c}, y.shape))
	}
	return g
}

// MaxPool2D computes y[n,oh,ow,c] = max over the window's taps inside x of
// x[n,ih,iw,c] (NaN propagates).
func (Reference) MaxPool2D(y, x *Tensor, p PoolParams) {
	hostOnly(y, x)
	maxPool(y, x, p)
}

// MaxPool2D is Reference.MaxPool2D with vector maxima, on the worker pool.
func (cpu CPU) MaxPool2D(y, x *Tensor, p PoolParams) {
	sameBackend("MaxPool2D", cpu, y, x)
	runPool(poolCall{kind: poolMax, g: poolDims(cpu.kern(), "MaxPool2D", x, y, p), x: x, y: y})
}

func maxPool(y, x *Tensor, p PoolParams) {
	g := poolDims(genericGemmKernel(), "MaxPool2D", x, y, p)
	g.maxRows(y, x, 0, g.n*g.oh)
}

// maxRows computes output rows [r0, r1) (row = n·OH + oh) of a max pool.
func (g poolGeom) maxRows(y, x *Tensor, r0, r1 int) {
	for r := r0; r < r1; r++ {
		n, oh := r/g.oh, r%g.oh
		for ow := 0; ow < g.ow; ow++ {
			out := y.data[((n*g.oh+oh)*g.ow+ow)*g.c:][:g.c]
			for i := range out {
				out[i] = float32(math.Inf(-1))
			}
			g.taps(n, oh, ow, func(xo int) {
				for i, v := range x.data[xo : xo+g.c] {
					if m := out[i]; v > m || (v != v && m == m) {
						out[i] = v
					}
				}
			})
		}
	}
}

// MaxPool2DBackward computes dx: each dy goes to the first position of its
// window that holds the window's maximum.
func (Reference) MaxPool2DBackward(dx, x, dy *Tensor, p PoolParams) {
	hostOnly(dx, x, dy)
	maxPoolBackward(dx, x, dy, p)
}

// MaxPool2DBackward is Reference.MaxPool2DBackward, images on the worker pool.
func (cpu CPU) MaxPool2DBackward(dx, x, dy *Tensor, p PoolParams) {
	sameBackend("MaxPool2DBackward", cpu, dx, x, dy)
	g := poolDims(cpu.kern(), "MaxPool2DBackward", x, dy, p)
	mustSameShape("MaxPool2DBackward", dx, x)
	runPool(poolCall{kind: poolMaxBack, g: g, x: x, y: dy, dx: dx})
}

func maxPoolBackward(dx, x, dy *Tensor, p PoolParams) {
	g := poolDims(genericGemmKernel(), "MaxPool2DBackward", x, dy, p)
	mustSameShape("MaxPool2DBackward", dx, x)
	g.maxBackImages(dx, x, dy, 0, g.n)
}

// maxBackImages computes dx for images [n0, n1).
func (g poolGeom) maxBackImages(dx, x, dy *Tensor, n0, n1 int) {
	hwc := g.h * g.w * g.c
	clear(dx.data[n0*hwc : n1*hwc])
	buf := argmaxBufs.Get()
	defer argmaxBufs.Put(buf)
	buf.grow(g.c)
	best, arg := buf.best[:g.c], buf.arg[:g.c]
	for n := n0; n < n1; n++ {
		for oh := 0; oh < g.oh; oh++ {
			for ow := 0; ow < g.ow; ow++ {
				for i := range best {
					best[i], arg[i] = float32(math.Inf(-1)), -1
				}
				g.taps(n, oh, ow, func(xo int) {
					for i, v := range x.data[xo : xo+g.c] {
						if m := best[i]; arg[i] < 0 || v > m || (v != v && m == m) {
							best[i], arg[i] = v, xo+i
						}
					}
				})
				d := dy.data[((n*g.oh+oh)*g.ow+ow)*g.c:][:g.c]
				for i, a := range arg {
					if a >= 0 {
						dx.data[a] += d[i]
					}
				}
			}
		}
	}
}

// argmaxBuf is one part's running maxima and their positions.
type argmaxBuf struct {
	best []float32
	arg  []int
}

func (b *argmaxBuf) grow(c int) {
	if cap(b.best) < c {
		b.best, b.arg = make([]float32, c), make([]int, c)
	}
}

var argmaxBufs = freeList[argmaxBuf]{}

// taps calls f with the storage offset of x[n,ih,iw,0] for every tap of
// window (oh, ow) inside the input.
func (g poolGeom) taps(n, oh, ow int, f func(xo int)) {
	for kh := 0; kh < g.p.KH; kh++ {
		ih := oh*g.sh - g.p.PadTop + kh*g.dh
		if ih < 0 || ih >= g.h {
			continue
		}
		for kw := 0; kw < g.p.KW; kw++ {
			iw := ow*g.sw - g.p.PadLeft + kw*g.dw
			if iw < 0 || iw >= g.w {
				continue
			}
			f(((n*g.h+ih)*g.w + iw) * g.c)
		}
	}
}

// divisor is the count an average window divides by: its taps inside the
// input, or with CountIncludePad its taps inside the padded input.
func (g poolGeom) divisor(oh, ow int) float32 {
	h0, w0 := oh*g.sh-g.p.PadTop, ow*g.sw-g.p.PadLeft
	h1, w1 := min(h0+(g.p.KH-1)*g.dh+1, g.h+g.p.PadBottom), min(w0+(g.p.KW-1)*g.dw+1, g.w+g.p.PadRight)
	if g.p.CountIncludePad {
		return float32(ceilDiv(h1-h0, g.dh) * ceilDiv(w1-w0, g.dw))
	}
	cnt := 0
	for kh := 0; kh < g.p.KH; kh++ {
		if ih := h0 + kh*g.dh; ih >= 0 && ih < g.h {
			for kw := 0; kw < g.p.KW; kw++ {
				if iw := w0 + kw*g.dw; iw >= 0 && iw < g.w {
					cnt++
				}
			}
		}
	}
	return float32(cnt)
}

// AvgPool2D computes y[n,oh,ow,c] = (Σ over the window's taps inside x of
// x[n,ih,iw,c]) / divisor, the divisor counting the taps inside x, or with
// CountIncludePad those inside the padded input.
func (Reference) AvgPool2D(y, x *Tensor, p PoolParams) {
	hostOnly(y, x)
	avgPool(y, x, p)
}

// AvgPool2D is Reference.AvgPool2D, on the worker pool.
func (cpu CPU) AvgPool2D(y, x *Tensor, p PoolParams) {
	sameBackend("AvgPool2D", cpu, y, x)
	runPool(poolCall{kind: poolAvg, g: poolDims(cpu.kern(), "AvgPool2D", x, y, p), x: x, y: y})
}

func avgPool(y, x *Tensor, p PoolParams) {
	g := poolDims(genericGemmKernel(), "AvgPool2D", x, y, p)
	g.avgRows(y, x, 0, g.n*g.oh)
}

// avgRows computes output rows [r0, r1) of an average pool.
func (g poolGeom) avgRows(y, x *Tensor, r0, r1 int) {
	for r := r0; r < r1; r++ {
		n, oh := r/g.oh, r%g.oh
		for ow := 0; ow < g.ow; ow++ {
			out := y.data[((n*g.oh+oh)*g.ow+ow)*g.c:][:g.c]
			clear(out)
			g.taps(n, oh, ow, func(xo int) { addF32(g.kn, out, out, x.data[xo:xo+g.c]) })
			if d := g.divisor(oh, ow); d > 0 {
				scaleF32(g.kn, out, 1/d, out)
			}
		}
	}
}

// AvgPool2DBackward computes dx: each dy spread evenly (1/divisor) over its
// window's taps inside x.
func (Reference) AvgPool2DBackward(dx, dy *Tensor, p PoolParams) {
	hostOnly(dx, dy)
	avgPoolBackward(dx, dy, p)
}

// AvgPool2DBackward is Reference.AvgPool2DBackward, images on the worker pool.
func (cpu CPU) AvgPool2DBackward(dx, dy *Tensor, p PoolParams) {
	sameBackend("AvgPool2DBackward", cpu, dx, dy)
	runPool(poolCall{kind: poolAvgBack, g: poolDims(cpu.kern(), "AvgPool2DBackward", dx, dy, p), y: dy, dx: dx})
}

func avgPoolBackward(dx, dy *Tensor, p PoolParams) {
	g := poolDims(genericGemmKernel(), "AvgPool2DBackward", dx, dy, p)
	g.avgBackImages(dx, dy, 0, g.n)
}

// avgBackImages computes dx for images [n0, n1).
func (g poolGeom) avgBackImages(dx, dy *Tensor, n0, n1 int) {
	hwc := g.h * g.w * g.c
	clear(dx.data[n0*hwc : n1*hwc])
	for n := n0; n < n1; n++ {
		for oh := 0; oh < g.oh; oh++ {
			for ow := 0; ow < g.ow; ow++ {
				d := g.divisor(oh, ow)
				if d == 0 {
					continue
				}
				src := dy.data[((n*g.oh+oh)*g.ow+ow)*g.c:][:g.c]
				g.taps(n, oh, ow, func(xo int) { axpyF32(g.kn, dx.data[xo:xo+g.c], 1/d, src) })
			}
		}
	}
}

// globalDims checks a global pooling: x [N,H,W,C], y [N,C] or [N,1,1,C].
func globalDims(op string, x, y *Tensor) (n, hw, c int) {
	ys, xs := y.shape, x.shape
	if x.Rank() != 4 || !((len(ys) == 2 && ys[0] == xs[0] && ys[1] == xs[3]) || (len(ys) == 4 && ys[0] == xs[0] && ys[1] == 1 && ys[2] == 1 && ys[3] == xs[3])) {
		panic(fmt.Sprintf("tensor.%s: x %v (NHWC) needs y [N,C] or [N,1,1,C], have %v", op, x.shape, y.shape))
	}
	return x.shape[0], x.shape[1] * x.shape[2], x.shape[3]
}

// GlobalAvgPool computes y[n,c] = mean over h, w of x[n,h,w,c].
func (Reference) GlobalAvgPool(y, x *Tensor) {
	hostOnly(y, x)
	globalAvgPool(genericGemmKernel(), y, x)
}

// GlobalAvgPool is Reference.GlobalAvgPool.
func (cpu CPU) GlobalAvgPool(y, x *Tensor) {
	sameBackend("GlobalAvgPool", cpu, y, x)
	globalAvgPool(cpu.kern(), y, x)
}

func globalAvgPool(kn *gemmKernel, y, x *Tensor) {
	n, hw, c := globalDims("GlobalAvgPool", x, y)
	for i := 0; i < n; i++ {
		out := y.data[i*c : (i+1)*c]
		clear(out)
		for p := 0; p < hw; p++ {
			addF32(kn, out, out, x.data[(i*hw+p)*c:(i*hw+p+1)*c])
		}
		if hw > 0 {
			scaleF32(kn, out, 1/float32(hw), out)
		}
	}
}

// GlobalAvgPoolBackward computes dx[n,h,w,c] = dy[n,c] / (H·W).
func (Reference) GlobalAvgPoolBackward(dx, dy *Tensor) {
	hostOnly(dx, dy)
	globalAvgPoolBackward(genericGemmKernel(), dx, dy)
}

// GlobalAvgPoolBackward is Reference.GlobalAvgPoolBackward.
func (cpu CPU) GlobalAvgPoolBackward(dx, dy *Tensor) {
	sameBackend("GlobalAvgPoolBackward", cpu, dx, dy)
	globalAvgPoolBackward(cpu.kern(), dx, dy)
}

func globalAvgPoolBackward(kn *gemmKernel, dx, dy *Tensor) {
	n, hw, c := globalDims("GlobalAvgPoolBackward", dx, dy)
	for i := 0; i < n; i++ {
		src := dy.data[i*c : (i+1)*c]
		for p := 0; p < hw; p++ {
			scaleF32(kn, dx.data[(i*hw+p)*c:(i*hw+p+1)*c], 1/float32(hw), src)
		}
	}
}

// poolCall is one CPU pooling pass cut for the worker pool: forward passes
// by output rows, backward passes by images (each image's dx is written by
// one part only, so results do not depend on the number of parts).
type poolCall struct {
	kind     int
	g        poolGeom
	x, y, dx *Tensor
}

const (
	poolMax = iota
	poolMaxBack
	poolAvg
	poolAvgBack
)

var poolCalls = freeList[poolCall]{}

func runPool(c poolCall) {
	units := c.g.n
	if c.kind == poolMax || c.kind == poolAvg {
		units = c.g.n * c.g.oh
	}
	parts := 1
	if c.g.n*c.g.h*c.g.w*c.g.c >= 1<<15 {
		parts = min(goMaxProcs(), units)
	}
	pc := poolCalls.Get()
	*pc = c
	parallel(max(parts, 1), pc)
	*pc = poolCall{}
	poolCalls.Put(pc)
}

func (c *poolCall) run(part, parts int) {
	units := c.g.n
	if c.kind == poolMax || c.kind == poolAvg {
		units = c.g.n * c.g.oh
	}
	u0, u1 := part*units/parts, (part+1)*units/parts
	switch c.kind {
	case poolMax:
		c.g.maxRowsFast(c.y, c.x, u0, u1)
	case poolAvg:
		c.g.avgRowsFast(c.y, c.x, u0, u1)
	case poolMaxBack:
		c.g.maxBackFast(c.dx, c.x, c.y, u0, u1)
	case poolAvgBack:
		c.g.avgBackFast(c.dx, c.y, u0, u1)
	}
}
