package tensor

import "fmt"

// ConvParams describes a 2-D convolution or pooling window: strides,
// dilations, padding on each side and channel groups. Zero strides,
// dilations and groups mean 1.
type ConvParams struct {
	StrideH, StrideW                     int
	DilationH, DilationW                 int
	PadTop, PadLeft, PadBottom, PadRight int
	Groups                               int
}

// norm returns p with zero fields that mean 1 set to 1.
func (p ConvParams) norm() ConvParams {
	one := func(v *int) {
		if *v == 0 {
			*v = 1
		}
	}
	one(&p.StrideH)
	one(&p.StrideW)
	one(&p.DilationH)
	one(&p.DilationW)
	one(&p.Groups)
	return p
}

// OutSize returns the output height and width of a window of kh×kw over
// an h×w input: floor((h + pads − dilation·(kh−1) − 1) / stride) + 1, or 0
// when the window does not fit in the padded input.
func (p ConvParams) OutSize(h, w, kh, kw int) (oh, ow int) {
	p = p.norm()
	size := func(span, stride int) int {
		if span < 0 { // the window is larger than the padded input
			return 0
		}
		return span/stride + 1
	}
	oh = size(h+p.PadTop+p.PadBottom-p.DilationH*(kh-1)-1, p.StrideH)
	ow = size(w+p.PadLeft+p.PadRight-p.DilationW*(kw-1)-1, p.StrideW)
	return oh, ow
}

// SamePadding returns the padding before and after one spatial dimension
// that makes the output size ceil(in / stride), TensorFlow's "same". When
// the total is odd the extra element goes after (SAME_UPPER), or before
// when lower is set (SAME_LOWER).
func SamePadding(in, k, stride, dilation int, lower bool) (before, after int) {
	stride, dilation = max(stride, 1), max(dilation, 1)
	out := (in + stride - 1) / stride
	total := max((out-1)*stride+dilation*(k-1)+1-in, 0)
	before = total / 2
	if lower {
		before = total - total/2
	}
	return before, total - before
}

// convGeom holds a convolution's checked dimensions.
type convGeom struct {
	p              ConvParams
	n, h, w, c     int // input NHWC
	o, kh, kw, cg  int // weights OIHW: cg = c / groups
	oh, ow         int
	og             int // output channels per group
	pixels, kcols  int // output pixels N·OH·OW; columns per group KH·KW·cg
	flops          float64
	depthwise      bool
	pointwise      bool
	pointwiseInPlc bool // 1×1, stride 1, no padding: a plain GEMM on x
}

// convDims checks the shapes of a convolution: x [N,H,W,C] (NHWC),
// w [O, C/groups, KH, KW] (OIHW), y [N,OH,OW,O], bias [O] or nil.
func convDims(op string, x, w, y, bias *Tensor, p ConvParams) convGeom {
	p = p.norm()
	if x.Rank() != 4 || w.Rank() != 4 || y.Rank() != 4 {
		panic(fmt.Sprintf("tensor.%s: want 4-D x (NHWC), w (OIHW), y (NHWC); have x %v, w %v, y %v", op, x.shape, w.shape, y.shape))
	}
	g := convGeom{p: p, n: x.shape[0], h: x.shape[1], w: x.shape[2], c: x.shape[3],
		o: w.shape[0], cg: w.shape[1], kh: w.shape[2], kw: w.shape[3]}
	if p.StrideH < 1 || p.StrideW < 1 || p.DilationH < 1 || p.DilationW < 1 || p.Groups < 1 ||
		p.PadTop < 0 || p.PadLeft < 0 || p.PadBottom < 0 || p.PadRight < 0 {
		panic(fmt.Sprintf("tensor.%s: bad parameters %+v", op, p))
	}
	if g.c%p.Groups != 0 || g.o%p.Groups != 0 || g.cg != g.c/p.Groups {
		panic(fmt.Sprintf("tensor.%s: x %v and w %v do not fit %d groups (w must be [O, C/groups, KH, KW])", op, x.shape, w.shape, p.Groups))
	}
	g.oh, g.ow = p.OutSize(g.h, g.w, g.kh, g.kw)
	if g.oh < 1 || g.ow < 1 {
		panic(fmt.Sprintf("tensor.%s: window %dx%d (dilation %dx%d) larger than padded input %v", op, g.kh, g.kw, p.DilationH, p.DilationW, x.shape))
	}
	if ys := y.shape; ys[0] != g.n || ys[1] != g.oh || ys[2] != g.ow || ys[3] != g.o {
		panic(fmt.Sprintf("tensor.%s: x %v, w %v with %+v give y %v, have %v", op, x.shape, w.shape, p, []int{g.n, g.oh, g.ow, g.o}, y.shape))
	}
	if bias != nil && (bias.Rank() != 1 || bias.shape[0] != g.o) {
		panic(fmt.Sprintf("tensor.%s: bias %v, want [%d]", op, bias.shape, g.o))
	}
	g.og = g.o / p.Groups
	g.pixels = g.n * g.oh * g.ow
	g.kcols = g.kh * g.kw * g.cg
	g.flops = 2 * float64(g.pixels) * float64(g.o) * float64(g.kcols)
	g.depthwise = p.Groups == g.c && g.o == g.c
	g.pointwise = g.kh == 1 && g.kw == 1
	g.pointwiseInPlc = g.pointwise && p.Groups == 1 && p.StrideH == 1 && p.StrideW == 1 &&
		p.PadTop == 0 && p.PadLeft == 0 && p.PadBottom == 0 && p.PadRight == 0
	return g
}

// ConvFLOPs returns the forward multiply-add count ×2 of a convolution:
// 2·N·OH·OW·O·(C/groups)·KH·KW.
func ConvFLOPs(x, w *Tensor, p ConvParams) float64 {
	oh, ow := p.OutSize(x.shape[1], x.shape[2], w.shape[2], w.shape[3])
	return 2 * float64(x.shape[0]*oh*ow*w.shape[0]) * float64(w.shape[1]*w.shape[2]*w.shape[3])
}

// ConvOutput returns a zero tensor of the output shape of a convolution of
// x (NHWC) by w (OIHW).
func ConvOutput(x, w *Tensor, p ConvParams) *Tensor {
	oh, ow := p.OutSize(x.shape[1], x.shape[2], w.shape[2], w.shape[3])
	return Zeros(x.shape[0], oh, ow, w.shape[0])
}
