// Sums of src [outer, r, inner] along the middle axis into dst
// [outer, inner], in double precision, in a fixed order (no atomics).
#include "common.cuh"

// sum_rows (inner = 1): one block per row o, dst[o] = Σ_a src[o, a]. The
// block has a multiple of 32 threads, at most 1024. A single row of all the
// data is the total sum.
GRAFT_KERNEL void __launch_bounds__(1024) sum_rows(int outer, int r, float* __restrict__ dst, const float* __restrict__ src) {
    for (int o = blockIdx.x; o < outer; o += gridDim.x) {
        const float* p = src + (long long)o * r;
        double s = 0;
        for (int a = threadIdx.x; a < r; a += blockDim.x) s += p[a];
        s = block_sum(s);
        if (threadIdx.x == 0) dst[o] = (float)s;
    }
}

// sum_cols (inner > 1): blocks of 32×32 threads, x along 32 consecutive
// columns j (grid x), y along the axis; grid y is o.
// dst[o, j] = Σ_a src[o, a, j].
GRAFT_KERNEL void __launch_bounds__(1024)
    sum_cols(int outer, int r, int inner, float* __restrict__ dst, const float* __restrict__ src) {
    __shared__ double part[32][33];
    const int j = blockIdx.x * 32 + threadIdx.x;
    for (int o = blockIdx.y; o < outer; o += gridDim.y) {
        double s = 0;
        if (j < inner) {
            const float* p = src + (long long)o * r * inner + j;
            for (int a = threadIdx.y; a < r; a += 32) s += p[(long long)a * inner];
        }
        __syncthreads(); // part may still be read for the previous o
        part[threadIdx.y][threadIdx.x] = s;
        __syncthreads();
        if (threadIdx.y == 0 && j < inner) {
            for (int q = 1; q < 32; q++) s += part[q][threadIdx.x];
            dst[(long long)o * inner + j] = (float)s;
        }
    }
}
