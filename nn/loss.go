package nn

import (
	"fmt"
	"math"

	"github.com/graftml/graft/tensor"
)

// Loss scores a model's output against the targets of a batch and gives
// the output's gradient.
type Loss interface {
	// Loss returns the mean loss over the batch and writes d(loss)/d(out)
	// into grad (same shape as out) unless grad is nil. Classification
	// losses read labels, regression losses target.
	Loss(grad, out *tensor.Tensor, labels []int, target *tensor.Tensor) float32
}

// CrossEntropy is softmax cross-entropy over logits [N, K] with integer
// labels, numerically stable, with optional label smoothing (the target
// puts 1 − Smoothing + Smoothing/K on the label, Smoothing/K elsewhere:
// PyTorch's label_smoothing).
type CrossEntropy struct {
	Smoothing float32
}

// Loss returns the mean cross-entropy.
func (c CrossEntropy) Loss(grad, out *tensor.Tensor, labels []int, _ *tensor.Tensor) float32 {
	return out.Backend().SoftmaxCrossEntropy(grad, out, labels, c.Smoothing)
}

// MSE is the mean over all elements of (out − target)².
type MSE struct{}

// Loss returns the mean squared error.
func (MSE) Loss(grad, out *tensor.Tensor, _ []int, target *tensor.Tensor) float32 {
	return meanElementwise("MSE", grad, out, target, func(x, t float64) (float64, float64) {
		d := x - t
		return d * d, 2 * d
	})
}

// BCEWithLogits is binary cross-entropy on logits, mean over all
// elements, with targets in [0, 1]: max(x, 0) − x·t + log(1 + e^−|x|),
// stable for any x (PyTorch's BCEWithLogitsLoss).
type BCEWithLogits struct{}

// Loss returns the mean binary cross-entropy.
func (BCEWithLogits) Loss(grad, out *tensor.Tensor, _ []int, target *tensor.Tensor) float32 {
	return meanElementwise("BCEWithLogits", grad, out, target, func(x, t float64) (float64, float64) {
		return math.Max(x, 0) - x*t + math.Log1p(math.Exp(-math.Abs(x))), 1/(1+math.Exp(-x)) - t
	})
}

// meanElementwise averages f's loss over the elements of out and target
// and writes f's derivative, divided by the count, into grad.
func meanElementwise(name string, grad, out, target *tensor.Tensor, f func(x, t float64) (loss, d float64)) float32 {
	checkTarget(name, out, target, grad)
	o, t := out.Data(), target.Data()
	var g []float32
	if grad != nil {
		g = grad.Data()
	}
	n := float64(len(o))
	var s float64
	for i := range o {
		l, d := f(float64(o[i]), float64(t[i]))
		s += l
		if g != nil {
			g[i] = float32(d / n)
		}
	}
	if n == 0 {
		return 0
	}
	return float32(s / n)
}

func checkTarget(name string, out, target, grad *tensor.Tensor) {
	if target == nil || !out.SameShape(target) || (grad != nil && !grad.SameShape(out)) {
		ts := "nil"
		if target != nil {
			ts = fmt.Sprint(target.Shape())
		}
		panic(fmt.Sprintf("nn.%s: output %v, target %s", name, out.Shape(), ts))
	}
}
