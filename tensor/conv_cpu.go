package tensor

// CPU convolutions. The paths, in the order Conv2D tries them:
//   - depthwise (groups = C = O, conv_depthwise.go): register tiles of 4 pixels × 16 channels
//     (assembly) inside the image, vector FMAs at its borders;
//   - 1×1, stride 1, no padding, one group: a plain GEMM on the activation
//     matrix [N·H·W, C] (NHWC needs no copy);
//   - Winograd F(2×2, 3×3) (conv_winograd.go) for 3×3 at stride 1;
//   - row-tap (conv_rowtap.go): k×k convolutions read in place from a
//     padded copy of the input, on the assembly tiers; on AVX2, with few
//     channels one kernel call per output row (ConvRowAVX2x6x16), else
//     6-pixel tiles that may cross rows (ConvGatherAVX2x6x16);
//   - planar (conv_plane.go) for few channels where row-tap does not apply;
//   - everything else: im2col over chunks of output pixels, then GEMM
//     (weights packed once per call as [O][KH][KW][C/G], the im2col order).
//
// Backward data tries Winograd and row-tap on the flipped convolution,
// then, for few input channels, dot products over kernel rows
// (dotBackwardData, conv_rowtap_data.go), depthwise, 1×1 and im2col.
// Backward weights tries the tap kernels for short kernel rows (tapWGrad,
// conv_rowtap_wgrad.go), planar, the tap kernels for kernel rows up to 255
// floats, depthwise, 1×1 and im2col; the bias gradient is a column sum of
// dy.

import (
	"fmt"
	"slices"
)

// convScratch holds one call's reusable buffers.
type convScratch struct {
	wp, cols, dwp []float32
}

var convScratches = freeList[convScratch]{}

func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

// convChunkFloats bounds the im2col buffer (floats).
const convChunkFloats = 1 << 18

// chunkRows is how many output pixels one im2col chunk holds.
func (g convGeom) chunkRows() int {
	return min(max(convChunkFloats/max(g.kcols, 1), 16), g.pixels)
}

// packConvWeights writes w [O][cg][KH][KW] as wp [O][KH][KW][cg].
func packConvWeights(wp, w []float32, g convGeom) {
	for o := 0; o < g.o; o++ {
		for c := 0; c < g.cg; c++ {
			for t := 0; t < g.kh*g.kw; t++ {
				wp[(o*g.kh*g.kw+t)*g.cg+c] = w[(o*g.cg+c)*g.kh*g.kw+t]
			}
		}
	}
}

// unpackConvWeights is the inverse of packConvWeights.
func unpackConvWeights(w, wp []float32, g convGeom) {
	for o := 0; o < g.o; o++ {
		for c := 0; c < g.cg; c++ {
			for t := 0; t < g.kh*g.kw; t++ {
				w[(o*g.cg+c)*g.kh*g.kw+t] = wp[(o*g.kh*g.kw+t)*g.cg+c]
			}
		}
	}
}

// im2col writes, for output pixels [p0, p0+rows) and group grp, one row of
// KH·KW·cg values per pixel: the taps in (kh, kw, c) order, zero outside
// the input.
func im2col(cols, x []float32, g convGeom, grp, p0, rows int) {
	K := g.kcols
	for r := 0; r < rows; r++ {
		p := p0 + r
		ow := p % g.ow
		oh := (p / g.ow) % g.oh
		n := p / (g.ow * g.oh)
		dst := cols[r*K : (r+1)*K]
		iw0 := ow*g.p.StrideW - g.p.PadLeft
		whole := g.cg == g.c && g.p.DilationW == 1 && iw0 >= 0 && iw0+g.kw <= g.w // a kernel row is one run of x
		for kh := 0; kh < g.kh; kh++ {
			ih := oh*g.p.StrideH - g.p.PadTop + kh*g.p.DilationH
			if whole && ih >= 0 && ih < g.h {
				o := ((n*g.h+ih)*g.w + iw0) * g.c
				copySmall(dst[kh*g.kw*g.c:(kh+1)*g.kw*g.c], x[o:o+g.kw*g.c])
				continue
			}
			for kw := 0; kw < g.kw; kw++ {
				d := dst[(kh*g.kw+kw)*g.cg : (kh*g.kw+kw+1)*g.cg]
				iw := ow*g.p.StrideW - g.p.PadLeft + kw*g.p.DilationW
				if ih < 0 || ih >= g.h || iw < 0 || iw >= g.w {
					clear(d)
					continue
				}
				o := ((n*g.h+ih)*g.w+iw)*g.c + grp*g.cg
				copySmall(d, x[o:o+g.cg])
			}
		}
	}
}

// copySmall is copy, without the call to memmove for short runs.
func copySmall(dst, src []float32) {
	if len(dst) >= 16 {
		copy(dst, src)
		return
	}
	src = src[:len(dst)]
	for i := range dst {
		dst[i] = src[i]
	}
}

// im2colCall is an im2col cut into row ranges for the worker pool (rows
// are independent: parts write disjoint rows).
type im2colCall struct {
	cols, x     []float32
	g           convGeom
	grp, p0, rs int
}

var im2colCalls = freeList[im2colCall]{}

func (c *im2colCall) run(part, parts int) {
	r0, r1 := part*c.rs/parts, (part+1)*c.rs/parts
	im2col(c.cols[r0*c.g.kcols:], c.x, c.g, c.grp, c.p0+r0, r1-r0)
}

// im2colParallel is im2col on up to GOMAXPROCS threads.
func im2colParallel(cols, x []float32, g convGeom, grp, p0, rows int) {
	parts := min(goMaxProcs(), max(rows*g.kcols/(1<<14), 1))
	if parts <= 1 {
		im2col(cols, x, g, grp, p0, rows)
		return
	}
	c := im2colCalls.Get()
	*c = im2colCall{cols: cols, x: x, g: g, grp: grp, p0: p0, rs: rows}
	parallel(parts, c)
	*c = im2colCall{}
	im2colCalls.Put(c)
}

// col2imAdd adds each tap's column values back into dx: the transpose of
// im2col.
func col2imAdd(kn *gemmKernel, dx, cols []float32, g convGeom, grp, p0, rows int) {
	K := g.kcols
	for r := 0; r < rows; r++ {
		p := p0 + r
		ow := p % g.ow
		oh := (p / g.ow) % g.oh
		n := p / (g.ow * g.oh)
		src := cols[r*K : (r+1)*K]
		iw0 := ow*g.p.StrideW - g.p.PadLeft
		whole := g.cg == g.c && g.p.DilationW == 1 && iw0 >= 0 && iw0+g.kw <= g.w // a kernel row is one run of x
		for kh := 0; kh < g.kh; kh++ {
			ih := oh*g.p.StrideH - g.p.PadTop + kh*g.p.DilationH
			if ih < 0 || ih >= g.h {
				continue
			}
			if whole {
				o := ((n*g.h+ih)*g.w + iw0) * g.c
				d := dx[o : o+g.kw*g.c]
				addF32(kn, d, d, src[kh*g.kw*g.c:(kh+1)*g.kw*g.c])
				continue
			}
			for kw := 0; kw < g.kw; kw++ {
				iw := ow*g.p.StrideW - g.p.PadLeft + kw*g.p.DilationW
				if iw < 0 || iw >= g.w {
					continue
				}
				o := ((n*g.h+ih)*g.w+iw)*g.c + grp*g.cg
				d := dx[o : o+g.cg]
				sv := src[(kh*g.kw+kw)*g.cg : (kh*g.kw+kw+1)*g.cg]
				if g.cg <= 4 { // cheaper than a call
					for i := range d {
						d[i] += sv[i]
					}
					continue
				}
				addF32(kn, d, d, sv)
			}
		}
	}
}

// col2imImagesFloats bounds the im2col buffer of a backward-data pass
// whose col2im runs an image per thread (floats).
const col2imImagesFloats = 1 << 22

// col2imCall is a col2imAdd over whole images, an image range per part
// (images do not overlap in dx; within one, rows go in order, as on one
// thread).
type col2imCall struct {
	kn            *gemmKernel
	dx, cols      []float32
	g             convGeom
	grp, p0, imgs int
}

var col2imCalls = freeList[col2imCall]{}

func (c *col2imCall) run(part, parts int) {
	img := c.g.oh * c.g.ow
	i0, i1 := part*c.imgs/parts, (part+1)*c.imgs/parts
	col2imAdd(c.kn, c.dx, c.cols[i0*img*c.g.kcols:], c.g, c.grp, c.p0+i0*img, (i1-i0)*img)
}

// Conv2D computes the convolution of x (NHWC) by w (OIHW) plus bias (or
// nil) into y (NHWC); Reference.Conv2D states the result.
func (cpu CPU) Conv2D(y, x, w, bias *Tensor, p ConvParams) {
	sameBackend("Conv2D", cpu, y, x, w, bias)
	conv2D(cpu.kern(), y, x, w, bias, p, FusedAct{})
}

// Conv2DAct is Conv2D followed by act on y, bit for bit: on the 1×1 path
// in the GEMM kernels' epilogue (in registers), on the depthwise and
// row-kernel paths row by row as each is written, on the Winograd path
// tile by tile (in cache), a separate pass on the others.
func (cpu CPU) Conv2DAct(y, x, w, bias *Tensor, p ConvParams, act FusedAct) {
	sameBackend("Conv2DAct", cpu, y, x, w, bias)
	conv2D(cpu.kern(), y, x, w, bias, p, act)
}

// PointwiseAct is Conv2DAct of a 1×1 convolution with stride 1, no
// padding and one group, its weights given transposed: wt is [C, O]
// (wt[c, o] = w[o, c, 0, 0]), x is [N, H, W, C] (any leading shape) and y
// [N, H, W, O]. The result is Conv2DAct's bit for bit; the GEMM then
// reads the weights in place, or copies them in runs, instead of
// transposing them at every call: for inference of small batches, whose
// calls are many and short, a caller keeps wt.
func (cpu CPU) PointwiseAct(y, x, wt, bias *Tensor, act FusedAct) {
	sameBackend("PointwiseAct", cpu, y, x, wt, bias)
	kn := cpu.kern()
	if wt.Rank() != 2 || x.Rank() < 1 {
		panic(fmt.Sprintf("tensor.PointwiseAct: weights %v, input %v: want weights [C, O] and an input [..., C]", wt.shape, x.shape))
	}
	c, o := wt.Dim(0), wt.Dim(1)
	if x.Dim(x.Rank()-1) != c || y.Rank() != x.Rank() || !slices.Equal(y.shape[:y.Rank()-1], x.shape[:x.Rank()-1]) || y.Dim(y.Rank()-1) != o {
		panic(fmt.Sprintf("tensor.PointwiseAct: input %v, weights %v, output %v: want [..., %d] and [..., %d]", x.shape, wt.shape, y.shape, c, o))
	}
	var b []float32
	if bias != nil {
		if bias.Len() != o {
			panic(fmt.Sprintf("tensor.PointwiseAct: bias %v for %d output channels", bias.shape, o))
		}
		b = bias.data
	}
	pixels := y.Len() / max(o, 1)
	if o == 0 || pixels == 0 {
		return
	}
	if c == 0 {
		for p := 0; p < pixels; p++ {
			row := y.data[p*o : (p+1)*o]
			if b != nil {
				copy(row, b)
			} else {
				clear(row)
			}
			act.apply(cpu.kern(), row)
		}
		return
	}
	sgemmEpi(kn, false, false, pixels, o, c, 1, x.data, c, wt.data, o, 0, b, act, y.data, o)
}

func conv2D(kn *gemmKernel, y, x, w, bias *Tensor, p ConvParams, act FusedAct) {
	g := convDims("Conv2D", x, w, y, bias, p)
	var b []float32
	if bias != nil {
		b = bias.data
	}
	switch {
	case g.depthwise:
		runDepthwise(depthwiseCall{kn: kn, g: g, pass: 0, y: y.data, x: x.data, bias: bias, act: act}, w.data)
		return
	case g.pointwiseInPlc:
		checkSgemm(false, true, g.pixels, g.o, g.c, x.data, g.c, w.data, g.c, y.data, g.o)
		if g.c == 0 { // no channels: y is the bias
			scaleC(g.pixels, g.o, 0, y.data, g.o)
			break
		}
		sgemmEpi(kn, false, true, g.pixels, g.o, g.c, 1, x.data, g.c, w.data, g.c, 0, b, act, y.data, g.o)
		return
	case winogradOK(kn, g):
		convWinogradAct(kn, g, y.data, x.data, w.data, b, false, act)
		return
	case rowTapOK(kn, g):
		convRowTapAct(kn, g, y.data, x.data, w.data, b, false, act)
		return
	case planeOK(g):
		planeForward(kn, g, y.data, x.data, w.data, b)
		act.applyParallel(kn, y.data)
		return
	default:
		s := convScratches.Get()
		s.wp = grow(s.wp, len(w.data))
		packConvWeights(s.wp, w.data, g)
		rows := g.chunkRows()
		s.cols = grow(s.cols, rows*g.kcols)
		for p0 := 0; p0 < g.pixels; p0 += rows {
			r := min(rows, g.pixels-p0)
			for grp := 0; grp < g.p.Groups; grp++ {
				im2colParallel(s.cols, x.data, g, grp, p0, r)
				sgemmOn(kn, false, true, r, g.og, g.kcols, 1, s.cols, g.kcols, s.wp[grp*g.og*g.kcols:], g.kcols,
					0, y.data[p0*g.o+grp*g.og:], g.o)
			}
		}
		convScratches.Put(s)
	}
	if bias != nil {
		for p := 0; p < g.pixels; p++ {
			row := y.data[p*g.o : (p+1)*g.o]
			addF32(kn, row, row, bias.data)
		}
	}
	act.applyParallel(kn, y.data)
}

// Conv2DBackwardData computes dx, the gradient of the convolution's input,
// from dy and w; Reference.Conv2DBackwardData states the result.
func (cpu CPU) Conv2DBackwardData(dx, dy, w *Tensor, p ConvParams) {
	sameBackend("Conv2DBackwardData", cpu, dx, dy, w)
	g := convDims("Conv2DBackwardData", dx, w, dy, nil, p)
	kn := cpu.kern()
	switch {
	case winogradBackwardDataOK(kn, g):
		winogradBackwardData(kn, g, dx.data, dy.data, w.data)
	case rowTapBackwardDataOK(kn, g):
		rowTapBackwardData(kn, g, dx.data, dy.data, w.data)
	case dotBackwardDataOK(kn, g):
		dotBackwardData(kn, g, dx.data, dy.data, w.data)
	case g.depthwise:
		depthwiseBackwardData(kn, g, dx.data, dy.data, w.data)
	case g.pointwiseInPlc:
		sgemmOn(kn, false, false, g.pixels, g.c, g.o, 1, dy.data, g.o, w.data, g.c, 0, dx.data, g.c)
	default:
		clear(dx.data)
		s := convScratches.Get()
		s.wp = grow(s.wp, len(w.data))
		packConvWeights(s.wp, w.data, g)
		rows := g.chunkRows()
		// col2im adds overlapping windows, so its parts take whole images:
		// with several threads, chunks of whole images, a multiple of the
		// threads (when one image per thread fits col2imImagesFloats),
		// else one thread adds.
		img := g.oh * g.ow
		parts := min(goMaxProcs(), g.n)
		byImages := parts > 1 && g.flops >= gemmParallelFlops && parts*img*g.kcols <= col2imImagesFloats
		if byImages {
			rows = max(parts, min(g.n, convChunkFloats/(img*g.kcols))/parts*parts) * img
		}
		s.cols = grow(s.cols, rows*g.kcols)
		for p0 := 0; p0 < g.pixels; p0 += rows {
			r := min(rows, g.pixels-p0)
			for grp := 0; grp < g.p.Groups; grp++ {
				sgemmOn(kn, false, false, r, g.kcols, g.og, 1, dy.data[p0*g.o+grp*g.og:], g.o,
					s.wp[grp*g.og*g.kcols:], g.kcols, 0, s.cols, g.kcols)
				if byImages {
					c := col2imCalls.Get()
					*c = col2imCall{kn: kn, dx: dx.data, cols: s.cols, g: g, grp: grp, p0: p0, imgs: r / img}
					parallel(min(parts, c.imgs), c)
					*c = col2imCall{}
					col2imCalls.Put(c)
					continue
				}
				col2imAdd(kn, dx.data, s.cols, g, grp, p0, r)
			}
		}
		convScratches.Put(s)
	}
}

// Conv2DBackwardWeights computes dw (OIHW) and, when db is not nil, the
// bias gradient, from x and dy; Reference.Conv2DBackwardWeights states the
// result.
func (cpu CPU) Conv2DBackwardWeights(dw, db, x, dy *Tensor, p ConvParams) {
	sameBackend("Conv2DBackwardWeights", cpu, dw, db, x, dy)
	g := convDims("Conv2DBackwardWeights", x, dw, dy, db, p)
	var dbv []float32 // the bias gradient, when the path has not computed it
	if db != nil {
		dbv = db.data
	}
	if g.pixels == 0 { // an empty batch: the sums are empty
		clear(dw.data)
		clear(dbv)
		return
	}
	kn := cpu.kern()
	switch {
	case winogradWGradOK(kn, g):
		winogradWGrad(kn, g, dw.data, x.data, dy.data)
	case tapWGradOK(kn, g, gatherBelow):
		tapWGrad(kn, g, dw.data, dbv, x.data, dy.data)
		dbv = nil
	case planeBackwardOK(g):
		planeBackwardWeights(kn, g, dw.data, x.data, dy.data)
	case tapWGradOK(kn, g, kn.tapWGradMaxKWC):
		tapWGrad(kn, g, dw.data, dbv, x.data, dy.data)
		dbv = nil
	case g.depthwise:
		depthwiseBackwardWeights(kn, g, dw.data, x.data, dy.data)
	case g.pointwiseInPlc:
		sgemmOn(kn, true, false, g.o, g.c, g.pixels, 1, dy.data, g.o, x.data, g.c, 0, dw.data, g.c)
	default:
		s := convScratches.Get()
		s.dwp = grow(s.dwp, len(dw.data))
		// Longer chunks than the data passes': every chunk's GEMM reads
		// and writes all of dW (9.4 MB at 512×512×3×3), so r18_l4's 28
		// chunks of 56 pixels became 7 of 227 (60 → 67 GFLOP/s at 1
		// thread, 102 → 117 at 2, medians of 3 interleaved).
		rows := min(max(4*convChunkFloats/max(g.kcols, 1), 16), g.pixels)
		// Compute dWᵀ (taps × filters) when that puts the round number of
		// columns in the GEMM's N: edge panels waste up to NR−1 columns.
		nr := kn.nr
		swapped := g.og%nr == 0 && g.kcols%nr != 0
		s.cols = grow(s.cols, rows*g.kcols)
		for p0 := 0; p0 < g.pixels; p0 += rows {
			r := min(rows, g.pixels-p0)
			var beta float32
			if p0 > 0 {
				beta = 1
			}
			for grp := 0; grp < g.p.Groups; grp++ {
				im2colParallel(s.cols, x.data, g, grp, p0, r)
				if swapped {
					sgemmOn(kn, true, false, g.kcols, g.og, r, 1, s.cols, g.kcols, dy.data[p0*g.o+grp*g.og:], g.o,
						beta, s.dwp[grp*g.og*g.kcols:], g.og)
					continue
				}
				sgemmOn(kn, true, false, g.og, g.kcols, r, 1, dy.data[p0*g.o+grp*g.og:], g.o, s.cols, g.kcols,
					beta, s.dwp[grp*g.og*g.kcols:], g.kcols)
			}
		}
		if swapped { // dwp holds each group's [K][Og]: transpose to [Og][K]
			s.wp = grow(s.wp, len(dw.data))
			for grp := 0; grp < g.p.Groups; grp++ {
				blk := s.dwp[grp*g.og*g.kcols : (grp+1)*g.og*g.kcols]
				for k := 0; k < g.kcols; k++ {
					for o := 0; o < g.og; o++ {
						s.wp[grp*g.og*g.kcols+o*g.kcols+k] = blk[k*g.og+o]
					}
				}
			}
			s.dwp, s.wp = s.wp, s.dwp
		}
		unpackConvWeights(dw.data, s.dwp, g)
		convScratches.Put(s)
	}
	if dbv != nil {
		clear(dbv)
		colSum(kn, dbv, dy.data, g.pixels, g.o)
	}
}
