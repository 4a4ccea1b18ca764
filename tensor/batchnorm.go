package tensor

import (
	"fmt"
)

// BatchNormParams are BatchNorm's settings. Momentum weighs the new batch
// statistic in the running averages (PyTorch's convention: running =
// (1−m)·running + m·batch). UnbiasedVar makes the running variance use the
// unbiased batch variance (PyTorch does; ONNX does not).
type BatchNormParams struct {
	Momentum, Eps float32
	UnbiasedVar   bool
	// ReLU applies max(·, 0) to the output (BatchNorm fused with the
	// ReLU after it). The backward pass then takes dy already masked by
	// the ReLU (ReLUGrad on the output).
	ReLU bool
}

// bnDims checks x [.., C] (channels last) against per-channel vectors.
func bnDims(op string, x *Tensor, vecs ...*Tensor) (rows, c int) {
	c = x.shape[x.Rank()-1]
	for _, v := range vecs {
		if v != nil && (v.Rank() != 1 || v.shape[0] != c) {
			panic(fmt.Sprintf("tensor.%s: x %v (channels last) with a per-channel tensor %v", op, x.shape, v.shape))
		}
	}
	return x.Len() / max(c, 1), c
}
