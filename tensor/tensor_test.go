package tensor

import (
	"slices"
	"testing"
)

func TestReshapeIsAView(t *testing.T) {
	a := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b := a.Reshape(3, -1)
	if !slices.Equal(b.Shape(), []int{3, 2}) {
		t.Fatalf("Reshape(3,-1) shape %v", b.Shape())
	}
	b.Set(42, 2, 1)
	if a.At(1, 2) != 42 {
		t.Fatalf("Reshape copied the storage")
	}
	c := a.Clone()
	c.Set(0, 0, 0)
	if a.At(0, 0) != 1 {
		t.Fatalf("Clone shares storage")
	}
}

func TestRandDeterministic(t *testing.T) {
	a, b := RandNormal(7, 0, 1, 100), RandNormal(7, 0, 1, 100)
	if !slices.Equal(a.Data(), b.Data()) {
		t.Fatal("same seed, different normals")
	}
	if slices.Equal(a.Data(), RandNormal(8, 0, 1, 100).Data()) {
		t.Fatal("different seeds, same normals")
	}
	u := RandUniform(3, -2, 5, 1000)
	var mean float64
	for _, v := range u.Data() {
		if v < -2 || v >= 5 {
			t.Fatalf("uniform value %v outside [-2, 5)", v)
		}
		mean += float64(v) / 1000
	}
	if mean < 1 || mean > 2 {
		t.Fatalf("uniform mean %v, want about 1.5", mean)
	}
	n := RandNormal(4, 3, 2, 20000)
	mean = 0
	for _, v := range n.Data() {
		mean += float64(v) / 20000
	}
	if mean < 2.9 || mean > 3.1 {
		t.Fatalf("normal mean %v, want about 3", mean)
	}
}

func TestMatMulTensors(t *testing.T) {
	a := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b := FromSlice([]float32{1, 0, 0, 1, 1, 1}, 3, 2)
	c := Full(1, 2, 2)
	MatMul(c, a, b, false, false, 1, 2)
	if want := []float32{6, 7, 12, 13}; !slices.Equal(c.Data(), want) {
		t.Fatalf("MatMul = %v, want %v", c.Data(), want)
	}
	ct := Zeros(3, 3)
	MatMul(ct, a, a, true, false, 1, 0) // aᵀa
	if ct.At(0, 0) != 17 || ct.At(2, 2) != 45 || ct.At(0, 2) != 27 {
		t.Fatalf("aᵀa = %v", ct.Data())
	}
}
