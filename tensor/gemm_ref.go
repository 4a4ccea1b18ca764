package tensor

// SgemmRef is the plain reference for Sgemm, always compiled. With
// op(X) = X, or Xᵀ when its flag is set, A stored as m×k (k×m if transA)
// with row stride lda, B as k×n (n×k if transB) with row stride ldb and C
// m×n with row stride ldc, it computes, for every i < m and j < n,
//
//	s := 0 (float64)
//	for p := 0; p < k; p++ { s += float64(op(A)[i,p]) * float64(op(B)[p,j]) }
//	C[i,j] = float32(alpha·s)                 if beta == 0 (C is not read)
//	C[i,j] = float32(alpha·s + beta·C[i,j])   otherwise
//
// As in BLAS, alpha == 0 leaves A and B unread (s is taken as 0).
//
// Accumulating in float64 makes it more accurate than any float32 kernel,
// so tests compare against it with a tolerance that grows with k.
func SgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkSgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k && alpha != 0; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			r := float64(alpha) * s
			if beta != 0 {
				r += float64(beta) * float64(c[i*ldc+j])
			}
			c[i*ldc+j] = float32(r)
		}
	}
}
