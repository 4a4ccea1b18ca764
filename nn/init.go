package nn

import (
	"fmt"
	"math"

	"github.com/graftml/graft/tensor"
)

// Fans returns a weight's fan-in and fan-out as PyTorch computes them:
// a dense weight [out, in] has fan-in in and fan-out out; a convolution
// weight [O, I/groups, KH, KW] has fan-in I/groups·KH·KW and fan-out
// O·KH·KW; an embedding table [V, D] counts as a dense weight.
func Fans(w *tensor.Tensor) (fanIn, fanOut int) {
	s := w.Shape()
	if len(s) < 2 {
		panic(fmt.Sprintf("nn.Fans: weight %v has fewer than 2 dimensions", s))
	}
	field := 1
	for _, d := range s[2:] {
		field *= d
	}
	return s[1] * field, s[0] * field
}

// FanMode picks which fan scales a Kaiming initialisation.
type FanMode int

const (
	// FanIn preserves the variance of activations in the forward pass.
	FanIn FanMode = iota
	// FanOut preserves the variance of gradients in the backward pass
	// (torchvision's choice for ResNet convolutions).
	FanOut
)

// Kaiming fills w with He initialisation: std = gain/√fan, drawn from a
// normal distribution or, when normal is false, uniform in ±√3·std.
// gain is √2 for ReLU networks. The same seed gives the same values.
func Kaiming(w *tensor.Tensor, mode FanMode, gain float64, normal bool, seed uint64) {
	in, out := Fans(w)
	fan := in
	if mode == FanOut {
		fan = out
	}
	fill(w, gain/math.Sqrt(float64(fan)), normal, seed)
}

// Xavier fills w with Glorot initialisation: std = gain·√(2/(fanIn+fanOut)),
// normal or uniform in ±√3·std.
func Xavier(w *tensor.Tensor, gain float64, normal bool, seed uint64) {
	in, out := Fans(w)
	fill(w, gain*math.Sqrt(2/float64(in+out)), normal, seed)
}

func fill(w *tensor.Tensor, std float64, normal bool, seed uint64) {
	var src *tensor.Tensor
	if normal {
		src = tensor.RandNormal(seed, 0, float32(std), w.Shape()...)
	} else {
		b := float32(math.Sqrt(3) * std)
		src = tensor.RandUniform(seed, -b, b, w.Shape()...)
	}
	copy(w.Data(), src.Data())
}

// TorchDefaultInit initialises a dense or convolution weight, and its bias
// unless nil, as PyTorch's Linear and Conv2d do by default: weights
// uniform in ±1/√fanIn (Kaiming uniform with a = √5) and biases uniform in
// ±1/√fanIn.
func TorchDefaultInit(w, b *tensor.Tensor, fanIn int, seed uint64) {
	bound := float32(1 / math.Sqrt(float64(max(fanIn, 1))))
	copy(w.Data(), tensor.RandUniform(seed, -bound, bound, w.Shape()...).Data())
	if b != nil {
		copy(b.Data(), tensor.RandUniform(seed^0x5bd1e995, -bound, bound, b.Shape()...).Data())
	}
}
