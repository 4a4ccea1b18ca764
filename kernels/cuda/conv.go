package cuda

// ConvShape is a 2-D convolution's geometry, as graft's tensor.ConvParams
// with the tensor sizes: x [N,H,W,C] (NHWC), w [O, C/Groups, KH, KW]
// (OIHW), y [N,OH,OW,O] with OH, OW from OutSize. Output channel o is in
// group g = o/(O/Groups) and reads input channels g·C/Groups + c, at
// ih = oh·StrideH − PadTop + kh·DilationH (and likewise for w); positions
// outside the input read as zero. Zero strides, dilations and groups mean
// 1.
type ConvShape struct {
	N, H, W, C                           int
	O, KH, KW                            int
	StrideH, StrideW                     int
	DilationH, DilationW                 int
	PadTop, PadLeft, PadBottom, PadRight int
	Groups                               int
}

func (p ConvShape) norm() ConvShape {
	for _, v := range []*int{&p.StrideH, &p.StrideW, &p.DilationH, &p.DilationW, &p.Groups} {
		if *v == 0 {
			*v = 1
		}
	}
	return p
}

// OutSize returns the output height and width:
// floor((H + pads − dilation·(K−1) − 1)/stride) + 1, or 0 where the window
// does not fit in the padded input.
func (p ConvShape) OutSize() (oh, ow int) {
	p = p.norm()
	return outSize(p.H, p.KH, p.StrideH, p.DilationH, p.PadTop, p.PadBottom, false),
		outSize(p.W, p.KW, p.StrideW, p.DilationW, p.PadLeft, p.PadRight, false)
}

// outSize is the output length of a window of k taps over in positions;
// with ceil set rounded up, as long as the last window starts inside the
// input or its leading padding (PyTorch's rule for pooling).
func outSize(in, k, stride, dilation, before, after int, ceil bool) int {
	span := in + before + after - dilation*(k-1) - 1
	if span < 0 || stride < 1 {
		return 0
	}
	out := span/stride + 1
	if ceil {
		out = (span+stride-1)/stride + 1
		if (out-1)*stride >= in+before {
			out--
		}
	}
	return out
}

// convArgs mirrors the kernels' struct ConvArgs (conv.cu), field by field.
type convArgs struct {
	N, H, W, C     int32
	O, KH, KW      int32
	OH, OW         int32
	SH, SW         int32
	DH, DW         int32
	PT, PL         int32
	Groups, CG, OG int32
}

// args checks p and returns the kernels' form of it and the pixel counts
// of the output (N·OH·OW) and input (N·H·W).
func (p ConvShape) args(v *argCheck) (a convArgs, outPix, inPix int) {
	p = p.norm()
	v.sizes("N,PadTop,PadLeft,PadBottom,PadRight", p.N, p.PadTop, p.PadLeft, p.PadBottom, p.PadRight)
	v.positive("H,W,C,O,KH,KW,StrideH,StrideW,DilationH,DilationW,Groups", p.H, p.W, p.C, p.O, p.KH, p.KW, p.StrideH, p.StrideW, p.DilationH, p.DilationW, p.Groups)
	if v.err != nil {
		return a, 0, 0
	}
	if p.C%p.Groups != 0 || p.O%p.Groups != 0 {
		v.failf("C = %d and O = %d must both be multiples of Groups = %d", p.C, p.O, p.Groups)
	}
	if p.Groups > maxGridYZ || ceilDiv(max(p.C, p.O)/p.Groups, 64) > maxGridYZ {
		v.failf("Groups = %d, C = %d, O = %d: too many for the grid", p.Groups, p.C, p.O)
	}
	oh, ow := p.OutSize()
	if oh < 1 || ow < 1 {
		v.failf("window %dx%d (dilation %dx%d) larger than the padded %dx%d input", p.KH, p.KW, p.DilationH, p.DilationW, p.H, p.W)
	}
	outPix = v.product("N·OH·OW", true, p.N, oh, ow)
	inPix = v.product("N·H·W", true, p.N, p.H, p.W)
	v.product("x", false, inPix, p.C)
	v.product("y", false, outPix, p.O)
	v.product("w", true, p.O, p.C/p.Groups, p.KH, p.KW)
	if v.err != nil {
		return a, 0, 0
	}
	return convArgs{
		N: int32(p.N), H: int32(p.H), W: int32(p.W), C: int32(p.C),
		O: int32(p.O), KH: int32(p.KH), KW: int32(p.KW), OH: int32(oh), OW: int32(ow),
		SH: int32(p.StrideH), SW: int32(p.StrideW), DH: int32(p.DilationH), DW: int32(p.DilationW),
		PT: int32(p.PadTop), PL: int32(p.PadLeft),
		Groups: int32(p.Groups), CG: int32(p.C / p.Groups), OG: int32(p.O / p.Groups),
	}, outPix, inPix
}

// depthwise reports whether a convolution runs on the depthwise kernels:
// one filter per channel (Groups = C = O).
func (k *Kernels) depthwise(a *convArgs) bool {
	return !k.gen && a.Groups == a.C && a.O == a.C
}

// Conv2DForward queues y = conv(x, w) + bias; bias [O] may be 0 (none).
// Depthwise convolutions (Groups = C = O) run a direct kernel, the others
// an implicit GEMM.
func (k *Kernels) Conv2DForward(s Stream, p ConvShape, y, x, w, bias DevicePtr) error {
	return k.convData("Conv2DForward", s, p, false, y, x, w, bias)
}

// Conv2DBackwardData queues dx, the gradient with respect to x, from dy
// and w: dx[n,ih,iw,ci] = Σ dy[n,oh,ow,o]·w[o,c,kh,kw] over every tap that
// reads x[n,ih,iw,ci]. Every element of dx is written.
func (k *Kernels) Conv2DBackwardData(s Stream, p ConvShape, dx, dy, w DevicePtr) error {
	return k.convData("Conv2DBackwardData", s, p, true, dx, dy, w, 0)
}

// convData queues the forward pass (out y, in x) or, with backward set,
// the backward-data pass (out dx, in dy). Its implicit GEMM has a row per
// pixel of out and a column per channel of out's group.
func (k *Kernels) convData(op string, s Stream, p ConvShape, backward bool, out, in, w, bias DevicePtr) error {
	if k == nil {
		return ErrNotLoaded
	}
	v := argCheck{op: op}
	ac, outPix, inPix := p.args(&v)
	a := &ac // on the stack: launch keeps nothing
	if v.err != nil {
		return v.err
	}
	names := [2]string{"y", "x"}
	id, dwID, rows, cols, channels := kConvFwd, kDWConvFwd, outPix, a.OG, a.O
	if backward {
		names = [2]string{"dx", "dy"}
		id, dwID, rows, cols, channels = kConvBwdData, kDWConvBwdData, inPix, a.CG, a.C
	}
	need := rows > 0 && cols > 0 // else the output is empty
	v.ptrs(need, names[0], out)
	v.ptrs(need && a.CG > 0, names[1], in)
	v.ptrs(need && a.CG > 0, "w", w)
	v.ptrs(false, "bias", bias)
	if v.err != nil || !need {
		return v.err
	}
	args := [5]any{a, out, in, w, bias} // on the stack; the backward kernel takes no bias
	nargs := 5
	if backward {
		nargs = 4
	}
	if k.depthwise(a) {
		return k.launch1D(op, dwID, rows*int(channels), s, args[:nargs]...)
	}
	grid := dim3{uint32(ceilDiv(rows, 64)), uint32(ceilDiv(int(cols), 64)), uint32(a.Groups)}
	return k.launch(op, id, grid, dim3{256, 1, 1}, s, args[:nargs]...)
}

// Conv2DBackwardWeights queues dw = Σ_pixels dy·x (the weight gradient,
// [O, C/Groups, KH, KW]) and, unless db is 0, db[o] = Σ_pixels dy[.., o].
// When the output has few channels for its pixels, the pixels are cut into
// slices whose sums are added atomically, so the last bits of dw may vary
// from run to run.
func (k *Kernels) Conv2DBackwardWeights(s Stream, p ConvShape, dw, db, x, dy DevicePtr) error {
	if k == nil {
		return ErrNotLoaded
	}
	v := argCheck{op: "Conv2DBackwardWeights"}
	ac, outPix, _ := p.args(&v)
	a := &ac
	if v.err != nil {
		return v.err
	}
	taps := int(a.KH * a.KW)
	wlen := int(a.O*a.CG) * taps
	v.ptrs(wlen > 0, "dw", dw)
	v.ptrs(wlen > 0 && outPix > 0, "x,dy", x, dy)
	v.ptrs(false, "db", db)
	if v.err != nil || a.O == 0 {
		return v.err
	}
	if outPix == 0 { // no pixels: the gradients are zero
		if err := k.Fill(s, wlen, 0, dw); err != nil || db == 0 {
			return err
		}
		return k.Fill(s, int(a.O), 0, db)
	}
	var err error
	switch {
	case wlen == 0: // no input channels per group: only the bias gradient
	case k.depthwise(a):
		split := k.splits(ceilDiv(int(a.C), 32)*taps, outPix, 1024, 1)
		if split > 1 {
			err = k.Fill(s, wlen, 0, dw)
		}
		if err == nil {
			grid := dim3{uint32(ceilDiv(int(a.C), 32)), uint32(taps), uint32(split)}
			err = k.launch(v.op, kDWConvBwdWeights, grid, dim3{32, 8, 1}, s, a, dw, x, dy)
		}
	default:
		tiles := ceilDiv(int(a.CG), 64) * ceilDiv(int(a.OG), 64)
		split := k.splits(tiles*int(a.Groups)*taps, outPix, 512, int(a.Groups)*taps)
		if split > 1 {
			err = k.Fill(s, wlen, 0, dw)
		}
		if err == nil {
			grid := dim3{uint32(ceilDiv(int(a.CG), 64)), uint32(ceilDiv(int(a.OG), 64)), uint32(int(a.Groups) * taps * split)}
			err = k.launch(v.op, kConvBwdWeights, grid, dim3{256, 1, 1}, s, a, int32(split), dw, x, dy)
		}
	}
	if err != nil || db == 0 {
		return err
	}
	return k.sum(v.op, s, 1, outPix, int(a.O), db, dy)
}

// splits chooses how many slices to cut the pixels of a weight gradient
// into: enough for its blocks to fill the GPU twice, each slice at least
// minPer pixels, at most maxGridYZ/zPer slices (zPer grid z per slice).
func (k *Kernels) splits(blocks, pixels, minPer, zPer int) int {
	n := k.split
	if n == 0 {
		n = min(ceilDiv(2*k.sms, blocks), pixels/minPer)
	}
	return max(1, min(n, maxGridYZ/zPer))
}

// PoolShape is a 2-D pooling window over x [N,H,W,C] (NHWC), as graft's
// tensor.PoolParams: window (oh, ow) covers ih = oh·StrideH − PadTop +
// kh·DilationH (and likewise for w), taps outside the input are skipped;
// average pooling divides by the taps inside the input, or with
// CountIncludePad by those inside the padded input. CeilMode rounds the
// output size up (a last window must still start inside the input or its
// leading padding). Zero strides and dilations mean 1.
type PoolShape struct {
	N, H, W, C                           int
	KH, KW                               int
	StrideH, StrideW                     int
	DilationH, DilationW                 int
	PadTop, PadLeft, PadBottom, PadRight int
	CeilMode, CountIncludePad            bool
}

// OutSize returns the pooled height and width.
func (p PoolShape) OutSize() (oh, ow int) {
	sh, sw, dh, dw := max(p.StrideH, 1), max(p.StrideW, 1), max(p.DilationH, 1), max(p.DilationW, 1)
	return outSize(p.H, p.KH, sh, dh, p.PadTop, p.PadBottom, p.CeilMode),
		outSize(p.W, p.KW, sw, dw, p.PadLeft, p.PadRight, p.CeilMode)
}

// poolArgs mirrors the kernels' struct PoolArgs (pool.cu).
type poolArgs struct {
	N, H, W, C     int32
	OH, OW         int32
	KH, KW         int32
	SH, SW         int32
	DH, DW         int32
	PT, PL, PB, PR int32
	IncludePad     int32
}

// args checks p and returns the kernels' form of it with the element
// counts of y and x.
func (p PoolShape) args(v *argCheck) (a poolArgs, ylen, xlen int) {
	v.sizes("N,C,StrideH,StrideW,DilationH,DilationW,PadTop,PadLeft,PadBottom,PadRight", p.N, p.C, p.StrideH, p.StrideW, p.DilationH, p.DilationW, p.PadTop, p.PadLeft, p.PadBottom, p.PadRight)
	v.positive("H,W,KH,KW", p.H, p.W, p.KH, p.KW)
	if v.err != nil {
		return a, 0, 0
	}
	oh, ow := p.OutSize()
	if oh < 1 || ow < 1 {
		v.failf("window %dx%d larger than the padded %dx%d input", p.KH, p.KW, p.H, p.W)
	}
	ylen = v.product("y", false, p.N, oh, ow, p.C)
	xlen = v.product("x", false, p.N, p.H, p.W, p.C)
	if v.err != nil {
		return a, 0, 0
	}
	return poolArgs{
		N: int32(p.N), H: int32(p.H), W: int32(p.W), C: int32(p.C), OH: int32(oh), OW: int32(ow),
		KH: int32(p.KH), KW: int32(p.KW),
		SH: int32(max(p.StrideH, 1)), SW: int32(max(p.StrideW, 1)),
		DH: int32(max(p.DilationH, 1)), DW: int32(max(p.DilationW, 1)),
		PT: int32(p.PadTop), PL: int32(p.PadLeft), PB: int32(p.PadBottom), PR: int32(p.PadRight),
		IncludePad: flag(p.CountIncludePad),
	}, ylen, xlen
}

// pool checks and launches one of the pooling kernels over n elements
// (of y for the forward passes, of dx for the backward ones).
func (k *Kernels) pool(op string, id kernelID, forward bool, s Stream, p PoolShape, names string, ptrs ...DevicePtr) error {
	v := argCheck{op: op}
	ac, ylen, xlen := p.args(&v)
	a := &ac
	v.ptrs(ylen > 0, names, ptrs...)
	if v.err != nil {
		return v.err
	}
	n := xlen
	if forward {
		n = ylen
	}
	// the pool's arguments, then its 2 or 3 pointers, on the stack (each
	// boxed at its own site: boxing in a loop would allocate)
	args := [4]any{a, ptrs[0], ptrs[1], nil}
	if len(ptrs) == 3 {
		args[3] = ptrs[2]
	}
	return k.launch1D(op, id, n, s, args[:len(ptrs)+1]...)
}

// MaxPool2DForward queues y = the maximum of each window's taps inside x
// (NaN propagates; the first NaN or maximum wins).
func (k *Kernels) MaxPool2DForward(s Stream, p PoolShape, y, x DevicePtr) error {
	return k.pool("MaxPool2DForward", kMaxPoolFwd, true, s, p, "y,x", y, x)
}

// MaxPool2DBackward queues dx: each dy goes to the first position of its
// window that holds the window's maximum; dx sums them in window order.
func (k *Kernels) MaxPool2DBackward(s Stream, p PoolShape, dx, x, dy DevicePtr) error {
	return k.pool("MaxPool2DBackward", kMaxPoolBwd, false, s, p, "dx,x,dy", dx, x, dy)
}

// AvgPool2DForward queues y = (Σ of each window's taps inside x)·(1/divisor).
func (k *Kernels) AvgPool2DForward(s Stream, p PoolShape, y, x DevicePtr) error {
	return k.pool("AvgPool2DForward", kAvgPoolFwd, true, s, p, "y,x", y, x)
}

// AvgPool2DBackward queues dx: each dy spread evenly (·1/divisor) over its
// window's taps inside x.
func (k *Kernels) AvgPool2DBackward(s Stream, p PoolShape, dx, dy DevicePtr) error {
	return k.pool("AvgPool2DBackward", kAvgPoolBwd, false, s, p, "dx,dy", dx, dy)
}

// GlobalAvgPool queues y[n,c] = mean over the hw pixels of x[n,p,c]
// (x [N,H,W,C] with hw = H·W, y [N,C]).
func (k *Kernels) GlobalAvgPool(s Stream, n, hw, c int, y, x DevicePtr) error {
	return k.globalPool("GlobalAvgPool", kGlobalAvgPoolFwd, s, n, hw, c, y, x)
}

// GlobalAvgPoolBackward queues dx[n,p,c] = dy[n,c]/hw.
func (k *Kernels) GlobalAvgPoolBackward(s Stream, n, hw, c int, dx, dy DevicePtr) error {
	return k.globalPool("GlobalAvgPoolBackward", kGlobalAvgPoolBwd, s, n, hw, c, dx, dy)
}

func (k *Kernels) globalPool(op string, id kernelID, s Stream, n, hw, c int, dst, src DevicePtr) error {
	v := argCheck{op: op}
	v.sizes("n,c", n, c)
	v.positive("hw", hw)
	all := v.product("n·hw·c", false, n, hw, c)
	v.ptrs(all > 0, "dst,src", dst, src)
	if v.err != nil {
		return v.err
	}
	count := n * c // threads: one per output (forward) or input (backward) element
	if id == kGlobalAvgPoolBwd {
		count = all
	}
	return k.launch1D(op, id, count, s, int32(n), int32(hw), int32(c), dst, src)
}
