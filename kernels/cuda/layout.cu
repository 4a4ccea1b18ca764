// Layout kernels: broadcasting a row into a matrix and batched transposes
// (NHWC ↔ NCHW), the data movement a training step needs on the device.
#include "common.cuh"

// rows_broadcast: y[i, j] = b[j] for a rows×cols matrix y.
GRAFT_KERNEL void rows_broadcast(long long n, int cols, float* __restrict__ y, const float* __restrict__ b) {
    grid_stride_for(i, n) y[i] = b[i % cols];
}

// transpose_batched: dst[z, c, r] = src[z, r, c] for batch z of rows×cols
// matrices, through a 32×32 tile in shared memory (padded against bank
// conflicts) so that both the reads and the writes are coalesced. Blocks
// are 32×8 threads; the grid's x covers the column tiles, its y and z
// loop over the row tiles and the batch (so any size fits a grid).
GRAFT_KERNEL void __launch_bounds__(256) transpose_batched(int batch, int rows, int cols, float* __restrict__ dst, const float* __restrict__ src) {
    __shared__ float tile[32][33];
    int tx = threadIdx.x, ty = threadIdx.y, c0 = blockIdx.x * 32;
    for (int z = blockIdx.z; z < batch; z += gridDim.z) {
        long long base = (long long)z * rows * cols;
        for (int r0 = blockIdx.y * 32; r0 < rows; r0 += gridDim.y * 32) {
            __syncthreads(); // the tile may still be read for the previous r0
            for (int k = ty; k < 32; k += 8) {
                int r = r0 + k, c = c0 + tx;
                if (r < rows && c < cols) tile[k][tx] = src[base + (long long)r * cols + c];
            }
            __syncthreads();
            for (int k = ty; k < 32; k += 8) {
                int c = c0 + k, r = r0 + tx;
                if (r < rows && c < cols) dst[base + (long long)c * rows + r] = tile[tx][k];
            }
        }
    }
}
