package models

import (
	"math"
	"strconv"

	"github.com/graftml/graft/nn"
)

// ResNet18 is torchvision's resnet18 (ImageNet stem: conv 7×7 stride 2,
// BatchNorm, ReLU, maxpool 3×3 stride 2), with base width 64·Width.
// Groups: stem, layer1 … layer4, head fc.
func ResNet18(o Options) *Model {
	o = defaults(o, 1000, 3, 224)
	return resnet18(o, false)
}

// ResNet18CIFAR is ResNet-18 with the CIFAR stem (conv1 3×3 stride 1 pad 1,
// no maxpool) for 32×32 inputs, torchvision's parameter names.
func ResNet18CIFAR(o Options) *Model {
	o = defaults(o, 10, 3, 32)
	return resnet18(o, true)
}

func resnet18(o Options, cifar bool) *Model {
	s := &seeds{base: o.Seed}
	w := max(1, int(math.Round(64*o.Width)))
	conv := func(in, out, k, stride, pad int) *nn.Conv2D {
		c := nn.NewConv2D(in, out, k, nn.ConvOpts{Stride: stride, Padding: pad}, 0)
		nn.Kaiming(c.Weight.Value, nn.FanOut, math.Sqrt2, true, s.next())
		return c
	}
	bn := func(c int, relu bool) *nn.BatchNorm {
		b := nn.NewBatchNorm(c)
		b.ReLU = relu
		return b
	}
	net := nn.NewSequential()
	arch := "resnet18"
	stem := []string{"conv1", "bn1"}
	if cifar {
		arch = "resnet18cifar"
		net.Add("conv1", conv(o.InChans, w, 3, 1, 1)).Add("bn1", bn(w, true))
	} else {
		net.Add("conv1", conv(o.InChans, w, 7, 2, 3)).Add("bn1", bn(w, true)).
			Add("maxpool", nn.NewMaxPool2D(3, 2, 1))
		stem = append(stem, "maxpool")
	}
	in := w
	groups := [][]string{stem}
	for i, mult := range []int{1, 2, 4, 8} {
		out := w * mult
		stride := 1
		if i > 0 {
			stride = 2
		}
		layer := nn.NewSequential()
		for b := 0; b < 2; b++ {
			st := stride
			if b > 0 {
				st = 1
			}
			var short nn.Layer
			if st != 1 || in != out {
				short = nn.NewSequential(conv(in, out, 1, st, 0), bn(out, false))
			}
			block := nn.NewResidual([]nn.Named[nn.Layer]{
				{Name: "conv1", Value: conv(in, out, 3, st, 1)}, {Name: "bn1", Value: bn(out, true)},
				{Name: "conv2", Value: conv(out, out, 3, 1, 1)}, {Name: "bn2", Value: bn(out, false)},
			}, short, nn.ReLU())
			layer.Add(strconv.Itoa(b), block)
			in = out
		}
		name := "layer" + strconv.Itoa(i+1)
		net.Add(name, layer)
		groups = append(groups, []string{name})
	}
	net.Add("avgpool", nn.NewGlobalAvgPool())
	net.Add("fc", nn.NewDense(in, o.Classes, true, s.next()))
	groups = append(groups, []string{"fc"})
	return &Model{Sequential: net, Arch: arch, Options: o, InputShape: []int{o.Size, o.Size, o.InChans},
		Head: []string{"fc"}, Groups: groups}
}
