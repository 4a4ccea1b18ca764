package onnx

import (
	"errors"
	"fmt"
	"math"
	"slices"

	ionnx "github.com/graftml/graft/internal/onnx"
	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/tensor"
)

// intsArg reads integers given as an attribute before opset since and as
// a constant input from it on (Reshape's shape, Pad's pads).
func (b *builder) intsArg(n *ionnx.Node, since int64, attr string, input int) ([]int, error) {
	if b.m.Opset < since {
		v, ok := attrInts(n, attr)
		if !ok {
			return nil, fmt.Errorf("no %s", attr)
		}
		return v, nil
	}
	c, err := b.constIn(n, input)
	if err != nil {
		return nil, err
	}
	return ints(c), nil
}

// windows reads the attributes shared by Conv and the pools: kernel,
// strides, pads and dilations, with auto_pad resolved. same is set for
// SAME_UPPER (graft's "same" padding).
func windows(n *ionnx.Node, kh, kw int) (p tensor.ConvParams, same bool, err error) {
	p = tensor.ConvParams{StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1, Groups: 1}
	if s, ok := attrInts(n, "strides"); ok {
		if len(s) != 2 || s[0] < 1 || s[1] < 1 {
			return p, false, fmt.Errorf("strides %v: graft supports 2-D windows with positive strides", s)
		}
		p.StrideH, p.StrideW = s[0], s[1]
	}
	if d, ok := attrInts(n, "dilations"); ok {
		if len(d) != 2 || d[0] < 1 || d[1] < 1 {
			return p, false, fmt.Errorf("dilations %v are not supported", d)
		}
		p.DilationH, p.DilationW = d[0], d[1]
	}
	if pads, ok := attrInts(n, "pads"); ok {
		if len(pads) != 4 || slices.Min(pads) < 0 {
			return p, false, fmt.Errorf("pads %v: graft supports 2-D non-negative pads", pads)
		}
		p.PadTop, p.PadLeft, p.PadBottom, p.PadRight = pads[0], pads[1], pads[2], pads[3]
	}
	switch ap := n.Attrs["auto_pad"].S; ap {
	case "", "NOTSET", "VALID":
		if ap == "VALID" {
			p.PadTop, p.PadLeft, p.PadBottom, p.PadRight = 0, 0, 0, 0
		}
	case "SAME_UPPER":
		same = true
	case "SAME_LOWER":
		// the same as SAME_UPPER when the total padding is even, which is
		// always so at stride 1 with an odd (dilated) kernel
		if p.StrideH != 1 || p.StrideW != 1 || (p.DilationH*(kh-1))%2 != 0 || (p.DilationW*(kw-1))%2 != 0 {
			return p, false, errors.New("auto_pad SAME_LOWER with uneven padding is not supported")
		}
		same = true
	default:
		return p, false, fmt.Errorf("auto_pad %q is not supported", ap)
	}
	return p, same, nil
}

func (b *builder) conv(n *ionnx.Node) error {
	if err := known(n, "auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"); err != nil {
		return err
	}
	x, err := b.actIn(n, 0)
	if err != nil {
		return err
	}
	w, err := b.constIn(n, 1)
	if err != nil {
		return err
	}
	if len(w.dims) != 4 || x.rank() != 4 {
		return fmt.Errorf("weight %v on input of rank %d: graft supports 2-D convolutions", w.dims, x.rank())
	}
	if k, ok := attrInts(n, "kernel_shape"); ok && !slices.Equal(k, w.dims[2:]) {
		return fmt.Errorf("kernel_shape %v disagrees with weight %v", k, w.dims)
	}
	p, same, err := windows(n, w.dims[2], w.dims[3])
	if err != nil {
		return err
	}
	g := int(attrInt(n, "group", 1))
	if g < 1 || w.dims[0]%g != 0 {
		return fmt.Errorf("group %d for %d output channels", g, w.dims[0])
	}
	if c := x.shape[1]; c > 0 && c != w.dims[1]*g {
		return fmt.Errorf("input has %d channels, weight %v with %d groups wants %d", c, w.dims, g, w.dims[1]*g)
	}
	p.Groups = g
	params := map[string]string{"weight": w.name}
	var bias *tensor.Tensor
	if bv := b.input(n, 2); bv != nil {
		bc, err := b.constIn(n, 2)
		if err != nil {
			return err
		}
		if bc.len() != w.dims[0] {
			return fmt.Errorf("bias of %d values for %d outputs", bc.len(), w.dims[0])
		}
		bias = tensor.FromSlice(bc.f, bc.len())
		params["bias"] = bc.name
	}
	c, err := nn.NewConv2DWith(tensorOf(w), bias, p, same)
	if err != nil {
		return err
	}
	shape := []int{x.shape[0], w.dims[0], -1, -1}
	if h, wd := x.shape[2], x.shape[3]; h > 0 && wd > 0 {
		if same {
			shape[2], shape[3] = (h+p.StrideH-1)/p.StrideH, (wd+p.StrideW-1)/p.StrideW
		} else {
			shape[2], shape[3] = p.OutSize(h, wd, w.dims[2], w.dims[3])
		}
	}
	return b.add(n, c, params, shape, x)
}

func (b *builder) batchNorm(n *ionnx.Node) error {
	if err := known(n, "epsilon", "momentum", "spatial", "is_test", "consumed_inputs", "training_mode"); err != nil {
		return err
	}
	if a, ok := n.Attrs["spatial"]; ok && a.I == 0 {
		return errors.New("spatial=0 is not supported")
	}
	if err := b.onlyOutput(n); err != nil {
		return err
	}
	x, err := b.actIn(n, 0)
	if err != nil {
		return err
	}
	var cs [4]*constant
	for i := range cs {
		if cs[i], err = b.constIn(n, i+1); err != nil {
			return err
		}
	}
	c := cs[0].len()
	for _, k := range cs {
		if k.len() != c {
			return fmt.Errorf("scale, bias, mean and variance of %d, %d, %d, %d values", cs[0].len(), cs[1].len(), cs[2].len(), cs[3].len())
		}
	}
	if x.rank() < 2 || (x.shape[1] > 0 && x.shape[1] != c) || (x.rank() != 4 && x.rank() != 2) {
		return fmt.Errorf("input %v for %d channels", x.shape, c)
	}
	bn := nn.NewBatchNorm(c)
	bn.Eps = attrFloat(n, "epsilon", 1e-5)
	bn.Momentum = 1 - attrFloat(n, "momentum", 0.9)
	for i, dst := range []*tensor.Tensor{bn.Weight.Value, bn.Bias.Value, bn.RunningMean.Value, bn.RunningVar.Value} {
		copy(dst.Data(), cs[i].f)
	}
	params := map[string]string{"weight": cs[0].name, "bias": cs[1].name, "running_mean": cs[2].name, "running_var": cs[3].name}
	return b.add(n, bn, params, slices.Clone(x.shape), x)
}

// actAttrs lists the attributes each activation op understands.
var actAttrs = map[string][]string{"LeakyRelu": {"alpha"}, "HardSigmoid": {"alpha", "beta"}}

func (b *builder) act(n *ionnx.Node) error {
	if err := known(n, actAttrs[n.OpType]...); err != nil {
		return err
	}
	var l nn.Layer
	switch n.OpType {
	case "Relu":
		x, err := b.actIn(n, 0)
		if err != nil {
			return err
		}
		// fuse into a BatchNorm whose output only this Relu reads
		if bn, ok := x.producer.layerOf().(*nn.BatchNorm); ok && !bn.ReLU && b.uses[n.Inputs[0]] == 1 {
			bn.ReLU = true
			b.alias(n, x)
			return nil
		}
		l = nn.ReLU()
	case "LeakyRelu":
		l = nn.LeakyReLU(attrFloat(n, "alpha", 0.01))
	case "Sigmoid":
		l = nn.Sigmoid()
	case "Tanh":
		l = nn.Tanh()
	case "HardSigmoid":
		l = nn.NewHardSigmoid(attrFloat(n, "alpha", 0.2), attrFloat(n, "beta", 0.5))
	case "HardSwish":
		l = nn.NewHardSwish()
	}
	return b.unary(n, l)
}

func (m *made) layerOf() nn.Layer {
	if m == nil {
		return nil
	}
	return m.layer
}

// unary adds a shape-preserving layer on input 0.
func (b *builder) unary(n *ionnx.Node, l nn.Layer) error {
	x, err := b.actIn(n, 0)
	if err != nil {
		return err
	}
	return b.add(n, l, nil, slices.Clone(x.shape), x)
}

func (b *builder) clip(n *ionnx.Node) error {
	lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
	if b.m.Opset < 11 {
		if err := known(n, "min", "max"); err != nil {
			return err
		}
		lo, hi = attrFloat(n, "min", lo), attrFloat(n, "max", hi)
	} else {
		if err := known(n); err != nil {
			return err
		}
		for i, dst := range []*float32{&lo, &hi} {
			if b.input(n, i+1) == nil {
				continue
			}
			c, err := b.constIn(n, i+1)
			if err != nil {
				return err
			}
			if c.len() != 1 {
				return fmt.Errorf("clip bound of %d values", c.len())
			}
			*dst = c.f[0]
		}
	}
	if lo == 0 && math.IsInf(float64(hi), 1) {
		return b.unary(n, nn.ReLU())
	}
	return b.unary(n, nn.NewClip(lo, hi))
}

var binaryOps = map[string]nn.BinaryOp{"Add": nn.OpAdd, "Sub": nn.OpSub, "Mul": nn.OpMul, "Div": nn.OpDiv}

func (b *builder) binary(n *ionnx.Node) error {
	if err := known(n, "axis", "broadcast", "consumed_inputs"); err != nil {
		return err
	}
	if a, ok := n.Attrs["broadcast"]; ok && a.I != 0 {
		if ax, ok := n.Attrs["axis"]; ok && b.m.Opset < 7 && ax.I >= 0 {
			return errors.New("legacy broadcast with an axis is not supported")
		}
	}
	op := binaryOps[n.OpType]
	x, y := b.input(n, 0), b.input(n, 1)
	if x == nil || y == nil {
		return errors.New("two inputs needed")
	}
	switch {
	case x.c != nil && y.c != nil:
		return b.foldBinary(n, op, x.c, y.c)
	case x.c == nil && y.c == nil:
		if x.rank() != y.rank() && max(x.rank(), y.rank()) == 4 {
			return fmt.Errorf("activations of ranks %d and %d: graft broadcasts 4-D activations only against 4-D ones", x.rank(), y.rank())
		}
		shape, err := nn.BroadcastShape(x.shape, y.shape)
		if err != nil {
			shape = make([]int, max(x.rank(), y.rank()))
			for i := range shape {
				shape[i] = -1
			}
		}
		return b.add(n, nn.NewBinary(op), nil, shape, x, y)
	}
	act, c, constFirst := x, y.c, false
	if x.c != nil {
		act, c, constFirst = y, x.c, true
	}
	// a bias after a MatMul becomes the dense layer's bias
	if d, ok := act.producer.layerOf().(*nn.Dense); ok && op == nn.OpAdd && d.Bias == nil && act.producer.op == "MatMul" &&
		b.uses[act.act] == 1 && c.len() == d.Out && len(c.dims) <= 2 && c.dims[len(c.dims)-1] == d.Out {
		d.SetBias(tensor.FromSlice(slices.Clone(c.f), d.Out))
		b.alias(n, act)
		return nil
	}
	if len(c.dims) > act.rank() {
		return fmt.Errorf("constant %v of higher rank than the activation %v", c.dims, act.shape)
	}
	ct := tensorOf(c)
	if act.rank() == 4 {
		ct = toNHWC(c)
	}
	shape := slices.Clone(act.shape)
	return b.add(n, nn.NewBinaryConst(op, ct, constFirst), nil, shape, act)
}

// toNHWC aligns a constant to rank 4 (NCHW) and permutes it to NHWC.
func toNHWC(c *constant) *tensor.Tensor {
	d := append(make([]int, 4-len(c.dims)), c.dims...)
	for i := range 4 - len(c.dims) {
		d[i] = 1
	}
	out := tensor.Zeros(d[0], d[2], d[3], d[1])
	tensor.Reference{}.NCHWToNHWC(out, tensor.FromSlice(c.f, d...))
	return out
}

func (b *builder) foldBinary(n *ionnx.Node, op nn.BinaryOp, x, y *constant) error {
	shape, err := nn.BroadcastShape(x.dims, y.dims)
	if err != nil {
		return err
	}
	if numel(shape) > foldLimit(x.len()+y.len()) {
		return fmt.Errorf("folding constants %v and %v: the result is too large", x.dims, y.dims)
	}
	out := nn.NewBinary(op).InferN([]*tensor.Tensor{tensorOf(x), tensorOf(y)})
	b.setConst(n, shape, out.Data())
	return nil
}

// axisOf resolves a negative axis against rank r and checks it.
func axisOf(axis, r int) (int, error) {
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return 0, fmt.Errorf("axis %d for rank %d", axis, r)
	}
	return axis, nil
}

// foldLimit bounds a folded constant made from n elements, so a small
// file cannot make the importer allocate without limit.
func foldLimit(n int) int { return 4*n + 1<<16 }

// numel is the product of the dimensions, saturating at 1<<40 (and 0
// for a negative one), so hostile dimensions cannot overflow it.
func numel(s []int) int {
	n := 1
	for _, d := range s {
		if d < 0 {
			return 0
		}
		if d > 0 && n > (1<<40)/d {
			return 1 << 40
		}
		n *= d
	}
	return n
}

func (b *builder) globalPool(n *ionnx.Node) error {
	if err := known(n); err != nil {
		return err
	}
	x, err := b.actIn(n, 0)
	if err != nil {
		return err
	}
	if x.rank() != 4 {
		return fmt.Errorf("input of rank %d: graft pools 2-D", x.rank())
	}
	return b.add(n, &nn.GlobalAvgPool{KeepDims: true}, nil, []int{x.shape[0], x.shape[1], 1, 1}, x)
}

func (b *builder) pool(n *ionnx.Node) error {
	if err := known(n, "auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads", "strides", "storage_order"); err != nil {
		return err
	}
	if err := b.onlyOutput(n); err != nil {
		return err
	}
	x, err := b.actIn(n, 0)
	if err != nil {
		return err
	}
	k, ok := attrInts(n, "kernel_shape")
	if !ok || len(k) != 2 || k[0] < 1 || k[1] < 1 || x.rank() != 4 {
		return fmt.Errorf("kernel_shape %v on rank %d: graft pools 2-D", k, x.rank())
	}
	cp, same, err := windows(n, k[0], k[1])
	if err != nil {
		return err
	}
	if same {
		return errors.New("auto_pad SAME for pooling is not supported")
	}
	if cp.DilationH != 1 || cp.DilationW != 1 {
		return errors.New("dilated pooling is not supported")
	}
	p := tensor.PoolParams{KH: k[0], KW: k[1], ConvParams: cp, CeilMode: attrInt(n, "ceil_mode", 0) != 0}
	var l nn.Layer
	if n.OpType == "MaxPool" {
		l = &nn.MaxPool2D{P: p}
	} else {
		p.CountIncludePad = attrInt(n, "count_include_pad", 0) != 0
		l = &nn.AvgPool2D{P: p}
	}
	shape := []int{x.shape[0], x.shape[1], -1, -1}
	if x.shape[2] > 0 && x.shape[3] > 0 {
		shape[2], shape[3] = p.OutSize(x.shape[2], x.shape[3])
	}
	return b.add(n, l, nil, shape, x)
}

func (b *builder) flatten(n *ionnx.Node) error {
	x, err := b.anyIn(n, "axis")
	if err != nil {
		return err
	}
	axis := int(attrInt(n, "axis", 1))
	if x.c != nil {
		if axis < 0 {
			axis += len(x.c.dims)
		}
		if axis < 0 || axis > len(x.c.dims) {
			return fmt.Errorf("axis %d of %v", axis, x.c.dims)
		}
		b.setConst(n, []int{numel(x.c.dims[:axis]), numel(x.c.dims[axis:])}, x.c.f)
		return nil
	}
	if axis < 0 {
		axis += x.rank()
	}
	if axis != 1 {
		return fmt.Errorf("axis %d: graft flattens from axis 1", axis)
	}
	shape := []int{x.shape[0], prodKnown(x.shape[1:])}
	if x.rank() == 2 {
		b.alias(n, x)
		return nil
	}
	if x.rank() != 4 {
		return b.add(n, nn.NewReshape(0, -1), nil, shape, x)
	}
	return b.add(n, nn.NewFlatten(), nil, shape, x)
}

// prodKnown is the product of dims, or −1 when one is unknown.
func prodKnown(dims []int) int {
	p := 1
	for _, d := range dims {
		if d < 0 {
			return -1
		}
		p *= d
	}
	return p
}

func (b *builder) reshape(n *ionnx.Node) error {
	x, err := b.anyIn(n, "allowzero", "shape")
	if err != nil {
		return err
	}
	target, err := b.intsArg(n, 5, "shape", 1)
	if err != nil {
		return err
	}
	if attrInt(n, "allowzero", 0) != 0 && slices.Contains(target, 0) {
		return errors.New("allowzero with a zero dimension is not supported")
	}
	if x.c != nil {
		out, err := nn.ResolveShape(x.c.dims, target)
		if err != nil {
			return err
		}
		b.setConst(n, out, x.c.f)
		return nil
	}
	return b.reshapeAct(n, x, target)
}

// reshapeAct adds a Reshape of an activation to target (ONNX terms, a
// symbolic batch allowed at index 0).
func (b *builder) reshapeAct(n *ionnx.Node, x *value, target []int) error {
	t := slices.Clone(target)
	for i, d := range t {
		if d == symBatch {
			if i != 0 {
				return fmt.Errorf("shape %v uses the batch size off axis 0", target)
			}
			t[i] = 0
		} else if d < -1 {
			return fmt.Errorf("shape %v", target)
		}
	}
	shape := make([]int, len(t))
	for i, d := range t {
		switch {
		case d == 0 && i < x.rank():
			shape[i] = x.shape[i]
		case d > 0:
			shape[i] = d
		default:
			shape[i] = -1
		}
	}
	if slices.Equal(shape, x.shape) && prodKnown(shape) > 0 {
		b.alias(n, x)
		return nil
	}
	return b.add(n, nn.NewReshape(t...), nil, shape, x)
}

func (b *builder) squeeze(n *ionnx.Node) error {
	x, err := b.anyIn(n, "axes")
	if err != nil {
		return err
	}
	axes, ok := attrInts(n, "axes")
	if b.m.Opset >= 13 && b.input(n, 1) != nil {
		c, err := b.constIn(n, 1)
		if err != nil {
			return err
		}
		axes, ok = ints(c), true
	}
	in := x.shape
	if x.c != nil {
		in = x.c.dims
	}
	var out []int
	if n.OpType == "Squeeze" {
		if !ok {
			for i, d := range in {
				if d == 1 {
					axes = append(axes, i)
				} else if d < 0 {
					return errors.New("squeeze of all unit axes with unknown dimensions")
				}
			}
		}
		for i := range axes {
			if axes[i] < 0 {
				axes[i] += len(in)
			}
		}
		for i, d := range in {
			if slices.Contains(axes, i) {
				if d > 1 {
					return fmt.Errorf("squeeze of axis %d of size %d", i, d)
				}
				continue
			}
			out = append(out, d)
		}
	} else {
		if !ok {
			return errors.New("no axes")
		}
		r := len(in) + len(axes)
		for i := range axes {
			if axes[i] < 0 {
				axes[i] += r
			}
		}
		j := 0
		for i := range r {
			if slices.Contains(axes, i) {
				out = append(out, 1)
				continue
			}
			if j >= len(in) {
				return fmt.Errorf("axes %v for rank %d", axes, len(in))
			}
			out = append(out, in[j])
			j++
		}
	}
	if x.c != nil {
		b.setConst(n, out, x.c.f)
		return nil
	}
	// a target for Reshape: copy what stays at its index, else the size
	t := make([]int, len(out))
	free := false
	for i, d := range out {
		switch {
		case i < len(in) && in[i] == d && (d != -1 || i == 0) && sameUpTo(in, out, i):
			t[i] = 0
		case d >= 0:
			t[i] = d
		case !free:
			t[i], free = -1, true
		default:
			return fmt.Errorf("%s of %v: too many unknown dimensions", n.OpType, in)
		}
	}
	return b.reshapeAct(n, x, t)
}

// sameUpTo reports whether in and out agree on dims 0..i.
func sameUpTo(in, out []int, i int) bool {
	for k := 0; k <= i; k++ {
		if k >= len(in) || in[k] != out[k] {
			return false
		}
	}
	return true
}

func (b *builder) gemm(n *ionnx.Node) error {
	if err := known(n, "alpha", "beta", "transA", "transB", "broadcast"); err != nil {
		return err
	}
	x, err := b.actIn(n, 0)
	if err != nil {
		return err
	}
	if attrInt(n, "transA", 0) != 0 || x.rank() != 2 {
		return errors.New("transA or an input not of rank 2 is not supported")
	}
	w, err := b.constIn(n, 1)
	if err != nil {
		return err
	}
	if len(w.dims) != 2 {
		return fmt.Errorf("weight %v", w.dims)
	}
	wt := tensorOf(w)
	if attrInt(n, "transB", 0) == 0 {
		wt = transpose2(w)
	}
	if alpha := attrFloat(n, "alpha", 1); alpha != 1 {
		wt = scaled(wt, alpha)
	}
	params := map[string]string{"weight": w.name}
	var bias *tensor.Tensor
	out := wt.Dim(0)
	if b.input(n, 2) != nil {
		c, err := b.constIn(n, 2)
		if err != nil {
			return err
		}
		switch {
		case c.len() == out:
			bias = tensor.FromSlice(c.f, out)
		case c.len() == 1:
			bias = tensor.Full(c.f[0], out)
		default:
			return fmt.Errorf("bias %v for %d outputs", c.dims, out)
		}
		if beta := attrFloat(n, "beta", 1); beta != 1 {
			bias = scaled(bias, beta)
		}
		params["bias"] = c.name
	}
	if x.shape[1] > 0 && x.shape[1] != wt.Dim(1) {
		return fmt.Errorf("input of %d features for weight %v", x.shape[1], w.dims)
	}
	d, err := nn.NewDenseWith(wt, bias)
	if err != nil {
		return err
	}
	if attrInt(n, "transB", 0) == 0 || attrFloat(n, "alpha", 1) != 1 {
		params = nil // the weight is not the initializer as stored
	}
	return b.add(n, d, params, []int{x.shape[0], out}, x)
}

func transpose2(c *constant) *tensor.Tensor {
	r, k := c.dims[0], c.dims[1]
	out := make([]float32, len(c.f))
	for i := range r {
		for j := range k {
			out[j*r+i] = c.f[i*k+j]
		}
	}
	return tensor.FromSlice(out, k, r)
}

func scaled(t *tensor.Tensor, a float32) *tensor.Tensor {
	d := t.Data()
	for i := range d {
		d[i] *= a
	}
	return t
}

func (b *builder) matmul(n *ionnx.Node) error {
	if err := known(n); err != nil {
		return err
	}
	x, err := b.actIn(n, 0)
	if err != nil {
		return err
	}
	w, err := b.constIn(n, 1)
	if err != nil {
		return err
	}
	if x.rank() != 2 || len(w.dims) != 2 {
		return fmt.Errorf("input %v times %v: graft multiplies [N, K] activations by [K, M] constants", x.shape, w.dims)
	}
	if x.shape[1] > 0 && x.shape[1] != w.dims[0] {
		return fmt.Errorf("input of %d features for weight %v", x.shape[1], w.dims)
	}
	d, err := nn.NewDenseWith(transpose2(w), nil)
	if err != nil {
		return err
	}
	return b.add(n, d, nil, []int{x.shape[0], w.dims[1]}, x)
}

func (b *builder) concat(n *ionnx.Node) error {
	if err := known(n, "axis"); err != nil {
		return err
	}
	axis := int(attrInt(n, "axis", 1))
	var acts []*value
	var consts []*constant
	for i := range n.Inputs {
		v := b.input(n, i)
		if v == nil {
			continue
		}
		if v.c != nil {
			consts = append(consts, v.c)
		} else {
			acts = append(acts, v)
		}
	}
	if len(acts) == 0 {
		return b.foldConcat(n, axis, consts)
	}
	if len(consts) > 0 {
		return errors.New("concatenation of activations with constants is not supported")
	}
	r := acts[0].rank()
	axis, err := axisOf(axis, r)
	if err != nil {
		return err
	}
	shape := slices.Clone(acts[0].shape)
	shape[axis] = 0
	for _, a := range acts {
		if a.rank() != r {
			return errors.New("inputs of different ranks")
		}
		if a.shape[axis] < 0 || shape[axis] < 0 {
			shape[axis] = -1
		} else {
			shape[axis] += a.shape[axis]
		}
	}
	if len(acts) == 1 {
		b.alias(n, acts[0])
		return nil
	}
	return b.add(n, nn.NewConcatN(nhwcAxis(axis, r)), nil, shape, acts...)
}

func (b *builder) foldConcat(n *ionnx.Node, axis int, cs []*constant) error {
	if len(cs) == 0 {
		return errors.New("no inputs")
	}
	r := len(cs[0].dims)
	axis, err := axisOf(axis, r)
	if err != nil {
		return err
	}
	dims := slices.Clone(cs[0].dims)
	dims[axis] = 0
	for _, c := range cs {
		if len(c.dims) != r {
			return errors.New("constants of different ranks")
		}
		dims[axis] += c.dims[axis]
	}
	outer := numel(dims[:axis])
	var out []float32
	for o := range outer {
		for _, c := range cs {
			inner := numel(c.dims[axis:])
			out = append(out, c.f[o*inner:(o+1)*inner]...)
		}
	}
	b.setConst(n, dims, out)
	return nil
}

func (b *builder) pad(n *ionnx.Node) error {
	if err := known(n, "mode", "pads", "value"); err != nil {
		return err
	}
	if m := n.Attrs["mode"].S; m != "" && m != "constant" {
		return fmt.Errorf("mode %q is not supported (only constant)", m)
	}
	x, err := b.actIn(n, 0)
	if err != nil {
		return err
	}
	value := attrFloat(n, "value", 0)
	pads, err := b.intsArg(n, 11, "pads", 1)
	if err != nil {
		return err
	}
	if b.m.Opset >= 11 {
		if b.input(n, 2) != nil {
			v, err := b.constIn(n, 2)
			if err != nil {
				return err
			}
			if v.len() != 1 {
				return errors.New("constant_value is not a scalar")
			}
			value = v.f[0]
		}
		if b.input(n, 3) != nil {
			return errors.New("the axes input is not supported")
		}
	}
	if x.rank() != 4 || len(pads) != 8 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0 || slices.Min(pads) < 0 {
		return fmt.Errorf("pads %v on rank %d: graft pads height and width of 4-D activations", pads, x.rank())
	}
	shape := slices.Clone(x.shape)
	for i := 2; i < 4; i++ {
		if shape[i] > 0 {
			shape[i] += pads[i] + pads[i+4]
		}
	}
	return b.add(n, nn.NewPad2D(pads[2], pads[6], pads[3], pads[7], value), nil, shape, x)
}

func (b *builder) constantNode(n *ionnx.Node) error {
	if len(n.Attrs) != 1 {
		return errors.New("a Constant needs exactly one attribute")
	}
	for k, a := range n.Attrs {
		switch k {
		case "value":
			if a.T == nil {
				return errors.New("value is not a tensor")
			}
			c, err := b.constOf(a.T)
			if err != nil {
				return err
			}
			c.name = n.Outputs[0]
			b.vals[n.Outputs[0]] = &value{c: c}
		case "value_float":
			b.setConst(n, nil, []float32{a.F})
		case "value_floats":
			b.setConst(n, []int{len(a.Floats)}, slices.Clone(a.Floats))
		case "value_int":
			b.setConst(n, nil, []float32{float32(a.I)})
		case "value_ints":
			f := make([]float32, len(a.Ints))
			for i, v := range a.Ints {
				f[i] = float32(v)
			}
			b.setConst(n, []int{len(f)}, f)
		default:
			return fmt.Errorf("attribute %q is not supported", k)
		}
	}
	return nil
}

func (b *builder) identity(n *ionnx.Node) error {
	v := b.input(n, 0)
	if v == nil {
		return errors.New("no input")
	}
	b.alias(n, v)
	return nil
}

func (b *builder) dropout(n *ionnx.Node) error {
	if err := known(n, "ratio", "is_test", "seed", "consumed_inputs"); err != nil {
		return err
	}
	if err := b.onlyOutput(n); err != nil {
		return err
	}
	x, err := b.actIn(n, 0)
	if err != nil {
		return err
	}
	ratio := attrFloat(n, "ratio", 0.5)
	if b.m.Opset >= 12 {
		ratio = 0.5
		if b.input(n, 1) != nil {
			c, err := b.constIn(n, 1)
			if err != nil {
				return err
			}
			ratio = c.f[0]
		}
	}
	if ratio <= 0 {
		b.alias(n, x)
		return nil
	}
	if ratio >= 1 {
		return fmt.Errorf("ratio %v", ratio)
	}
	return b.add(n, nn.NewDropout(ratio, uint64(b.nodeI)+1), nil, slices.Clone(x.shape), x)
}

func (b *builder) softmax(n *ionnx.Node) error {
	if err := known(n, "axis"); err != nil {
		return err
	}
	x, err := b.actIn(n, 0)
	if err != nil {
		return err
	}
	def := int64(-1)
	if b.m.Opset < 13 {
		def = 1
	}
	axis := int(attrInt(n, "axis", def))
	if axis < 0 {
		axis += x.rank()
	}
	ok := axis == x.rank()-1 // the last axis
	if x.rank() == 4 && axis == 1 {
		// the channels: graft's last axis; before opset 13 the axis
		// flattens what follows it, the same only without H, W
		ok = b.m.Opset >= 13 || (x.shape[2] == 1 && x.shape[3] == 1)
	} else if x.rank() == 4 {
		ok = false
	}
	if !ok {
		return fmt.Errorf("softmax over axis %d of rank %d is not supported", axis, x.rank())
	}
	return b.unary(n, nn.NewSoftmax())
}

func (b *builder) transpose(n *ionnx.Node) error {
	if err := known(n, "perm"); err != nil {
		return err
	}
	c, err := b.constIn(n, 0)
	if err != nil {
		return errors.New("transpose of an activation is not supported")
	}
	r := len(c.dims)
	perm, ok := attrInts(n, "perm")
	if !ok {
		for i := range r {
			perm = append(perm, r-1-i)
		}
	}
	if len(perm) != r {
		return fmt.Errorf("perm %v for rank %d", perm, r)
	}
	seen := make([]bool, r)
	dims := make([]int, r)
	for i, p := range perm {
		if p < 0 || p >= r || seen[p] {
			return fmt.Errorf("perm %v", perm)
		}
		seen[p] = true
		dims[i] = c.dims[p]
	}
	in := tensorOf(c)
	out := make([]float32, len(c.f))
	// strides of the input
	st := make([]int, r)
	acc := 1
	for i := r - 1; i >= 0; i-- {
		st[i] = acc
		acc *= c.dims[i]
	}
	idx := make([]int, r)
	src := in.Data()
	for o := range out {
		off := 0
		for i, p := range perm {
			off += idx[i] * st[p]
		}
		out[o] = src[off]
		for i := r - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < dims[i] {
				break
			}
			idx[i] = 0
		}
	}
	b.setConst(n, dims, out)
	return nil
}

func (b *builder) shapeOp(n *ionnx.Node) error {
	x, err := b.anyIn(n, "start", "end")
	if err != nil {
		return err
	}
	s := x.shape
	if x.c != nil {
		s = x.c.dims
	}
	r := len(s)
	lo, hi := int(attrInt(n, "start", 0)), int(attrInt(n, "end", int64(r)))
	if lo < 0 {
		lo += r
	}
	if hi < 0 {
		hi += r
	}
	lo, hi = min(max(lo, 0), r), min(max(hi, 0), r)
	var out []float32
	for i := lo; i < hi; i++ {
		switch {
		case s[i] >= 0:
			out = append(out, float32(s[i]))
		case i == 0:
			out = append(out, symBatch)
		default:
			return fmt.Errorf("dimension %d of %q is dynamic; give the model a fixed input size", i, n.Inputs[0])
		}
	}
	b.setConst(n, []int{len(out)}, out)
	return nil
}

func (b *builder) gather(n *ionnx.Node) error {
	if err := known(n, "axis"); err != nil {
		return err
	}
	data, err := b.constIn(n, 0)
	if err != nil {
		return errors.New("gather from an activation is not supported")
	}
	idx, err := b.constIn(n, 1)
	if err != nil {
		return err
	}
	r := len(data.dims)
	axis, err := axisOf(int(attrInt(n, "axis", 0)), r)
	if err != nil {
		return err
	}
	outer, size, inner := numel(data.dims[:axis]), data.dims[axis], numel(data.dims[axis+1:])
	if outer*inner*idx.len() > foldLimit(data.len()+idx.len()) {
		return errors.New("the gathered constant is too large")
	}
	var out []float32
	for o := range outer {
		for _, fi := range idx.f {
			i := int(fi)
			if i < 0 {
				i += size
			}
			if i < 0 || i >= size {
				return fmt.Errorf("index %v outside %d", fi, size)
			}
			base := (o*size + i) * inner
			out = append(out, data.f[base:base+inner]...)
		}
	}
	dims := append(append(slices.Clone(data.dims[:axis]), idx.dims...), data.dims[axis+1:]...)
	b.setConst(n, dims, out)
	return nil
}

func (b *builder) cast(n *ionnx.Node) error {
	v, err := b.anyIn(n, "to", "saturate")
	if err != nil {
		return err
	}
	to := attrInt(n, "to", 1)
	if v.c == nil {
		if to == ionnx.Float {
			b.alias(n, v)
			return nil
		}
		return errors.New("cast of an activation to a non-float type is not supported")
	}
	f := slices.Clone(v.c.f)
	switch to {
	case ionnx.Int64, ionnx.Int32, ionnx.Int8, ionnx.Uint8:
		for i, x := range f {
			f[i] = float32(math.Trunc(float64(x)))
		}
	case ionnx.Bool:
		for i, x := range f {
			if x != 0 {
				f[i] = 1
			}
		}
	}
	b.setConst(n, slices.Clone(v.c.dims), f)
	return nil
}

func (b *builder) constantOfShape(n *ionnx.Node) error {
	if err := known(n, "value"); err != nil {
		return err
	}
	c, err := b.constIn(n, 0)
	if err != nil {
		return err
	}
	dims := ints(c)
	for _, d := range dims {
		if d < 0 {
			return fmt.Errorf("shape %v", dims)
		}
	}
	if numel(dims) > foldLimit(0) {
		return fmt.Errorf("shape %v too large for a folded constant", dims)
	}
	v := float32(0)
	if a, ok := n.Attrs["value"]; ok && a.T != nil {
		t, err := b.constOf(a.T)
		if err != nil || t.len() != 1 {
			return errors.New("value is not a one-element tensor")
		}
		v = t.f[0]
	}
	f := make([]float32, numel(dims))
	for i := range f {
		f[i] = v
	}
	b.setConst(n, dims, f)
	return nil
}

// slice folds a Slice of a constant.
func (b *builder) slice(n *ionnx.Node) error {
	if err := known(n, "starts", "ends", "axes"); err != nil {
		return err
	}
	c, err := b.constIn(n, 0)
	if err != nil {
		return errors.New("slice of an activation is not supported")
	}
	var starts, ends, axes, steps []int
	if b.m.Opset < 10 {
		var ok bool
		if starts, ok = attrInts(n, "starts"); !ok {
			return errors.New("no starts")
		}
		if ends, ok = attrInts(n, "ends"); !ok {
			return errors.New("no ends")
		}
		axes, _ = attrInts(n, "axes")
	} else {
		get := func(i int) ([]int, error) {
			if b.input(n, i) == nil {
				return nil, nil
			}
			k, err := b.constIn(n, i)
			if err != nil {
				return nil, err
			}
			return ints(k), nil
		}
		for i, dst := range []*[]int{&starts, &ends, &axes, &steps} {
			if *dst, err = get(i + 1); err != nil {
				return err
			}
		}
	}
	r := len(c.dims)
	if axes == nil {
		for i := range starts {
			axes = append(axes, i)
		}
	}
	if len(starts) != len(ends) || len(axes) != len(starts) || (steps != nil && len(steps) != len(starts)) {
		return errors.New("starts, ends, axes and steps of different lengths")
	}
	lo, hi := make([]int, r), slices.Clone(c.dims)
	for i, a := range axes {
		if a < 0 {
			a += r
		}
		if a < 0 || a >= r {
			return fmt.Errorf("axis %d for rank %d", axes[i], r)
		}
		if steps != nil && steps[i] != 1 {
			return errors.New("steps other than 1 are not supported")
		}
		d := c.dims[a]
		clamp := func(v int) int {
			if v < 0 {
				v += d
			}
			return min(max(v, 0), d)
		}
		lo[a], hi[a] = clamp(starts[i]), clamp(ends[i])
		if hi[a] < lo[a] {
			hi[a] = lo[a]
		}
	}
	dims := make([]int, r)
	for i := range dims {
		dims[i] = hi[i] - lo[i]
	}
	out := make([]float32, 0, numel(dims))
	idx := slices.Clone(lo)
	st := make([]int, r)
	acc := 1
	for i := r - 1; i >= 0; i-- {
		st[i] = acc
		acc *= c.dims[i]
	}
	for range numel(dims) {
		off := 0
		for i, v := range idx {
			off += v * st[i]
		}
		out = append(out, c.f[off])
		for i := r - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < hi[i] {
				break
			}
			idx[i] = lo[i]
		}
	}
	b.setConst(n, dims, out)
	return nil
}
