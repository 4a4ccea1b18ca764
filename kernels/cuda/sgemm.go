package cuda

// Sgemm queues C = alpha·op(A)·op(B) + beta·C on row-major matrices, with
// op(X) = Xᵀ when its flag is set: A is stored m×k (k×m when transA) with
// row stride lda, B k×n (n×k when transB) with ldb, C m×n with ldc, as
// graft's SgemmRef. beta == 0 leaves C unread (NaN in C does not
// propagate); alpha == 0 or k == 0 leaves A and B unread and scales C.
//
// It runs a shared-memory SIMT kernel in FP32 (128×128 block tiles, or
// 64×64 when the product is too small to fill the GPU with them), or,
// with AllowTF32 set, the TF32 tensor-core kernel. Float4 loads and
// stores are used where a matrix's address and row stride are multiples
// of 4 floats.
func (k *Kernels) Sgemm(s Stream, transA, transB bool, m, n, kk int, alpha float32, a DevicePtr, lda int, b DevicePtr, ldb int, beta float32, c DevicePtr, ldc int) error {
	if k == nil {
		return ErrNotLoaded
	}
	v := argCheck{op: "Sgemm"}
	v.sizes("m,n,k,lda,ldb,ldc", m, n, kk, lda, ldb, ldc)
	colsA, colsB := kk, n
	if transA {
		colsA = m
	}
	if transB {
		colsB = kk
	}
	if lda < max(colsA, 1) {
		v.failf("lda %d < %d (columns of A as stored, transA=%v)", lda, max(colsA, 1), transA)
	}
	if ldb < max(colsB, 1) {
		v.failf("ldb %d < %d (columns of B as stored, transB=%v)", ldb, max(colsB, 1), transB)
	}
	if ldc < max(n, 1) {
		v.failf("ldc %d < %d (columns of C)", ldc, max(n, 1))
	}
	empty := m == 0 || n == 0
	scaleOnly := alpha == 0 || kk == 0
	v.ptrs(!empty, "C", c)
	v.ptrs(!empty && !scaleOnly, "A,B", a, b)
	tile := 128
	if k.AllowTF32 || k.tile == 64 || (k.tile == 0 && ceilDiv(m, 128)*ceilDiv(n, 128) < k.sms) {
		tile = 64
	}
	if ceilDiv(m, tile) > maxGridYZ {
		v.failf("m = %d: more than %d row tiles of %d", m, maxGridYZ, tile)
	}
	if v.err != nil {
		return v.err
	}
	if empty {
		return nil
	}
	if scaleOnly {
		grid := dim3{uint32(min(ceilDiv(n, 256), 64)), uint32(min(m, maxGridYZ)), 1}
		return k.launch("Sgemm", kSgemmScale, grid, dim3{256, 1, 1}, s, int32(m), int32(n), beta, c, int32(ldc))
	}
	id := kSgemm128NN
	block := dim3{256, 1, 1}
	switch {
	case k.AllowTF32:
		id, block = kSgemmTF32NN, dim3{128, 1, 1}
	case tile == 64:
		id, block = kSgemm64NN, dim3{64, 1, 1}
	}
	// The four variants of each kernel follow in the order nn, nt, tn, tt.
	if transA {
		id += 2
	}
	if transB {
		id++
	}
	grid := dim3{uint32(ceilDiv(n, tile)), uint32(ceilDiv(m, tile)), 1}
	args := [14]any{int32(m), int32(n), int32(kk), alpha, a, int32(lda), b, int32(ldb), beta, c, int32(ldc), // on the stack
		flag(vec4(a, lda)), flag(vec4(b, ldb)), flag(vec4(c, ldc))} // the SIMT kernels' float4 flags
	nargs := len(args)
	if k.AllowTF32 {
		nargs = 11
	}
	return k.launch("Sgemm", id, grid, block, s, args[:nargs]...)
}

// vec4 reports whether every row of a matrix at p with row stride ld
// starts on a 16-byte boundary, so float4 accesses at multiples of 4
// floats are aligned.
func vec4(p DevicePtr, ld int) bool { return p%16 == 0 && ld%4 == 0 }
