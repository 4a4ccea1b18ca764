package tensor

import "github.com/graftml/graft/kernels"

// Weight gradients by Winograd F(4×4, 3×3). The forward pass computes each
// 4×4 output tile as Y = Aᵀ·[Σ_c U_c ⊙ V_c]·A with U = G·g·Gᵀ and V =
// Bᵀ·d·B; everything there is linear, so the gradient of the loss with
// respect to U_e[c][o] is a sum over the tiles t of V_t,e[c]·dM_t,e[o],
// with dM_t = A·dY_t·Aᵀ the transpose of the output transform applied to
// the tile's output gradients, and that with respect to the 3×3 kernel is
// Gᵀ·dU·G:
//
//	V_e[t][c]  = (Bᵀ·d_tc·B)[e]      the input transform of the forward pass
//	dM_e[t][o] = (A·dY_to·Aᵀ)[e]     Winograd4DYAVX2
//	dU_e      += V_eᵀ·dM_e           [C × tiles]·[tiles × O], 36 GEMMs
//	dW[o][c]   = Gᵀ·dU[c][o]·G       Winograd4WGradAVX2
//
// 36 products per tile and channel pair give 16 outputs' worth of the
// sums: 2.25 per output against the direct method's 9, in GEMMs whose K
// is the number of tiles (long, whatever the channels). Tiles are taken in
// chunks whose V and dM fill about a quarter of L3; the transforms of a
// chunk are cut across the threads by tiles, its GEMMs by element e, and
// the last transform by input channel, so that no two threads write the
// same sums and the result does not depend on the number of threads.
// Tiles that reach past OH or OW read zero gradients there (and their
// input patches zeros outside the image, as in the forward pass).

// winogradWGradOK reports whether the weight gradient of g runs on the
// Winograd path: the forward pass's geometry (3×3, stride 1, …), a tier
// with the F(4×4) kernels and at least 16 input and output channels,
// unless CPUOptions.Winograd forces it on or off. Unlike the forward pass
// it takes F(4×4) on 14×14 outputs too: on Zen 5 (AVX-512 tier,
// BenchmarkConv2D bwd_weights, 1 thread, GFLOP/s against the direct
// paths) r18_l1 316–318 against 161–200, r18_l2 403–453 against 194–204,
// r18_l3 392–417 against 185–190, r18_l4 293–375 against 130–151.
func winogradWGradOK(kn *gemmKernel, g convGeom) bool {
	if !kn.wino4 || kn.id == kidGeneric || kn.wino < 0 {
		return false
	}
	p := g.p
	if g.kh != 3 || g.kw != 3 || p.StrideH != 1 || p.StrideW != 1 || p.DilationH != 1 || p.DilationW != 1 || p.Groups != 1 {
		return false
	}
	if p.PadTop > 2 || p.PadBottom > 2 || p.PadLeft > 2 || p.PadRight > 2 {
		return false
	}
	if kn.wino > 0 {
		return true
	}
	tiles := g.n * ceilDiv(g.oh, 4) * ceilDiv(g.ow, 4)
	return g.c >= 16 && g.o >= 16 && tiles >= wgradMinTiles
}

// wgradMinTiles is the fewest 4×4 tiles the Winograd weight gradient takes
// by default: with fewer, the GEMMs' K is short, the last transform's
// share of the work grows, and the error of a sum of few products, which
// the transforms magnify (winoWGradErrorBound), is no longer small
// against the direct method's.
const wgradMinTiles = 32

// wgradCall is one Winograd weight gradient, shared by its parts.
type wgradCall struct {
	wc       winoCall  // the forward geometry: tiles, the input transform
	dy, dw   []float32 // NHWC output gradients, OIHW weight gradients
	v, m, du []float32 // V [36][chunk][C], dM [36][chunk][O], dU [36][C][O] (+ skew)
	ms, us   int       // distance between dM's and dU's element blocks
	t0, nt   int       // the chunk's tiles
	phase    int       // what run does: wgTransform, wgMultiply or wgOut
	beta     float32   // 0 for the first chunk's GEMMs, then 1
}

const (
	wgTransform = iota
	wgMultiply
	wgOut
)

var wgradCalls = freeList[wgradCall]{}

// wgradScratch holds a call's shared buffers.
type wgradScratch struct{ v, m, du []float32 }

var wgradScratches = freeList[wgradScratch]{}

func winogradWGrad(kn *gemmKernel, g convGeom, dw, x, dy []float32) {
	c := wgradCalls.Get()
	*c = wgradCall{dy: dy, dw: dw}
	w := &c.wc
	*w = winoCall{kn: kn, g: g, x: x}
	w.setTiles(4, 3)
	// chunks whose V and dM take about a quarter of L3 (at least 64 tiles:
	// the GEMMs' K)
	per := 36 * (g.c + g.o) * 4
	w.chunk = min(w.tiles, max(64, kernels.CacheSizes().L3/4/per))
	w.vs = w.chunk*g.c + 16
	c.ms = w.chunk*g.o + 16
	c.us = g.c*g.o + 16
	s := wgradScratches.Get()
	s.v = grow(s.v, 36*w.vs)
	s.m = grow(s.m, 36*c.ms)
	s.du = grow(s.du, 36*c.us)
	c.v, c.m, c.du = s.v, s.m, s.du
	workers := goMaxProcs()
	if g.flops < gemmParallelFlops {
		workers = 1
	}
	for t0 := 0; t0 < w.tiles; t0 += w.chunk {
		c.t0, c.nt = t0, min(w.chunk, w.tiles-t0)
		c.phase = wgTransform
		parallel(min(workers, ceilDiv(c.nt, 8)), c)
		c.phase = wgMultiply
		parallel(workers, c)
		c.beta = 1
	}
	c.phase = wgOut
	parallel(min(workers, g.c), c)
	*c = wgradCall{}
	wgradCalls.Put(c)
	wgradScratches.Put(s)
}

func (c *wgradCall) run(part, parts int) {
	w := &c.wc
	g := w.g
	C, O := g.c, g.o
	switch c.phase {
	case wgTransform:
		a, b := part*c.nt/parts, (part+1)*c.nt/parts
		if a == b {
			return
		}
		s := winoScratches.Get()
		s.patch = grow(s.patch, 36*C)
		s.out = grow(s.out, 16*O)
		s.t = grow(s.t, 36*8)
		full := s.v
		s.v = c.v[a*C:]
		w.inputTransform(s, c.t0+a, b-a)
		s.v = full
		c.dyTransform(s, c.t0+a, b-a, c.m[a*O:])
		winoScratches.Put(s)
	case wgMultiply:
		gs := getGemmScratch(w.kn)
		for e := part * 36 / parts; e < (part+1)*36/parts; e++ {
			gemmSerial(w.kn, gs, true, false, C, O, c.nt, 1, c.v[e*w.vs:], C, c.m[e*c.ms:], O, c.beta, c.du[e*c.us:], O)
		}
		gemmScratches.Put(gs)
	case wgOut:
		s := winoScratches.Get()
		s.out = grow(s.out, 9*O) // the 9 taps of one input channel, [9][O]
		s.t = grow(s.t, 36*8)
		for ch := part * C / parts; ch < (part+1)*C/parts; ch++ {
			u := c.du[ch*O:]
			i := winograd4WGradKernels(w.kn, O, u, c.us, s.out, O, s.t)
			winograd4WGradGo(i, O, u, c.us, s.out, O)
			for o := 0; o < O; o++ {
				d := c.dw[(o*C+ch)*9 : (o*C+ch)*9+9]
				for k := range d {
					d[k] = s.out[k*O+o]
				}
			}
		}
		winoScratches.Put(s)
	}
}

// dyTransform writes dM_e[tt][o] = (A·dY·Aᵀ)[e] for the tiles [t0, t0+nt)
// into m (element blocks c.ms apart), dY the tile's 4×4 output gradients:
// read in place, or through a zero-padded copy where the tile reaches past
// OH or OW.
func (c *wgradCall) dyTransform(s *winoScratch, t0, nt int, m []float32) {
	w := &c.wc
	g := w.g
	O := g.o
	for tt := 0; tt < nt; tt++ {
		t := t0 + tt
		n, ty, tx := w.tileAt(t)
		src, ys, rs := s.out, O, 4*O
		if 4*ty+3 < g.oh && 4*tx+3 < g.ow {
			src, rs = c.dy[((n*g.oh+4*ty)*g.ow+4*tx)*O:], g.ow*O
		} else {
			for a := 0; a < 4; a++ {
				for b := 0; b < 4; b++ {
					dst := s.out[(4*a+b)*O : (4*a+b+1)*O]
					if y, x := 4*ty+a, 4*tx+b; y < g.oh && x < g.ow {
						o := ((n*g.oh+y)*g.ow + x) * O
						copy(dst, c.dy[o:o+O])
					} else {
						clear(dst)
					}
				}
			}
		}
		mt := m[tt*O:]
		i := winograd4DYKernels(w.kn, O, src, ys, rs, mt, c.ms, s.t)
		winograd4DYGo(i, O, src, ys, rs, mt, c.ms)
	}
}

// winograd4DYGo is Winograd4DYAVX2 (kernels/amd64) for channels [lo, hi),
// with strides in floats: the same operations in the same order.
func winograd4DYGo(lo, hi int, y []float32, ys, rs int, m []float32, ms int) {
	for i := lo; i < hi; i++ {
		var t [6][4]float32 // t[r][b] = (A·y)[r][b]
		for b := 0; b < 4; b++ {
			col := wino4DY1D([4]float32{y[b*ys+i], y[rs+b*ys+i], y[2*rs+b*ys+i], y[3*rs+b*ys+i]})
			for r := range col {
				t[r][b] = col[r]
			}
		}
		for r := 0; r < 6; r++ {
			row := wino4DY1D(t[r])
			for q := range row {
				m[(6*r+q)*ms+i] = row[q]
			}
		}
	}
}

// wino4DY1D is A·y for one column or row y, as Winograd4DYAVX2 does it.
func wino4DY1D(y [4]float32) [6]float32 {
	a, b := y[0]+y[2], y[1]+y[3]
	c, d := y[0]+4*y[2], 2*y[1]+8*y[3]
	return [6]float32{y[0], a + b, a - b, c + d, c - d, y[3]}
}

// winograd4WGradGo is Winograd4WGradAVX2 (kernels/amd64) for lanes [lo,
// hi), with strides in floats: the same operations in the same order.
func winograd4WGradGo(lo, hi int, u []float32, us int, w []float32, ws int) {
	for i := lo; i < hi; i++ {
		var t [3][6]float32 // t[r][j] = (Gᵀ·z)[r][j]
		for j := 0; j < 6; j++ {
			var col [6]float32
			for a := range col {
				col[a] = u[(6*a+j)*us+i]
			}
			g := wino4GT1D(col)
			for r := range g {
				t[r][j] = g[r]
			}
		}
		for r := 0; r < 3; r++ {
			g := wino4GT1D(t[r])
			for q := range g {
				w[(3*r+q)*ws+i] = g[q]
			}
		}
	}
}

// wino4GT1D is Gᵀ·z for one column or row z, as Winograd4WGradAVX2 does
// it: every product by ⅙, 1/12 or 1/24 rounded on its own.
func wino4GT1D(z [6]float32) [3]float32 {
	p, q := z[1]+z[2], z[3]+z[4]
	r, s := z[2]-z[1], z[3]-z[4]
	p6 := float32(p * wino4G6)
	return [3]float32{
		(float32(0.25*z[0]) - p6) + float32(q*wino4G24),
		float32(r*wino4G6) + float32(s*wino4G12),
		(float32(q*wino4G6) - p6) + z[5],
	}
}
