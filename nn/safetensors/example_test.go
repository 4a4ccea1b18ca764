package safetensors_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/graftml/graft/nn/safetensors"
)

func Example() {
	f := &safetensors.File{
		Tensors: map[string]*safetensors.Tensor{
			"fc.weight": {DType: safetensors.F32, Shape: []int{2, 3}, F32: []float32{1, 2, 3, 4, 5, 6}},
			"fc.bias":   {DType: safetensors.F32, Shape: []int{2}, F32: []float32{0.5, -0.5}},
			"steps":     {DType: safetensors.I64, Shape: []int{}, I64: []int64{1000}},
		},
		Metadata: map[string]string{"format": "pt"},
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, f); err != nil {
		log.Fatal(err)
	}

	g, err := safetensors.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		log.Fatal(err)
	}
	w := g.Tensors["fc.weight"]
	fmt.Println(w.DType, w.Shape, w.F32)
	fmt.Println(g.Tensors["steps"].I64, g.Metadata["format"])
	// Output:
	// F32 [2 3] [1 2 3 4 5 6]
	// [1000] pt
}
