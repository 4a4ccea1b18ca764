package tfjs

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/tensor"
)

// maxDim bounds any dimension or size a config gives.
const maxDim = 1 << 20

// maxElems bounds the elements of one example's activation.
const maxElems = 1 << 32

// value is a Keras tensor's shape (no batch) and, for the output of a
// Flatten of a spatial tensor, the (H, W, C) it flattened: graft's
// Flatten orders (C, H, W), Keras's (H, W, C).
type value struct {
	shape   []int
	flatHWC []int
}

// builder turns layers into graph nodes.
type builder struct {
	g      *nn.Graph
	vals   map[string]value
	w      weights
	seed   uint64
	layer  *kerasLayer
	inputs []value
}

// cfg reads the layer's config field k into v; absent leaves v as it is.
func (b *builder) cfg(k string, v any) error {
	raw, ok := b.layer.Config[k]
	if !ok || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("config %s: %v", k, err)
	}
	return nil
}

// pair reads an int or a pair of ints (kernel_size, strides, …).
func (b *builder) pair(k string, def int) ([2]int, error) {
	raw, ok := b.layer.Config[k]
	if !ok || string(raw) == "null" {
		return [2]int{def, def}, nil
	}
	var one int
	if json.Unmarshal(raw, &one) == nil {
		return checkPair(k, [2]int{one, one})
	}
	var two []int
	if err := json.Unmarshal(raw, &two); err != nil || len(two) != 2 {
		return [2]int{}, fmt.Errorf("config %s: %s is not an int or a pair", k, abbrev(raw))
	}
	return checkPair(k, [2]int{two[0], two[1]})
}

func checkPair(k string, p [2]int) ([2]int, error) {
	if p[0] < 1 || p[1] < 1 || p[0] > maxDim || p[1] > maxDim {
		return p, fmt.Errorf("config %s: %v", k, p)
	}
	return p, nil
}

func abbrev(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

// add puts a node in the graph under the layer's name (or a sub-name).
func (b *builder) add(name string, l nn.Layer, out string, shape []int, ins ...string) error {
	n := 1
	for _, d := range shape {
		if d < 1 || d > maxDim || n > maxElems/d {
			return fmt.Errorf("output shape %v (empty or too large)", shape)
		}
		n *= d
	}
	if err := b.g.Add(name, l, out, ins...); err != nil {
		return err
	}
	b.vals[out] = value{shape: shape}
	return nil
}

func (b *builder) next() uint64 { b.seed++; return b.seed }

// spatial checks the single input is (H, W, C).
func (b *builder) spatial() ([]int, error) {
	if len(b.inputs) != 1 {
		return nil, fmt.Errorf("%d inputs, want 1", len(b.inputs))
	}
	s := b.inputs[0].shape
	if len(s) != 3 {
		return nil, fmt.Errorf("input shape %v, want (H, W, C)", s)
	}
	return s, nil
}

func (b *builder) dataFormat() error {
	var f string
	if err := b.cfg("data_format", &f); err != nil {
		return err
	}
	if f != "" && f != "channels_last" {
		return fmt.Errorf("data_format %q (only channels_last)", f)
	}
	return nil
}

// outSize is TF's output size along one axis.
func outSize(in, k, stride, dil int, same bool) (int, error) {
	if same {
		return (in + stride - 1) / stride, nil
	}
	ek := (k-1)*dil + 1
	if in < ek {
		return 0, fmt.Errorf("a window of %d over %d", ek, in)
	}
	return (in-ek)/stride + 1, nil
}

func (b *builder) padding() (bool, error) {
	p := "valid"
	if err := b.cfg("padding", &p); err != nil {
		return false, err
	}
	switch p {
	case "valid":
		return false, nil
	case "same":
		return true, nil
	}
	return false, fmt.Errorf("padding %q", p)
}

// activation returns the layer of a Keras activation name (nil for
// linear).
func activation(name string) (nn.Layer, error) {
	switch name {
	case "", "linear":
		return nil, nil
	case "relu":
		return nn.ReLU(), nil
	case "relu6":
		return nn.ReLU6(), nil
	case "sigmoid":
		return nn.Sigmoid(), nil
	case "tanh":
		return nn.Tanh(), nil
	case "softmax":
		return nn.NewSoftmax(), nil
	case "hard_sigmoid":
		return nn.NewHardSigmoid(0.2, 0.5), nil
	}
	return nil, fmt.Errorf("activation %q is not supported", name)
}

// withActivation adds l as node, then the layer's fused activation if
// any, so that the value out is the activation's.
func (b *builder) withActivation(node, out string, l nn.Layer, shape []int, in string) error {
	var act string
	if err := b.cfg("activation", &act); err != nil {
		return err
	}
	a, err := activation(act)
	if err != nil {
		return err
	}
	if a == nil {
		return b.add(node, l, out, shape, in)
	}
	if err := b.add(node, l, out+"/linear", shape, in); err != nil {
		return err
	}
	return b.add(node+"/"+act, a, out, shape, out+"/linear")
}

func (b *builder) useBias() (bool, error) {
	bias := true
	return bias, b.cfg("use_bias", &bias)
}

// hwioToOIHW converts a Keras kernel [KH, KW, I, O] to [O, I, KH, KW]. A
// depthwise kernel [KH, KW, C, M] is the case I = 1, O = C·M: output
// channel c·M + m as TF orders them.
func hwioToOIHW(k []float32, kh, kw, in, out int) *tensor.Tensor {
	w := tensor.Zeros(out, in, kh, kw)
	d := w.Data()
	for y := range kh {
		for x := range kw {
			for i := range in {
				for o := range out {
					d[((o*in+i)*kh+y)*kw+x] = k[((y*kw+x)*in+i)*out+o]
				}
			}
		}
	}
	return w
}

func (b *builder) bias(n int) (*tensor.Tensor, error) {
	ok, err := b.useBias()
	if err != nil || !ok {
		return nil, err
	}
	w, err := b.w.take(b.layer.Name, "bias", []int{n})
	if err != nil {
		return nil, err
	}
	return tensor.FromSlice(w.data, n), nil
}

func (b *builder) conv(kind string) error {
	s, err := b.spatial()
	if err != nil {
		return err
	}
	if err := b.dataFormat(); err != nil {
		return err
	}
	k, err := b.pair("kernel_size", 0)
	if err != nil {
		return err
	}
	st, err := b.pair("strides", 1)
	if err != nil {
		return err
	}
	dil, err := b.pair("dilation_rate", 1)
	if err != nil {
		return err
	}
	if (st[0] > 1 || st[1] > 1) && (dil[0] > 1 || dil[1] > 1) {
		return errors.New("strides and dilation_rate both above 1")
	}
	same, err := b.padding()
	if err != nil {
		return err
	}
	oh, err := outSize(s[0], k[0], st[0], dil[0], same)
	if err != nil {
		return err
	}
	ow, err := outSize(s[1], k[1], st[1], dil[1], same)
	if err != nil {
		return err
	}
	in := s[2]
	p := tensor.ConvParams{StrideH: st[0], StrideW: st[1], DilationH: dil[0], DilationW: dil[1], Groups: 1}
	name := b.layer.Name
	var w *tensor.Tensor
	var out int
	switch kind {
	case "Conv2D":
		var filters int
		groups := 1
		if err := b.cfg("filters", &filters); err != nil {
			return err
		}
		if err := b.cfg("groups", &groups); err != nil {
			return err
		}
		if filters < 1 || filters > maxDim || groups < 1 || in%groups != 0 || filters%groups != 0 {
			return fmt.Errorf("filters %d, groups %d over %d channels", filters, groups, in)
		}
		kw, err := b.w.take(name, "kernel", []int{k[0], k[1], in / groups, filters})
		if err != nil {
			return err
		}
		w, out, p.Groups = hwioToOIHW(kw.data, k[0], k[1], in/groups, filters), filters, groups
	case "DepthwiseConv2D", "SeparableConv2D":
		mult := 1
		if err := b.cfg("depth_multiplier", &mult); err != nil {
			return err
		}
		if mult < 1 || mult > maxDim {
			return fmt.Errorf("depth_multiplier %d", mult)
		}
		kw, err := b.w.take(name, "depthwise_kernel", []int{k[0], k[1], in, mult})
		if err != nil {
			return err
		}
		w, out, p.Groups = hwioToOIHW(kw.data, k[0], k[1], 1, in*mult), in*mult, in
	}
	shape := []int{oh, ow, out}
	if kind == "SeparableConv2D" {
		dw, err := nn.NewConv2DWith(w, nil, p, same)
		if err != nil {
			return err
		}
		if err := b.add(name+".depthwise", dw, name+"/depthwise", shape, b.layer.inputs[0]); err != nil {
			return err
		}
		var filters int
		if err := b.cfg("filters", &filters); err != nil {
			return err
		}
		if filters < 1 || filters > maxDim {
			return fmt.Errorf("filters %d", filters)
		}
		pk, err := b.w.take(name, "pointwise_kernel", []int{1, 1, out, filters})
		if err != nil {
			return err
		}
		bias, err := b.bias(filters)
		if err != nil {
			return err
		}
		pw, err := nn.NewConv2DWith(hwioToOIHW(pk.data, 1, 1, out, filters), bias, tensor.ConvParams{Groups: 1}, false)
		if err != nil {
			return err
		}
		return b.withActivation(name+".pointwise", name, pw, []int{oh, ow, filters}, name+"/depthwise")
	}
	bias, err := b.bias(out)
	if err != nil {
		return err
	}
	c, err := nn.NewConv2DWith(w, bias, p, same)
	if err != nil {
		return err
	}
	return b.withActivation(name, name, c, shape, b.layer.inputs[0])
}

func (b *builder) batchNorm() error {
	if len(b.inputs) != 1 {
		return fmt.Errorf("%d inputs, want 1", len(b.inputs))
	}
	s := b.inputs[0].shape
	if b.inputs[0].flatHWC != nil {
		return errors.New("normalises a Flatten of a spatial tensor (its features are in another order in graft)")
	}
	axis := -1
	if err := b.cfg("axis", &axis); err != nil {
		// Keras may write the axis as a list.
		var axes []int
		if err2 := b.cfg("axis", &axes); err2 != nil || len(axes) != 1 {
			return err
		}
		axis = axes[0]
	}
	if axis != -1 && axis != len(s) {
		return fmt.Errorf("axis %d of a %d-D input (only the channels, the last)", axis, len(s)+1)
	}
	if len(s) != 1 && len(s) != 3 {
		return fmt.Errorf("input shape %v", s)
	}
	c := s[len(s)-1]
	eps, momentum := 1e-3, 0.99
	center, scale := true, true
	for _, e := range []struct {
		k string
		v any
	}{{"epsilon", &eps}, {"momentum", &momentum}, {"center", &center}, {"scale", &scale}} {
		if err := b.cfg(e.k, e.v); err != nil {
			return err
		}
	}
	if !(eps > 0) || eps > 1 || !(momentum >= 0 && momentum <= 1) {
		return fmt.Errorf("epsilon %v, momentum %v", eps, momentum)
	}
	bn := nn.NewBatchNorm(c)
	// Keras: running = momentum·running + (1−momentum)·batch; graft's
	// (PyTorch's) momentum weighs the batch: Keras's 0.99 is graft's 0.01.
	bn.Eps, bn.Momentum = float32(eps), float32(1-momentum)
	name := b.layer.Name
	for _, v := range []struct {
		variable string
		dst      *tensor.Tensor
		use      bool
	}{{"gamma", bn.Weight.Value, scale}, {"beta", bn.Bias.Value, center},
		{"moving_mean", bn.RunningMean.Value, true}, {"moving_variance", bn.RunningVar.Value, true}} {
		if !v.use {
			continue
		}
		t, err := b.w.take(name, v.variable, []int{c})
		if err != nil {
			return err
		}
		copy(v.dst.Data(), t.data)
	}
	if !scale {
		bn.Weight.Trainable = false
	}
	if !center {
		bn.Bias.Trainable = false
	}
	return b.add(name, bn, name, s, b.layer.inputs[0])
}

func (b *builder) relu() error {
	var maxValue *float64
	slope, threshold := 0.0, 0.0
	if err := b.cfg("max_value", &maxValue); err != nil {
		return err
	}
	if err := b.cfg("negative_slope", &slope); err != nil {
		return err
	}
	if err := b.cfg("threshold", &threshold); err != nil {
		return err
	}
	if threshold != 0 {
		return fmt.Errorf("threshold %v (only 0)", threshold)
	}
	var l nn.Layer
	switch {
	case slope != 0 && maxValue != nil:
		return errors.New("both negative_slope and max_value")
	case slope != 0:
		l = nn.LeakyReLU(float32(slope))
	case maxValue == nil:
		l = nn.ReLU()
	case *maxValue == 6:
		l = nn.ReLU6()
	case *maxValue > 0 && !math.IsInf(*maxValue, 0):
		l = nn.NewClip(0, float32(*maxValue))
	default:
		return fmt.Errorf("max_value %v", *maxValue)
	}
	return b.unary(l)
}

// unary adds a one-input layer that keeps its input's shape (and its
// Flatten order).
func (b *builder) unary(l nn.Layer) error {
	if len(b.inputs) != 1 {
		return fmt.Errorf("%d inputs, want 1", len(b.inputs))
	}
	name := b.layer.Name
	if err := b.add(name, l, name, b.inputs[0].shape, b.layer.inputs[0]); err != nil {
		return err
	}
	b.vals[name] = b.inputs[0]
	return nil
}

func (b *builder) zeroPadding() error {
	s, err := b.spatial()
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := b.cfg("padding", &raw); err != nil {
		return err
	}
	var t, bo, l, r int
	var one int
	var two []int
	var four [][]int
	switch {
	case raw == nil:
		t, bo, l, r = 1, 1, 1, 1
	case json.Unmarshal(raw, &one) == nil:
		t, bo, l, r = one, one, one, one
	case json.Unmarshal(raw, &four) == nil && len(four) == 2 && len(four[0]) == 2 && len(four[1]) == 2:
		t, bo, l, r = four[0][0], four[0][1], four[1][0], four[1][1]
	case json.Unmarshal(raw, &two) == nil && len(two) == 2:
		t, bo, l, r = two[0], two[0], two[1], two[1]
	default:
		return fmt.Errorf("padding %s", abbrev(raw))
	}
	for _, v := range []int{t, bo, l, r} {
		if v < 0 || v > maxDim {
			return fmt.Errorf("padding %s", abbrev(raw))
		}
	}
	if err := b.dataFormat(); err != nil {
		return err
	}
	name := b.layer.Name
	return b.add(name, nn.NewPad2D(t, bo, l, r, 0), name, []int{s[0] + t + bo, s[1] + l + r, s[2]}, b.layer.inputs[0])
}

func (b *builder) pool(kind string) error {
	s, err := b.spatial()
	if err != nil {
		return err
	}
	if err := b.dataFormat(); err != nil {
		return err
	}
	k, err := b.pair("pool_size", 2)
	if err != nil {
		return err
	}
	st := k
	if _, ok := b.layer.Config["strides"]; ok {
		if st, err = b.pair("strides", k[0]); err != nil {
			return err
		}
	}
	same, err := b.padding()
	if err != nil {
		return err
	}
	if k[0] != k[1] || st[0] != st[1] {
		return fmt.Errorf("pool_size %v, strides %v (only square)", k, st)
	}
	oh, err := outSize(s[0], k[0], st[0], 1, same)
	if err != nil {
		return err
	}
	ow, err := outSize(s[1], k[1], st[1], 1, same)
	if err != nil {
		return err
	}
	name, in := b.layer.Name, b.layer.inputs[0]
	if same {
		pt, pb := tensor.SamePadding(s[0], k[0], st[0], 1, false)
		pl, pr := tensor.SamePadding(s[1], k[1], st[1], 1, false)
		if pt+pb+pl+pr > 0 {
			if kind == "AveragePooling2D" {
				return errors.New("padding same that pads (TF averages over the window's valid part only; not imported)")
			}
			if err := b.add(name+"/pad", nn.NewPad2D(pt, pb, pl, pr, float32(math.Inf(-1))), name+"/padded",
				[]int{s[0] + pt + pb, s[1] + pl + pr, s[2]}, in); err != nil {
				return err
			}
			in = name + "/padded"
		}
	}
	var l nn.Layer
	if kind == "MaxPooling2D" {
		l = nn.NewMaxPool2D(k[0], st[0], 0)
	} else {
		l = nn.NewAvgPool2D(k[0], st[0], 0)
	}
	return b.add(name, l, name, []int{oh, ow, s[2]}, in)
}

func (b *builder) dense() error {
	if len(b.inputs) != 1 {
		return fmt.Errorf("%d inputs, want 1", len(b.inputs))
	}
	v := b.inputs[0]
	if len(v.shape) != 1 {
		return fmt.Errorf("input shape %v (Dense reads vectors here: Flatten first)", v.shape)
	}
	in := v.shape[0]
	var units int
	if err := b.cfg("units", &units); err != nil {
		return err
	}
	if units < 1 || units > maxDim {
		return fmt.Errorf("units %d", units)
	}
	name := b.layer.Name
	k, err := b.w.take(name, "kernel", []int{in, units})
	if err != nil {
		return err
	}
	// Keras row r of the kernel reads flattened element r in (H, W, C)
	// order; graft's column j reads element j in (C, H, W) order.
	perm := func(j int) int { return j }
	if f := v.flatHWC; f != nil {
		H, W, C := f[0], f[1], f[2]
		perm = func(j int) int {
			c, hw := j/(H*W), j%(H*W)
			return hw*C + c
		}
	}
	w := tensor.Zeros(units, in)
	d := w.Data()
	for o := range units {
		for j := range in {
			d[o*in+j] = k.data[perm(j)*units+o]
		}
	}
	bias, err := b.bias(units)
	if err != nil {
		return err
	}
	l, err := nn.NewDenseWith(w, bias)
	if err != nil {
		return err
	}
	return b.withActivation(name, name, l, []int{units}, b.layer.inputs[0])
}

func (b *builder) flatten() error {
	if len(b.inputs) != 1 {
		return fmt.Errorf("%d inputs, want 1", len(b.inputs))
	}
	s := b.inputs[0].shape
	name := b.layer.Name
	n := 1
	for _, d := range s {
		n *= d
	}
	if len(s) == 1 {
		return b.unary(nn.NewDropout(0, 0))
	}
	if len(s) != 3 {
		return fmt.Errorf("input shape %v", s)
	}
	if err := b.add(name, nn.NewFlatten(), name, []int{n}, b.layer.inputs[0]); err != nil {
		return err
	}
	if s[0]*s[1] > 1 && s[2] > 1 {
		b.vals[name] = value{shape: []int{n}, flatHWC: slices.Clone(s)}
	}
	return nil
}

func (b *builder) reshape() error {
	if len(b.inputs) != 1 {
		return fmt.Errorf("%d inputs, want 1", len(b.inputs))
	}
	v := b.inputs[0]
	var target []int
	if err := b.cfg("target_shape", &target); err != nil {
		return err
	}
	n, known, neg := 1, 1, -1
	for _, d := range v.shape {
		n *= d
	}
	for i, d := range target {
		switch {
		case d == -1 && neg < 0:
			neg = i
		case d < 1 || d > maxDim:
			return fmt.Errorf("target_shape %v", target)
		default:
			known *= d
		}
	}
	if len(target) == 0 || known == 0 || n%known != 0 || (neg < 0 && known != n) {
		return fmt.Errorf("target_shape %v for an input of %v", target, v.shape)
	}
	target = slices.Clone(target)
	if neg >= 0 {
		target[neg] = n / known
	}
	// Keras reshapes in (H, W, C) order, graft's Reshape in (C, H, W):
	// they agree where at most one of the spatial and channel parts is
	// above 1 on each side, and the input is not a reordered Flatten.
	trivial := func(s []int) bool {
		if len(s) != 3 {
			return true
		}
		return s[0]*s[1] == 1 || s[2] == 1
	}
	if v.flatHWC != nil || !trivial(v.shape) || !trivial(target) || len(target) > 3 || len(target) == 2 {
		return fmt.Errorf("Reshape %v → %v reorders elements between Keras's (H, W, C) and graft's (C, H, W) order (not imported)", v.shape, target)
	}
	var nchw []int
	if len(target) == 3 {
		nchw = []int{-1, target[2], target[0], target[1]}
	} else {
		nchw = []int{-1, target[0]}
	}
	name := b.layer.Name
	return b.add(name, nn.NewReshape(nchw...), name, target, b.layer.inputs[0])
}

func (b *builder) merge(kind string) error {
	if len(b.inputs) < 2 {
		return fmt.Errorf("%d inputs, want 2 or more", len(b.inputs))
	}
	s := b.inputs[0].shape
	name := b.layer.Name
	if kind == "Add" {
		for _, v := range b.inputs[1:] {
			if !slices.Equal(v.shape, s) || v.flatHWC != nil {
				return fmt.Errorf("adds shapes %v and %v", s, v.shape)
			}
		}
		if len(b.inputs) != 2 {
			return fmt.Errorf("%d inputs (Add of 2 only)", len(b.inputs))
		}
		return b.add(name, nn.NewBinary(nn.OpAdd), name, s, b.layer.inputs...)
	}
	axis := -1
	if err := b.cfg("axis", &axis); err != nil {
		return err
	}
	if axis < 0 {
		axis += len(s) + 1
	}
	if axis < 1 || axis > len(s) {
		return fmt.Errorf("axis %d of %d-D inputs", axis, len(s)+1)
	}
	out := slices.Clone(s)
	out[axis-1] = 0
	for _, v := range b.inputs {
		if len(v.shape) != len(s) || v.flatHWC != nil {
			return fmt.Errorf("concatenates shapes %v and %v", s, v.shape)
		}
		for i := range s {
			if i != axis-1 && v.shape[i] != s[i] {
				return fmt.Errorf("concatenates shapes %v and %v on axis %d", s, v.shape, axis)
			}
		}
		out[axis-1] += v.shape[axis-1]
	}
	return b.add(name, nn.NewConcatN(axis), name, out, b.layer.inputs...)
}

// Supported lists the Keras layer classes the importer reads.
func Supported() []string {
	out := make([]string, 0, len(converters))
	for k := range converters {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var converters = map[string]func(b *builder) error{
	"Conv2D":          func(b *builder) error { return b.conv("Conv2D") },
	"DepthwiseConv2D": func(b *builder) error { return b.conv("DepthwiseConv2D") },
	"SeparableConv2D": func(b *builder) error { return b.conv("SeparableConv2D") },
	"BatchNormalization": func(b *builder) error {
		return b.batchNorm()
	},
	"ReLU": func(b *builder) error { return b.relu() },
	"Activation": func(b *builder) error {
		var act string
		if err := b.cfg("activation", &act); err != nil {
			return err
		}
		l, err := activation(act)
		if err != nil {
			return err
		}
		if l == nil {
			l = nn.NewDropout(0, 0) // linear: an identity
		}
		return b.unary(l)
	},
	"Softmax": func(b *builder) error {
		axis := -1
		if err := b.cfg("axis", &axis); err != nil {
			return err
		}
		if axis != -1 && (len(b.inputs) != 1 || axis != len(b.inputs[0].shape)) {
			return fmt.Errorf("axis %d (only the last)", axis)
		}
		return b.unary(nn.NewSoftmax())
	},
	"ZeroPadding2D":    func(b *builder) error { return b.zeroPadding() },
	"Add":              func(b *builder) error { return b.merge("Add") },
	"Concatenate":      func(b *builder) error { return b.merge("Concatenate") },
	"AveragePooling2D": func(b *builder) error { return b.pool("AveragePooling2D") },
	"MaxPooling2D":     func(b *builder) error { return b.pool("MaxPooling2D") },
	"GlobalAveragePooling2D": func(b *builder) error {
		s, err := b.spatial()
		if err != nil {
			return err
		}
		keep := false
		if err := b.cfg("keepdims", &keep); err != nil {
			return err
		}
		if keep {
			return errors.New("keepdims (not imported)")
		}
		if err := b.dataFormat(); err != nil {
			return err
		}
		name := b.layer.Name
		return b.add(name, nn.NewGlobalAvgPool(), name, []int{s[2]}, b.layer.inputs[0])
	},
	"Flatten": func(b *builder) error { return b.flatten() },
	"Dense":   func(b *builder) error { return b.dense() },
	"Dropout": func(b *builder) error {
		var rate float64
		if err := b.cfg("rate", &rate); err != nil {
			return err
		}
		if !(rate >= 0 && rate < 1) {
			return fmt.Errorf("rate %v", rate)
		}
		return b.unary(nn.NewDropout(float32(rate), b.next()))
	},
	"Reshape": func(b *builder) error { return b.reshape() },
}
