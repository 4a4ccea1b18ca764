package tensor

import (
	"math"
)

// The CPU backend's batch norm: vector kernels over rows of C channels,
// statistics summed in float32 over fixed blocks of rows and in float64
// across blocks (in block order, so the result does not depend on the
// number of threads), on data shifted by a per-channel reference value
// (the first row in the forward pass, the batch mean in the backward pass)
// to keep E[x²] − E[x]² away from cancellation.

// bnBlockRows is how many rows one float32 partial sum covers.
const bnBlockRows = 256

// bnCall is one batch-norm pass over rows, shared by its parts.
type bnCall struct {
	kn      *gemmKernel
	rows, c int
	pass    int // 0: statistics of x; 1: y = (x − ref)·scale + shift; 2: backward sums; 3: dx
	x, y    []float32
	dy, dx  []float32
	ref     []float32 // per-channel shift subtracted before summing
	scale   []float32
	shift   []float32
	coef    []float32 // pass 3: dx = scale·dy + coef·(x − ref) + shift
	relu    bool
	s1, s2  []float32 // per block: [blocks][c] partial sums
	f1, f2  []float64 // their totals
	vec     []float32 // 3c floats behind scale, shift, coef
}

var bnCalls = freeList[bnCall]{}

func (b *bnCall) blocks() int { return ceilDiv(b.rows, bnBlockRows) }

func (b *bnCall) run(part, parts int) {
	nb := b.blocks()
	C, kn := b.c, b.kn
	var tmpBuf [1024]float32
	tmp := tmpBuf[:0]
	if C <= len(tmpBuf) {
		tmp = tmpBuf[:C]
	} else {
		tmp = make([]float32, C)
	}
	for blk := part * nb / parts; blk < (part+1)*nb/parts; blk++ {
		r0, r1 := blk*bnBlockRows, min((blk+1)*bnBlockRows, b.rows)
		switch b.pass {
		case 0, 2: // s1 += d, s2 += d·d (pass 0, d = x − ref) or s1 += dy, s2 += dy·(x − ref) (pass 2)
			s1, s2 := b.s1[blk*C:(blk+1)*C], b.s2[blk*C:(blk+1)*C]
			clear(s1)
			clear(s2)
			for r := r0; r < r1; r++ {
				subF32(kn, tmp, b.x[r*C:(r+1)*C], b.ref)
				if b.pass == 0 {
					addF32(kn, s1, s1, tmp)
					fmaF32(kn, s2, tmp, tmp)
				} else {
					d := b.dy[r*C : (r+1)*C]
					addF32(kn, s1, s1, d)
					fmaF32(kn, s2, d, tmp)
				}
			}
		case 1: // y = (x − ref)·scale + shift: subtracting first keeps the precision
			for r := r0; r < r1; r++ {
				out := b.y[r*C : (r+1)*C]
				subF32(kn, out, b.x[r*C:(r+1)*C], b.ref)
				mulF32(kn, out, out, b.scale)
				addF32(kn, out, out, b.shift)
				if b.relu {
					reluF32(kn, out, out)
				}
			}
		case 3:
			for r := r0; r < r1; r++ {
				out := b.dx[r*C : (r+1)*C]
				subF32(kn, tmp, b.x[r*C:(r+1)*C], b.ref)
				mulF32(kn, out, b.dy[r*C:(r+1)*C], b.scale)
				fmaF32(kn, out, b.coef, tmp)
				addF32(kn, out, out, b.shift)
			}
		}
	}
}

// runBN runs a pass on the pool; parts get whole blocks.
func runBN(b *bnCall) {
	parts := min(goMaxProcs(), b.blocks())
	if b.rows*b.c < 1<<15 {
		parts = 1
	}
	parallel(max(parts, 1), b)
}

// sums reduces the block partials in block order, in float64.
func (b *bnCall) sums() (s1, s2 []float64) {
	s1, s2 = growF64(b.f1, b.c), growF64(b.f2, b.c)
	b.f1, b.f2 = s1, s2
	clear(s1)
	clear(s2)
	for blk := 0; blk < b.blocks(); blk++ {
		for j := 0; j < b.c; j++ {
			s1[j] += float64(b.s1[blk*b.c+j])
			s2[j] += float64(b.s2[blk*b.c+j])
		}
	}
	return s1, s2
}

func growF64(buf []float64, n int) []float64 {
	if cap(buf) < n {
		return make([]float64, n)
	}
	return buf[:n]
}

// newBNCall returns a pooled call for rows×c with its buffers sized;
// putBNCall returns it, keeping the buffers.
func newBNCall(kn *gemmKernel, rows, c int) *bnCall {
	b := bnCalls.Get()
	*b = bnCall{kn: kn, rows: rows, c: c, s1: b.s1, s2: b.s2, f1: b.f1, f2: b.f2, vec: b.vec}
	nb := b.blocks()
	b.s1, b.s2 = grow(b.s1, nb*c), grow(b.s2, nb*c)
	b.vec = grow(b.vec, 3*c)
	b.scale, b.shift, b.coef = b.vec[:c], b.vec[c:2*c], b.vec[2*c:]
	return b
}

func putBNCall(b *bnCall) {
	*b = bnCall{s1: b.s1, s2: b.s2, f1: b.f1, f2: b.f2, vec: b.vec}
	bnCalls.Put(b)
}

// BatchNormTrain normalises with the batch statistics; Reference.BatchNormTrain
// states the result.
func (cpu CPU) BatchNormTrain(y, x, gamma, beta, runMean, runVar, saveMean, saveInvStd *Tensor, p BatchNormParams) {
	sameBackend("BatchNormTrain", cpu, y, x, gamma, beta, runMean, runVar, saveMean, saveInvStd)
	mustSameShape("BatchNormTrain", y, x)
	rows, c := bnDims("BatchNormTrain", x, gamma, beta, runMean, runVar, saveMean, saveInvStd)
	if rows == 0 {
		return
	}
	b := newBNCall(cpu.kern(), rows, c)
	b.x, b.ref = x.data, x.data[:c:c]
	b.pass = 0
	runBN(b)
	s1, s2 := b.sums()
	n := float64(rows)
	scale, shift := b.scale, b.shift
	for j := 0; j < c; j++ {
		m1 := s1[j] / n
		v := max(s2[j]/n-m1*m1, 0)
		mean := float64(b.ref[j]) + m1
		inv := 1 / math.Sqrt(v+float64(p.Eps))
		saveMean.data[j] = float32(mean)
		saveInvStd.data[j] = float32(inv)
		if runMean != nil {
			uv := v
			if p.UnbiasedVar && rows > 1 {
				uv = v * n / (n - 1)
			}
			m := float64(p.Momentum)
			runMean.data[j] = float32((1-m)*float64(runMean.data[j]) + m*mean)
			runVar.data[j] = float32((1-m)*float64(runVar.data[j]) + m*uv)
		}
		scale[j] = float32(float64(gamma.data[j]) * inv)
		shift[j] = beta.data[j]
	}
	b.pass, b.y, b.relu, b.ref = 1, y.data, p.ReLU, saveMean.data
	runBN(b)
	putBNCall(b)
}

// BatchNormInference normalises with the running statistics;
// Reference.BatchNormInference states the result.
func (cpu CPU) BatchNormInference(y, x, gamma, beta, mean, variance *Tensor, p BatchNormParams) {
	sameBackend("BatchNormInference", cpu, y, x, gamma, beta, mean, variance)
	mustSameShape("BatchNormInference", y, x)
	rows, c := bnDims("BatchNormInference", x, gamma, beta, mean, variance)
	b := newBNCall(cpu.kern(), rows, c)
	for j := 0; j < c; j++ {
		b.scale[j] = float32(float64(gamma.data[j]) / math.Sqrt(float64(variance.data[j])+float64(p.Eps)))
	}
	copy(b.shift, beta.data)
	b.pass, b.x, b.y, b.relu, b.ref = 1, x.data, y.data, p.ReLU, mean.data
	runBN(b)
	putBNCall(b)
}

// BatchNormBackward computes dx and the parameter gradients;
// Reference.BatchNormBackward states the result.
func (cpu CPU) BatchNormBackward(dx, dgamma, dbeta, x, dy, gamma, saveMean, saveInvStd *Tensor) {
	sameBackend("BatchNormBackward", cpu, dx, dgamma, dbeta, x, dy, gamma, saveMean, saveInvStd)
	if dx != nil {
		mustSameShape("BatchNormBackward", dx, x, dy)
	} else {
		mustSameShape("BatchNormBackward", x, dy)
	}
	rows, c := bnDims("BatchNormBackward", x, dgamma, dbeta, gamma, saveMean, saveInvStd)
	b := newBNCall(cpu.kern(), rows, c)
	b.pass, b.x, b.dy, b.ref = 2, x.data, dy.data, saveMean.data
	runBN(b)
	sdy, sdyx := b.sums() // Σ dy, Σ dy·(x − mean)
	n := float64(max(rows, 1))
	for j := 0; j < c; j++ {
		inv := float64(saveInvStd.data[j])
		dgamma.data[j] = float32(sdyx[j] * inv)
		dbeta.data[j] = float32(sdy[j])
		// dx = a·dy − a·Σdy/n − a·inv²·(x − mean)·Σdy(x − mean)/n, a = gamma·inv
		a := float64(gamma.data[j]) * inv
		k := a * inv * inv * sdyx[j] / n
		b.scale[j] = float32(a)
		b.coef[j] = float32(-k)
		b.shift[j] = float32(-a * sdy[j] / n)
	}
	if dx != nil && rows > 0 {
		b.pass, b.dx = 3, dx.data
		runBN(b)
	}
	putBNCall(b)
}
