package tensor

import "github.com/graftml/graft/kernels"

// depthwiseTaps repacks depthwise weights [C][1][KH][KW] as [KH·KW][C], so
// that each tap's weights are contiguous over channels.
func depthwiseTaps(wk, w []float32, g convGeom) {
	taps := g.kh * g.kw
	for c := 0; c < g.c; c++ {
		for t := 0; t < taps; t++ {
			wk[t*g.c+c] = w[c*taps+t]
		}
	}
}

// depthwiseVisit calls f(outRow, inRow, tap) for every output pixel and
// every tap inside the input, with the storage offsets of the pixels' C
// channels.
func depthwiseVisit(g convGeom, f func(yo, xo, tap int)) {
	for n := 0; n < g.n; n++ {
		for oh := 0; oh < g.oh; oh++ {
			for ow := 0; ow < g.ow; ow++ {
				yo := ((n*g.oh+oh)*g.ow + ow) * g.c
				g.pixelTaps(n, oh, ow, func(xo, tap int) { f(yo, xo, tap) })
			}
		}
	}
}

// pixelTaps calls f(xo, tap) for each tap (kh·KW + kw) of output pixel
// (n, oh, ow) that lies inside the input, xo the storage offset of the
// input pixel it reads (channel 0; one group).
func (g convGeom) pixelTaps(n, oh, ow int, f func(xo, tap int)) {
	for kh := 0; kh < g.kh; kh++ {
		ih := oh*g.p.StrideH - g.p.PadTop + kh*g.p.DilationH
		if ih < 0 || ih >= g.h {
			continue
		}
		for kw := 0; kw < g.kw; kw++ {
			iw := ow*g.p.StrideW - g.p.PadLeft + kw*g.p.DilationW
			if iw < 0 || iw >= g.w {
				continue
			}
			f(((n*g.h+ih)*g.w+iw)*g.c, kh*g.kw+kw)
		}
	}
}

// rowTaps writes the taps of output row oh that lie inside the input rows,
// kernel rows outside dropped, and returns their number: xoff[t], the
// byte offset of the tap's input pixel from the image's first pixel at
// column 0 (the row's tiles add their own column), and toff[t], the byte
// offset of its weights in the taps-major [KH·KW][C] layout.
func (g convGeom) rowTaps(oh int, xoff, toff *[depthwiseMaxTaps]int) int {
	nt := 0
	for kh := 0; kh < g.kh; kh++ {
		ih := oh*g.p.StrideH - g.p.PadTop + kh*g.p.DilationH
		if ih < 0 || ih >= g.h {
			continue
		}
		for kw := 0; kw < g.kw; kw++ {
			xoff[nt] = (ih*g.w + kw*g.p.DilationW) * g.c * 4
			toff[nt] = (kh*g.kw + kw) * g.c * 4
			nt++
		}
	}
	return nt
}

// depthwiseCall is one depthwise pass, cut across channels (every part
// owns a disjoint range of channels of every pixel) or, forward, across
// output rows: parts never write the same element and the result does not
// depend on their number.
type depthwiseCall struct {
	kn         *gemmKernel
	g          convGeom
	pass       int // 0 forward, 1 backward data, 2 backward weights
	y, x, w    []float32
	wk         []float32 // taps [KH·KW][C]
	bias       *Tensor
	act        FusedAct // forward: applied to each output row once written (in DepthwiseRowAVX512's registers)
	byRows     bool     // forward: cut across output rows (whole pixels), not channels
	yRow0      int      // forward: the output row (n·OH + oh) y starts at (a band's)
	noPrefetch bool     // forward: x is in cache (DepthwiseRowAVX512 then prefetches nothing)
	dx, dy, dw []float32
	zeros      [16]float32 // the bias of tiles without one
}

var depthwiseCalls = freeList[depthwiseCall]{}

// runDepthwise runs the pass d describes (d.wk unset: it is taken from a
// scratch buffer, holding the repacked weights w for the data passes).
func runDepthwise(d depthwiseCall, w []float32) {
	s := convScratches.Get()
	s.wp = grow(s.wp, d.g.kh*d.g.kw*d.g.c)
	if d.pass != 2 {
		depthwiseTaps(s.wp, w, d.g)
	}
	d.wk = s.wp
	parts := 1
	if workers := goMaxProcs(); workers > 1 && d.g.flops >= gemmParallelFlops {
		parts = min(workers, max(d.g.c/16, 1))
		if d.byRows = d.pass == 0 && d.g.n*d.g.oh >= 4*workers; d.byRows {
			parts = workers
		}
	}
	c := depthwiseCalls.Get()
	*c = d
	parallel(parts, c)
	*c = depthwiseCall{}
	depthwiseCalls.Put(c)
	convScratches.Put(s)
}

func (d *depthwiseCall) run(part, parts int) {
	g := d.g
	C := g.c
	if rows := g.n * g.oh; d.byRows {
		d.forwardChannels(0, C, part*rows/parts, (part+1)*rows/parts)
		return
	}
	// cut at 16 channels (64 bytes): parts never share a cache line
	blocks := ceilDiv(C, 16)
	c0, c1 := part*blocks/parts*16, min((part+1)*blocks/parts*16, C)
	if c0 >= c1 {
		return
	}
	taps := g.kh * g.kw
	switch d.pass {
	case 0:
		d.forwardChannels(c0, c1, 0, g.n*g.oh)
	case 1:
		for p := 0; p < g.n*g.h*g.w; p++ {
			clear(d.dx[p*C+c0 : p*C+c1])
		}
		depthwiseVisit(g, func(yo, xo, tap int) {
			fmaF32(d.kn, d.dx[xo+c0:xo+c1], d.dy[yo+c0:yo+c1], d.wk[tap*C+c0:tap*C+c1])
		})
	case 2:
		for t := 0; t < taps; t++ {
			clear(d.wk[t*C+c0 : t*C+c1])
		}
		if d.kn.dw512 && taps <= depthwiseMaxTaps {
			d.weights512(c0, c1)
		} else {
			d.weightsChannels(c0, c1)
		}
		for c := c0; c < c1; c++ {
			for t := 0; t < taps; t++ {
				d.dw[c*taps+t] = d.wk[t*C+c]
			}
		}
	}
}

func depthwiseBackwardData(kn *gemmKernel, g convGeom, dx, dy, w []float32) {
	if f, ok := depthwiseFlipped(g); ok {
		// At stride 1 the input gradient is a depthwise forward pass of
		// dy with the kernels flipped: it gets the register-tiled kernel.
		fp := floatBufs.Get()
		*fp = grow(*fp, len(w))
		flipped, taps := *fp, g.kh*g.kw
		for c := 0; c < g.c; c++ {
			for t := 0; t < taps; t++ {
				flipped[c*taps+taps-1-t] = w[c*taps+t]
			}
		}
		runDepthwise(depthwiseCall{kn: kn, g: f, pass: 0, y: dx, x: dy}, flipped)
		floatBufs.Put(fp)
		return
	}
	runDepthwise(depthwiseCall{kn: kn, g: g, pass: 1, dx: dx, dy: dy}, w)
}

// depthwiseFlipped is the depthwise convolution whose forward pass is g's
// backward-data pass, when g has stride 1 (see flippedGeom).
func depthwiseFlipped(g convGeom) (convGeom, bool) {
	p := g.p
	if p.StrideH != 1 || p.StrideW != 1 {
		return g, false
	}
	q := ConvParams{StrideH: 1, StrideW: 1, DilationH: p.DilationH, DilationW: p.DilationW, Groups: g.c,
		PadTop: p.DilationH*(g.kh-1) - p.PadTop, PadBottom: p.DilationH*(g.kh-1) - p.PadBottom,
		PadLeft: p.DilationW*(g.kw-1) - p.PadLeft, PadRight: p.DilationW*(g.kw-1) - p.PadRight}
	ok := q.PadTop >= 0 && q.PadBottom >= 0 && q.PadLeft >= 0 && q.PadRight >= 0
	f := g
	f.p, f.h, f.w, f.oh, f.ow = q, g.oh, g.ow, g.h, g.w
	f.pixels = g.n * g.h * g.w
	return f, ok
}

// interiorCols returns the output columns [owA, owB) whose kernel taps
// all lie inside the input row.
func (g convGeom) interiorCols() (owA, owB int) {
	sw, dw := g.p.StrideW, g.p.DilationW
	owA, owB = ceilDiv(g.p.PadLeft, sw), g.ow
	if last := g.w - 1 - (g.kw-1)*dw + g.p.PadLeft; last < 0 {
		owB = 0
	} else {
		owB = min(owB, last/sw+1)
	}
	return owA, owB
}

// forwardChannels accumulates the depthwise forward pass for channels
// [c0, c1) into y (already holding the bias): 4-pixel × 16-channel tiles
// of each output row whose taps all lie inside the input row in registers
// (DepthwiseTileAVX2, a row's tiles of 16 channels a call), the rest pixel
// by pixel with vector FMAs.
func (d *depthwiseCall) forwardChannels(c0, c1, r0, r1 int) {
	g := d.g
	if d.kn.dw512 && g.kh*g.kw <= depthwiseMaxTaps {
		d.forwardRows(c0, c1, r0, r1)
		return
	}
	C := g.c
	sw := g.p.StrideW
	// interior output columns: every kw tap inside [0, W)
	owA, owB := g.interiorCols()
	cTiles := c0 + (c1-c0)/16*16 // channels the 16-wide tiles cover
	useTiles := depthwiseTilesOK(d.kn) && cTiles > c0 && owB-owA >= 4 && g.kh*g.kw <= depthwiseMaxTaps
	var xoff, woff [depthwiseMaxTaps]int
	for n := 0; n < g.n; n++ {
		for oh := 0; oh < g.oh; oh++ {
			if r := n*g.oh + oh; r < r0 || r >= r1 {
				continue
			}
			rowDone := 0 // output columns [owA, rowDone) done by tiles
			if useTiles {
				nt := g.rowTaps(oh, &xoff, &woff)
				ng := (owB - owA) / 4 // tiles of 4 pixels, one call a channel block
				if nt > 0 && ng > 0 {
					for cb := c0; cb < cTiles; cb += 16 {
						b := d.zeros[:16]
						if d.bias != nil {
							b = d.bias.data[cb : cb+16]
						}
						depthwiseTile(ng, nt, d.x[(n*g.h*g.w+owA*sw-g.p.PadLeft)*C+cb:], sw*C*4, xoff[:nt], d.wk[cb:], woff[:nt],
							d.y[((n*g.oh+oh-d.yRow0)*g.ow+owA)*C+cb:], C*4, b)
					}
					rowDone = owA + 4*ng
				} else {
					rowDone = owA
				}
			}
			for ow := 0; ow < g.ow; ow++ {
				ca := c0
				if useTiles && ow >= owA && ow < rowDone {
					ca = cTiles // only the channels the tiles left
				}
				if ca >= c1 {
					continue
				}
				yo := ((n*g.oh+oh-d.yRow0)*g.ow + ow) * C
				if d.bias != nil {
					copy(d.y[yo+ca:yo+c1], d.bias.data[ca:c1])
				} else {
					clear(d.y[yo+ca : yo+c1])
				}
				g.pixelTaps(n, oh, ow, func(xo, t int) {
					fmaF32(d.kn, d.y[yo+ca:yo+c1], d.x[xo+ca:xo+c1], d.wk[t*C+ca:t*C+c1])
				})
			}
			d.actRow(n, oh, c0, c1)
		}
	}
}

// forwardRows is forwardChannels on a tier with a depthwise row kernel
// (DepthwiseRowAVX512): for each output row, one call for the columns
// whose taps all lie inside the input row (DepthwiseRow3AVX512 or
// DepthwiseRow3S2AVX512 for 3-wide kernels at stride 1 or 2 with the
// input in cache, see rows3); then, for each edge column, one call for
// a run of rows of an image whose kernel rows all lie inside the input
// (else one a row), with the taps inside the input. Each call takes all
// the channels [c0, c1) and applies d.act before its stores.
func (d *depthwiseCall) forwardRows(c0, c1, r0, r1 int) {
	g := d.g
	C, nc := g.c, c1-c0
	sw := g.p.StrideW
	owA, owB := g.interiorCols()
	var b []float32 // nil: no bias
	if d.bias != nil {
		b = d.bias.data[c0:c1]
	}
	var xoff, woff, exoff, ewoff [depthwiseMaxTaps]int
	// rows of three taps a pixel apart at stride 1 or 2: DepthwiseRow3AVX512
	// or DepthwiseRow3S2AVX512 for the interior columns, where x is in
	// cache (InvertedResidual's bands, or no larger than L3); past L3,
	// DepthwiseRowAVX512's prefetching loop keeps memory busier (mbv2_dw,
	// 32×56×56×144, forward: 45–50 GFLOP/s against 34–36 on
	// DepthwiseRow3AVX512, 39–43 with the same prefetches added to it)
	rows3 := g.kw == 3 && (sw == 1 || sw == 2) && g.p.DilationW == 1 &&
		(d.noPrefetch || len(d.x)*4 <= kernels.CacheSizes().L3)
	for r := r0; r < r1; r++ {
		n, oh := r/g.oh, r%g.oh
		nt := g.rowTaps(oh, &xoff, &woff)
		img := n*g.h*g.w*C + c0
		yrow := (n*g.oh+oh-d.yRow0)*g.ow*C + c0
		switch {
		case owB <= owA: // no interior columns
		case rows3:
			nr := nt / 3
			for i := range nr { // each row's first tap
				exoff[i], ewoff[i] = xoff[3*i], woff[3*i]
			}
			depthwiseRow3(d.kn, sw, owB-owA, nr, nc, d.x[img+(owA*sw-g.p.PadLeft)*C:], C*4, exoff[:nr],
				d.wk[c0:], C*4, ewoff[:nr], d.y[yrow+owA*C:], C*4, b, d.act)
		default:
			depthwiseRow(d.kn, owB-owA, nt, nc, d.x[img+(owA*sw-g.p.PadLeft)*C:], sw*C*4, xoff[:nt],
				d.wk[c0:], woff[:nt], d.y[yrow+owA*C:], C*4, b, d.act, d.noPrefetch)
		}
	}
	// The edge columns, one call for a run of rows of an image whose
	// kernel rows all lie inside the input (the same taps, rows sh·W
	// pixels apart in x and OW apart in y), else one a row: at 56²×32
	// channels the two calls a row had taken a fifth of the time.
	for ow := 0; ow < g.ow; ow++ {
		if ow == owA && owB > owA {
			ow = owB - 1
			continue
		}
		for r := r0; r < r1; {
			n, oh := r/g.oh, r%g.oh
			nt := g.rowTaps(oh, &xoff, &woff)
			run := 1
			if g.rowInside(oh) {
				for r+run < r1 && (r+run)/g.oh == n && g.rowInside(oh+run) {
					run++
				}
			}
			img := n*g.h*g.w*C + c0
			yrow := (n*g.oh+oh-d.yRow0)*g.ow*C + c0
			et := g.edgeTaps(ow, xoff[:nt], woff[:nt], &exoff, &ewoff)
			depthwiseRow(d.kn, run, et, nc, d.x[img:], g.p.StrideH*g.w*C*4, exoff[:et], d.wk[c0:], ewoff[:et], d.y[yrow+ow*C:], g.ow*C*4, b, d.act, d.noPrefetch)
			r += run
		}
	}
}

// rowInside reports whether every kernel row of output row oh lies
// inside the input.
func (g convGeom) rowInside(oh int) bool {
	ih := oh*g.p.StrideH - g.p.PadTop
	return ih >= 0 && ih+(g.kh-1)*g.p.DilationH < g.h
}

// edgeTaps writes, for output column ow, the taps of a row's tap list
// (xoff, toff from rowTaps) whose input columns lie inside the input, with
// their input offsets from the image's first pixel (bytes), into exoff
// and etoff, and returns their number. rowTaps lists every kernel column
// of a kernel row, in order, so tap t's column is t mod KW: no division
// per tap (it had taken a fifth of a 16-channel depthwise convolution).
func (g convGeom) edgeTaps(ow int, xoff, toff []int, exoff, etoff *[depthwiseMaxTaps]int) int {
	et := 0
	iw0 := ow*g.p.StrideW - g.p.PadLeft
	shift := iw0 * g.c * 4
	kw := 0
	for t := range xoff {
		if iw := iw0 + kw*g.p.DilationW; iw >= 0 && iw < g.w {
			exoff[et] = xoff[t] + shift
			etoff[et] = toff[t]
			et++
		}
		if kw++; kw == g.kw {
			kw = 0
		}
	}
	return et
}

// actRow applies d.act to channels [c0, c1) of output row (n, oh), just
// written and still in cache.
func (d *depthwiseCall) actRow(n, oh, c0, c1 int) {
	if d.act.Kind == FuseNone {
		return
	}
	g := d.g
	r := n*g.oh + oh - d.yRow0
	y := d.y[r*g.ow*g.c : (r+1)*g.ow*g.c]
	if c0 == 0 && c1 == g.c {
		d.act.apply(d.kn, y)
		return
	}
	for o := 0; o < len(y); o += g.c {
		d.act.apply(d.kn, y[o+c0:o+c1])
	}
}

// weightsChannels accumulates the depthwise weight gradient of channels
// [c0, c1) into d.wk (taps [KH·KW][C], zeroed): per output row, the
// columns whose taps all lie inside the input row in 8-channel blocks with
// the sums in registers over the row (DepthwiseWGradAVX2, up to 9 taps a
// call), the rest pixel by pixel with vector FMAs. Each sum runs over the
// pixels in the same order whatever the channel range.
func (d *depthwiseCall) weightsChannels(c0, c1 int) {
	g := d.g
	C := g.c
	sw := g.p.StrideW
	owA, owB := g.interiorCols()
	cBlocks := c0 + (c1-c0)/8*8 // channels the 8-wide blocks cover
	useBlocks := depthwiseTilesOK(d.kn) && cBlocks > c0 && owB > owA && g.kh*g.kw <= depthwiseMaxTaps
	var xoff, aoff [depthwiseMaxTaps]int
	for n := 0; n < g.n; n++ {
		for oh := 0; oh < g.oh; oh++ {
			if useBlocks {
				nt := g.rowTaps(oh, &xoff, &aoff)
				xb := (n*g.h*g.w + owA*sw - g.p.PadLeft) * C // ≥ 0: owA·sw ≥ PadLeft
				yb := ((n*g.oh+oh)*g.ow + owA) * C
				for t0 := 0; t0 < nt; t0 += 9 {
					k := min(9, nt-t0)
					for cb := c0; cb < cBlocks; cb += 8 {
						depthwiseWGrad(k, owB-owA, d.x[xb+cb:], sw*C*4, xoff[t0:t0+k], d.dy[yb+cb:], C*4,
							d.wk[cb:], aoff[t0:t0+k])
					}
				}
			}
			for ow := 0; ow < g.ow; ow++ {
				ca := c0
				if useBlocks && ow >= owA && ow < owB {
					ca = cBlocks // only the channels the blocks left
				}
				if ca >= c1 {
					continue
				}
				yo := ((n*g.oh+oh)*g.ow + ow) * C
				g.pixelTaps(n, oh, ow, func(xo, t int) {
					fmaF32(d.kn, d.wk[t*C+ca:t*C+c1], d.dy[yo+ca:yo+c1], d.x[xo+ca:xo+c1])
				})
			}
		}
	}
}

// weights512 is weightsChannels on a tier with DepthwiseWGradAVX512: per
// output row, the columns whose taps all lie inside the input row in one
// call a block of 16 channels (up to 9 taps a call), and each edge column
// in one call with its taps inside the input. Each sum runs over the
// pixels in the same order whatever the channel range.
func (d *depthwiseCall) weights512(c0, c1 int) {
	g := d.g
	C := g.c
	sw := g.p.StrideW
	owA, owB := g.interiorCols()
	var xoff, aoff, exoff, eaoff [depthwiseMaxTaps]int
	for n := 0; n < g.n; n++ {
		img := n * g.h * g.w * C
		for oh := 0; oh < g.oh; oh++ {
			nt := g.rowTaps(oh, &xoff, &aoff)
			yrow := (n*g.oh + oh) * g.ow * C
			for ow := 0; ow < g.ow; ow++ {
				np, xs, ys, tx, ta, et := 1, 0, 0, exoff[:], eaoff[:], 0
				xb, yb := img, yrow+ow*C
				if ow == owA && owB > owA {
					// the interior: xoff from the first column's window
					np, xs, ys, tx, ta, et = owB-owA, sw*C*4, C*4, xoff[:], aoff[:], nt
					xb, yb = img+(owA*sw-g.p.PadLeft)*C, yrow+owA*C
					ow = owB - 1
				} else {
					et = g.edgeTaps(ow, xoff[:nt], aoff[:nt], &exoff, &eaoff)
				}
				for t0 := 0; t0 < et; t0 += 9 {
					k := min(9, et-t0)
					for cb := c0; cb < c1; cb += 16 {
						depthwiseWGrad512(d.kn, k, np, min(16, c1-cb), d.x[xb+cb:], xs, tx[t0:t0+k],
							d.dy[yb+cb:], ys, d.wk[cb:], ta[t0:t0+k])
					}
				}
			}
		}
	}
}

// depthwiseMaxTaps bounds the kernels the tap-list paths take (up to
// 11×11): DepthwiseTileAVX2's, and the AVX-512 row and weight-gradient
// kernels' (their tap offsets are in arrays of this size).
const depthwiseMaxTaps = 121

func depthwiseBackwardWeights(kn *gemmKernel, g convGeom, dw, x, dy []float32) {
	runDepthwise(depthwiseCall{kn: kn, g: g, pass: 2, dw: dw, x: x, dy: dy}, nil)
}
