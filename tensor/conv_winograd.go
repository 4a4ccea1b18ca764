package tensor

import (
	"unsafe"

	"github.com/graftml/graft/kernels"
)

// Winograd F(2×2, 3×3) convolution (Lavin & Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2015): the path for 3×3 convolutions
// with stride 1, dilation 1, one group, padding 0..2 on each side
// (asymmetric allowed) and at least 16 input and output channels, forward
// and backward data. Backward data at stride 1 is the forward convolution
// of dy by the weights transposed to [C][O] and flipped by 180°, under
// padding 2 − pad (flippedGeom): the same code, with the flip read while
// the weights are transformed. Weight gradients run on the F(4×4, 3×3)
// path of conv_winograd_wgrad.go, or on their own direct paths.
//
// What follows describes F(2×2, 3×3), its numbers included. Tiers with
// the F(4×4, 3×3) transform kernels run 4×4 tiles instead where they pay
// (winoTile; see conv_winograd4.go): 36 elements instead of 16, 6×6
// patches, chunks sized by winoChunk's F(4×4) rule, the rest the same.
// The same tiers run 5×5 convolutions (stride 1, padding 0..4) as
// F(2×2, 5×5) (conv_winograd25.go): 2×2 tiles from 6×6 patches, 36
// elements, F(4×4)'s input transform.
//
// Each 2×2 block of outputs (a tile) of one image and output channel o is
//
//	Y = Aᵀ·[Σ_c (G·g_oc·Gᵀ) ⊙ (Bᵀ·d_c·B)]·A (+ bias)
//
//	Bᵀ = | 1  0 −1  0 |   G = | 1    0    0  |   Aᵀ = | 1  1  1  0 |
//	     | 0  1  1  0 |       | 1/2  1/2  1/2|        | 0  1 −1 −1 |
//	     | 0 −1  1  0 |       | 1/2 −1/2  1/2|
//	     | 0  1  0 −1 |       | 0    0    1  |
//
// with d_c the tile's 4×4 input patch of channel c (zeros outside the
// image), g_oc the 3×3 kernel and ⊙ elementwise: 16 multiplications per
// tile and channel pair instead of 36, for transforms that cost O(C + O)
// per tile against the O(C·O) products. The 16 elements e of the 4×4
// transformed domain are independent, so the sum over c is 16 GEMMs:
//
//	U_e[c][o] = (G·g_oc·Gᵀ)[e]    the weights, transformed once per call
//	V_e[t][c] = (Bᵀ·d_tc·B)[e]     per tile t, for a chunk of tiles
//	M_e       = V_e·U_e            [tiles × C]·[C × O]
//	y[t]      = Aᵀ·M[t]·A + bias   written to y (NHWC)
//
// Layouts. x and y are NHWC, so each patch pixel's C channels are
// contiguous and both tile transforms run along channels, 8 at a time
// (WinogradInputAVX2 and WinogradOutputAVX2 in kernels/amd64; Go loops
// doing the same operations in the same order for the generic tier and
// the last C mod 8 channels). w is OIHW. U is stored as the microkernel's
// packed B panels, [e][O/NR][C][NR] with O zero-padded to Op (a multiple
// of NR), V as [e][tile][C] and M as [e][tile][Op]; each GEMM is then a
// run of full MR×NR microkernel calls that read V in place (row stride C),
// with no packing per chunk and no edge tiles (a chunk is a multiple of
// MR tiles; the rows past its last tile are computed and ignored). The
// generic tier keeps U as plain [e][C][O] and multiplies with gemmSerial.
// The 16 blocks of U, V and M lie one cache line more than their size
// apart: the transforms write or read all 16 at once, and at multiples of
// 4 KiB they would share L1 sets.
//
// Work. Tiles are numbered over images, tile rows and tile columns, and cut
// into chunks of winoChunk tiles (24 to 144). A chunk runs its input
// transform, 16 GEMMs (one thread: gemmSerial's kernels) and output
// transform on one thread, its V and M in that thread's scratch; the
// chunks go to the worker pool, their number rounded up to a multiple of
// the threads. Each output is written by exactly one chunk, with the same
// operations whatever the chunking, so results do not depend on the
// number of threads. A tile that reaches past the image reads a zero-padded
// copy of its patch; a tile that reaches past OH or OW (odd sizes) writes
// a 2×2 scratch tile whose valid outputs are copied out. Scratch comes from
// sync.Pools: nothing is allocated in steady state.
//
// Accuracy. Each output's float32 error is at most about (C + 12)·u times
// the same algorithm run on absolute values (u = 2⁻²⁴; winoErrorBound in
// the tests derives it and checks it), comparable to the direct method's
// 9C·u bound on Σ|x·w|.
//
// Measured on AMD Zen 3 (EPYC, 2 cores, 512 KiB L2 per core), AVX2, one
// thread, against the row-tap path, in GFLOP/s of the direct convolution
// (medians of 3 interleaved runs of two test binaries; bench.BenchmarkConv2D):
//
//	layer (N=32, 3×3, pad 1)    forward          backward data
//	r18_l1 56×56, 64→64          76 → 155 (2.0×)  78 → 152 (1.9×)
//	r18_l2 28×28, 128→128        71 → 177 (2.5×)  71 → 172 (2.4×)
//	r18_l3 14×14, 256→256        66 → 172 (2.6×)  62 → 165 (2.7×)
//	r18_l4 7×7, 512→512          58 → 107 (1.9×)  50 → 110 (2.2×)
//
// and a ResNet-18 (CIFAR) training step, batch 32, one thread: 17.0 → 24.7
// images/s. The gain goes beyond 2.25× where the row-tap path wastes work
// on padding; 7×7 outputs waste 15 of the 64 outputs their 4×4 tiles
// cover. On smaller layers (BenchmarkWinogradPaths, N = 8 or 32, outputs
// 2×2 to 56×56, against row-tap or, where O is not a multiple of 16,
// im2col) it won 1.4× to 2.8× with 32 to 64 channels, 1.0× to 1.9×
// with 24, 0.9× to 2.2× with 16 (even or slightly behind on 5×5 and 7×7
// outputs), and lost with 12 (0.9×): hence C, O ≥ 16. On the generic tier
// (against im2col + the generic GEMM) it won 1.5× to 2.1× with 48 to 256
// channels and 0.9× to 1.3× with 16. In a profile the tile transforms
// take about a fifth of the time at 64 channels and 7% at 256; the weight
// transform takes 8% at 14×14×256 and more at 512 channels on small
// images, where writing U (16 MiB per call) is bound by memory bandwidth.

// winogradOK reports whether the forward pass of g runs on the Winograd
// path with kernel kn: 3×3, or 5×5 on tiers with the F(4×4) kernels, at
// stride 1, dilation 1, one group, padding up to the kernel size − 1.
func winogradOK(kn *gemmKernel, g convGeom) bool {
	p := g.p
	if g.kh != g.kw || p.StrideH != 1 || p.StrideW != 1 || p.DilationH != 1 || p.DilationW != 1 || p.Groups != 1 {
		return false
	}
	switch {
	case g.kh == 3:
	case g.kh == 5 && kn.wino4 && kn.id != kidGeneric: // F(2×2, 5×5)
	default:
		return false
	}
	if mp := g.kh - 1; p.PadTop > mp || p.PadBottom > mp || p.PadLeft > mp || p.PadRight > mp {
		return false
	}
	return winoWorthIt(kn, g)
}

// winoWorthIt reports whether the Winograd path beats the one g takes
// otherwise, from measurements on Zen 3 (see the top of the file) and on
// Zen 5 (the AVX-512 tier: its 12×32 microkernel for the 16 products, the
// AVX2 transforms): with at least 16 input and 16 output channels.
func winoWorthIt(kn *gemmKernel, g convGeom) bool {
	if kn.wino != 0 { // CPUOptions.Winograd
		return kn.wino > 0
	}
	return g.c >= 16 && g.o >= 16
}

// winogradBackwardDataOK reports whether the backward-data pass of g runs
// on the Winograd path: at stride 1 it is the forward convolution
// flippedGeom(g).
func winogradBackwardDataOK(kn *gemmKernel, g convGeom) bool {
	if g.p.StrideH != 1 || g.p.StrideW != 1 || g.p.Groups != 1 {
		return false
	}
	f, ok := flippedGeom(g)
	return ok && winogradOK(kn, f)
}

func winogradBackwardData(kn *gemmKernel, g convGeom, dx, dy, w []float32) {
	f, _ := flippedGeom(g)
	convWinograd(kn, f, dx, dy, w, nil, true)
}

// winoCall is one Winograd convolution, shared by its parts.
type winoCall struct {
	kn         *gemmKernel
	g          convGeom  // the forward convolution computed (flippedGeom for backward data)
	x, y, bias []float32 // NHWC input and output, bias or nil
	w          []float32 // OIHW weights, or with flip [C][O][3][3] read flipped
	flip       bool
	act        FusedAct  // applied to each output tile once written
	u          []float32 // transformed weights: [ne][Op/unr][C][unr] + skew
	unr, op    int       // panel width of u; O rounded up to it
	m, ne      int       // tile size (2 or 4, see winoTile) and elements (16 or 36)
	r          int       // kernel size: 3, or 5 for F(2×2, 5×5) (conv_winograd25.go)
	tw, th     int       // tiles per row and per column: ⌈OW/m⌉, ⌈OH/m⌉
	tiles      int       // N·th·tw
	chunk      int       // tiles per chunk, a multiple of MR
	chunks     int
	us, vs, ms int  // distance between the elements' blocks of U, V and M
	weights    bool // run transforms the weights (else the tiles)
}

var winoCalls = freeList[winoCall]{}

// winoScratch is one part's buffers.
type winoScratch struct {
	v, m  []float32 // V [ne][chunk][C], M [ne][chunk][Op] (+ skew)
	patch []float32 // one input patch [m+2][m+2][C], zero-padded
	out   []float32 // one output tile [m][m][O]
	t     []float32 // the F(4×4) kernels' scratch (36·8 floats)
	zeros []float32 // the bias of calls without one (never written)
}

var winoScratches = freeList[winoScratch]{}

// winoChunk returns the tiles per chunk for C input and Op (padded) output
// channels: about C·Op/2048, between 24 and 144, unless the backend sets
// it (kn.winoTiles). Each chunk reads all of U (16·C·Op floats) for
// 32·T·C·Op flops, so layers whose U outgrows the caches (C = O = 512:
// 16 MiB) need long chunks; short ones keep V and M of smaller layers in
// L2 (a flat optimum for C, O ≤ 256 in measurements).
func (kn *gemmKernel) winoChunk(c, op, ne int) int {
	if kn.winoTiles > 0 {
		return kn.winoTiles
	}
	if ne == 36 {
		// F(4×4): U is 36·C·Op floats and V and M 36 a tile. Where U fits
		// the L3 cache, chunks of 12 tiles keep V and M in L2 (Zen 5,
		// r18_l3 14×14×256, BenchmarkWinogradPaths: 280–400 GFLOP/s
		// against 206–273 in chunks of 24; r18_l1 and r18_l2 flat from 12
		// to 36); where it does not (C = O = 512: 36 MiB), long chunks
		// read it fewer times (r18_l4: 110–130 in chunks of 12, 230–320
		// in chunks of 72).
		if 36*c*op*4 <= kernels.CacheSizes().L3/2 {
			return 12
		}
		return min(max(c*op/4096, 12), 72)
	}
	return min(max(c*op/2048, 24), 144)
}

func convWinograd(kn *gemmKernel, g convGeom, y, x, w, bias []float32, flip bool) {
	convWinogradAct(kn, g, y, x, w, bias, flip, FusedAct{})
}

// convWinogradAct is convWinograd with act applied to each output tile
// as the output transform writes it.
func convWinogradAct(kn *gemmKernel, g convGeom, y, x, w, bias []float32, flip bool, act FusedAct) {
	c := winoCalls.Get()
	*c = winoCall{kn: kn, g: g, x: x, y: y, bias: bias, w: w, flip: flip, act: act}
	c.setTiles(kn.winoTile(g), g.kh)
	if kn.id == kidGeneric {
		c.unr, c.op = g.o, g.o
	} else {
		c.unr, c.op = kn.nr, ceilDiv(g.o, kn.nr)*kn.nr
	}
	workers := goMaxProcs()
	if g.flops < gemmParallelFlops {
		workers = 1
	}
	// Chunks of whole MR-row tiles, as many as the target size asks for,
	// rounded up to a multiple of the threads so that they share evenly.
	chunks := ceilDiv(c.tiles, kn.winoChunk(g.c, c.op, c.ne))
	chunks = ceilDiv(chunks, workers) * workers
	c.chunk = ceilDiv(ceilDiv(c.tiles, chunks), kn.mr) * kn.mr
	c.chunks = ceilDiv(c.tiles, c.chunk)

	cs := convScratches.Get()
	// The 16 elements' blocks of U, V and M lie one cache line more than
	// their size apart: at multiples of 4 KiB they would share L1 sets.
	c.us = g.c*c.op + 16
	c.vs, c.ms = c.chunk*g.c+16, c.chunk*c.op+16
	cs.wp = grow(cs.wp, c.ne*c.us)
	c.u = cs.wp
	c.weights = true
	parallel(min(workers, c.op/c.unr), c)
	c.weights = false
	parallel(min(workers, c.chunks), c)
	*c = winoCall{}
	winoCalls.Put(c)
	convScratches.Put(cs)
}

// setTiles sets the tile size m, the kernel size r and what follows from
// them and g: the elements of the transformed domain and the tiles.
func (c *winoCall) setTiles(m, r int) {
	g := c.g
	c.m, c.r = m, r
	c.ne = (m + r - 1) * (m + r - 1)
	c.tw, c.th = ceilDiv(g.ow, m), ceilDiv(g.oh, m)
	c.tiles = g.n * c.tw * c.th
}

func (c *winoCall) run(part, parts int) {
	if c.weights {
		np := c.op / c.unr
		if c.r == 5 {
			c.transformWeights25(part*np/parts*c.unr, (part+1)*np/parts*c.unr)
			return
		}
		c.transformWeights(part*np/parts*c.unr, (part+1)*np/parts*c.unr)
		return
	}
	g := c.g
	s := winoScratches.Get()
	a := c.m + c.r - 1
	s.v = grow(s.v, c.ne*c.vs)
	s.m = grow(s.m, c.ne*c.ms)
	s.patch = grow(s.patch, a*a*g.c)
	s.out = grow(s.out, c.m*c.m*g.o)
	s.t = grow(s.t, 36*8)
	if len(s.zeros) < g.o {
		s.zeros = make([]float32, g.o)
	}
	var gs *gemmScratch
	if c.kn.id == kidGeneric {
		gs = getGemmScratch(c.kn)
	}
	for k := part * c.chunks / parts; k < (part+1)*c.chunks/parts; k++ {
		t0 := k * c.chunk
		nt := min(c.chunk, c.tiles-t0)
		c.inputTransform(s, t0, nt)
		c.multiply(s, gs, nt)
		c.outputTransform(s, t0, nt)
	}
	if gs != nil {
		gemmScratches.Put(gs)
	}
	winoScratches.Put(s)
}

// transformWeights writes U_e[c][o] = (G·g·Gᵀ)[e] for o in [o0, o1), with
//
//	G = | 1    0    0  |
//	    | 1/2  1/2  1/2|
//	    | 1/2 −1/2  1/2|
//	    | 0    0    1  |
//
// and g the 3×3 kernel w[o][c] (or w[c][o] flipped by 180°), into the
// panel layout u[e·us + (o/unr·C + c)·unr + o%unr]; o ≥ O gets zeros. The
// ·½ are exact, so every U element is rounded at most four times.
//
// It works on blocks of winoWL output channels (lanes: one AVX2 panel) by
// winoWC input channels, or of 2·winoWL by winoWC/2 for panels of 32: the block's taps are gathered, in the order the
// weights lie in memory, into k[tap][c][lane], so that each tap, and each
// element of U computed from them by winoWeightBlock, is one vector of
// winoWC·winoWL floats in the order of the panel rows. With unr the block
// width (16 or 32) the elements are written straight into the panels;
// otherwise (the generic tier's unr = O) through a scratch block, row by
// row.
func (c *winoCall) transformWeights(o0, o1 int) {
	g := c.g
	C, O, unr := g.c, g.o, c.unr
	var k [9][winoWC * winoWL]float32
	var tmp [16][winoWC * winoWL]float32
	var out [16][]float32
	var t4 [18 * 8]float32 // Winograd4WeightAVX2's scratch
	// Blocks of wl lanes by wc channels: a whole panel row where the panels
	// are 32 wide (the AVX-512 tier), so that U is written in place.
	wl, wc := winoWL, winoWC
	if unr == 2*winoWL {
		wl, wc = 2*winoWL, winoWC/2
	}
	for jp := o0 / unr; jp < o1/unr; jp++ {
		for j0 := 0; j0 < unr; j0 += wl {
			ob := jp*unr + j0     // the block's first output channel
			nw := min(wl, unr-j0) // lanes written (a panel row's part)
			// lanes with weights; the others are zeros (all of them
			// when the block lies past O, as the second half of a
			// 32-lane panel does for O ≤ 16)
			nl := max(0, min(nw, O-ob))
			if nl < wl {
				clear(k[:])
			}
			for c0 := 0; c0 < C; c0 += wc {
				nc := min(wc, C-c0)
				n := nc * wl
				switch {
				case nl == 0: // nothing to gather: k stays zero
				case c.flip:
					// w[ch][o][8−t]: the block's lanes are 9·nl contiguous
					// floats per channel.
					for ch := 0; ch < nc; ch++ {
						src := c.w[((c0+ch)*O+ob)*9:][:9*nl]
						for j := 0; j < nl; j++ {
							s := (*[9]float32)(src[9*j:])
							i := ch*wl + j
							k[0][i], k[1][i], k[2][i] = s[8], s[7], s[6]
							k[3][i], k[4][i], k[5][i] = s[5], s[4], s[3]
							k[6][i], k[7][i], k[8][i] = s[2], s[1], s[0]
						}
					}
				default:
					// w[o][ch][t]: 9·nc contiguous floats per lane.
					for j := 0; j < nl; j++ {
						src := c.w[((ob+j)*C+c0)*9:][:9*nc]
						for ch := 0; ch < nc; ch++ {
							s := (*[9]float32)(src[9*ch:])
							i := ch*wl + j
							k[0][i], k[1][i], k[2][i] = s[0], s[1], s[2]
							k[3][i], k[4][i], k[5][i] = s[3], s[4], s[5]
							k[6][i], k[7][i], k[8][i] = s[6], s[7], s[8]
						}
					}
				}
				direct := unr == wl
				if c.m == 4 { // the assembly tiers only: direct
					if !direct {
						panic("tensor: Winograd F(4×4) weights need panels one weight block wide")
					}
					u := c.u[(jp*C+c0)*unr:]
					kf := unsafe.Slice(&k[0][0], len(k)*len(k[0])) // the taps, flat
					i := winograd4WeightKernels(c.kn, n, kf, len(k[0]), u, c.us, t4[:])
					winograd4WeightGo(i, n, kf, len(k[0]), u, c.us)
					continue
				}
				for e := range out {
					if direct {
						b := e*c.us + (jp*C+c0)*unr
						out[e] = c.u[b : b+n]
					} else {
						out[e] = tmp[e][:n]
					}
				}
				winoWeightBlock(&k, &out, n)
				if direct {
					continue
				}
				for e := range out {
					for ch := 0; ch < nc; ch++ {
						b := e*c.us + (jp*C+c0+ch)*unr + j0
						copy(c.u[b:b+nw], tmp[e][ch*wl:])
					}
				}
			}
		}
	}
}

// The blocks of transformWeights: winoWL output channels (the AVX2 NR) by
// winoWC input channels.
const (
	winoWL = 16
	winoWC = 16
)

// winoWeightBlock computes out[e][i] = (G·g_i·Gᵀ)[e] for i < n, with g_i
// the 3×3 kernel k[0..8][i]: the operations of the scalar transform, in
// its order (a = G·g row by row, then a·Gᵀ), one row of a per loop. The
// conversions to float32 keep each rounding (no fused multiply-add).
func winoWeightBlock(k *[9][winoWC * winoWL]float32, out *[16][]float32, n int) {
	k0, k1, k2 := k[0][:n], k[1][:n], k[2][:n]
	k3, k4, k5 := k[3][:n], k[4][:n], k[5][:n]
	k6, k7, k8 := k[6][:n], k[7][:n], k[8][:n]
	// rows 0 and 3 of a: (k0, k1, k2) and (k6, k7, k8)
	{
		u0, u1, u2, u3 := out[0][:n], out[1][:n], out[2][:n], out[3][:n]
		for i := range u0 {
			a0, a1, a2 := k0[i], k1[i], k2[i]
			u0[i] = a0
			u1[i] = 0.5 * (a0 + a1 + a2)
			u2[i] = 0.5 * (a0 - a1 + a2)
			u3[i] = a2
		}
	}
	{
		u0, u1, u2, u3 := out[12][:n], out[13][:n], out[14][:n], out[15][:n]
		for i := range u0 {
			a0, a1, a2 := k6[i], k7[i], k8[i]
			u0[i] = a0
			u1[i] = 0.5 * (a0 + a1 + a2)
			u2[i] = 0.5 * (a0 - a1 + a2)
			u3[i] = a2
		}
	}
	// row 1: ½(k0 + k3 + k6), ...
	{
		u0, u1, u2, u3 := out[4][:n], out[5][:n], out[6][:n], out[7][:n]
		for i := range u0 {
			a0 := float32(0.5 * (k0[i] + k3[i] + k6[i]))
			a1 := float32(0.5 * (k1[i] + k4[i] + k7[i]))
			a2 := float32(0.5 * (k2[i] + k5[i] + k8[i]))
			u0[i] = a0
			u1[i] = 0.5 * (a0 + a1 + a2)
			u2[i] = 0.5 * (a0 - a1 + a2)
			u3[i] = a2
		}
	}
	// row 2: ½(k0 − k3 + k6), ...
	{
		u0, u1, u2, u3 := out[8][:n], out[9][:n], out[10][:n], out[11][:n]
		for i := range u0 {
			a0 := float32(0.5 * (k0[i] - k3[i] + k6[i]))
			a1 := float32(0.5 * (k1[i] - k4[i] + k7[i]))
			a2 := float32(0.5 * (k2[i] - k5[i] + k8[i]))
			u0[i] = a0
			u1[i] = 0.5 * (a0 + a1 + a2)
			u2[i] = 0.5 * (a0 - a1 + a2)
			u3[i] = a2
		}
	}
}

// tileAt returns the image, tile row and tile column of tile t (tiles are
// numbered over images, tile rows and tile columns).
func (c *winoCall) tileAt(t int) (n, ty, tx int) {
	return t / (c.tw * c.th), t / c.tw % c.th, t % c.tw
}

// inputTransform writes V_e[tt][c] = (Bᵀ·d·B)[e] for the tiles [t0,
// t0+nt), with
//
//	Bᵀ = | 1  0 −1  0 |
//	     | 0  1  1  0 |
//	     | 0 −1  1  0 |
//	     | 0  1  0 −1 |
//
// and d the 4×4 input patch of the tile: read in place inside the image,
// gathered with zeros around it at its borders.
func (c *winoCall) inputTransform(s *winoScratch, t0, nt int) {
	g := c.g
	C := g.c
	vs := c.vs
	pa := c.m + c.r - 1 // the patch's side
	for tt := 0; tt < nt; tt++ {
		t := t0 + tt
		n, ty, tx := c.tileAt(t)
		iy0, ix0 := c.m*ty-g.p.PadTop, c.m*tx-g.p.PadLeft
		src, xs, rs := c.x, C, g.w*C
		if iy0 >= 0 && iy0+pa <= g.h && ix0 >= 0 && ix0+pa <= g.w {
			src = c.x[((n*g.h+iy0)*g.w+ix0)*C:]
		} else {
			src, rs = s.patch, pa*C
			for a := 0; a < pa; a++ {
				iy := iy0 + a
				for b := 0; b < pa; b++ {
					dst := s.patch[(pa*a+b)*C : (pa*a+b+1)*C]
					if ix := ix0 + b; iy >= 0 && iy < g.h && ix >= 0 && ix < g.w {
						o := ((n*g.h+iy)*g.w + ix) * C
						copy(dst, c.x[o:o+C])
					} else {
						clear(dst)
					}
				}
			}
		}
		v := s.v[tt*C:]
		if pa == 6 { // F(4×4, 3×3) and F(2×2, 5×5)
			i := winograd4InputKernels(c.kn, C, src, xs, rs, v, vs, s.t)
			winograd4InputGo(i, C, src, xs, rs, v, vs)
			continue
		}
		i := winogradInputKernels(c.kn, C, src, xs, rs, v, vs)
		winogradInputGo(i, C, src, xs, rs, v, vs)
	}
}

// winogradInputGo is WinogradInputAVX2 (kernels/amd64) for channels [lo,
// hi), with strides in floats: the same operations in the same order.
func winogradInputGo(lo, hi int, x []float32, xs, rs int, v []float32, vs int) {
	if lo >= hi {
		return
	}
	r0, r1, r2, r3 := x[:3*xs+hi], x[rs:rs+3*xs+hi], x[2*rs:2*rs+3*xs+hi], x[3*rs:3*rs+3*xs+hi]
	var out [16][]float32
	for e := range out {
		out[e] = v[e*vs : e*vs+hi]
	}
	for i := lo; i < hi; i++ {
		d00, d01, d02, d03 := r0[i], r0[xs+i], r0[2*xs+i], r0[3*xs+i]
		d10, d11, d12, d13 := r1[i], r1[xs+i], r1[2*xs+i], r1[3*xs+i]
		d20, d21, d22, d23 := r2[i], r2[xs+i], r2[2*xs+i], r2[3*xs+i]
		d30, d31, d32, d33 := r3[i], r3[xs+i], r3[2*xs+i], r3[3*xs+i]
		for r, t := range [4][4]float32{
			{d00 - d20, d01 - d21, d02 - d22, d03 - d23},
			{d10 + d20, d11 + d21, d12 + d22, d13 + d23},
			{d20 - d10, d21 - d11, d22 - d12, d23 - d13},
			{d10 - d30, d11 - d31, d12 - d32, d13 - d33},
		} {
			out[4*r][i] = t[0] - t[2]
			out[4*r+1][i] = t[1] + t[2]
			out[4*r+2][i] = t[2] - t[1]
			out[4*r+3][i] = t[1] - t[3]
		}
	}
}

// multiply computes M_e = V_e·U_e for the 16 elements e: on the assembly
// tiers straight from the packed U panels, full MR×NR tiles only (V and M
// have chunk rows, M has Op columns); on the generic tier with gemmSerial.
func (c *winoCall) multiply(s *winoScratch, gs *gemmScratch, nt int) {
	kn, g := c.kn, c.g
	C, Op := g.c, c.op
	if kn.id == kidGeneric {
		for e := 0; e < c.ne; e++ {
			gemmSerial(kn, gs, false, false, nt, g.o, C, 1, s.v[e*c.vs:], C, c.u[e*c.us:], Op, 0, s.m[e*c.ms:], Op)
		}
		return
	}
	MR, NR, KC := kn.mr, kn.nr, kn.kc
	rows := ceilDiv(nt, MR) * MR
	np := Op / NR
	for e := 0; e < c.ne; e++ {
		v := s.v[e*c.vs:]
		m := s.m[e*c.ms:]
		u := c.u[e*c.us:]
		for pc := 0; pc < C; pc += KC {
			kc := min(KC, C-pc)
			var beta float32
			if pc > 0 {
				beta = 1
			}
			for jp := 0; jp < np; jp++ {
				bp := u[(jp*C+pc)*NR:]
				for ir := 0; ir < rows; ir += MR {
					kn.call(kc, v[ir*C+pc:], aRowsInPlace, C, bp, true, 0, m[ir*Op+jp*NR:], Op, 1, beta)
				}
			}
		}
	}
}

// outputTransform writes y = Aᵀ·M·A (+ bias) for the tiles [t0, t0+nt),
// with
//
//	Aᵀ = | 1  1  1  0 |
//	     | 0  1 −1 −1 |
//
// in place inside the output, through a 2×2 scratch tile where a tile
// reaches past OH or OW (the outputs past them are dropped).
func (c *winoCall) outputTransform(s *winoScratch, t0, nt int) {
	g := c.g
	O := g.o
	ms := c.ms
	b := c.bias
	if b == nil {
		b = s.zeros[:O]
	}
	for tt := 0; tt < nt; tt++ {
		t := t0 + tt
		n, ty, tx := c.tileAt(t)
		tm := c.m
		full := tm*ty+tm-1 < g.oh && tm*tx+tm-1 < g.ow
		dst, ys, rs := s.out, O, tm*O
		if full {
			dst, rs = c.y[((n*g.oh+tm*ty)*g.ow+tm*tx)*O:], g.ow*O
		}
		m := s.m[tt*c.op:]
		switch {
		case tm == 4:
			i := winograd4OutputKernels(c.kn, O, m, ms, dst, ys, rs, b, s.t)
			winograd4OutputGo(i, O, m, ms, dst, ys, rs, b)
		case c.r == 5:
			i := winograd25OutputKernels(c.kn, O, m, ms, dst, ys, rs, b, s.t)
			winograd25OutputGo(i, O, m, ms, dst, ys, rs, b)
		default:
			i := winogradOutputKernels(c.kn, O, m, ms, dst, ys, rs, b)
			winogradOutputGo(i, O, m, ms, dst, ys, rs, b)
		}
		if full {
			if c.act.Kind != FuseNone {
				for r := 0; r < tm; r++ {
					c.act.apply(c.kn, dst[r*rs:r*rs+tm*O])
				}
			}
			continue
		}
		for dy := 0; dy < tm && tm*ty+dy < g.oh; dy++ {
			for dx := 0; dx < tm && tm*tx+dx < g.ow; dx++ {
				o := ((n*g.oh+tm*ty+dy)*g.ow + tm*tx + dx) * O
				copy(c.y[o:o+O], s.out[(tm*dy+dx)*O:])
				c.act.apply(c.kn, c.y[o:o+O])
			}
		}
	}
}

// winogradOutputGo is WinogradOutputAVX2 (kernels/amd64) for channels
// [lo, hi), with strides in floats: the same operations in the same order.
func winogradOutputGo(lo, hi int, m []float32, ms int, y []float32, ys, rs int, b []float32) {
	if lo >= hi {
		return
	}
	var in [16][]float32
	for e := range in {
		in[e] = m[e*ms : e*ms+hi]
	}
	y00, y01, y10, y11 := y[:hi], y[ys:ys+hi], y[rs:rs+hi], y[rs+ys:rs+ys+hi]
	b = b[:hi]
	for i := lo; i < hi; i++ {
		var s0, s1 [4]float32
		for j := 0; j < 4; j++ {
			s0[j] = in[j][i] + in[4+j][i] + in[8+j][i]
			s1[j] = in[4+j][i] - in[8+j][i] - in[12+j][i]
		}
		y00[i] = s0[0] + s0[1] + s0[2] + b[i]
		y01[i] = s0[1] - s0[2] - s0[3] + b[i]
		y10[i] = s1[0] + s1[1] + s1[2] + b[i]
		y11[i] = s1[1] - s1[2] - s1[3] + b[i]
	}
}
