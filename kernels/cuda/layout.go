package cuda

// BroadcastRows queues y[i, j] = b[j] for every row i of a rows×cols
// matrix y (a bias laid over a batch before a GEMM adds to it).
func (k *Kernels) BroadcastRows(s Stream, rows, cols int, y, b DevicePtr) error {
	v := argCheck{op: "BroadcastRows"}
	v.sizes("rows,cols", rows, cols)
	n := v.product("rows·cols", false, rows, cols)
	v.ptrs(n > 0, "y,b", y, b)
	if v.err != nil || n == 0 {
		return v.err
	}
	return k.launch1D("BroadcastRows", kRowsBroadcast, n, s, int64(n), int32(cols), y, b)
}

// Transpose queues dst[z, c, r] = src[z, r, c] for each of batch rows×cols
// matrices: NHWC → NCHW with rows = H·W and cols = C, NCHW → NHWC with
// rows = C and cols = H·W. dst and src must not overlap.
func (k *Kernels) Transpose(s Stream, batch, rows, cols int, dst, src DevicePtr) error {
	v := argCheck{op: "Transpose"}
	v.sizes("batch,rows,cols", batch, rows, cols)
	n := v.product("batch·rows·cols", false, batch, rows, cols)
	v.ptrs(n > 0, "dst,src", dst, src)
	if v.err != nil || n == 0 {
		return v.err
	}
	grid := dim3{uint32(ceilDiv(cols, 32)), uint32(min(ceilDiv(rows, 32), maxGridYZ)), uint32(min(batch, maxGridYZ))}
	return k.launch("Transpose", kTranspose, grid, dim3{32, 8, 1}, s, int32(batch), int32(rows), int32(cols), dst, src)
}
