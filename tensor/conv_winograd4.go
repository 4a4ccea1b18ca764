package tensor

// Winograd F(4×4, 3×3): each tile is a 4×4 block of outputs, from a 6×6
// input patch, with 36 elements in the transformed domain instead of 16
// (Lavin & Gray's matrices, interpolation points 0, ±1, ±2, ∞):
//
//	Bᵀ = | 4  0 −5  0  1  0 |   G = |  1/4     0     0 |   Aᵀ = | 1  1  1  1  1  0 |
//	     | 0 −4 −4  1  1  0 |       | −1/6  −1/6  −1/6 |        | 0  1 −1  2 −2  0 |
//	     | 0  4 −4 −1  1  0 |       | −1/6   1/6  −1/6 |        | 0  1  1  4  4  0 |
//	     | 0 −2 −1  2  1  0 |       | 1/24  1/12   1/6 |        | 0  1 −1  8 −8  1 |
//	     | 0  2 −1 −2  1  0 |       | 1/24 −1/12   1/6 |
//	     | 0  4  0 −5  0  1 |       |    0     0     1 |
//
// 36 products per tile and channel pair for 16 outputs: 2.25 a output
// against F(2×2, 3×3)'s 4 and the direct method's 9, so the 36 GEMMs do
// 1.78× less work than F(2×2)'s 16. Its transforms cost about as much per
// output, and its V and M are 2.25/4 as large per output. The price is
// accuracy: the transforms' larger coefficients (up to 5 in Bᵀ, 8 in Aᵀ)
// make each output's error bound about 4 to 36 times F(2×2)'s
// (winoErrorBound in the tests derives both). In practice ResNet-18 at
// 224² imported from ONNX gave outputs within 7.7e-7 of ONNX Runtime's
// (relative to the largest; 5.2e-7 with F(2×2)).
//
// Products by 2, 4 and 8 are exact (unless they overflow, beyond about
// 1e37), so the kernels' fused multiply-adds round as the Go twins'
// separate products and sums do; products by other constants are separate
// multiplications in both.
//
// The three transforms run in the kernels of kernels/amd64
// (Winograd4InputAVX2, Winograd4OutputAVX2, Winograd4WeightAVX2: 8 channels
// a step) on tiers that have them (gemmKernel.wino4), and in the Go loops
// below, the same operations in the same order, for the channels past the
// last multiple of 8.

// winoTile returns the Winograd tile winoCall uses for g: 4 (F(4×4, 3×3))
// on tiers with its kernels where its products are at most 65% of
// F(2×2)'s, counting the outputs both compute past OH and OW, else 2.
// F(4×4)'s larger U and transforms want that margin: on Zen 5 (AVX-512
// tier, BenchmarkWinogradPaths, N = 32) it ran r18_l1 (56×56, 56% of the
// products) 1.0–1.3× F(2×2), r18_l2 (28×28, 56%) 1.1–1.3×, r18_l4 (7×7,
// 56%) 1.1–1.4×, but r18_l3 (14×14: 16×16 outputs computed, 73%) 0.6–0.9×.
// kn.winoM forces the choice where both can run.
func (kn *gemmKernel) winoTile(g convGeom) int {
	if !kn.wino4 || kn.id == kidGeneric || g.kh != 3 {
		return 2
	}
	if kn.winoM == 2 || kn.winoM == 4 {
		return kn.winoM
	}
	p4 := 36 * ceilDiv(g.oh, 4) * ceilDiv(g.ow, 4)
	p2 := 16 * ceilDiv(g.oh, 2) * ceilDiv(g.ow, 2)
	if 100*p4 <= 65*p2 {
		return 4
	}
	return 2
}

// winograd4InputGo is Winograd4InputAVX2 (kernels/amd64) for channels
// [lo, hi), with strides in floats: the same operations in the same order.
func winograd4InputGo(lo, hi int, x []float32, xs, rs int, v []float32, vs int) {
	if lo >= hi {
		return
	}
	var out [36][]float32
	for e := range out {
		out[e] = v[e*vs : e*vs+hi]
	}
	for i := lo; i < hi; i++ {
		var t [6][6]float32 // t[r][b] = (Bᵀ·d)[r][b]
		for b := 0; b < 6; b++ {
			var d [6]float32
			for p := range d {
				d[p] = x[p*rs+b*xs+i]
			}
			col := wino4In1D(d)
			for r := range col {
				t[r][b] = col[r]
			}
		}
		for r := 0; r < 6; r++ {
			row := wino4In1D(t[r])
			for q := range row {
				out[6*r+q][i] = row[q]
			}
		}
	}
}

// wino4In1D is Bᵀ·d for one column or row d, as Winograd4InputAVX2 does it.
func wino4In1D(d [6]float32) [6]float32 {
	p, q := d[1]+d[2], d[3]+d[4]
	r, s := d[1]-d[2], d[4]-d[3]
	u, w := d[3]-d[1], d[4]-d[2]
	return [6]float32{
		(d[4] - float32(5*d[2])) + 4*d[0],
		q - 4*p,
		s + 4*r,
		w + 2*u,
		w - 2*u,
		(d[5] - float32(5*d[3])) + 4*d[1],
	}
}

// winograd4OutputGo is Winograd4OutputAVX2 (kernels/amd64) for channels
// [lo, hi), with strides in floats: the same operations in the same order.
func winograd4OutputGo(lo, hi int, m []float32, ms int, y []float32, ys, rs int, b []float32) {
	if lo >= hi {
		return
	}
	var in [36][]float32
	for e := range in {
		in[e] = m[e*ms : e*ms+hi]
	}
	b = b[:hi]
	for i := lo; i < hi; i++ {
		var s [4][6]float32 // s[r][j] = (Aᵀ·M)[r][j]
		for j := 0; j < 6; j++ {
			var col [6]float32
			for a := range col {
				col[a] = in[6*a+j][i]
			}
			o := wino4Out1D(col)
			for r := range o {
				s[r][j] = o[r]
			}
		}
		for r := 0; r < 4; r++ {
			o := wino4Out1D(s[r])
			for c := range o {
				y[r*rs+c*ys+i] = o[c] + b[i]
			}
		}
	}
}

// wino4Out1D is Aᵀ·m for one column or row m, as Winograd4OutputAVX2 does
// it.
func wino4Out1D(m [6]float32) [4]float32 {
	a, b := m[1]+m[2], m[1]-m[2]
	c, d := m[3]+m[4], m[3]-m[4]
	return [4]float32{(m[0] + a) + c, b + 2*d, a + 4*c, (b + 8*d) + m[5]}
}

// winograd4WeightGo is Winograd4WeightAVX2 (kernels/amd64) for lanes [lo,
// hi) (strides in floats): U = G·g·Gᵀ of the 3×3 kernels g[a][b] =
// k[(3a+b)·ks + i], element e = 6r + q to u[e·us + i], the same operations
// in the same order.
func winograd4WeightGo(lo, hi int, k []float32, ks int, u []float32, us int) {
	for i := lo; i < hi; i++ {
		var t [6][3]float32 // t[r][j] = (G·g)[r][j]
		for j := 0; j < 3; j++ {
			col := wino4W1D([3]float32{k[j*ks+i], k[(3+j)*ks+i], k[(6+j)*ks+i]})
			for r := range col {
				t[r][j] = col[r]
			}
		}
		for r := 0; r < 6; r++ {
			row := wino4W1D(t[r])
			for q := range row {
				u[(6*r+q)*us+i] = row[q]
			}
		}
	}
}

// The constants of the weight transform (G) and of its transpose (Gᵀ, the
// weight gradient), rounded to float32 as the kernels hold them.
const (
	wino4G6  = float32(1.0 / 6)
	wino4G12 = float32(1.0 / 12)
	wino4G24 = float32(1.0 / 24)
)

// wino4W1D is G·g for one column or row g, as Winograd4WeightAVX2 does it.
func wino4W1D(g [3]float32) [6]float32 {
	s := g[0] + g[2]
	r := g[0] + 4*g[2]
	return [6]float32{
		0.25 * g[0],
		(s + g[1]) * -wino4G6,
		(s - g[1]) * -wino4G6,
		(r + 2*g[1]) * wino4G24,
		(r - 2*g[1]) * wino4G24,
		g[2],
	}
}
