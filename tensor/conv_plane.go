package tensor

// The planar path: convolutions with few input channels (1 to 4: the first
// layer of an image model), one group and stride 1. A GEMM over NHWC
// pixels would put the C·KH·KW taps (25 for a 5×5 kernel on one channel)
// in K and the few filters in N, wasting most of the vector width. Here
// the input is copied once into zero-padded channel planes covering the
// whole batch, and the output is computed transposed, filters × pixels:
// for each input channel c and kernel row ky, a GEMM of the filters'
// weights [O × KW] by the shifted plane, whose "rows" (one per kx) overlap
// with a stride of the dilation. Output pixels are "virtual": every column
// of the padded plane, the ones past OW (and the rows past OH) computed and
// dropped, so the GEMM's N runs over the whole batch.

// planeMaxC bounds the input channels of the planar forward pass, and
// planeMaxCBackward those of its weight gradient (measured on Zen 3: with
// 6 channels and 16 filters the row-tap grid is 4× faster there).
const (
	planeMaxC         = 8
	planeMaxCBackward = 4
)

func planeOK(g convGeom) bool {
	return g.c <= planeMaxC && g.p.Groups == 1 && g.p.StrideH == 1 && g.p.StrideW == 1 && g.o >= 1
}

func planeBackwardOK(g convGeom) bool { return planeOK(g) && g.c <= planeMaxCBackward }

// planeGeom is the padded-plane layout.
type planeGeom struct {
	hp, wp int // padded height and width
	v      int // virtual pixels: N·hp·wp
	vs     int // plane stride: v rounded up to 16 plus the slack the last taps read past it
	ld     int // row stride of the transposed output: v rounded up to 16, plus 16 so rows do not alias in L1
}

func planeDims(g convGeom) planeGeom {
	hp := g.h + g.p.PadTop + g.p.PadBottom
	wp := g.w + g.p.PadLeft + g.p.PadRight
	v := g.n * hp * wp
	v16 := ceilDiv(v, 16) * 16
	slack := (g.kh-1)*g.p.DilationH*wp + (g.kw-1)*g.p.DilationW
	return planeGeom{hp: hp, wp: wp, v: v, vs: v16 + slack, ld: v16 + 16}
}

type planeScratch struct {
	xp, yt, dw, ap []float32
	toff           []int
}

var planeScratches = freeList[planeScratch]{}

// planeCall is one parallel pass of the planar path: padding the input
// into planes, or moving the transposed output to or from NHWC.
type planeCall struct {
	kind   int
	g      convGeom
	pg     planeGeom
	x, y   []float32 // NHWC input / output (or dy)
	xp, yt []float32
	bias   []float32
}

const (
	planePad = iota
	planeOut
	planeIn
	planeInT
)

var planeCalls = freeList[planeCall]{}

func (c *planeCall) run(part, parts int) {
	g, pg := c.g, c.pg
	n0, n1 := part*g.n/parts, (part+1)*g.n/parts
	plane := pg.hp * pg.wp
	switch c.kind {
	case planePad: // xp[ch][n][padTop+h][padLeft+w] = x[n][h][w][ch]
		for ch := 0; ch < g.c; ch++ {
			for n := n0; n < n1; n++ {
				dst := c.xp[ch*pg.vs+n*plane:][:plane]
				clear(dst)
				for h := 0; h < g.h; h++ {
					row := dst[(h+g.p.PadTop)*pg.wp+g.p.PadLeft:][:g.w]
					src := c.x[((n*g.h+h)*g.w)*g.c+ch:]
					for w := range row {
						row[w] = src[w*g.c]
					}
				}
			}
		}
		if part == parts-1 {
			for ch := 0; ch < g.c; ch++ {
				clear(c.xp[ch*pg.vs+pg.v : (ch+1)*pg.vs])
			}
		}
	case planeOut: // y[n][oh][ow][o] = yt[o][n][oh][ow] + bias[o], a row of ow at a time
		for n := n0; n < n1; n++ {
			for oh := 0; oh < g.oh; oh++ {
				out := c.y[(n*g.oh+oh)*g.ow*g.o:][:g.ow*g.o]
				for o := 0; o < g.o; o++ {
					row := c.yt[o*pg.ld+n*plane+oh*pg.wp:][:g.ow]
					var b float32
					if c.bias != nil {
						b = c.bias[o]
					}
					dst := out[o:]
					for ow, v := range row {
						dst[ow*g.o] = v + b
					}
				}
			}
		}
	case planeInT: // yt[o][n][h][w] = dy[n][h][w][o] for h < OH, w < OW, else 0 (rows o up to a multiple of 6)
		for n := n0; n < n1; n++ {
			for oh := 0; oh < g.oh; oh++ {
				src := c.y[(n*g.oh+oh)*g.ow*g.o:][:g.ow*g.o]
				for o := 0; o < g.o; o++ {
					row := c.yt[o*pg.ld+n*plane+oh*pg.wp:][:pg.wp]
					s := src[o:]
					for ow := range g.ow {
						row[ow] = s[ow*g.o]
					}
					clear(row[g.ow:])
				}
			}
			for o := 0; o < g.o; o++ {
				clear(c.yt[o*pg.ld+n*plane+g.oh*pg.wp : o*pg.ld+(n+1)*plane])
			}
		}
		if part == parts-1 {
			for o := 0; o < g.o; o++ {
				clear(c.yt[o*pg.ld+g.n*plane : (o+1)*pg.ld])
			}
			clear(c.yt[g.o*pg.ld : ceilDiv(g.o, 6)*6*pg.ld])
		}
	case planeIn: // yt[n][h][w][o] = dy[n][h][w][o] for h < OH, w < OW, else 0 (virtual rows of dy)
		for n := n0; n < n1; n++ {
			img := c.yt[n*plane*g.o : (n+1)*plane*g.o]
			for oh := 0; oh < g.oh; oh++ {
				row := img[oh*pg.wp*g.o : (oh+1)*pg.wp*g.o]
				copy(row, c.y[(n*g.oh+oh)*g.ow*g.o:][:g.ow*g.o])
				clear(row[g.ow*g.o:])
			}
			clear(img[g.oh*pg.wp*g.o:])
		}
		if part == parts-1 {
			clear(c.yt[g.n*plane*g.o:])
		}
	}
}

func planePass(kind int, g convGeom, pg planeGeom, x, y, xp, yt, bias []float32) {
	c := planeCalls.Get()
	*c = planeCall{kind: kind, g: g, pg: pg, x: x, y: y, xp: xp, yt: yt, bias: bias}
	parallel(min(goMaxProcs(), g.n), c)
	*c = planeCall{}
	planeCalls.Put(c)
}

// planeBlock returns the virtual pixels of one GEMM block: the output
// block (O rows) stays in L2 across the C·KH GEMMs that add into it.
func planeBlock(g convGeom) int {
	return min(max(32768/g.o/16*16, 256), 4096)
}

// planeGemm is the block loop of the planar path on the worker pool:
// blocks [part·nb/parts, (part+1)·nb/parts) of a fixed partition, so the
// results do not depend on the number of threads.
type planeGemm struct {
	kn       *gemmKernel
	g        convGeom
	pg       planeGeom
	w, dw    []float32 // forward weights / per-block weight gradients
	xp, yt   []float32
	nb, blk  int
	backward bool
}

var planeGemms = freeList[planeGemm]{}

func (c *planeGemm) run(part, parts int) {
	g, pg := c.g, c.pg
	s := getGemmScratch(c.kn)
	k := g.kh * g.kw
	for b := part * c.nb / parts; b < (part+1)*c.nb/parts; b++ {
		v0 := b * c.blk
		n := min(c.blk, pg.v-v0)
		if c.backward {
			// dwᵀ[ch][ky][kx][o] = Σ_v xp[ch][v + ky·dh·wp + kx·dw] · dyv[v][o]: for
			// each (ch, ky) the KW taps are rows of xp dw apart, read in place.
			for ch := 0; ch < g.c; ch++ {
				for ky := 0; ky < g.kh; ky++ {
					x := c.xp[ch*pg.vs+ky*g.p.DilationH*pg.wp+v0:]
					gemmSerial(c.kn, s, false, false, g.kw, g.o, n, 1, x, g.p.DilationW, c.yt[v0*g.o:], g.o,
						0, c.dw[b*g.o*g.c*k+(ch*g.kh+ky)*g.kw*g.o:], g.o)
				}
			}
			continue
		}
		var beta float32
		for ch := 0; ch < g.c; ch++ {
			for ky := 0; ky < g.kh; ky++ {
				x := c.xp[ch*pg.vs+ky*g.p.DilationH*pg.wp+v0:]
				gemmSerial(c.kn, s, false, false, g.o, n, g.kw, 1, c.w[ch*k+ky*g.kw:], g.c*k,
					x, g.p.DilationW, beta, c.yt[v0:], pg.ld)
				beta = 1
			}
		}
	}
	gemmScratches.Put(s)
}

func planeGemmPass(kn *gemmKernel, g convGeom, pg planeGeom, w, dw, xp, yt []float32, backward bool) {
	c := planeGemms.Get()
	blk := planeBlock(g)
	*c = planeGemm{kn: kn, g: g, pg: pg, w: w, dw: dw, xp: xp, yt: yt,
		blk: blk, nb: ceilDiv(pg.v, blk), backward: backward}
	parallel(min(goMaxProcs(), c.nb), c)
	*c = planeGemm{}
	planeGemms.Put(c)
}

// planeTiles runs the indirect microkernel over 16-pixel tiles: for each
// chunk of tiles (their input rows stay in cache), every 6-filter panel.
type planeTiles struct {
	pg                planeGeom
	ap, xp, yt        []float32
	toff              []int
	nt, panels, tiles int
}

var planeTileCalls = freeList[planeTiles]{}

func (c *planeTiles) run(part, parts int) {
	t0, t1 := part*c.tiles/parts, (part+1)*c.tiles/parts
	const chunk = 64
	for a := t0; a < t1; a += chunk {
		b := min(a+chunk, t1)
		for p := 0; p < c.panels; p++ {
			ap, yt := c.ap[p*c.nt*6:], c.yt[p*6*c.pg.ld:]
			for t := a; t < b; t++ {
				callIndirectB(c.nt, ap, c.xp[t*16:], c.toff, yt[t*16:], c.pg.ld)
			}
		}
	}
}

// planeForwardTiles computes the transposed output with the indirect
// microkernel: all C·KH·KW taps accumulate in registers.
func planeForwardTiles(g convGeom, pg planeGeom, s *planeScratch, w []float32) {
	nt := g.c * g.kh * g.kw
	panels := ceilDiv(g.o, 6)
	s.ap = grow(s.ap, panels*6*nt)
	for p := 0; p < panels; p++ {
		for t := 0; t < nt; t++ {
			for i := 0; i < 6; i++ {
				var v float32
				if o := p*6 + i; o < g.o {
					v = w[o*nt+t]
				}
				s.ap[(p*nt+t)*6+i] = v
			}
		}
	}
	if cap(s.toff) < nt {
		s.toff = make([]int, nt)
	}
	s.toff = s.toff[:nt]
	for ch := 0; ch < g.c; ch++ {
		for ky := 0; ky < g.kh; ky++ {
			for kx := 0; kx < g.kw; kx++ {
				s.toff[(ch*g.kh+ky)*g.kw+kx] = 4 * (ch*pg.vs + ky*g.p.DilationH*pg.wp + kx*g.p.DilationW)
			}
		}
	}
	c := planeTileCalls.Get()
	*c = planeTiles{pg: pg, ap: s.ap, xp: s.xp, yt: s.yt, toff: s.toff, nt: nt, panels: panels, tiles: ceilDiv(pg.v, 16)}
	parallel(min(goMaxProcs(), c.tiles), c)
	*c = planeTiles{}
	planeTileCalls.Put(c)
}

// planeForward computes y = conv(x, w) + bias on the planar path.
func planeForward(kn *gemmKernel, g convGeom, y, x, w, bias []float32) {
	pg := planeDims(g)
	s := planeScratches.Get()
	s.xp = grow(s.xp, g.c*pg.vs)
	planePass(planePad, g, pg, x, nil, s.xp, nil, nil)
	if kn.conv16 {
		s.yt = grow(s.yt, ceilDiv(g.o, 6)*6*pg.ld)
		planeForwardTiles(g, pg, s, w)
	} else {
		s.yt = grow(s.yt, g.o*pg.ld)
		planeGemmPass(kn, g, pg, w, nil, s.xp, s.yt, false)
	}
	planePass(planeOut, g, pg, nil, y, nil, s.yt, bias)
	planeScratches.Put(s)
}

// planeDots is the weight-gradient pass of the planar path with the
// dot-product kernel: blocks of virtual pixels (a fixed partition), each
// accumulating every 6-filter panel × tap pair into its own slot.
type planeDots struct {
	g                 convGeom
	pg                planeGeom
	xp, yt, dw        []float32
	toff              []int
	nt, panels, blk   int
	blocks, v16, slot int
}

var planeDotCalls = freeList[planeDots]{}

func (c *planeDots) run(part, parts int) {
	ld := c.pg.ld
	nt2 := len(c.toff)
	for b := part * c.blocks / parts; b < (part+1)*c.blocks/parts; b++ {
		v0 := b * c.blk
		n := min(c.blk, c.v16-v0)
		out := c.dw[b*c.slot : (b+1)*c.slot]
		clear(out)
		for p := 0; p < c.panels; p++ {
			a := c.yt[p*6*ld+v0:]
			for t := 0; t < nt2; t += 2 {
				callDotIndirect(n, a, ld, c.xp[v0:], c.toff[t], c.toff[t+1], out[p*6*nt2+t:], nt2)
			}
		}
	}
}

// planeBackwardWeightsDots computes dw with the dot-product kernel.
func planeBackwardWeightsDots(kn *gemmKernel, g convGeom, pg planeGeom, s *planeScratch, dw, dy []float32) {
	nt := g.c * g.kh * g.kw
	nt2 := nt + nt%2
	panels := ceilDiv(g.o, 6)
	s.yt = grow(s.yt, panels*6*pg.ld)
	planePass(planeInT, g, pg, nil, dy, nil, s.yt, nil)
	if cap(s.toff) < nt2 {
		s.toff = make([]int, nt2)
	}
	s.toff = s.toff[:nt2]
	for ch := 0; ch < g.c; ch++ {
		for ky := 0; ky < g.kh; ky++ {
			for kx := 0; kx < g.kw; kx++ {
				s.toff[(ch*g.kh+ky)*g.kw+kx] = 4 * (ch*pg.vs + ky*g.p.DilationH*pg.wp + kx*g.p.DilationW)
			}
		}
	}
	s.toff[nt2-1] = s.toff[nt-1] // an odd last tap pairs with itself
	v16 := ceilDiv(pg.v, 16) * 16
	blk := 2048
	blocks := ceilDiv(v16, blk)
	slot := panels * 6 * nt2
	s.dw = grow(s.dw, (blocks+1)*slot)
	c := planeDotCalls.Get()
	*c = planeDots{g: g, pg: pg, xp: s.xp, yt: s.yt, dw: s.dw, toff: s.toff, nt: nt, panels: panels,
		blk: blk, blocks: blocks, v16: v16, slot: slot}
	parallel(min(goMaxProcs(), blocks), c)
	*c = planeDots{}
	planeDotCalls.Put(c)
	sum := s.dw[blocks*slot : (blocks+1)*slot]
	copy(sum, s.dw[:slot])
	for b := 1; b < blocks; b++ {
		addF32(kn, sum, sum, s.dw[b*slot:(b+1)*slot])
	}
	for o := 0; o < g.o; o++ {
		copy(dw[o*nt:(o+1)*nt], sum[o*nt2:o*nt2+nt])
	}
}

// planeBackwardWeights computes dw on the planar path: each block's
// gradient (transposed) apart, then their sum in block order.
func planeBackwardWeights(kn *gemmKernel, g convGeom, dw, x, dy []float32) {
	pg := planeDims(g)
	s := planeScratches.Get()
	s.xp = grow(s.xp, g.c*pg.vs)
	s.yt = grow(s.yt, (pg.vs)*g.o)
	planePass(planePad, g, pg, x, nil, s.xp, nil, nil)
	if kn.conv16 && g.o < 16 { // few filters: a GEMM's N would be mostly padding
		planeBackwardWeightsDots(kn, g, pg, s, dw, dy)
		planeScratches.Put(s)
		return
	}
	nb := ceilDiv(pg.v, planeBlock(g))
	s.dw = grow(s.dw, (nb+1)*len(dw))
	planePass(planeIn, g, pg, nil, dy, nil, s.yt, nil)
	planeGemmPass(kn, g, pg, nil, s.dw, s.xp, s.yt, true)
	sum := s.dw[nb*len(dw):]
	copy(sum, s.dw[:len(dw)])
	for b := 1; b < nb; b++ {
		addF32(kn, sum, sum, s.dw[b*len(dw):(b+1)*len(dw)])
	}
	k := g.c * g.kh * g.kw // sum is [k][O]
	for o := 0; o < g.o; o++ {
		for t := 0; t < k; t++ {
			dw[o*k+t] = sum[t*g.o+o]
		}
	}
	planeScratches.Put(s)
}
