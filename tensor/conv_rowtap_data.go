package tensor

// flippedGeom is the convolution whose forward pass is g's backward-data
// pass at stride 1: dy [N,OH,OW,O] convolved with the flipped, transposed
// weights w'[c][o][kh][kw] = w[o][c][KH−1−kh][KW−1−kw] under padding
// dilation·(K−1) − pad, which gives dx [N,H,W,C].
func flippedGeom(g convGeom) (convGeom, bool) {
	p := g.p
	q := ConvParams{StrideH: 1, StrideW: 1, DilationH: p.DilationH, DilationW: p.DilationW, Groups: 1,
		PadTop: p.DilationH*(g.kh-1) - p.PadTop, PadBottom: p.DilationH*(g.kh-1) - p.PadBottom,
		PadLeft: p.DilationW*(g.kw-1) - p.PadLeft, PadRight: p.DilationW*(g.kw-1) - p.PadRight}
	ok := q.PadTop >= 0 && q.PadBottom >= 0 && q.PadLeft >= 0 && q.PadRight >= 0
	f := convGeom{p: q, n: g.n, h: g.oh, w: g.ow, c: g.o, o: g.c, kh: g.kh, kw: g.kw, cg: g.o,
		oh: g.h, ow: g.w, og: g.c, pixels: g.n * g.h * g.w, kcols: g.kh * g.kw * g.o, flops: g.flops}
	return f, ok
}

// rowTapBackwardDataOK reports whether the backward-data pass of g runs as
// a row-tap forward convolution (stride 1).
func rowTapBackwardDataOK(kn *gemmKernel, g convGeom) bool {
	if g.p.StrideH != 1 || g.p.StrideW != 1 || g.p.Groups != 1 || g.pointwiseInPlc {
		return false
	}
	f, ok := flippedGeom(g)
	return ok && rowTapOK(kn, f)
}

func rowTapBackwardData(kn *gemmKernel, g convGeom, dx, dy, w []float32) {
	f, _ := flippedGeom(g)
	convRowTap(kn, f, dx, dy, w, nil, true)
}

// dotBackwardMaxC is the most input channels dotBackwardData takes: each
// channel is one more pass over the kernel rows of dy.
const dotBackwardMaxC = 4

// dotBackwardDataOK reports whether the backward-data pass of g runs on
// DotRowsAVX2x6 (dotBackwardData): a tier with it (conv16), stride 1, one group, dilationW
// 1, few input channels and O a multiple of 16. There the flipped
// convolution has few filters, too few for a tile of filters, while
// each of its kernel rows is KW·O contiguous floats of the padded dy.
func dotBackwardDataOK(kn *gemmKernel, g convGeom) bool {
	if !kn.conv16 || g.p.StrideH != 1 || g.p.StrideW != 1 || g.p.Groups != 1 || g.p.DilationW != 1 ||
		g.c > dotBackwardMaxC || g.o%16 != 0 || g.pointwiseInPlc {
		return false
	}
	_, ok := flippedGeom(g)
	return ok
}

// dotBackward is one dotBackwardData call, shared by its parts.
type dotBackward struct {
	kn   *gemmKernel
	g, f convGeom  // the convolution and its flipped one
	wp   int       // padded dy row length (pixels)
	dy   []float32 // read in place
	wf   []float32 // flipped weights [C][KH][KW][O]
	dx   []float32
}

var dotBackwards = freeList[dotBackward]{}

// dotBackwardData computes dx as the flipped convolution of dy: every dx
// value is a dot product over KH kernel rows of KW·O floats, six pixels
// of a row at a time. Each part pads the dy rows it needs into a small
// ring (KH rows of the padded dy and one row of zeros, in L1) instead of
// padding all of dy: that copy would cost more than the products.
func dotBackwardData(kn *gemmKernel, g convGeom, dx, dy, w []float32) {
	f, _ := flippedGeom(g)
	s := convScratches.Get()
	d := dotBackwards.Get()
	O := g.o
	s.wp = grow(s.wp, len(w))
	for o := 0; o < O; o++ {
		for c := 0; c < g.c; c++ {
			for kh := 0; kh < g.kh; kh++ {
				for kw := 0; kw < g.kw; kw++ {
					s.wp[((c*g.kh+kh)*g.kw+kw)*O+o] = w[((o*g.c+c)*g.kh+g.kh-1-kh)*g.kw+g.kw-1-kw]
				}
			}
		}
	}
	*d = dotBackward{kn: kn, g: g, f: f, wp: f.w + f.p.PadLeft + f.p.PadRight, dy: dy, wf: s.wp, dx: dx}
	parts := 1
	if workers := goMaxProcs(); workers > 1 && g.flops >= gemmParallelFlops {
		parts = min(workers, g.n*g.h)
	}
	parallel(parts, d)
	*d = dotBackward{}
	dotBackwards.Put(d)
	convScratches.Put(s)
}

func (d *dotBackward) run(part, parts int) {
	g, f := d.g, d.f
	C, O := g.c, g.o
	n := g.kw * O
	span := (g.kh-1)*f.p.DilationH + 1 // padded dy rows one dx row reads
	rowLen := d.wp * O
	// Ring slots 0..span−1 hold padded dy rows, slot span zeros; after
	// them, slack for the last tile's reads past the row end.
	rb := floatBufs.Get()
	*rb = grow(*rb, (span+1)*rowLen+d.kn.dotPixels()*O+n)
	ring := *rb
	clear(ring)
	tb := tapOffsets.Get()
	if cap(*tb) < span+g.kh {
		*tb = make([]int, span+g.kh)
	}
	tags, aoff := (*tb)[:span], (*tb)[span:span+g.kh]
	for i := range tags {
		tags[i] = -1
	}
	rows := g.n * g.h
	for row := part * rows / parts; row < (part+1)*rows/parts; row++ {
		b, ih := row/g.h, row%g.h
		for kh := 0; kh < g.kh; kh++ {
			r := ih + kh*f.p.DilationH - f.p.PadTop // dy row read by kernel row kh
			if r < 0 || r >= f.h {
				aoff[kh] = span * rowLen * 4
				continue
			}
			slot, tag := r%span, b*f.h+r
			if tags[slot] != tag {
				dst := ring[slot*rowLen : (slot+1)*rowLen]
				copy(dst[f.p.PadLeft*O:], d.dy[tag*f.w*O:(tag+1)*f.w*O])
				tags[slot] = tag
			}
			aoff[kh] = slot * rowLen * 4
		}
		for c := 0; c < C; c++ {
			callDotRows(d.kn, g.w, g.kh, n, ring, O, aoff, d.wf[c*g.kh*n:(c+1)*g.kh*n], d.dx[row*g.w*C+c:], C)
		}
	}
	tapOffsets.Put(tb)
	floatBufs.Put(rb)
}
