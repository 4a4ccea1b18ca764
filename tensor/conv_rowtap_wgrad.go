package tensor

// tapWGradOK reports whether the weight gradient of g runs on the tap
// kernels (tapWGrad): a tier with them (conv16), one group, dilationW 1,
// O a multiple of 16 and a kernel row (KW·C floats) shorter than maxKWC.
// Below gatherBelow the row is too short for the GEMM formulations; on
// AVX2, up to 4·gatherBelow the tap kernels still beat im2col (mnist_c2:
// 54 → 63 GFLOP/s), and the tier says how far (tapWGradMaxKWC). They replaced a
// GEMM over the padded image grid, which lost to them or to im2col on
// every ResNet layer (r18_l2 49 → 67, r18_l3 46 → 60 GFLOP/s).
func tapWGradOK(kn *gemmKernel, g convGeom, maxKWC int) bool {
	return kn.conv16 && g.p.Groups == 1 && g.p.DilationW == 1 && g.o%16 == 0 &&
		g.kw*g.c < maxKWC && !g.pointwiseInPlc
}

// tapWGradCall is one tapWGrad, shared by its parts.
type tapWGradCall struct {
	kn      *gemmKernel
	nr      int // filters per kernel call: 16, 32 or 64 (kn.wgradNR)
	g       convGeom
	hp, wp  int
	xp, dy  []float32
	toff    []int     // byte offset of tap (kh, kw, c) from a pixel's window
	dwt     []float32 // dWᵀ [taps][O]
	db      []float32 // the bias gradient, or nil
	groups  int       // tap groups of ≤ 6
	rowsBlk int       // output rows per block
}

var tapWGradCalls = freeList[tapWGradCall]{}

// tapWGrad computes dw from the input padded once: the taps fall into
// groups of at most 6, and for each group and 16-filter panel (a unit) a
// ConvWGrad kernel keeps the sums in registers over a block of output
// rows (a block's dy stays in L2 for every unit). Parts take disjoint
// units and every sum runs over the pixels in one order, so the result
// does not depend on the thread count. The bias gradient db (or nil) is
// summed from the same blocks while they are in cache, each part taking
// a range of its columns.
func tapWGrad(kn *gemmKernel, g convGeom, dw, db, x, dy []float32) {
	s := convScratches.Get()
	c := tapWGradCalls.Get()
	hp, wp := g.h+g.p.PadTop+g.p.PadBottom, g.w+g.p.PadLeft+g.p.PadRight
	C, O := g.c, g.o
	T := g.kh * g.kw * C
	slack := (6*g.p.StrideW + g.kw + 1) * C
	s.cols = grow(s.cols, g.n*hp*wp*C+slack)
	padNHWC(s.cols, x, g.n, g.h, g.w, C, g.p.PadTop, g.p.PadLeft, hp, wp)
	clear(s.cols[g.n*hp*wp*C:])
	s.dwp = grow(s.dwp, T*O)
	clear(s.dwp)
	tp := tapOffsets.Get()
	if cap(*tp) < T {
		*tp = make([]int, T)
	}
	toff := (*tp)[:T]
	for kh := 0; kh < g.kh; kh++ {
		for q := 0; q < g.kw*C; q++ {
			toff[kh*g.kw*C+q] = (kh*g.p.DilationH*wp*C + q) * 4
		}
	}
	nr := 16
	switch {
	case kn.wgradNR == 64 && O%64 == 0:
		nr = 64
	case kn.wgradNR >= 32 && O%32 == 0:
		nr = 32
	}
	*c = tapWGradCall{kn: kn, nr: nr, g: g, hp: hp, wp: wp, xp: s.cols, dy: dy, toff: toff, dwt: s.dwp, db: db,
		groups: ceilDiv(T, 6)}
	clear(db)
	units := c.groups * O / nr
	c.rowsBlk = max(1, min(g.oh, (1<<15)/max(g.ow*O, 1))) // a block of dy rows stays in L2 for every unit
	parts := 1
	if workers := goMaxProcs(); workers > 1 && g.flops >= gemmParallelFlops {
		parts = min(workers, units)
	}
	parallel(parts, c)
	for o := 0; o < O; o++ {
		for t := 0; t < T; t++ { // t = (kh·KW + kw)·C + c
			kk, ci := t/C, t%C
			dw[(o*C+ci)*g.kh*g.kw+kk] = s.dwp[t*O+o]
		}
	}
	*c = tapWGradCall{}
	tapWGradCalls.Put(c)
	tapOffsets.Put(tp)
	convScratches.Put(s)
}

func (c *tapWGradCall) run(part, parts int) {
	g := c.g
	C, O := g.c, g.o
	T := g.kh * g.kw * C
	NR := c.nr
	units := c.groups * O / NR
	u0, u1 := part*units/parts, (part+1)*units/parts
	xs, xrs := g.p.StrideW*C*4, g.p.StrideH*c.wp*C*4
	// this part's columns of db: panels of 16 (O is a multiple of 16)
	j0, j1 := part*(O/16)/parts*16, (part+1)*(O/16)/parts*16
	for n := 0; n < g.n; n++ {
		for oh0 := 0; oh0 < g.oh; oh0 += c.rowsBlk {
			nr := min(c.rowsBlk, g.oh-oh0)
			xb := c.xp[((n*c.hp)+oh0*g.p.StrideH)*c.wp*C:]
			dyb := c.dy[(n*g.oh+oh0)*g.ow*O:]
			for u := u0; u < u1; u++ {
				grp, jp := u/(O/NR), u%(O/NR)
				t0, t1 := grp*T/c.groups, (grp+1)*T/c.groups
				callConvWGrad(c.kn, NR, g.ow, nr, xb, xs, xrs, c.toff[t0:t1], dyb[jp*NR:], O, c.dwt[t0*O+jp*NR:], O)
			}
			if c.db != nil && j1 > j0 {
				colSum(c.kn, c.db[j0:j1], dyb[j0:], nr*g.ow, O)
			}
		}
	}
}
