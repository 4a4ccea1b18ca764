//go:build amd64 && !purego

package tensor

import (
	"github.com/graftml/graft/kernels/amd64"
)

// winogradInputKernels runs WinogradInputAVX2 on the leading channels of
// c it takes (multiples of 8), when kn has it, and returns how many (the
// arguments as for winogradInputGo). WinogradInputAVX512 (the same
// kernel widened to 16 lanes) did not pay on Zen 5: r18_l1 and r18_l2
// forward and backward data within ±4%.
func winogradInputKernels(kn *gemmKernel, c int, x []float32, xs, rs int, v []float32, vs int) int {
	n := c &^ 7
	if !kn.conv16 || n == 0 {
		return 0
	}
	callWinogradInput(n, x, xs, rs, v, vs)
	return n
}

// winogradOutputKernels is winogradInputKernels for the output transform
// (WinogradOutputAVX2).
func winogradOutputKernels(kn *gemmKernel, o int, m []float32, ms int, y []float32, ys, rs int, b []float32) int {
	n := o &^ 7
	if !kn.conv16 || n == 0 {
		return 0
	}
	callWinogradOutput(n, m, ms, y, ys, rs, b)
	return n
}

// callWinogradInput runs WinogradInputAVX2 on channels i < n (n ≥ 8, a
// multiple of 8): the 4×4 patch d[a][b] = x[a·rs + b·xs + i] to V element
// e at v[e·vs + i] (strides in floats).
func callWinogradInput(n int, x []float32, xs, rs int, v []float32, vs int) {
	_ = x[3*rs+3*xs+n-1]
	_ = v[15*vs+n-1]
	amd64.WinogradInputAVX2(n, &x[0], xs*4, rs*4, &v[0], vs*4)
}

// callWinogradOutput runs WinogradOutputAVX2 on channels i < n (n ≥ 8, a
// multiple of 8): the 4×4 products M[e] = m[e·ms + i] to the 2×2 outputs
// y[r·rs + c·ys + i], plus b[i] (strides in floats).
func callWinogradOutput(n int, m []float32, ms int, y []float32, ys, rs int, b []float32) {
	_ = m[15*ms+n-1]
	_ = y[rs+ys+n-1]
	_ = b[n-1]
	amd64.WinogradOutputAVX2(n, &m[0], ms*4, &y[0], ys*4, rs*4, &b[0])
}

// winograd4InputKernels is winogradInputKernels for the F(4×4, 3×3)
// input transform (Winograd4InputAVX2; t: 36·8 floats of scratch).
func winograd4InputKernels(kn *gemmKernel, c int, x []float32, xs, rs int, v []float32, vs int, t []float32) int {
	n := c &^ 7
	if !kn.wino4 || n == 0 {
		return 0
	}
	_ = x[5*rs+5*xs+n-1]
	_ = v[35*vs+n-1]
	_ = t[36*8-1]
	amd64.Winograd4InputAVX2(n, &x[0], xs*4, rs*4, &v[0], vs*4, &t[0])
	return n
}

// winograd4OutputKernels is winogradOutputKernels for the F(4×4, 3×3)
// output transform (Winograd4OutputAVX2; t: 24·8 floats of scratch).
func winograd4OutputKernels(kn *gemmKernel, o int, m []float32, ms int, y []float32, ys, rs int, b, t []float32) int {
	n := o &^ 7
	if !kn.wino4 || n == 0 {
		return 0
	}
	_ = m[35*ms+n-1]
	_ = y[3*rs+3*ys+n-1]
	_ = b[n-1]
	_ = t[24*8-1]
	amd64.Winograd4OutputAVX2(n, &m[0], ms*4, &y[0], ys*4, rs*4, &b[0], &t[0])
	return n
}

// winograd4WeightKernels runs Winograd4WeightAVX2 on the leading lanes of
// n it takes (multiples of 8), when kn has it, and returns how many (the
// arguments as for winograd4WeightGo; t: 18·8 floats of scratch).
func winograd4WeightKernels(kn *gemmKernel, n int, k []float32, ks int, u []float32, us int, t []float32) int {
	n &^= 7
	if !kn.wino4 || n == 0 {
		return 0
	}
	_ = k[8*ks+n-1]
	_ = u[35*us+n-1]
	_ = t[18*8-1]
	amd64.Winograd4WeightAVX2(n, &k[0], ks*4, &u[0], us*4, &t[0])
	return n
}

// winograd4DYKernels runs Winograd4DYAVX2 on the leading channels of o it
// takes (multiples of 8), when kn has it, and returns how many (the
// arguments as for winograd4DYGo; t: 24·8 floats of scratch).
func winograd4DYKernels(kn *gemmKernel, o int, y []float32, ys, rs int, m []float32, ms int, t []float32) int {
	n := o &^ 7
	if !kn.wino4 || n == 0 {
		return 0
	}
	_ = y[3*rs+3*ys+n-1]
	_ = m[35*ms+n-1]
	_ = t[24*8-1]
	amd64.Winograd4DYAVX2(n, &y[0], ys*4, rs*4, &m[0], ms*4, &t[0])
	return n
}

// winograd4WGradKernels runs Winograd4WGradAVX2 on the leading lanes of n
// it takes (multiples of 8), when kn has it, and returns how many (the
// arguments as for winograd4WGradGo; t: 18·8 floats of scratch).
func winograd4WGradKernels(kn *gemmKernel, n int, u []float32, us int, w []float32, ws int, t []float32) int {
	n &^= 7
	if !kn.wino4 || n == 0 {
		return 0
	}
	_ = u[35*us+n-1]
	_ = w[8*ws+n-1]
	_ = t[18*8-1]
	amd64.Winograd4WGradAVX2(n, &u[0], us*4, &w[0], ws*4, &t[0])
	return n
}

// winograd25OutputKernels is winograd4OutputKernels for F(2×2, 5×5)
// (Winograd25OutputAVX2; t: 12·8 floats of scratch).
func winograd25OutputKernels(kn *gemmKernel, o int, m []float32, ms int, y []float32, ys, rs int, b, t []float32) int {
	n := o &^ 7
	if !kn.wino4 || n == 0 {
		return 0
	}
	_ = m[35*ms+n-1]
	_ = y[rs+ys+n-1]
	_ = b[n-1]
	_ = t[12*8-1]
	amd64.Winograd25OutputAVX2(n, &m[0], ms*4, &y[0], ys*4, rs*4, &b[0], &t[0])
	return n
}

// winograd25WeightKernels is winograd4WeightKernels for F(2×2, 5×5)
// (Winograd25WeightAVX2: 25 taps ks apart; t: 30·8 floats of scratch).
func winograd25WeightKernels(kn *gemmKernel, n int, k []float32, ks int, u []float32, us int, t []float32) int {
	n &^= 7
	if !kn.wino4 || n == 0 {
		return 0
	}
	_ = k[24*ks+n-1]
	_ = u[35*us+n-1]
	_ = t[30*8-1]
	amd64.Winograd25WeightAVX2(n, &k[0], ks*4, &u[0], us*4, &t[0])
	return n
}
