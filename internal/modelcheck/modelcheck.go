// Package modelcheck holds what graft's tests of layers and models share:
// random inputs, snapshots of a model's state to compare (with
// tensorcheck.SameState and tensorcheck.ChangedNames), and its parameter
// names. (tensorcheck holds the helpers below tensor, so that tensor's own
// tests can use them; these need nn.)
package modelcheck

import (
	"errors"
	"slices"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/tensor"
)

// Randn returns a tensor of standard normal values drawn from seed.
func Randn(seed uint64, shape ...int) *tensor.Tensor {
	return tensor.RandNormal(seed, 0, 1, shape...)
}

// State copies the values of every parameter and buffer of m by name.
func State(m nn.Layer) map[string][]float32 {
	out := map[string][]float32{}
	for _, p := range nn.Parameters(m) {
		out[p.Name] = slices.Clone(p.Value.Value.Data())
	}
	for _, b := range nn.Buffers(m) {
		out[b.Name] = slices.Clone(b.Value.Value.Data())
	}
	return out
}

// ParamNames returns the names of l's parameters, in nn.Parameters' order.
func ParamNames(l nn.Layer) []string {
	var out []string
	for _, p := range nn.Parameters(l) {
		out = append(out, p.Name)
	}
	return out
}

// ErrOOM is the driver error a Failing layer's device failure wraps.
var ErrOOM = errors.New("cuda: CUDA_ERROR_OUT_OF_MEMORY")

// Failing is a layer whose Forward and Infer fail: with Device, as an
// operation on a GPU out of memory does (a *tensor.DeviceError panic
// wrapping ErrOOM); otherwise with a bug (an index out of range in
// InferBug, which a test finds on the stack).
type Failing struct {
	nn.Leaf
	Device bool
}

// Forward is Infer.
func (f *Failing) Forward(x *tensor.Tensor) *tensor.Tensor { return f.Infer(x) }

// Backward returns dy.
func (f *Failing) Backward(dy *tensor.Tensor, _ bool) *tensor.Tensor { return dy }

// Infer fails.
func (f *Failing) Infer(x *tensor.Tensor) *tensor.Tensor {
	if f.Device {
		panic(&tensor.DeviceError{Op: "Conv2D", Err: ErrOOM})
	}
	return InferBug(x)
}

// InferBug indexes out of range.
//
//go:noinline
func InferBug(x *tensor.Tensor) *tensor.Tensor {
	return []*tensor.Tensor{x}[x.Rank()]
}
