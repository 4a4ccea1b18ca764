package onnx

import "github.com/graftml/graft/nn"

func nnParameters(imp *Imported) []string {
	var out []string
	for _, p := range nn.Parameters(imp.Graph) {
		out = append(out, p.Name)
	}
	return out
}
