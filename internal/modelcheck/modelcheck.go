// Package modelcheck holds what graft's tests of layers and models share:
// random inputs, snapshots of a model's state to compare (with
// tensorcheck.SameState and tensorcheck.ChangedNames), and its parameter
// names. (tensorcheck holds the helpers below tensor, so that tensor's own
// tests can use them; these need nn.)
package modelcheck

import (
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
