package models

import (
	"math"
	"strconv"

	"github.com/graftml/graft/nn"
)

// makeDivisible is torchvision's _make_divisible: v rounded to a multiple
// of d, never more than 10% below v.
func makeDivisible(v float64, d int) int {
	n := max(d, int(v+float64(d)/2)/d*d)
	if float64(n) < 0.9*v {
		n += d
	}
	return n
}

// MobileNetV2 is torchvision's mobilenet_v2 with a width multiplier:
// features.0 (conv 3×3 stride 2, BatchNorm, ReLU6), 17 inverted residual
// blocks, features.18 (1×1 conv to 1280·max(1, Width)), global average
// pooling and classifier (dropout 0.2, linear). Groups: features 0–3,
// 4–6, 7–13, 14–18, head classifier.
func MobileNetV2(o Options) *Model {
	o = defaults(o, 1000, 3, 224)
	s := &seeds{base: o.Seed}
	convBN := func(in, out, k, stride, groups int, act bool) *nn.Sequential {
		c := nn.NewConv2D(in, out, k, nn.ConvOpts{Stride: stride, Padding: (k - 1) / 2, Groups: groups}, 0)
		nn.Kaiming(c.Weight.Value, nn.FanOut, 1, true, s.next())
		seq := nn.NewSequential(c, nn.NewBatchNorm(out))
		if act {
			seq.Add("2", nn.ReLU6())
		}
		return seq
	}
	in := makeDivisible(32*o.Width, 8)
	last := makeDivisible(1280*math.Max(1, o.Width), 8)
	features := nn.NewSequential(convBN(o.InChans, in, 3, 2, 1, true))
	for _, st := range [][4]int{{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}} {
		t, c, n, stride := st[0], st[1], st[2], st[3]
		out := makeDivisible(float64(c)*o.Width, 8)
		for i := 0; i < n; i++ {
			if i > 0 {
				stride = 1
			}
			hidden := int(math.Round(float64(in * t)))
			body := nn.NewSequential()
			if t != 1 {
				body.Add(strconv.Itoa(body.Len()), convBN(in, hidden, 1, 1, 1, true))
			}
			body.Add(strconv.Itoa(body.Len()), convBN(hidden, hidden, 3, stride, hidden, true))
			pw := nn.NewConv2D(hidden, out, 1, nn.ConvOpts{}, 0)
			nn.Kaiming(pw.Weight.Value, nn.FanOut, 1, true, s.next())
			body.Add(strconv.Itoa(body.Len()), pw)
			body.Add(strconv.Itoa(body.Len()), nn.NewBatchNorm(out))
			if stride == 1 && in == out {
				features.Add(strconv.Itoa(features.Len()), nn.NewResidual([]nn.Named[nn.Layer]{{Name: "conv", Value: body}}, nil, nil))
			} else {
				features.Add(strconv.Itoa(features.Len()), nn.NewSequential().Add("conv", body))
			}
			in = out
		}
	}
	features.Add(strconv.Itoa(features.Len()), convBN(in, last, 1, 1, 1, true))
	fc := nn.NewDense(last, o.Classes, true, 0)
	copy(fc.Weight.Value.Data(), randNormal(s.next(), 0.01, fc.Weight.Value.Len()))
	clear(fc.Bias.Value.Data())
	net := nn.NewSequential().Add("features", features).Add("avgpool", nn.NewGlobalAvgPool()).
		Add("classifier", nn.NewSequential(nn.NewDropout(0.2, s.next()), fc))
	var groups [][]string
	for _, r := range [][2]int{{0, 3}, {4, 6}, {7, 13}, {14, 18}} {
		var g []string
		for i := r[0]; i <= r[1]; i++ {
			g = append(g, "features."+strconv.Itoa(i))
		}
		groups = append(groups, g)
	}
	groups = append(groups, []string{"classifier"})
	return &Model{Sequential: net, Arch: "mobilenetv2", Options: o, InputShape: []int{o.Size, o.Size, o.InChans},
		Head: []string{"classifier"}, Groups: groups}
}
