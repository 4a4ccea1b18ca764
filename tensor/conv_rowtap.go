package tensor

import "sync"

// Row-tap convolution: the k×k fast path of the assembly tiers.
//
// With the input zero-padded once into xp [N, Hp, Wp, C], the taps of one
// kernel row kh over (kw, c) are KW·C consecutive floats of xp for every
// output pixel, and consecutive output pixels of a row start sw·C floats
// apart. So for an MR-pixel run of an output row and an NR-channel panel of
// the output, kernel row kh is one microkernel call reading A in place
// (lda = sw·C, kc = KW·C, blocked by KC) against weights packed as
// B[kh][panel][(kw, c)][NR]; the KH calls accumulate into C (beta = 1). No
// im2col buffer is written. It needs one group, dilationW = 1 and O a
// multiple of NR (the panels are full); other convolutions take im2col.

// rowTapOK reports whether the row-tap path can run g with kernel kn.
func rowTapOK(kn *gemmKernel, g convGeom) bool {
	return kn.id != kidGeneric && g.p.Groups == 1 && g.p.DilationW == 1 && g.o%kn.nr == 0 && !g.pointwiseInPlc
}

// rowTapConv is one row-tap convolution call, shared by its parts.
type rowTapConv struct {
	kn     *gemmKernel
	g      convGeom
	hp, wp int       // padded input size
	xp     []float32 // padded input (+ slack for tail tiles)
	bp     []float32 // packed weights [KH][O/NR][KW·C][NR]
	y      []float32
	bias   []float32
}

var (
	rowTapScratch = sync.Pool{New: func() any { return new(convScratch) }}
	rowTapCalls   = sync.Pool{New: func() any { return new(rowTapConv) }}
)

// convRowTap computes y = conv(x, w) (+ bias) on the row-tap path. x, w and
// y are the storage of NHWC, OIHW and NHWC tensors with the geometry g.
func convRowTap(kn *gemmKernel, g convGeom, y, x, w, bias []float32) {
	s := rowTapScratch.Get().(*convScratch)
	rt := rowTapCalls.Get().(*rowTapConv)
	*rt = rowTapConv{kn: kn, g: g, y: y, bias: bias}
	rt.hp, rt.wp = g.h+g.p.PadTop+g.p.PadBottom, g.w+g.p.PadLeft+g.p.PadRight
	C := g.c
	slack := (kn.mr*g.p.StrideW + g.kw + 1) * C * (1 + g.p.DilationH*(g.kh-1)) // virtual tiles may run past the last row
	s.cols = grow(s.cols, g.n*rt.hp*rt.wp*C+slack)
	rt.xp = s.cols
	padNHWC(rt.xp, x, g.n, g.h, g.w, C, g.p.PadTop, g.p.PadLeft, rt.hp, rt.wp)
	clear(rt.xp[g.n*rt.hp*rt.wp*C:])

	// Weights: bp[((kh·O/NR + jp)·KW·C + kw·C + c)·NR + j] = w[o = jp·NR+j][c][kh][kw].
	NR, KWC := kn.nr, g.kw*C
	s.wp = grow(s.wp, g.kh*g.o*KWC)
	rt.bp = s.wp
	for o := 0; o < g.o; o++ {
		jp, j := o/NR, o%NR
		for c := 0; c < C; c++ {
			for kh := 0; kh < g.kh; kh++ {
				for kw := 0; kw < g.kw; kw++ {
					rt.bp[((kh*(g.o/NR)+jp)*KWC+kw*C+c)*NR+j] = w[((o*C+c)*g.kh+kh)*g.kw+kw]
				}
			}
		}
	}
	parts := 1
	if workers := goMaxProcs(); workers > 1 && g.flops >= gemmParallelFlops {
		parts = min(workers, g.n*g.oh)
	}
	parallel(parts, rt)
	*rt = rowTapConv{}
	rowTapCalls.Put(rt)
	rowTapScratch.Put(s)
}

// padNHWC copies x [N,H,W,C] into the middle of xp [N,Hp,Wp,C], zeroing the
// border.
func padNHWC(xp, x []float32, n, h, w, c, top, left, hp, wp int) {
	for i := 0; i < n; i++ {
		for r := 0; r < hp; r++ {
			dst := xp[((i*hp)+r)*wp*c : ((i*hp)+r+1)*wp*c]
			ih := r - top
			if ih < 0 || ih >= h {
				clear(dst)
				continue
			}
			clear(dst[:left*c])
			copy(dst[left*c:(left+w)*c], x[((i*h)+ih)*w*c:((i*h)+ih+1)*w*c])
			clear(dst[(left+w)*c:])
		}
	}
}

// run computes part `part` of the output tiles. A tile is MR consecutive
// output pixels of one image: of one output row in general, or, at stride
// 1, of the image's virtual rows of Wp pixels (whose last Wp−OW pixels
// are junk: computing them costs less than tiles cut short at every row
// end). Tiles that are not MR valid pixels of one row are computed into a
// scratch tile and copied out.
func (rt *rowTapConv) run(part, parts int) {
	kn, g := rt.kn, rt.g
	MR, NR := kn.mr, kn.nr
	C, O := g.c, g.o
	KWC := g.kw * C
	lda := g.p.StrideW * C
	rowW := g.ow // output pixels a tile walks over before wrapping
	if rt.virtual() {
		rowW = rt.wp
	}
	span := g.oh * rowW // pixels per image, junk included
	if !rt.virtual() {
		span = g.ow // per output row
	}
	perSpan := ceilDiv(span, MR)
	spans := g.n
	if !rt.virtual() {
		spans = g.n * g.oh
	}
	total := spans * perSpan
	t0, t1 := part*total/parts, (part+1)*total/parts
	var tmpBuf [12 * 32]float32 // one scratch tile (MR ≤ 12, NR ≤ 32)
	tmp := tmpBuf[:MR*NR]
	for t := t0; t < t1; t++ {
		sp, v0 := t/perSpan, t%perSpan*MR
		cnt := min(MR, span-v0)
		// Where the tile's first pixel reads (at kh = 0) and writes.
		var aBase, oh0, ow0 int
		if rt.virtual() {
			n := sp
			oh0, ow0 = v0/rowW, v0%rowW
			aBase = ((n*rt.hp)+oh0)*rt.wp*C + ow0*C
			oh0 += n * g.oh
		} else {
			n, oh := sp/g.oh, sp%g.oh
			oh0, ow0 = sp, v0
			aBase = ((n*rt.hp)+oh*g.p.StrideH)*rt.wp*C + v0*lda
		}
		direct := cnt == MR && ow0+MR <= g.ow
		for jp := 0; jp < O/NR; jp++ {
			c, ldc := tmp, NR
			if direct {
				c, ldc = rt.y[(oh0*g.ow+ow0)*O+jp*NR:], O
			}
			var beta float32
			for kh := 0; kh < g.kh; kh++ {
				arow := rt.xp[aBase+kh*g.p.DilationH*rt.wp*C:]
				panel := rt.bp[(kh*(O/NR)+jp)*KWC*NR:]
				for q0 := 0; q0 < KWC; q0 += kn.kc {
					kc := min(kn.kc, KWC-q0)
					callAsmKernel(kn.id, kc, arow[q0:], false, lda, panel[q0*NR:], true, 0, c, ldc, 1, beta)
					beta = 1
				}
			}
			if !direct { // copy the valid pixels out
				for i := 0; i < cnt; i++ {
					oh, ow := oh0, ow0+i
					if rt.virtual() {
						oh, ow = oh0+(ow0+i)/rowW, (ow0+i)%rowW
					}
					if ow < g.ow {
						copy(rt.y[(oh*g.ow+ow)*O+jp*NR:(oh*g.ow+ow)*O+jp*NR+NR], tmp[i*NR:(i+1)*NR])
					}
				}
			}
		}
		if rt.bias != nil {
			for i := 0; i < cnt; i++ {
				oh, ow := oh0, ow0+i
				if rt.virtual() {
					oh, ow = oh0+(ow0+i)/rowW, (ow0+i)%rowW
				}
				if ow < g.ow {
					row := rt.y[(oh*g.ow+ow)*O : (oh*g.ow+ow+1)*O]
					addF32(row, row, rt.bias)
				}
			}
		}
	}
}

// virtual reports whether tiles run over whole images as virtual rows of
// Wp pixels: possible at stride 1, where pixel (oh, ow) reads from
// (oh·Wp + ow)·C, uniformly strided across rows.
func (rt *rowTapConv) virtual() bool {
	return rt.g.p.StrideH == 1 && rt.g.p.StrideW == 1
}
