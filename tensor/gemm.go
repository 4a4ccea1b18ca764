package tensor

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/graftml/graft/kernels"
)

// Sgemm computes C = alpha·op(A)·op(B) + beta·C on the CPU, with the
// kernel tier kernels.Current() names, on up to runtime.GOMAXPROCS(0)
// threads. Shapes and strides are those of SgemmRef, which states the
// result; beta == 0 leaves C unread and alpha == 0 leaves A and B unread.
// It panics, naming the shapes, when a slice is too short for the shapes
// and strides given.
//
// The algorithm is BLIS's: B is packed into k-major panels of NR columns
// for each KC×NC block, A into panels of MR rows for each MC×KC block, and a
// register-blocked microkernel (assembly on AVX2/AVX-512) computes each
// MR×NR tile of C. The result does not depend on the number of threads:
// every element is reduced in the same order.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmOn(cpuKernel(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemmOn is Sgemm on kernel set kn.
func sgemmOn(kn *gemmKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkSgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	sgemm(kn, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemm is Sgemm without the argument checks. Internal callers use it to
// read an operand whose rows overlap (row stride below the row length),
// such as the shifted windows of a padded image; the slices must still
// hold every element read.
func sgemm(kn *gemmKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	sgemmBias(kn, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, nil, c, ldc)
}

// sgemmBias is sgemm (k > 0, alpha ≠ 0) that then adds bias[j] (when
// bias is not nil) to every row of C: c[i·ldc+j] = (alpha·op(A)·op(B) +
// beta·C)[i,j] + bias[j], bit for bit the product followed by a separate
// pass adding bias.
func sgemmBias(kn *gemmKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, bias, c []float32, ldc int) {
	sgemmEpi(kn, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, bias, FusedAct{}, c, ldc)
}

// sgemmEpi is sgemmBias followed by act on every element of C, each tile
// of C finished in the microkernel's registers (its epilogue: alpha·s +
// beta·C, + bias[j], then act) before one store, on the last KC block:
// bit for bit sgemm, then separate passes adding bias and applying act.
func sgemmEpi(kn *gemmKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, bias []float32, act FusedAct, c []float32, ldc int) {
	g := gemmCalls.Get()
	*g = gemmCall{kn: kn, transA: transA, transB: transB, m: m, n: n, k: k,
		alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, bias: bias, act: act}
	g.parts, g.byRows = kn.split(m, n, k, goMaxProcs())
	parallel(g.parts, g)
	*g = gemmCall{}
	gemmCalls.Put(g)
}

// checkSgemm panics unless the slices hold the matrices the shapes and
// strides describe.
func checkSgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("tensor.Sgemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	check := func(name string, rows, cols, ld int, s []float32) {
		if ld < max(1, cols) {
			panic(fmt.Sprintf("tensor.Sgemm: %s is %d×%d but its row stride is %d (m=%d n=%d k=%d)", name, rows, cols, ld, m, n, k))
		}
		if rows > 0 && cols > 0 && len(s) < (rows-1)*ld+cols {
			panic(fmt.Sprintf("tensor.Sgemm: %s is %d×%d with row stride %d and needs %d elements, has %d (m=%d n=%d k=%d)",
				name, rows, cols, ld, (rows-1)*ld+cols, len(s), m, n, k))
		}
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	check("A", ar, ac, lda, a)
	check("B", br, bc, ldb, b)
	check("C", m, n, ldc, c)
}

// scaleC sets C = beta·C, or C = 0 when beta == 0 (C not read).
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// kernelID names a microkernel; gemmKernel.call switches on it so that the
// assembly is called directly, not through a func value.
type kernelID int

const (
	kidGeneric kernelID = iota
	kidAVX2
	kidAVX512
	kidStandIn // sgemmStandIn at the kernel's mr×nr (a tier's stand-ins)
)

// gemmKernel is a tier's kernel set: its SGEMM microkernel with the cache
// blocking used around it, and what other kernels the tier has. Paths
// choose by these capabilities, never by the tier: a tier uses a lower
// tier's kernel where it has none of its own.
type gemmKernel struct {
	id   kernelID
	tier kernels.Tier // the tier whose kernel set this is
	// wino forces the Winograd choice: +1 wherever it can run, −1
	// nowhere, 0 where it pays (CPUOptions.Winograd)
	wino int
	// winoTiles, when positive, is the tiles per Winograd chunk
	// (CPUOptions.WinogradTiles); 0 chooses by the layer's channels.
	winoTiles int
	// winoM, when 2 or 4, forces the Winograd tile (F(2×2, 3×3) or
	// F(4×4, 3×3)) where both can run; 0 chooses (see winoTile). The
	// process default is GRAFT_WINOGRAD_TILE's (for tuning).
	winoM int
	// wino4: the tier has the F(4×4, 3×3) transform kernels
	// (Winograd4InputAVX2, …) and its Winograd path uses them (winoTile)
	wino4 bool
	// pack forces which operands are packed (CPUOptions.GemmPack)
	pack string
	// fallback: the GPU backend's host path for the operations it runs
	// on the CPU (onCPU), given the GPU's tensors after copying them down
	fallback   bool
	mr, nr     int // tile shape
	kc, mc, nc int // cache blocks: KC×NR B panel in L1, MC×KC A block in L2, KC×NC B block in L3
	// Packing thresholds: A is packed when n > packAMinN, B when
	// m > packBMinM (operands stored transposed are always packed; see
	// packing, and packRowsMin below).
	packAMinN, packBMinM int
	// edgeRowsMin, when not 0, is the fewest edge rows edgeRows computes
	// (fewer go through Go's edge path and the short kernels). Only a
	// tier with masked epilogue kernels (AVX-512) sets it.
	edgeRowsMin int
	// packRowsMin, when not 0, packs a row-major A whose row stride
	// crowds L1 when m and n both reach it (see packing).
	packRowsMin int
	// conv16: the tier has the AVX2 kernels for convolutions and pooling
	// (16-filter row, gather, weight-gradient and dot-row kernels, the
	// 8-channel Winograd transforms, max-pool backward), its own or
	// borrowed: the AVX2 tier and every tier above it.
	conv16 bool
	// tapWGradMaxKWC: the tap weight-gradient kernels (tapWGrad) take
	// kernel rows (KW·C floats) shorter than this, im2col and the SGEMM
	// the rest (where the tier's SGEMM is the faster of the two).
	tapWGradMaxKWC int
	// tilesOverGather: the row-tap path's microkernel tiles beat the
	// 16-filter gather kernel (where O is a multiple of NR).
	tilesOverGather bool
	// rowNR: the filters of the tier's widest row kernel (runRows): 16
	// (ConvRowAVX2x6x16, and 0 meaning the same) or 32
	// (ConvRowAVX512x12x32).
	rowNR int
	// wgradNR: the filters of the tier's widest tap weight-gradient
	// kernels (tapWGrad): 16 (ConvWGradAVX2x<r>x16; 0 means the same) or
	// 64 (ConvWGradAVX512x<r>x64, and x32 for O a multiple of 32 only).
	wgradNR int
	// dotRows12: the tier's dot-row kernel (dotBackwardData) is
	// DotRowsAVX512x12, not DotRowsAVX2x6.
	dotRows12 bool
	// dw512: the tier's depthwise kernels are the AVX-512 ones, not
	// DepthwiseTileAVX2 and DepthwiseWGradAVX2: DepthwiseRowAVX512
	// forward (whole rows in 8-pixel tiles) and DepthwiseWGradAVX512
	// (16 channels), channel tails and edge pixels through them too.
	dw512 bool
	// shortRows: the tier has 3- and 6-row microkernels for the last rows
	// of M (SgemmAVX512x3x32, SgemmAVX512x6x32): an edge of r rows then
	// costs a 3- or 6-row tile, not a whole MR-row one (callShort).
	shortRows bool
}

// dotPixels returns the pixels per tile of kn's dot-row kernel.
func (kn *gemmKernel) dotPixels() int {
	if kn.dotRows12 {
		return 12
	}
	return 6
}

// convRowPixels returns the pixels per tile of the row kernel of nr
// filters: 6 (AVX2) or 12 (AVX-512); it reads x up to a whole tile.
func convRowPixels(nr int) int {
	if nr == 32 {
		return 12
	}
	return 6
}

// convRowTiles are the tile widths of the 32-filter row kernels
// (ConvRowAVX512x12x32, x14x32, x7x32), best first where they tie.
var convRowTiles = [...]int{12, 14, 7}

// rowTilePixels returns the tile width of the nr-filter row kernel that
// computes the fewest pixels for nothing on output rows of ow pixels, and
// how many it computes per row.
func rowTilePixels(nr, ow int) (pix, done int) {
	if nr != 32 {
		p := convRowPixels(nr)
		return p, ceilDiv(ow, p) * p
	}
	pix, done = 0, 0
	for _, p := range convRowTiles {
		if d := ceilDiv(ow, p) * p; pix == 0 || d < done {
			pix, done = p, d
		}
	}
	return pix, done
}

// cpuKernel returns the kernel set of the process's tier (kernels.Current):
// the default CPU backend's.
func cpuKernel() *gemmKernel { return gemmKernelFor(kernels.Current()) }

// blockFor sizes the cache blocks for an mr×nr microkernel from the data
// cache sizes: a KC×NR panel of B takes about half of L1, an MC×KC block of
// A about a quarter of L2 and a KC×NC block of B at most a quarter of L3 (and
// NC ≤ 4096). GRAFT_GEMM_BLOCK="KC,MC,NC" overrides them (for tuning).
func blockFor(id kernelID, mr, nr int, cs kernels.Caches) *gemmKernel {
	kc := roundDown(cs.L1D/2/(nr*4), 8)
	kc = min(max(kc, 128), 512)
	mc := roundDown(cs.L2/4/(kc*4), mr)
	mc = min(max(mc, mr), 1024/mr*mr)
	nc := roundDown(cs.L3/4/(kc*4), nr)
	nc = min(max(nc, nr), 4096/nr*nr)
	if env := os.Getenv("GRAFT_GEMM_BLOCK"); env != "" {
		f := strings.Split(env, ",")
		if len(f) == 3 {
			v := [3]int{}
			ok := true
			for i := range f {
				x, err := strconv.Atoi(strings.TrimSpace(f[i]))
				ok = ok && err == nil && x > 0
				v[i] = x
			}
			if ok {
				kc, mc, nc = v[0], max(roundDown(v[1], mr), mr), max(roundDown(v[2], nr), nr)
			}
		}
	}
	tier := kernels.Generic
	switch id {
	case kidAVX2:
		tier = kernels.AVX2
	case kidAVX512:
		tier = kernels.AVX512
	}
	winoM, _ := strconv.Atoi(os.Getenv("GRAFT_WINOGRAD_TILE"))
	return &gemmKernel{id: id, tier: tier, pack: os.Getenv("GRAFT_GEMM_PACK"), winoM: winoM, mr: mr, nr: nr, kc: kc, mc: mc, nc: nc, packAMinN: math.MaxInt, packBMinM: 192}
}

func roundDown(x, m int) int { return x / m * m }

// gemmParallelFlops is the work below which Sgemm stays on one thread.
const gemmParallelFlops = 1 << 19

// split decides how many parts the product is cut into and along which
// dimension. Cuts fall on tile boundaries, so that every element of C is
// computed by the same instructions whatever the number of parts.
func (kn *gemmKernel) split(m, n, k, workers int) (parts int, byRows bool) {
	if workers <= 1 || 2*m*n*k < gemmParallelFlops {
		return 1, false
	}
	// Prefer cutting columns: each part then packs only its own columns of
	// B, and reads A (unpacked unless transposed) in place. Cut rows only
	// when there are too few column panels to balance the parts.
	tm, tn := ceilDiv(m, kn.mr), ceilDiv(n, kn.nr)
	if tn >= 4*workers || tn >= tm {
		return min(workers, tn), false
	}
	return min(workers, tm), true
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// gemmCall is one Sgemm call, shared by the parts that run it.
type gemmCall struct {
	kn             *gemmKernel
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	bias           []float32 // added to each row of C at the end, or nil
	act            FusedAct  // applied to C after the bias
	lda, ldb, ldc  int
	parts          int
	byRows         bool
}

var gemmCalls = freeList[gemmCall]{}

// run computes part `part` of `parts`: a band of whole tiles of C.
func (g *gemmCall) run(part, parts int) {
	kn := g.kn
	m, n := g.m, g.n
	a, b, c, bias := g.a, g.b, g.c, g.bias
	if parts > 1 {
		if g.byRows {
			t := ceilDiv(m, kn.mr)
			r0, r1 := part*t/parts*kn.mr, min((part+1)*t/parts*kn.mr, m)
			m = r1 - r0
			if g.transA {
				a = a[r0:]
			} else {
				a = a[r0*g.lda:]
			}
			c = c[r0*g.ldc:]
		} else {
			t := ceilDiv(n, kn.nr)
			c0, c1 := part*t/parts*kn.nr, min((part+1)*t/parts*kn.nr, n)
			n = c1 - c0
			if g.transB {
				b = b[c0*g.ldb:]
			} else {
				b = b[c0:]
			}
			c = c[c0:]
			if bias != nil {
				bias = bias[c0:]
			}
		}
	}
	if m <= 0 || n <= 0 {
		return
	}
	s := getGemmScratch(kn)
	s.bias, s.act = bias, g.act
	gemmSerial(kn, s, g.transA, g.transB, m, n, g.k, g.alpha, a, g.lda, b, g.ldb, g.beta, c, g.ldc)
	s.bias, s.act = nil, FusedAct{}
	gemmScratches.Put(s)
}

// gemmScratch holds one thread's packing buffers.
type gemmScratch struct {
	a, b, tmp    []float32
	aEdge, bEdge []float32 // one partial panel of A or B, when the rest is read in place
	aRows        []float32 // edgeRows' copy of A's last rows
	// bias, when not nil, is added to each row of C, and act applied,
	// by the epilogue of each tile's last KC block (sgemmEpi).
	bias []float32
	act  FusedAct
	// keepB, set by a caller whose every gemmSerial call on this
	// scratch multiplies by the same, unchanged B (a layer's weights,
	// band after band), lets a call reuse the packing of B that the last
	// one left in s.b or s.bEdge (bHeld) when all of B is one block:
	// MobileNetV2's fused blocks had packed their weights 5000 times a
	// batch, 2.7% of the time. Callers set it after resetScratchB and
	// clear it when done.
	keepB bool
	bHeld bPacking
}

// bPacking names the B whose packing a gemmScratch holds: the one-block
// B at b with row stride ldb, k×n, transposed or not, packed whole or
// only its edge panel.
type bPacking struct {
	b         *float32
	ldb, k, n int
	trans     bool
	whole     bool
}

// resetScratchB forgets what B s holds packed.
func (s *gemmScratch) resetScratchB() { s.bHeld = bPacking{} }

var gemmScratches = freeList[gemmScratch]{}

func getGemmScratch(kn *gemmKernel) *gemmScratch {
	s := gemmScratches.Get()
	s.a = grow(s.a, ceilDiv(kn.mc, kn.mr)*kn.mr*kn.kc)
	s.b = grow(s.b, ceilDiv(kn.nc, kn.nr)*kn.nr*kn.kc)
	s.aEdge = grow(s.aEdge, kn.mr*kn.kc)
	s.aRows = grow(s.aRows, kn.mr*kn.kc)
	s.bEdge = grow(s.bEdge, kn.nr*kn.kc)
	s.tmp = grow(s.tmp, kn.mr*kn.nr)
	return s
}

// packing decides which operands to pack. A is read in place, row-major or
// transposed (the kernels have both layouts), except a transposed A whose
// row stride would thrash L1, and, on tiers with packRowsMin, a row-major
// A with such a stride in a product with m and n ≥ packRowsMin (its 12
// rows then share L1 sets; packed by PackA12AVX2, Zen 5, 1 thread,
// 1024³: medians 195 → 204 GFLOP/s, best 198 → 208; 512³ and 2048³
// within the noise; products with m ≤ 256, convolutions', not packed: up
// to 6% slower so); B stored transposed is always packed, and B
// row-major is packed when the copy is reused by enough row panels. The
// generic kernel reads only packed operands. kn.pack (GRAFT_GEMM_PACK,
// CPUOptions.GemmPack), when none, a, b or ab, forces the choice (for
// tuning the heuristic).
func (kn *gemmKernel) packing(transA, transB bool, m, n, lda int) (packA, packB bool) {
	if kn.id == kidGeneric {
		return true, true
	}
	switch kn.pack {
	case "none":
		return false, transB
	case "a":
		return true, transB
	case "b":
		return false, true
	case "ab":
		return true, true
	}
	packA = n > kn.packAMinN || (transA && n > 8*kn.nr && lda > kn.mc && l1Aliases(lda, kn.kc)) ||
		(kn.packRowsMin > 0 && !transA && min(m, n) >= kn.packRowsMin && l1Aliases(lda, kn.kc))
	return packA, transB || m > kn.packBMinM
}

// l1Aliases reports whether kc rows ld floats apart would crowd a 32 KiB
// 8-way L1: rows a multiple of 64 bytes apart fall in 64/gcd(ld/16, 64) of
// its 64 sets, 8 lines each. A transposed A read in place with such a
// stride thrashes (measured: 46 vs 85 GFLOP/s at 1024³ on Zen 3), so it is
// packed when enough column panels reuse the copy.
func l1Aliases(ld, kc int) bool {
	if ld%16 != 0 {
		return false
	}
	g, b := ld/16, 64
	for b != 0 {
		g, b = b, g%b
	}
	return 64/g*8 < 2*kc
}

// gemmSerial is the single-threaded blocked algorithm:
//
//	for each NC block of columns, for each KC block of the k dimension:
//	  pack B[KC×NC] into NR-column panels (or read B in place)
//	  for each MC block of rows: pack A[MC×KC] into MR-row panels (or read A in place)
//	    for each NR panel of B: the whole MR panels of A in one call (tiles),
//	      then the last rows (edgeRows, or Go's edge path)
//
// An operand read in place still has its last, partial panel packed
// (zero-padded), so that no kernel reads past the matrix, except the
// 7–11 edge rows edgeRows copies as rows (the kernel's rows past them
// read what the copy buffer held, and their results are dropped). When
// s.keepB is set, the packing of a one-block B may come from the last
// call on s.
func gemmSerial(kn *gemmKernel, s *gemmScratch, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	MR, NR := kn.mr, kn.nr
	pA, pB := kn.packing(transA, transB, m, n, lda)
	for jc := 0; jc < n; jc += kn.nc {
		nc := min(kn.nc, n-jc)
		for pc := 0; pc < k; pc += kn.kc {
			kc := min(kn.kc, k-pc)
			// B in one block: s.b or s.bEdge may still hold its packing
			// from the last call on s (keepB)
			key := bPacking{}
			if k <= kn.kc && n <= kn.nc && len(b) > 0 {
				key = bPacking{&b[0], ldb, k, n, transB, pB}
			}
			switch {
			case s.keepB && key.b != nil && s.bHeld == key:
			case pB:
				packB(s.b, b, ldb, transB, pc, kc, jc, nc, NR)
				s.bHeld = key
			case nc%NR != 0:
				r := nc % NR
				packB(s.bEdge, b, ldb, false, pc, kc, jc+nc-r, r, NR)
				s.bHeld = key
			}
			bet := beta
			if pc > 0 {
				bet = 1
			}
			epi := pc+kc == k && (s.bias != nil || s.act.Kind != FuseNone)
			for ic := 0; ic < m; ic += kn.mc {
				mc := min(kn.mc, m-ic)
				emr := MR // the rows of the edge panel s.aEdge, packed on first use
				edgePacked := false
				var edgeA edgeRowsA // edgeRows' A, prepared on first use
				if pA {
					packA(s.a, a, lda, transA, ic, mc, pc, kc, MR)
				} else if r := mc % MR; r != 0 {
					emr = kn.shortMR(r)
				}
				for jr := 0; jr < nc; jr += NR {
					nr := min(NR, nc-jr)
					var bp []float32
					bPacked := pB || nr < NR
					switch {
					case pB:
						bp = s.b[jr*kc : (jr+NR)*kc]
					case nr < NR:
						bp = s.bEdge
					default:
						bp = b[pc*ldb+jc+jr:]
					}
					ir0 := 0
					if mc >= MR && (nr == NR || kn.id == kidAVX512) {
						// the tiles of MR rows of this column panel, in
						// one call (the masked kernel's for edge columns)
						nt := mc / MR
						var ap []float32
						aMode, aStep := aRowsInPlace, MR*lda
						switch {
						case pA:
							ap, aMode, aStep = s.a, aPackedPanel, MR*kc
						case transA:
							ap, aMode, aStep = a[pc*lda+ic:], aTransInPlace, MR
						default:
							ap = a[ic*lda+pc:]
						}
						if nr == NR {
							kn.tiles(nt, epi, kc, ap, aMode, aStep, lda, bp, bPacked, ldb, c[ic*ldc+jc+jr:], MR*ldc, ldc, alpha, bet, s.biasAt(jc+jr), s.act)
						} else {
							// Edge columns: the masked kernel reads and
							// writes only the first nr columns.
							var bias []float32
							act := FusedAct{}
							if epi {
								bias, act = s.biasAt(jc+jr), s.act
							}
							callAsmMaskedTiles(nt, kc, ap, aMode, aStep, lda, bp, c[ic*ldc+jc+jr:], MR*ldc, ldc, alpha, bet, bias, act, nr)
						}
						ir0 = nt * MR
					}
					if r := mc - ir0; kn.id == kidAVX512 && kn.edgeRowsMin > 0 && r >= kn.edgeRowsMin && r < MR {
						if edgeA.a == nil {
							edgeA = kn.prepareEdgeRows(s, r, kc, a, lda, pA, transA, ic+ir0, pc, ir0)
						}
						kn.edgeRows(s, epi, r, kc, edgeA, bp, bPacked, ldb, c[(ic+ir0)*ldc+jc+jr:], ldc, nr, alpha, bet, s.biasAt(jc+jr))
						continue
					}
					for ir := ir0; ir < mc; ir += MR {
						mr := min(MR, mc-ir)
						var ap []float32
						aMode := aRowsInPlace
						switch {
						case pA:
							ap, aMode = s.a[ir*kc:(ir+MR)*kc], aPackedPanel
						case mr < MR:
							if !edgePacked {
								packA(s.aEdge, a, lda, transA, ic+ir, mr, pc, kc, emr)
								edgePacked = true
							}
							ap, aMode = s.aEdge, aPackedPanel
						case transA:
							ap, aMode = a[pc*lda+ic+ir:], aTransInPlace
						default:
							ap = a[(ic+ir)*lda+pc:]
						}
						ci := (ic+ir)*ldc + jc + jr
						// Edge tile: compute the tile (MR rows, or the
						// short kernel's emr) into tmp, then merge the
						// valid part with the same two roundings the
						// kernel's own store uses.
						if mr < MR && emr < MR {
							kn.callShort(emr, kc, ap, bp, bPacked, ldb, s.tmp, NR, alpha, 0)
						} else {
							kn.call(kc, ap, aMode, lda, bp, bPacked, ldb, s.tmp, NR, alpha, 0)
						}
						for i := 0; i < mr; i++ {
							dst := c[ci+i*ldc : ci+i*ldc+nr]
							src := s.tmp[i*NR : i*NR+nr]
							if bet == 0 {
								copy(dst, src)
								continue
							}
							for j, t := range src {
								dst[j] = t + float32(bet*dst[j])
							}
						}
						if epi {
							epiTile(kn, c[ci:], ldc, mr, nr, s.biasAt(jc+jr), s.act)
						}
					}
				}
			}
		}
	}
}

// edgeRowsA is the A operand of edgeRows for one MC×KC block: its last
// r rows as a kernel reads them.
type edgeRowsA struct {
	a         []float32
	mode, lda int
}

// prepareEdgeRows returns edgeRows' A for the r rows from row0 (row ir of
// the block) and columns [pc, pc+kc): the packed panel (zero rows past r)
// when A is packed, packed into s.aRows when transposed, else copied as
// rows (stride kc) into s.aRows, with whatever rows past r it held: rows
// of C depend on their own rows of A only. Once per block, for all its
// column panels.
func (kn *gemmKernel) prepareEdgeRows(s *gemmScratch, r, kc int, a []float32, lda int, pA, transA bool, row0, pc, ir int) edgeRowsA {
	switch {
	case pA:
		return edgeRowsA{s.a[ir*kc:], aPackedPanel, 0}
	case transA:
		packA(s.aRows, a, lda, true, row0, r, pc, kc, kn.mr)
		return edgeRowsA{s.aRows, aPackedPanel, 0}
	}
	for i := 0; i < r; i++ {
		copy(s.aRows[i*kc:(i+1)*kc], a[(row0+i)*lda+pc:])
	}
	return edgeRowsA{s.aRows, aRowsInPlace, kc}
}

// edgeRows computes the last r < MR rows of a column panel on the
// AVX-512 tier with its whole-tile kernels, on a copy: the r rows of C
// (when beta is not 0) go into s.tmp, the MR-row epilogue kernel (masked
// past nr columns) runs there with beta, bias and act on A as
// prepareEdgeRows left it, and the r rows come back. The arithmetic is
// the kernel's own, as for the whole tiles, bit for bit what the Go edge
// path (a tile into s.tmp, the beta merge, epiTile) computes.
func (kn *gemmKernel) edgeRows(s *gemmScratch, epi bool, r, kc int, ea edgeRowsA, bp []float32, bPacked bool, ldb int, c []float32, ldc, nr int, alpha, beta float32, bias []float32) {
	NR := kn.nr
	tmp := s.tmp[:kn.mr*NR]
	if beta != 0 {
		for i := 0; i < r; i++ {
			copy(tmp[i*NR:i*NR+nr], c[i*ldc:])
		}
	}
	act := FusedAct{}
	if epi {
		act = s.act
	} else {
		bias = nil
	}
	if nr == NR {
		callAsmTiles(kn.id, NR, 1, epi, kc, ea.a, ea.mode, 0, ea.lda, bp, bPacked, ldb, tmp, 0, NR, alpha, beta, bias, act)
	} else {
		callAsmMaskedTiles(1, kc, ea.a, ea.mode, 0, ea.lda, bp, tmp, 0, NR, alpha, beta, bias, act, nr)
	}
	for i := 0; i < r; i++ {
		copy(c[i*ldc:i*ldc+nr], tmp[i*NR:])
	}
}

// packA packs rows [i0, i0+mc) and columns [p0, p0+kc) of op(A) into
// panels of mr rows, k-major: element (i, p) of panel q lands at
// q·kc·mr + p·mr + i. Rows past mc are zero.
func packA(dst, a []float32, lda int, trans bool, i0, mc, p0, kc, mr int) {
	for q := 0; q*mr < mc; q++ {
		rows := min(mr, mc-q*mr)
		d := dst[q*kc*mr : (q+1)*kc*mr]
		r0 := i0 + q*mr
		if trans { // op(A)[i,p] = a[p*lda+i]: copy runs of mr
			for p := 0; p < kc; p++ {
				o := (p0+p)*lda + r0
				if rows == mr && copyRun(d[p*mr:], a[o:], mr) {
					continue
				}
				dp := d[p*mr : p*mr+mr]
				copy(dp, a[o:o+rows])
				clear(dp[rows:])
			}
			continue
		}
		// op(A)[i,p] = a[i*lda+p]: a transposition
		if rows == mr && transposeRows(d, a[r0*lda+p0:], lda, kc, mr) {
			continue
		}
		for i := 0; i < rows; i++ {
			o := (r0+i)*lda + p0
			src := a[o : o+kc]
			for p, v := range src {
				d[p*mr+i] = v
			}
		}
		if rows < mr {
			for p := 0; p < kc; p++ {
				clear(d[p*mr+rows : p*mr+mr])
			}
		}
	}
}

// packB packs rows [p0, p0+kc) and columns [j0, j0+nc) of op(B) into
// panels of nr columns, k-major: element (p, j) of panel q lands at
// q·kc·nr + p·nr + j. Columns past nc are zero.
func packB(dst, b []float32, ldb int, trans bool, p0, kc, j0, nc, nr int) {
	if !trans { // op(B)[p,j] = b[p*ldb+j]: copy runs of nr, row by row
		full := nc / nr
		for p := 0; p < kc; p++ {
			row := b[(p0+p)*ldb+j0 : (p0+p)*ldb+j0+nc]
			q := 0
			for ; q < full; q++ {
				if !copyRun(dst[(q*kc+p)*nr:], row[q*nr:], nr) {
					copy(dst[(q*kc+p)*nr:(q*kc+p)*nr+nr], row[q*nr:q*nr+nr])
				}
			}
			if r := nc - full*nr; r > 0 {
				dp := dst[(q*kc+p)*nr : (q*kc+p)*nr+nr]
				copy(dp, row[q*nr:])
				clear(dp[r:])
			}
		}
		return
	}
	for q := 0; q*nr < nc; q++ {
		cols := min(nr, nc-q*nr)
		d := dst[q*kc*nr : (q+1)*kc*nr]
		c0 := j0 + q*nr
		// op(B)[p,j] = b[j*ldb+p]: a transposition
		for j := 0; j < cols; j++ {
			o := (c0+j)*ldb + p0
			src := b[o : o+kc]
			for p, v := range src {
				d[p*nr+j] = v
			}
		}
		if cols < nr {
			for p := 0; p < kc; p++ {
				clear(d[p*nr+cols : p*nr+nr])
			}
		}
	}
}

// transposeRows packs mr full rows of kc floats (row stride lda) k-major
// into d, without bounds checks in the inner loop, for the tile heights of
// the kernels; it reports false for other heights.
func transposeRows(d, a []float32, lda, kc, mr int) bool {
	switch mr {
	case 6:
		r0, r1, r2 := a[:kc], a[lda:lda+kc], a[2*lda:2*lda+kc]
		r3, r4, r5 := a[3*lda:3*lda+kc], a[4*lda:4*lda+kc], a[5*lda:5*lda+kc]
		d = d[:kc*6]
		for p := range r0 {
			dp := (*[6]float32)(d[p*6:])
			dp[0], dp[1], dp[2], dp[3], dp[4], dp[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
		}
	case 12:
		_, _ = a[11*lda+kc-1], d[kc*12-1]
		done := packRows12(d, a, lda, kc)
		if done == kc {
			return true
		}
		d, a, kc = d[done*12:], a[done:], kc-done
		r0, r1, r2 := a[:kc], a[lda:lda+kc], a[2*lda:2*lda+kc]
		r3, r4, r5 := a[3*lda:3*lda+kc], a[4*lda:4*lda+kc], a[5*lda:5*lda+kc]
		r6, r7, r8 := a[6*lda:6*lda+kc], a[7*lda:7*lda+kc], a[8*lda:8*lda+kc]
		r9, r10, r11 := a[9*lda:9*lda+kc], a[10*lda:10*lda+kc], a[11*lda:11*lda+kc]
		d = d[:kc*12]
		for p := range r0 {
			dp := (*[12]float32)(d[p*12:])
			dp[0], dp[1], dp[2], dp[3], dp[4], dp[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
			dp[6], dp[7], dp[8], dp[9], dp[10], dp[11] = r6[p], r7[p], r8[p], r9[p], r10[p], r11[p]
		}
	case 4:
		r0, r1, r2, r3 := a[:kc], a[lda:lda+kc], a[2*lda:2*lda+kc], a[3*lda:3*lda+kc]
		d = d[:kc*4]
		for p := range r0 {
			dp := (*[4]float32)(d[p*4:])
			dp[0], dp[1], dp[2], dp[3] = r0[p], r1[p], r2[p], r3[p]
		}
	default:
		return false
	}
	return true
}

// copyRun copies n floats from src to dst with inline moves for the panel
// widths of the kernels, and reports false for other widths (the caller
// then uses copy, a call to memmove).
func copyRun(dst, src []float32, n int) bool {
	switch n {
	case 4:
		*(*[4]float32)(dst) = *(*[4]float32)(src)
	case 6:
		*(*[6]float32)(dst) = *(*[6]float32)(src)
	case 12:
		*(*[12]float32)(dst) = *(*[12]float32)(src)
	case 16:
		*(*[16]float32)(dst) = *(*[16]float32)(src)
	case 32:
		*(*[32]float32)(dst) = *(*[32]float32)(src)
	default:
		return false
	}
	return true
}

// How a microkernel reads A.
const (
	aPackedPanel  = iota // a[p*MR+i]
	aRowsInPlace         // a[i*lda+p]
	aTransInPlace        // a[p*lda+i]
)

// call runs the microkernel on one tile: c[i*ldc+j] for i < mr, j < nr.
// A is read as aMode says; B is an NR-column packed panel or, unless
// bPacked, rows read in place with row stride ldb.
func (kn *gemmKernel) call(kc int, a []float32, aMode int, lda int, b []float32, bPacked bool, ldb int, c []float32, ldc int, alpha, beta float32) {
	switch kn.id {
	case kidGeneric:
		sgemmGeneric(kc, a, b, c, ldc, alpha, beta)
	case kidStandIn:
		sgemmStandIn(kn.mr, kn.nr, kc, a, aMode, lda, b, bPacked, ldb, c, ldc, alpha, beta)
	default:
		callAsmKernel(kn.id, kc, a, aMode, lda, b, bPacked, ldb, c, ldc, alpha, beta)
	}
}

// shortMR returns the rows of the microkernel that computes an edge of r
// < MR rows: 3 or 6 where the tier has short kernels and r fits, else MR.
func (kn *gemmKernel) shortMR(r int) int {
	switch {
	case !kn.shortRows:
		return kn.mr
	case r <= 3:
		return 3
	case r <= 6:
		return 6
	}
	return kn.mr
}

// callShort runs the short microkernel of mr rows (shortMR) on an mr-row
// packed panel of A: c[i*ldc+j] for i < mr, j < NR.
func (kn *gemmKernel) callShort(mr, kc int, a, b []float32, bPacked bool, ldb int, c []float32, ldc int, alpha, beta float32) {
	if kn.id == kidStandIn {
		sgemmStandIn(mr, kn.nr, kc, a, aPackedPanel, 0, b, bPacked, ldb, c, ldc, alpha, beta)
		return
	}
	callAsmShort(mr, kc, a, b, bPacked, ldb, c, ldc, alpha, beta)
}

// tile runs the microkernel on one whole MR×NR tile, as call does, and
// with epi the epilogue (epiTile): bias[j] added (bias nil: none), then
// act. The assembly tiers' tiles do not come here: tiles runs them with
// the epilogue in the kernels' registers (callAsmTiles).
func (kn *gemmKernel) tile(epi bool, kc int, a []float32, aMode int, lda int, b []float32, bPacked bool, ldb int, c []float32, ldc int, alpha, beta float32, bias []float32, act FusedAct) {
	kn.call(kc, a, aMode, lda, b, bPacked, ldb, c, ldc, alpha, beta)
	if epi {
		epiTile(kn, c, ldc, kn.mr, kn.nr, bias, act)
	}
}

// tiles runs nt whole MR×NR tiles down the rows, as nt calls of tile:
// tile t reads A from a[t·aStep:] and writes c[t·cStep:]. On the
// assembly tiers one Go call (callAsmTiles) loops over direct kernel
// calls. Two Go call levels a tile, with their argument copies and
// slicings, had cost 15–25% of a 12×32 tile with K = 16: on Zen 5, one
// thread, gemmSerial of 672×96×16 (MobileNetV2's 112² expansion bands)
// went from 155 to 197–200 GFLOP/s with a bias, 136 to 166–174 with bias
// and ReLU6.
func (kn *gemmKernel) tiles(nt int, epi bool, kc int, a []float32, aMode, aStep, lda int, b []float32, bPacked bool, ldb int, c []float32, cStep, ldc int, alpha, beta float32, bias []float32, act FusedAct) {
	if nt <= 0 {
		return
	}
	if kn.id == kidAVX2 || kn.id == kidAVX512 {
		callAsmTiles(kn.id, kn.nr, nt, epi, kc, a, aMode, aStep, lda, b, bPacked, ldb, c, cStep, ldc, alpha, beta, bias, act)
		return
	}
	for t := range nt {
		kn.tile(epi, kc, a[t*aStep:], aMode, lda, b, bPacked, ldb, c[t*cStep:], ldc, alpha, beta, bias, act)
	}
}

// biasAt returns the bias from column j on, or nil without one.
func (s *gemmScratch) biasAt(j int) []float32 {
	if s.bias == nil {
		return nil
	}
	return s.bias[j:]
}

// epiTile is the GEMM epilogue in Go on an mr×nr tile of c: c += bias[j]
// (one rounding, when bias is not nil), then act.
func epiTile(kn *gemmKernel, c []float32, ldc, mr, nr int, bias []float32, act FusedAct) {
	for i := 0; i < mr; i++ {
		row := c[i*ldc : i*ldc+nr]
		if bias != nil {
			for j, v := range bias[:nr] {
				row[j] += v
			}
		}
		act.apply(kn, row)
	}
}

var (
	genericKernel     *gemmKernel
	genericKernelOnce sync.Once
)

func genericGemmKernel() *gemmKernel {
	genericKernelOnce.Do(func() { genericKernel = blockFor(kidGeneric, genericMR, genericNR, kernels.CacheSizes()) })
	return genericKernel
}

// sgemmGeneric is the portable microkernel, genericMR×genericNR, with the
// same contract as the assembly ones (see kernels/amd64): a holds the rows
// k-major, b the columns k-major. Its 8 accumulators and 6 operands fit the
// 16 floating-point registers of amd64 and arm64 without spilling.
func sgemmGeneric(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	a, b = a[:kc*genericMR], b[:kc*genericNR]
	for len(a) >= 2 && len(b) >= 4 {
		a0, a1 := a[0], a[1]
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		a, b = a[2:], b[4:]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
	}
	rows := [genericMR][genericNR]float32{{c00, c01, c02, c03}, {c10, c11, c12, c13}}
	for i := range rows {
		dst := c[i*ldc : i*ldc+genericNR]
		for j, s := range rows[i] {
			t := float32(alpha * s)
			if beta != 0 {
				t += float32(beta * dst[j])
			}
			dst[j] = t
		}
	}
}

// The generic microkernel's tile.
const genericMR, genericNR = 2, 4
