package tensor

// Row-tap convolution: the k×k fast path of the assembly tiers.
//
// With the input zero-padded once into xp [N, Hp, Wp, C], the taps of one
// kernel row kh over (kw, c) are KW·C consecutive floats of xp for every
// output pixel, and consecutive output pixels of a row start sw·C floats
// apart. So for an MR-pixel run of an output row and an NR-channel panel of
// the output, kernel row kh is one microkernel call reading A in place
// (lda = sw·C, kc = KW·C, blocked by KC) against weights packed as
// B[panel][kh][(kw, c)][NR]; the KH calls accumulate into C (beta = 1). No
// im2col buffer is written. At stride 1 tiles run along "virtual" rows of
// Wp pixels (see run); layers with few channels gather each tile's taps
// into one call instead. It needs one group, dilationW = 1 and O a
// multiple of NR (the panels are full); other convolutions take im2col.

// rowTapOK reports whether the row-tap path can run g with kernel kn.
func rowTapOK(kn *gemmKernel, g convGeom) bool {
	_, nr := rowTapMode(kn, g)
	return kn.id != kidGeneric && g.p.Groups == 1 && g.p.DilationW == 1 && g.o%nr == 0 && !g.pointwiseInPlc
}

// How the row-tap path computes its tiles.
const (
	rtTiles  = iota // MR×NR microkernel tiles (run)
	rtRows          // ConvRowAVX2x6x16 along output rows (runRows)
	rtGather        // ConvGatherAVX2x6x16 tiles of 6 pixels (runGather)
)

// rowTapMode returns how the row-tap path runs g on kn and the width of
// its weight panels: with the tier's 16-filter kernels (conv16) for few
// channels (runRows) and for up to gatherMaxK taps (runGather), unless
// the tier's microkernel tiles of NR filters beat the gather kernel; else
// as tiles.
func rowTapMode(kn *gemmKernel, g convGeom) (mode, nr int) {
	KWC := g.kw * g.c
	switch {
	case kn.conv16 && KWC < gatherBelow:
		if kn.rowNR == 32 && g.o%32 == 0 {
			return rtRows, 32
		}
		return rtRows, 16
	case kn.rowNR == 32 && g.o%32 == 0 && rowsOverTiles(kn, g):
		return rtRows, 32
	case kn.tilesOverGather && g.o%kn.nr == 0:
		return rtTiles, kn.nr
	case kn.conv16 && g.kh*KWC <= gatherMaxK:
		return rtGather, 16
	}
	return rtTiles, kn.nr
}

// rowsOverTiles reports whether the 32-filter row kernels, in the tile
// width that fits g's output rows best (rowTilePixels), compute fewer
// pixels for nothing than kn's MR×NR tiles, by a margin that pays for
// their lower arithmetic intensity.
func rowsOverTiles(kn *gemmKernel, g convGeom) bool {
	_, done := rowTilePixels(32, g.ow)
	var tiles int // pixels the tiles compute per image
	if g.p.StrideH == 1 && g.p.StrideW == 1 {
		wp := g.w + g.p.PadLeft + g.p.PadRight
		tiles = ceilDiv((g.oh-1)*wp+g.ow, kn.mr) * kn.mr
	} else {
		tiles = g.oh * ceilDiv(g.ow, kn.mr) * kn.mr
	}
	return 10*done*g.oh < 9*tiles
}

// rowTapConv is one row-tap convolution call, shared by its parts.
type rowTapConv struct {
	kn     *gemmKernel
	g      convGeom
	nr     int       // weight panel width (rowTapMode)
	pix    int       // runRows: the row kernel's tile width (rowTilePixels)
	hp, wp int       // padded input size
	xp     []float32 // padded input (+ slack for tail tiles)
	toff   []int     // runRows: byte offset of tap (kh, kw, c) from a pixel's window
	roff   []int     // runGather: byte offset of kernel row kh in a pixel's window
	bp     []float32 // packed weights [O/NR][KH][KW·C][NR], NR = nr
	y      []float32
	bias   []float32
	act    FusedAct // applied to each output row (runRows)
}

var (
	rowTapCalls = freeList[rowTapConv]{}
)

// convRowTap computes y = conv(x, w) (+ bias) on the row-tap path. x, w and
// y are the storage of NHWC, OIHW and NHWC tensors with the geometry g;
// with flip, w holds the weights of the convolution whose backward-data
// pass this is ([C][O][KH][KW] for g's O and C), read flipped and
// transposed (see flippedGeom).
func convRowTap(kn *gemmKernel, g convGeom, y, x, w, bias []float32, flip bool) {
	convRowTapAct(kn, g, y, x, w, bias, flip, FusedAct{})
}

// convRowTapAct is convRowTap with act applied to y: to each output row
// as the row kernels write it, after the whole convolution in the other
// modes.
func convRowTapAct(kn *gemmKernel, g convGeom, y, x, w, bias []float32, flip bool, act FusedAct) {
	s := convScratches.Get()
	rt := rowTapCalls.Get()
	mode, NR := rowTapMode(kn, g)
	*rt = rowTapConv{kn: kn, g: g, nr: NR, y: y, bias: bias, act: act}
	rt.pix, _ = rowTilePixels(NR, g.ow)
	rt.hp, rt.wp = g.h+g.p.PadTop+g.p.PadBottom, g.w+g.p.PadLeft+g.p.PadRight
	C := g.c
	slack := (max(kn.mr, rt.pix)*g.p.StrideW + g.kw + 1) * C * (1 + g.p.DilationH*(g.kh-1)) // virtual tiles may run past the last row
	s.cols = grow(s.cols, g.n*rt.hp*rt.wp*C+slack)
	rt.xp = s.cols
	clear(rt.xp[g.n*rt.hp*rt.wp*C:])
	KWC := g.kw * C
	s.wp = grow(s.wp, g.kh*g.o*KWC)
	rt.bp = s.wp
	// Pad the input and pack the weights on the pool: in a training step
	// both change every call, and done on one thread they bound the
	// speed-up of the rest.
	prep := rowTapPreps.Get()
	*prep = rowTapPrep{rt: rt, x: x, w: w, flip: flip}
	parts := 1
	if workers := goMaxProcs(); workers > 1 && g.flops >= gemmParallelFlops {
		parts = min(workers, g.n, g.o/NR)
	}
	parallel(max(parts, 1), prep)
	*prep = rowTapPrep{}
	rowTapPreps.Put(prep)
	if mode == rtRows {
		tp := tapOffsets.Get()
		defer tapOffsets.Put(tp)
		if cap(*tp) < g.kh*KWC {
			*tp = make([]int, g.kh*KWC)
		}
		rt.toff = (*tp)[:g.kh*KWC]
		for kh := 0; kh < g.kh; kh++ {
			for q := 0; q < KWC; q++ {
				rt.toff[kh*KWC+q] = (kh*g.p.DilationH*rt.wp*C + q) * 4
			}
		}
	}
	if mode == rtGather {
		tp := tapOffsets.Get()
		defer tapOffsets.Put(tp)
		if cap(*tp) < g.kh {
			*tp = make([]int, g.kh)
		}
		rt.roff = (*tp)[:g.kh]
		for kh := range rt.roff {
			rt.roff[kh] = kh * g.p.DilationH * rt.wp * C * 4
		}
	}
	parts = 1
	if workers := goMaxProcs(); workers > 1 && g.flops >= gemmParallelFlops {
		parts = min(workers, g.n*g.oh)
	}
	parallel(parts, rt)
	*rt = rowTapConv{}
	rowTapCalls.Put(rt)
	convScratches.Put(s)
	if mode != rtRows {
		act.applyParallel(kn, y[:g.pixels*g.o])
	}
}

// rowTapPrep pads the input and packs the weights of a row-tap call; a
// part pads a range of images and packs a range of output panels.
type rowTapPrep struct {
	rt   *rowTapConv
	x, w []float32
	flip bool
}

var rowTapPreps = freeList[rowTapPrep]{}

func (p *rowTapPrep) run(part, parts int) {
	rt := p.rt
	g := rt.g
	C, NR, KWC := g.c, rt.nr, g.kw*g.c
	n0, n1 := part*g.n/parts, (part+1)*g.n/parts
	hwc := rt.hp * rt.wp * C
	padNHWC(rt.xp[n0*hwc:], p.x[n0*g.h*g.w*C:], n1-n0, g.h, g.w, C, g.p.PadTop, g.p.PadLeft, rt.hp, rt.wp)
	// bp[((jp·KH + kh)·KW·C + kw·C + c)·NR + j] = w[o = jp·NR+j][c][kh][kw]:
	// for each panel jp, the kernel rows one after the other.
	panels := g.o / NR
	for jp := part * panels / parts; jp < (part+1)*panels/parts; jp++ {
		for j := 0; j < NR; j++ {
			o := jp*NR + j
			for c := 0; c < C; c++ {
				for kh := 0; kh < g.kh; kh++ {
					for kw := 0; kw < g.kw; kw++ {
						src := ((o*C+c)*g.kh+kh)*g.kw + kw
						if p.flip {
							src = ((c*g.o+o)*g.kh+g.kh-1-kh)*g.kw + g.kw - 1 - kw
						}
						rt.bp[((jp*g.kh+kh)*KWC+kw*C+c)*NR+j] = p.w[src]
					}
				}
			}
		}
	}
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

// run computes part `part` of the output tiles: through runRows or
// runGather (rowTapMode), or as MR×NR microkernel tiles. A tile is MR
// consecutive output pixels of one image: of one output row in general,
// or, at stride 1, of the image's virtual rows of Wp pixels (whose last
// Wp−OW pixels are junk: computing them costs less than tiles cut short
// at every row end). Tiles that are not MR valid pixels of one row are
// computed into a scratch tile and copied out.
func (rt *rowTapConv) run(part, parts int) {
	if rt.toff != nil {
		rt.runRows(part, parts)
		return
	}
	if rt.roff != nil {
		rt.runGather(part, parts)
		return
	}
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
	// tile returns where tile t's first pixel reads (at kh = 0) and
	// writes, how many of its pixels exist, and whether they are MR valid
	// pixels of one output row (written in place; others go through tmp).
	tile := func(t int) (aBase, oh0, ow0, cnt int, direct bool) {
		sp, v0 := t/perSpan, t%perSpan*MR
		cnt = min(MR, span-v0)
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
		return aBase, oh0, ow0, cnt, cnt == MR && ow0+MR <= g.ow
	}
	// each calls f(i, offset in y) for every valid pixel i of a tile.
	each := func(oh0, ow0, cnt int, f func(i, yo int)) {
		for i := 0; i < cnt; i++ {
			oh, ow := oh0, ow0+i
			if rt.virtual() {
				oh, ow = oh0+(ow0+i)/rowW, (ow0+i)%rowW
			}
			if ow < g.ow {
				f(i, (oh*g.ow+ow)*O)
			}
		}
	}
	// compute accumulates output panel jp of a tile.
	compute := func(jp, aBase, oh0, ow0, cnt int, direct bool) {
		c, ldc := tmp, NR
		if direct {
			c, ldc = rt.y[(oh0*g.ow+ow0)*O+jp*NR:], O
		}
		var beta float32
		for kh := 0; kh < g.kh; kh++ {
			arow := rt.xp[aBase+kh*g.p.DilationH*rt.wp*C:]
			panel := rt.bp[(jp*g.kh+kh)*KWC*NR:]
			for q0 := 0; q0 < KWC; q0 += kn.kc {
				kc := min(kn.kc, KWC-q0)
				kn.call(kc, arow[q0:], aRowsInPlace, lda, panel[q0*NR:], true, 0, c, ldc, 1, beta)
				beta = 1
			}
		}
		if !direct {
			each(oh0, ow0, cnt, func(i, yo int) { copy(rt.y[yo+jp*NR:yo+jp*NR+NR], tmp[i*NR:(i+1)*NR]) })
		}
	}
	// Output panels outer: one panel's weights (KH·KW·C·NR floats) stay
	// in L2 while the tiles stream past. (Kernel rows shorter than
	// gatherBelow never get here: every tier with tiles runs them on
	// runRows, rowTapMode.)
	for jp := 0; jp < O/NR; jp++ {
		for t := t0; t < t1; t++ {
			aBase, oh0, ow0, cnt, direct := tile(t)
			compute(jp, aBase, oh0, ow0, cnt, direct)
		}
	}
	if rt.bias != nil {
		for t := t0; t < t1; t++ {
			_, oh0, ow0, cnt, _ := tile(t)
			each(oh0, ow0, cnt, func(_, yo int) { addF32(kn, rt.y[yo:yo+O], rt.y[yo:yo+O], rt.bias) })
		}
	}
}

// runRows is run for few channels: one row-kernel call (callConvRow) per
// output row and panel of rt.nr filters reads every tap through the offset
// table, starts from the bias and writes the row in place (its last tile
// may be short), so no tile goes through scratch and y is written once.
func (rt *rowTapConv) runRows(part, parts int) {
	g := rt.g
	C, O := g.c, g.o
	K := g.kh * g.kw * C
	rows := g.n * g.oh
	for row := part * rows / parts; row < (part+1)*rows/parts; row++ {
		n, oh := row/g.oh, row%g.oh
		aBase := ((n * rt.hp) + oh*g.p.StrideH) * rt.wp * C
		yrow := rt.y[row*g.ow*O:]
		NR := rt.nr
		for jp := 0; jp < O/NR; jp++ {
			var bias []float32
			if rt.bias != nil {
				bias = rt.bias[jp*NR:]
			}
			callConvRow(rt.kn, NR, rt.pix, g.ow, K, rt.xp[aBase:], g.p.StrideW*C*4, rt.toff, rt.bp[jp*K*NR:(jp+1)*K*NR], bias, yrow[jp*NR:], O)
		}
		rt.act.apply(rt.kn, yrow[:g.ow*O])
	}
}

// gatherMaxK bounds the taps (KH·KW·C) of runGather: its 16-filter weight
// panel (64 bytes a tap) stays in L2 while the tiles stream past.
const gatherMaxK = 4096

// runGather is run for up to gatherMaxK taps: tiles of 6 consecutive output
// pixels, which may cross output rows (no pixel is computed twice or
// wasted: at 14-pixel rows, tiles within rows would compute 18), each
// accumulating every tap in registers (ConvGatherAVX2x6x16) from the
// bias, written in place.
func (rt *rowTapConv) runGather(part, parts int) {
	g := rt.g
	C, O := g.c, g.o
	KWC := g.kw * C
	K := g.kh * KWC
	P := g.n * g.oh * g.ow
	tiles := ceilDiv(P, 6)
	t0, t1 := part*tiles/parts, (part+1)*tiles/parts
	var poff [6]int
	for jp := 0; jp < O/16; jp++ {
		var bias []float32
		if rt.bias != nil {
			bias = rt.bias[jp*16:]
		}
		panel := rt.bp[jp*K*16 : (jp+1)*K*16]
		for t := t0; t < t1; t++ {
			p0 := t * 6
			np := min(6, P-p0)
			ow, r := p0%g.ow, p0/g.ow
			oh, n := r%g.oh, r/g.oh
			for i := range poff {
				if i < np {
					poff[i] = ((n*rt.hp+oh*g.p.StrideH)*rt.wp + ow*g.p.StrideW) * C * 4
					if ow++; ow == g.ow {
						ow = 0
						if oh++; oh == g.oh {
							oh, n = 0, n+1
						}
					}
				} else {
					poff[i] = poff[np-1]
				}
			}
			callConvGather(KWC, rt.xp, &poff, rt.roff, panel, bias, rt.y[p0*O+jp*16:], O, np)
		}
	}
}

// gatherBelow is the kernel-row length (KW·C floats) below which the
// row-tap path reads every tap through an offset table (runRows) instead
// of calling the kernel once per kernel row.
const gatherBelow = 64

var (
	floatBufs  = freeList[[]float32]{} // scratch float slices
	tapOffsets = freeList[[]int]{}
)

// virtual reports whether tiles run over whole images as virtual rows of
// Wp pixels: possible at stride 1, where pixel (oh, ow) reads from
// (oh·Wp + ow)·C, uniformly strided across rows.
func (rt *rowTapConv) virtual() bool {
	return rt.g.p.StrideH == 1 && rt.g.p.StrideW == 1
}
