package tensor

import (
	"fmt"
	"slices"

	"github.com/graftml/graft/kernels"
)

// DepthwisePointwise computes y = PointwiseAct(z, wt, b2, act2) of z =
// Conv2DAct(x, w, b1, p, act1), a depthwise convolution (p.Groups = C =
// O), bit for bit, without z: a band of output rows at a time goes
// through the depthwise convolution into a buffer that stays in the
// cache, then straight through the pointwise GEMM into y. MobileNet's
// blocks are such pairs (a 3×3 depthwise convolution, ReLU6, a 1×1
// projection), and z, six times wider than y, is the largest tensor they
// write. x is [N, H, W, C], w [C, 1, KH, KW], wt [C, O] (the pointwise
// weights transposed, as PointwiseAct's) and y [N, OH, OW, O]; b1 and b2
// may be nil. It runs on one thread.
func (cpu CPU) DepthwisePointwise(y, x, w, b1 *Tensor, p ConvParams, act1 FusedAct, wt, b2 *Tensor, act2 FusedAct) {
	sameBackend("DepthwisePointwise", cpu, y, x, w, b1, wt, b2)
	if x.Rank() != 4 || wt.Rank() != 2 || y.Rank() != 4 {
		panic(fmt.Sprintf("tensor.DepthwisePointwise: x %v, wt %v, y %v: want [N, H, W, C], [C, O] and [N, OH, OW, O]", x.shape, wt.shape, y.shape))
	}
	c, o := wt.Dim(0), wt.Dim(1)
	oh, ow := p.norm().OutSize(x.Dim(1), x.Dim(2), w.Dim(2), w.Dim(3))
	mid := &Tensor{shape: []int{x.Dim(0), oh, ow, c}} // z's shape, for the checks
	g := convDims("DepthwisePointwise", x, w, mid, b1, p)
	if !g.depthwise {
		panic(fmt.Sprintf("tensor.DepthwisePointwise: x %v, w %v, %+v is not a depthwise convolution", x.shape, w.shape, p))
	}
	if !slices.Equal(y.shape, []int{g.n, g.oh, g.ow, o}) {
		panic(fmt.Sprintf("tensor.DepthwisePointwise: y %v, want %v", y.shape, []int{g.n, g.oh, g.ow, o}))
	}
	var bias2 []float32
	if b2 != nil {
		if b2.Len() != o {
			panic(fmt.Sprintf("tensor.DepthwisePointwise: pointwise bias %v for %d output channels", b2.shape, o))
		}
		bias2 = b2.data
	}
	if g.pixels == 0 || o == 0 {
		return
	}
	kn := cpu.kern()
	s := convScratches.Get()
	defer convScratches.Put(s)
	s.wp = grow(s.wp, g.kh*g.kw*c)
	depthwiseTaps(s.wp, w.data, g)
	rows := g.n * g.oh
	band := dwpwBand(g.ow, c)
	s.cols = grow(s.cols, band*g.ow*c)
	d := depthwiseCall{kn: kn, g: g, x: x.data, wk: s.wp, y: s.cols, bias: b1, act: act1}
	gs := getGemmScratch(kn)
	gs.bias, gs.act = bias2, act2
	gs.resetScratchB()
	gs.keepB = true // every band multiplies by wt
	for r0 := 0; r0 < rows; r0 += band {
		r1 := min(rows, r0+band)
		d.yRow0 = r0
		d.forwardChannels(0, c, r0, r1)
		gemmSerial(kn, gs, false, false, (r1-r0)*g.ow, o, c, 1, s.cols, c, wt.data, o, 0, y.data[r0*g.ow*o:], o)
	}
	gs.bias, gs.act, gs.keepB = nil, FusedAct{}, false
	gs.resetScratchB() // the pool keeps no pointer to the weights
	gemmScratches.Put(gs)
}

// dwpwBand returns the output rows of one DepthwisePointwise band: enough
// for a GEMM of 256 rows, as long as the band's depthwise output (ow·c
// floats a row) fits half of L2.
func dwpwBand(ow, c int) int {
	half := kernels.CacheSizes().L2 / 2
	return max(1, min(ceilDiv(256, ow), half/(ow*c*4)))
}

// InvertedResidual computes y = DepthwisePointwise(z, w, b1, p, act1, wt,
// b2, act2) of z = PointwiseAct(x, we, b0, act0), bit for bit, without z
// or the depthwise output: for each image, a band of output rows at a time
// takes the input rows it reads through the first pointwise GEMM into a
// buffer, the depthwise convolution, and the second GEMM, all in the
// cache. The rows two bands share are copied, not computed again. This
// is MobileNetV2's block (1×1 expansion, ReLU6, 3×3 depthwise, ReLU6, 1×1
// projection); z, the widest tensor of the block, then never goes to
// memory. we is [Cin, C] (transposed, as PointwiseAct's), x [N, H, W,
// Cin]; the rest as DepthwisePointwise's. It runs on one thread.
func (cpu CPU) InvertedResidual(y, x, we, b0 *Tensor, act0 FusedAct, w, b1 *Tensor, p ConvParams, act1 FusedAct, wt, b2 *Tensor, act2 FusedAct) {
	sameBackend("InvertedResidual", cpu, y, x, we, b0, w, b1, wt, b2)
	if x.Rank() != 4 || we.Rank() != 2 || we.Dim(0) != x.Dim(3) {
		panic(fmt.Sprintf("tensor.InvertedResidual: x %v, expansion weights %v: want [N, H, W, Cin] and [Cin, C]", x.shape, we.shape))
	}
	cin, c := we.Dim(0), we.Dim(1)
	if b0 != nil && b0.Len() != c {
		panic(fmt.Sprintf("tensor.InvertedResidual: expansion bias %v for %d channels", b0.shape, c))
	}
	if wt.Rank() != 2 || wt.Dim(0) != c {
		panic(fmt.Sprintf("tensor.InvertedResidual: projection weights %v, want [%d, O]", wt.shape, c))
	}
	o := wt.Dim(1)
	n, h, wd := x.Dim(0), x.Dim(1), x.Dim(2)
	z := &Tensor{shape: []int{n, h, wd, c}} // the expansion's shape, for the checks
	pn := p.norm()
	oh, ow := pn.OutSize(h, wd, w.Dim(2), w.Dim(3))
	g := convDims("InvertedResidual", z, w, &Tensor{shape: []int{n, oh, ow, c}}, b1, p)
	if !g.depthwise {
		panic(fmt.Sprintf("tensor.InvertedResidual: w %v, %+v is not a depthwise convolution of %d channels", w.shape, p, c))
	}
	if !slices.Equal(y.shape, []int{n, oh, ow, o}) {
		panic(fmt.Sprintf("tensor.InvertedResidual: y %v, want %v", y.shape, []int{n, oh, ow, o}))
	}
	var bias0, bias2 []float32
	if b0 != nil {
		bias0 = b0.data
	}
	if b2 != nil {
		if b2.Len() != o {
			panic(fmt.Sprintf("tensor.InvertedResidual: projection bias %v for %d output channels", b2.shape, o))
		}
		bias2 = b2.data
	}
	if g.pixels == 0 || o == 0 {
		return
	}
	kn := cpu.kern()
	s := convScratches.Get()
	defer convScratches.Put(s)
	s.wp = grow(s.wp, g.kh*g.kw*c)
	depthwiseTaps(s.wp, w.data, g)
	sh, dh, kh := pn.StrideH, pn.DilationH, g.kh
	span := (kh-1)*dh + 1 // input rows one output row reads
	band := irBand(wd, ow, c, sh, span, oh)
	maxIn := min(h, (band-1)*sh+span)
	s.cols = grow(s.cols, maxIn*wd*c+band*ow*c) // the expansion's rows, then the depthwise output's
	e, dout := s.cols[:maxIn*wd*c], s.cols[maxIn*wd*c:]
	// one scratch for each GEMM, each keeping its weights packed from
	// band to band
	gsE, gsP := getGemmScratch(kn), getGemmScratch(kn)
	gsE.bias, gsE.act, gsP.bias, gsP.act = bias0, act0, bias2, act2
	gsE.resetScratchB()
	gsP.resetScratchB()
	gsE.keepB, gsP.keepB = true, true
	defer func() {
		gsE.bias, gsE.act, gsE.keepB = nil, FusedAct{}, false
		gsP.bias, gsP.act, gsP.keepB = nil, FusedAct{}, false
		gsE.resetScratchB() // the pool keeps no pointer to the weights
		gsP.resetScratchB()
		gemmScratches.Put(gsE)
		gemmScratches.Put(gsP)
	}()
	for img := 0; img < n; img++ {
		xi := x.data[img*h*wd*cin : (img+1)*h*wd*cin]
		yi := y.data[img*oh*ow*o : (img+1)*oh*ow*o]
		have0, have1 := 0, 0 // input rows [have0, have1) are in e
		for a := 0; a < oh; a += band {
			b := min(oh, a+band)
			lo, hi := max(0, a*sh-pn.PadTop), min(h, (b-1)*sh-pn.PadTop+span)
			if lo >= hi { // every tap in the padding
				lo, hi = 0, 0
			}
			// keep the rows the last band expanded, compute the rest
			if lo < have1 { // lo ≥ have0: the bands ascend
				copy(e, e[(lo-have0)*wd*c:(min(have1, hi)-have0)*wd*c])
				have0, have1 = lo, min(have1, hi)
			} else {
				have0, have1 = lo, lo
			}
			if have1 < hi {
				gemmSerial(kn, gsE, false, false, (hi-have1)*wd, c, cin, 1, xi[have1*wd*cin:], cin, we.data, c, 0, e[(have1-have0)*wd*c:], c)
				have1 = hi
			}
			// the depthwise convolution of the band on the rows in e
			q := pn
			q.PadTop = max(0, pn.PadTop-a*sh)
			q.PadBottom = max(0, (b-a-1)*sh+span-(hi-lo)-q.PadTop)
			bg := g
			bg.n, bg.h, bg.p, bg.oh = 1, hi-lo, q, b-a
			bg.pixels = (b - a) * ow
			d := depthwiseCall{kn: kn, g: bg, x: e, wk: s.wp, y: dout, bias: b1, act: act1, noPrefetch: true}
			d.forwardChannels(0, c, 0, b-a)
			gemmSerial(kn, gsP, false, false, (b-a)*ow, o, c, 1, dout, c, wt.data, o, 0, yi[a*ow*o:], o)
		}
	}
}

// irBand returns the output rows of one InvertedResidual band: as many as
// keep the band's expansion rows and depthwise output within half of L2,
// at least one.
func irBand(w, ow, c, stride, span, oh int) int {
	half := kernels.CacheSizes().L2 / 2
	r := 1
	for r < oh && (((r)*stride+span)*w+(r+1)*ow)*c*4 <= half {
		r++
	}
	return r
}
