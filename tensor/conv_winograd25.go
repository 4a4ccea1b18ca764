package tensor

// Winograd F(2×2, 5×5): 2×2 output tiles of a 5×5 convolution from 6×6
// patches, at the six points of F(4×4, 3×3) (0, ±1, ±2, ∞), so that its
// input transform is F(4×4)'s Bᵀ (Winograd4InputAVX2) and only the output
// transform (Aᵀ: the first two rows of powers of the points) and the
// weight transform (G: five powers over the same normalisation) are its
// own:
//
//	Aᵀ = | 1  1  1  1  1  0 |   G = |  1/4     0     0     0     0 |
//	     | 0  1 −1  2 −2  1 |       | −1/6  −1/6  −1/6  −1/6  −1/6 |
//	                                | −1/6   1/6  −1/6   1/6  −1/6 |
//	                                | 1/24  1/12   1/6   1/3   2/3 |
//	                                | 1/24 −1/12   1/6  −1/3   2/3 |
//	                                |    0     0     0     0     1 |
//
// 36 products per tile and channel pair for 4 outputs: 9 an output against
// the direct method's 25. The rest is winoCall's, with m = 2 and r = 5.
// Tiers with the F(4×4) kernels (gemmKernel.wino4) run it, in the kernels
// of kernels/amd64 and, for the last C mod 8 channels, the Go twins below,
// wherever C, O ≥ 16 (winoWorthIt). On Zen 5 (AVX-512 tier,
// BenchmarkConv2D, mnist_c2: 14×14, 32 → 64 channels, N = 64, cpuGFLOP/s,
// 3 rounds alternated with the direct path) the forward pass ran 305–358
// against 188–218 and backward data 287–342 against 181–191. Weight
// gradients of 5×5 convolutions keep their direct paths.

// winograd25OutputGo is Winograd25OutputAVX2 (kernels/amd64) for channels
// [lo, hi), with strides in floats: the same operations in the same order.
func winograd25OutputGo(lo, hi int, m []float32, ms int, y []float32, ys, rs int, b []float32) {
	for i := lo; i < hi; i++ {
		var s [2][6]float32 // s[r][j] = (Aᵀ·M)[r][j]
		for j := 0; j < 6; j++ {
			var col [6]float32
			for a := range col {
				col[a] = m[(6*a+j)*ms+i]
			}
			o := wino25Out1D(col)
			s[0][j], s[1][j] = o[0], o[1]
		}
		for r := 0; r < 2; r++ {
			o := wino25Out1D(s[r])
			y[r*rs+i] = o[0] + b[i]
			y[r*rs+ys+i] = o[1] + b[i]
		}
	}
}

// wino25Out1D is Aᵀ·m for one column or row m, as Winograd25OutputAVX2
// does it.
func wino25Out1D(m [6]float32) [2]float32 {
	a, b := m[1]+m[2], m[1]-m[2]
	c, d := m[3]+m[4], m[3]-m[4]
	return [2]float32{(m[0] + a) + c, (b + 2*d) + m[5]}
}

// winograd25WeightGo is Winograd25WeightAVX2 (kernels/amd64) for lanes
// [lo, hi) (strides in floats): U = G·g·Gᵀ of the 5×5 kernels g[a][b] =
// k[(5a+b)·ks + i], element e = 6r + q to u[e·us + i], the same operations
// in the same order.
func winograd25WeightGo(lo, hi int, k []float32, ks int, u []float32, us int) {
	for i := lo; i < hi; i++ {
		var t [6][5]float32 // t[r][j] = (G·g)[r][j]
		for j := 0; j < 5; j++ {
			col := wino25W1D([5]float32{k[j*ks+i], k[(5+j)*ks+i], k[(10+j)*ks+i], k[(15+j)*ks+i], k[(20+j)*ks+i]})
			for r := range col {
				t[r][j] = col[r]
			}
		}
		for r := 0; r < 6; r++ {
			row := wino25W1D(t[r])
			for q := range row {
				u[(6*r+q)*us+i] = row[q]
			}
		}
	}
}

// wino25W1D is G·g for one column or row g, as Winograd25WeightAVX2 does
// it.
func wino25W1D(g [5]float32) [6]float32 {
	s, t := (g[0]+g[2])+g[4], g[1]+g[3]
	q := (g[1] + g[1]) + 8*g[3]
	p := (g[0] + 4*g[2]) + 16*g[4]
	return [6]float32{
		float32(0.25 * g[0]),
		(s + t) * -wino4G6,
		(s - t) * -wino4G6,
		(p + q) * wino4G24,
		(p - q) * wino4G24,
		g[4],
	}
}

// transformWeights25 is transformWeights for F(2×2, 5×5), on the assembly
// tiers (panels of unr = 16 or 32 output channels, written in place): the
// 25 taps of blocks of output channels (lanes) by input channels gathered
// tap-major, then Winograd25WeightAVX2.
func (c *winoCall) transformWeights25(o0, o1 int) {
	g := c.g
	C, O, unr := g.c, g.o, c.unr
	wl, wc := winoWL, winoWC
	if unr == 2*winoWL {
		wl, wc = 2*winoWL, winoWC/2
	}
	if unr != wl {
		panic("tensor: Winograd F(2×2, 5×5) weights need panels one weight block wide")
	}
	const kw = winoWC * winoWL // floats a tap
	var k [25 * kw]float32
	var t [30 * 8]float32 // Winograd25WeightAVX2's scratch
	for jp := o0 / unr; jp < o1/unr; jp++ {
		ob := jp * unr
		nl := max(0, min(wl, O-ob)) // lanes with weights; the rest are zeros
		if nl < wl {
			clear(k[:])
		}
		for c0 := 0; c0 < C; c0 += wc {
			nc := min(wc, C-c0)
			n := nc * wl
			for ch := 0; ch < nc; ch++ {
				for j := 0; j < nl; j++ {
					var src []float32
					if c.flip { // w[c][o][24−t]
						src = c.w[((c0+ch)*O+ob+j)*25:][:25]
					} else { // w[o][c][t]
						src = c.w[((ob+j)*C+c0+ch)*25:][:25]
					}
					i := ch*wl + j
					for tap := 0; tap < 25; tap++ {
						s := tap
						if c.flip {
							s = 24 - tap
						}
						k[tap*kw+i] = src[s]
					}
				}
			}
			u := c.u[(jp*C+c0)*unr:]
			i := winograd25WeightKernels(c.kn, n, k[:], kw, u, c.us, t[:])
			winograd25WeightGo(i, n, k[:], kw, u, c.us)
		}
	}
}
