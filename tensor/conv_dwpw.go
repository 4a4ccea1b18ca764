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
	for r0 := 0; r0 < rows; r0 += band {
		r1 := min(rows, r0+band)
		d.yRow0 = r0
		d.forwardChannels(0, c, r0, r1)
		gemmSerial(kn, gs, false, false, (r1-r0)*g.ow, o, c, 1, s.cols, c, wt.data, o, 0, y.data[r0*g.ow*o:], o)
	}
	gs.bias, gs.act = nil, FusedAct{}
	gemmScratches.Put(gs)
}

// dwpwBand returns the output rows of one DepthwisePointwise band: enough
// for a GEMM of 256 rows, as long as the band's depthwise output (ow·c
// floats a row) fits half of L2.
func dwpwBand(ow, c int) int {
	half := kernels.CacheSizes().L2 / 2
	return max(1, min(ceilDiv(256, ow), half/(ow*c*4)))
}
