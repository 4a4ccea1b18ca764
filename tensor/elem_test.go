package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/graftml/graft/internal/tensorcheck"
)

var elemLens = []int{0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 257, 1000, 4099}

// guarded returns a tensor of n random values (some negative, some zero,
// a NaN now and then when nan is set) that lives inside a buffer whose
// surrounding elements are the guard value.
func guarded(r *rand.Rand, n int, nan bool) (*Tensor, []float32) {
	d, buf := tensorcheck.Guarded(n)
	for i := range d {
		switch r.IntN(10) {
		case 0:
			d[i] = 0
		case 1:
			if nan {
				d[i] = float32(math.NaN())
				continue
			}
			fallthrough
		default:
			d[i] = float32(r.NormFloat64())
		}
	}
	return FromSlice(d, n), buf
}

// close32 compares with a few ulps of tolerance; NaN equals NaN.
func close32(got, want, scale float32) bool {
	if got != got || want != want {
		return got != got && want != want
	}
	if got == want { // infinities
		return true
	}
	return math.Abs(float64(got-want)) <= 4e-7*math.Max(1, float64(scale))
}

func TestElementwiseMatchesReference(t *testing.T) {
	type op struct {
		name string
		run  func(b Backend, out, x, y *Tensor)
	}
	ops := []op{
		{"Add", func(b Backend, out, x, y *Tensor) { b.Add(out, x, y) }},
		{"Mul", func(b Backend, out, x, y *Tensor) { b.Mul(out, x, y) }},
		{"max", func(b Backend, out, x, y *Tensor) {
			if _, ok := b.(CPU); ok {
				maxF32(cpuKernel(), out.data, x.data, y.data)
				return
			}
			for i := range out.data {
				a, c := x.data[i], y.data[i]
				switch {
				case a != a || c != c:
					out.data[i] = float32(math.NaN())
				case c > a:
					out.data[i] = c
				default:
					out.data[i] = a
				}
			}
		}},
		{"sub", func(b Backend, out, x, y *Tensor) {
			if _, ok := b.(CPU); ok {
				subF32(cpuKernel(), out.data, x.data, y.data)
				return
			}
			for i := range out.data {
				out.data[i] = x.data[i] - y.data[i]
			}
		}},
		{"Scale", func(b Backend, out, x, y *Tensor) { b.Scale(out, -1.5, x) }},
		{"Axpy", func(b Backend, out, x, y *Tensor) { copy(out.data, y.data); b.Axpy(out, 0.75, x) }},
		{"ReLU", func(b Backend, out, x, y *Tensor) { b.ReLU(out, x) }},
		{"ReLUGrad", func(b Backend, out, x, y *Tensor) { b.ReLUGrad(out, x, y) }},
	}
	forEachTier(t, func(t *testing.T, cpu CPU) {
		r := rand.New(rand.NewPCG(5, uint64(cpu.kern().tier)))
		for _, o := range ops {
			for _, n := range elemLens {
				name := fmt.Sprintf("%s/n=%d", o.name, n)
				x, _ := guarded(r, n, true)
				y, _ := guarded(r, n, true)
				got, buf := guarded(r, n, false)
				want := Zeros(n)
				o.run(cpu, got, x, y)
				o.run(Reference{}, want, x, y)
				tensorcheck.CheckGuards(t, name, buf)
				for i := range want.data {
					if !close32(got.data[i], want.data[i], want.data[i]) {
						t.Fatalf("%s: [%d] = %v, want %v (x=%v y=%v)", name, i, got.data[i], want.data[i], x.data[i], y.data[i])
					}
				}
				// In place: the destination is the first source.
				inPlace := x.Clone()
				o.run(cpu, inPlace, inPlace, y)
				for i := range want.data {
					if o.name != "Axpy" && !close32(inPlace.data[i], want.data[i], want.data[i]) {
						t.Fatalf("%s in place: [%d] = %v, want %v", name, i, inPlace.data[i], want.data[i])
					}
				}
			}
		}
	})
}

func TestReductionsMatchReference(t *testing.T) {
	shapes := [][]int{{1}, {7}, {33}, {1000}, {3, 5}, {4, 17}, {2, 3, 4}, {5, 9, 33}, {2, 1, 7, 3}, {3, 0, 2}}
	forEachTier(t, func(t *testing.T, cpu CPU) {
		r := rand.New(rand.NewPCG(6, uint64(cpu.kern().tier)))
		for _, shape := range shapes {
			for axis := range shape {
				for _, nan := range []bool{false, true} {
					src := RandNormal(r.Uint64(), 0, 1, shape...)
					if nan && src.Len() > 0 {
						src.data[r.IntN(src.Len())] = float32(math.NaN())
					}
					out := append(append([]int{}, shape[:axis]...), shape[axis+1:]...)
					for _, red := range []string{"Sum", "Max"} {
						got, want := Zeros(out...), Zeros(out...)
						if red == "Sum" {
							cpu.Sum(got, src, axis)
							Reference{}.Sum(want, src, axis)
						} else {
							cpu.Max(got, src, axis)
							Reference{}.Max(want, src, axis)
						}
						for i := range want.data {
							if !close32(got.data[i], want.data[i], float32(shape[axis])) {
								t.Fatalf("%s %v axis %d nan=%v: [%d] = %v, want %v", red, shape, axis, nan, i, got.data[i], want.data[i])
							}
						}
					}
				}
			}
		}
	})
}

func TestReduceKeepDimAndNegativeAxis(t *testing.T) {
	src := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	dst := Zeros(2, 1)
	Sum(dst, src, -1)
	if dst.At(0, 0) != 6 || dst.At(1, 0) != 15 {
		t.Fatalf("Sum keepdim = %v", dst)
	}
	m := Zeros(3)
	Max(m, src, 0)
	if m.At(0) != 4 || m.At(1) != 5 || m.At(2) != 6 {
		t.Fatalf("Max axis 0 = %v", m)
	}
}

func TestShapeErrorsNameShapes(t *testing.T) {
	cases := []struct {
		f    func()
		want string
	}{
		{func() { Add(Zeros(2, 3), Zeros(2, 3), Zeros(3, 2)) }, "tensor.Add: shapes differ: [2 3], [2 3], [3 2]"},
		{func() { Sum(Zeros(3), Zeros(2, 3), 1) }, "tensor.Sum: reducing [2 3] along axis 1 gives [2] (or [2 1]), dst is [3]"},
		{func() { MatMul(Zeros(2, 2), Zeros(2, 3), Zeros(2, 2), false, false, 1, 0) },
			"tensor.MatMul: op(a) 2x3 · op(b) 2x2 does not give c [2 2] (a [2 3] transA=false, b [2 2] transB=false)"},
		{func() { Zeros(2, 3).Reshape(4, -1) }, "tensor.Reshape: cannot infer -1 in [4 -1] from [2 3] (6 elements)"},
		{func() { FromSlice(make([]float32, 5), 2, 3) }, "tensor.FromSlice: shape [2 3] holds 6 elements, data has 5"},
	}
	for _, c := range cases {
		func() {
			defer func() {
				if got := fmt.Sprint(recover()); got != c.want {
					t.Errorf("panic %q, want %q", got, c.want)
				}
			}()
			c.f()
		}()
	}
}
