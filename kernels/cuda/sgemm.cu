// SGEMM on row-major matrices: C = alpha·op(A)·op(B) + beta·C, with
// op(X) = X, or Xᵀ when its flag is set. A is stored m×k (k×m when
// transposed) with row stride lda, B k×n (n×k) with ldb, C m×n with ldc.
// beta == 0 leaves C unread (BLAS). The Go side sends alpha == 0 or k == 0
// to sgemm_scale, so these kernels never need to skip reading A and B.
#include "common.cuh"
#include <mma.h>

// load4 returns the four elements (r, c..c+3) of a row-major rows×cols
// matrix at p with row stride ld; those outside it read as 0. vec says
// that p and ld allow an aligned float4 load at every c that is a
// multiple of 4 (the caller only asks for such c).
__device__ __forceinline__ float4 load4(const float* __restrict__ p, int ld, int r, int c, int rows, int cols,
                                        bool vec) {
    float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
    if (r >= rows) return v;
    const float* q = p + (long long)r * ld + c;
    if (vec && c + 3 < cols) return __ldg(reinterpret_cast<const float4*>(q));
    if (c < cols) v.x = __ldg(q);
    if (c + 1 < cols) v.y = __ldg(q + 1);
    if (c + 2 < cols) v.z = __ldg(q + 2);
    if (c + 3 < cols) v.w = __ldg(q + 3);
    return v;
}

// The SIMT kernel: a BM×BN block tile of C per block of (BM/8)·(BN/8)
// threads, each of which holds an 8×8 register tile made of four 4×4
// pieces, rows {ty·4.., BM/2 + ty·4..} and columns {tx·4.., BN/2 + tx·4..},
// so that its shared-memory reads are float4 and conflict-free. The k loop
// steps by BK with two shared buffers: the next step's global loads are in
// registers while the current step computes, and one barrier per step.
// Shared tiles are k-major (As[p][i], Bs[p][j]), padded by 4 floats so
// that the transposing stores spread over the banks.
template <int BM, int BN, int BK, bool TA, bool TB>
__device__ __forceinline__ void sgemm_simt(int m, int n, int k, float alpha, const float* __restrict__ A, int lda,
                                           const float* __restrict__ B, int ldb, float beta, float* __restrict__ C,
                                           int ldc, int vecA, int vecB, int vecC) {
    constexpr int THREADS = (BM / 8) * (BN / 8);
    constexpr int TX = BN / 8;
    constexpr int LA = BM * BK / 4 / THREADS; // float4 loads of the A tile per thread
    constexpr int LB = BN * BK / 4 / THREADS;
    static_assert(LA >= 1 && LB >= 1 && LA * 4 * THREADS == BM * BK && LB * 4 * THREADS == BN * BK, "tile");
    __shared__ __align__(16) float As[2][BK][BM + 4];
    __shared__ __align__(16) float Bs[2][BK][BN + 4];

    const int tid = threadIdx.x, tx = tid % TX, ty = tid / TX;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    float4 ra[LA], rb[LB];

    // Global → registers for the step at k0. Chunk l of a tile is four
    // consecutive elements along the dimension contiguous in memory.
    auto fetch = [&](int k0) {
#pragma unroll
        for (int q = 0; q < LA; q++) {
            int l = tid + q * THREADS;
            if (!TA) ra[q] = load4(A, lda, m0 + l / (BK / 4), k0 + l % (BK / 4) * 4, m, k, vecA);
            else ra[q] = load4(A, lda, k0 + l / (BM / 4), m0 + l % (BM / 4) * 4, k, m, vecA);
        }
#pragma unroll
        for (int q = 0; q < LB; q++) {
            int l = tid + q * THREADS;
            if (!TB) rb[q] = load4(B, ldb, k0 + l / (BN / 4), n0 + l % (BN / 4) * 4, k, n, vecB);
            else rb[q] = load4(B, ldb, n0 + l / (BK / 4), k0 + l % (BK / 4) * 4, n, k, vecB);
        }
    };
    // Registers → shared buffer s.
    auto stash = [&](int s) {
#pragma unroll
        for (int q = 0; q < LA; q++) {
            int l = tid + q * THREADS;
            if (!TA) {
                int i = l / (BK / 4), p = l % (BK / 4) * 4;
                As[s][p][i] = ra[q].x, As[s][p + 1][i] = ra[q].y, As[s][p + 2][i] = ra[q].z, As[s][p + 3][i] = ra[q].w;
            } else {
                *reinterpret_cast<float4*>(&As[s][l / (BM / 4)][l % (BM / 4) * 4]) = ra[q];
            }
        }
#pragma unroll
        for (int q = 0; q < LB; q++) {
            int l = tid + q * THREADS;
            if (!TB) {
                *reinterpret_cast<float4*>(&Bs[s][l / (BN / 4)][l % (BN / 4) * 4]) = rb[q];
            } else {
                int j = l / (BK / 4), p = l % (BK / 4) * 4;
                Bs[s][p][j] = rb[q].x, Bs[s][p + 1][j] = rb[q].y, Bs[s][p + 2][j] = rb[q].z, Bs[s][p + 3][j] = rb[q].w;
            }
        }
    };

    float acc[8][8];
#pragma unroll
    for (int i = 0; i < 8; i++)
#pragma unroll
        for (int j = 0; j < 8; j++) acc[i][j] = 0.f;

    const int steps = (k + BK - 1) / BK;
    if (steps > 0) {
        fetch(0);
        stash(0);
    }
    __syncthreads();
    for (int t = 0; t < steps; t++) {
        const int cur = t & 1;
        if (t + 1 < steps) fetch((t + 1) * BK);
#pragma unroll
        for (int p = 0; p < BK; p++) {
            float4 a0 = *reinterpret_cast<const float4*>(&As[cur][p][ty * 4]);
            float4 a1 = *reinterpret_cast<const float4*>(&As[cur][p][BM / 2 + ty * 4]);
            float4 b0 = *reinterpret_cast<const float4*>(&Bs[cur][p][tx * 4]);
            float4 b1 = *reinterpret_cast<const float4*>(&Bs[cur][p][BN / 2 + tx * 4]);
            const float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
            const float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
            for (int i = 0; i < 8; i++)
#pragma unroll
                for (int j = 0; j < 8; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        if (t + 1 < steps) stash(cur ^ 1);
        __syncthreads();
    }

    // Epilogue: four 4×4 pieces, float4 stores where C allows.
#pragma unroll
    for (int hi = 0; hi < 2; hi++)
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const int r = m0 + hi * (BM / 2) + ty * 4 + i;
            if (r >= m) continue;
            float* crow = C + (long long)r * ldc;
#pragma unroll
            for (int hj = 0; hj < 2; hj++) {
                const int c = n0 + hj * (BN / 2) + tx * 4;
                const float* s = &acc[hi * 4 + i][hj * 4];
                if (vecC && c + 3 < n) {
                    float4 v = make_float4(alpha * s[0], alpha * s[1], alpha * s[2], alpha * s[3]);
                    if (beta != 0.f) {
                        float4 o = *reinterpret_cast<const float4*>(crow + c);
                        v.x = fmaf(beta, o.x, v.x), v.y = fmaf(beta, o.y, v.y);
                        v.z = fmaf(beta, o.z, v.z), v.w = fmaf(beta, o.w, v.w);
                    }
                    *reinterpret_cast<float4*>(crow + c) = v;
                } else {
#pragma unroll
                    for (int q = 0; q < 4; q++) {
                        if (c + q >= n) break;
                        float v = alpha * s[q];
                        if (beta != 0.f) v = fmaf(beta, crow[c + q], v);
                        crow[c + q] = v;
                    }
                }
            }
        }
}

#define SGEMM_SIMT(name, BM, BN, TA, TB)                                                                      \
    GRAFT_KERNEL void __launch_bounds__((BM / 8) * (BN / 8))                                                    \
        name(int m, int n, int k, float alpha, const float* __restrict__ A, int lda, const float* __restrict__ B, \
             int ldb, float beta, float* __restrict__ C, int ldc, int vecA, int vecB, int vecC) {               \
        sgemm_simt<BM, BN, 8, TA, TB>(m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, vecA, vecB, vecC);         \
    }

// 128×128 tiles (256 threads) for large products, 64×64 (64 threads) when
// the large tiles would leave SMs idle.
SGEMM_SIMT(sgemm_128_nn, 128, 128, false, false)
SGEMM_SIMT(sgemm_128_nt, 128, 128, false, true)
SGEMM_SIMT(sgemm_128_tn, 128, 128, true, false)
SGEMM_SIMT(sgemm_128_tt, 128, 128, true, true)
SGEMM_SIMT(sgemm_64_nn, 64, 64, false, false)
SGEMM_SIMT(sgemm_64_nt, 64, 64, false, true)
SGEMM_SIMT(sgemm_64_tn, 64, 64, true, false)
SGEMM_SIMT(sgemm_64_tt, 64, 64, true, true)

// sgemm_scale computes C = beta·C on an m×n matrix (C = 0 when beta == 0,
// without reading it): GEMM with alpha == 0 or k == 0. One thread per
// element of a 2-D grid-stride loop, x along the row.
GRAFT_KERNEL void sgemm_scale(int m, int n, float beta, float* __restrict__ C, int ldc) {
    for (int r = blockIdx.y; r < m; r += gridDim.y)
        for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < n; c += blockDim.x * gridDim.x) {
            float* p = C + (long long)r * ldc + c;
            *p = beta == 0.f ? 0.f : beta * *p;
        }
}

// The TF32 tensor-core kernel (sm_80 and later; opt-in on the Go side, as
// it rounds A and B to 10-bit mantissas): a 64×64 block tile, 4 warps of
// 32×32 each (2×2 wmma m16n16k8 fragments), k steps of 32 staged through
// shared memory, which the epilogue reuses to apply alpha, beta and the
// bounds. Elements are rounded to TF32 once, when stored to shared memory.
template <bool TA, bool TB>
__device__ __forceinline__ void sgemm_tf32(int m, int n, int k, float alpha, const float* __restrict__ A, int lda,
                                           const float* __restrict__ B, int ldb, float beta, float* __restrict__ C,
                                           int ldc) {
#if __CUDA_ARCH__ >= 800
    using namespace nvcuda;
    constexpr int BM = 64, BN = 64, BK = 32, LDA_S = BK + 4, LDB_S = BN + 4, LDC_S = BN + 4;
    constexpr int SMEM = BM * LDA_S + BK * LDB_S > BM * LDC_S ? BM * LDA_S + BK * LDB_S : BM * LDC_S;
    __shared__ __align__(128) float smem[SMEM];
    float* As = smem;              // [BM][LDA_S], op(A) rows
    float* Bs = smem + BM * LDA_S; // [BK][LDB_S]
    const int tid = threadIdx.x, warp = tid / 32, wm = warp / 2, wn = warp % 2;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;

    wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[2][2];
#pragma unroll
    for (int x = 0; x < 2; x++)
#pragma unroll
        for (int y = 0; y < 2; y++) wmma::fill_fragment(acc[x][y], 0.f);

    for (int k0 = 0; k0 < k; k0 += BK) {
        // Consecutive threads read consecutive addresses of either layout.
        for (int e = tid; e < BM * BK; e += 128) {
            int i = TA ? e % BM : e / BK, p = TA ? e / BM : e % BK;
            int gi = m0 + i, gp = k0 + p;
            float v = 0.f;
            if (gi < m && gp < k) v = TA ? A[(long long)gp * lda + gi] : A[(long long)gi * lda + gp];
            As[i * LDA_S + p] = wmma::__float_to_tf32(v);
        }
        for (int e = tid; e < BK * BN; e += 128) {
            int j = TB ? e / BK : e % BN, p = TB ? e % BK : e / BN;
            int gj = n0 + j, gp = k0 + p;
            float v = 0.f;
            if (gj < n && gp < k) v = TB ? B[(long long)gj * ldb + gp] : B[(long long)gp * ldb + gj];
            Bs[p * LDB_S + j] = wmma::__float_to_tf32(v);
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < BK; kk += 8) {
            wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa[2];
            wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fb[2];
#pragma unroll
            for (int x = 0; x < 2; x++) wmma::load_matrix_sync(fa[x], As + (wm * 32 + x * 16) * LDA_S + kk, LDA_S);
#pragma unroll
            for (int y = 0; y < 2; y++) wmma::load_matrix_sync(fb[y], Bs + kk * LDB_S + wn * 32 + y * 16, LDB_S);
#pragma unroll
            for (int x = 0; x < 2; x++)
#pragma unroll
                for (int y = 0; y < 2; y++) wmma::mma_sync(acc[x][y], fa[x], fb[y], acc[x][y]);
        }
        __syncthreads();
    }
    float* Cs = smem; // [BM][LDC_S]
#pragma unroll
    for (int x = 0; x < 2; x++)
#pragma unroll
        for (int y = 0; y < 2; y++)
            wmma::store_matrix_sync(Cs + (wm * 32 + x * 16) * LDC_S + wn * 32 + y * 16, acc[x][y], LDC_S,
                                    wmma::mem_row_major);
    __syncthreads();
    for (int e = tid; e < BM * BN; e += 128) {
        int i = e / BN, j = e % BN, gi = m0 + i, gj = n0 + j;
        if (gi >= m || gj >= n) continue;
        float* p = C + (long long)gi * ldc + gj;
        float v = alpha * Cs[i * LDC_S + j];
        if (beta != 0.f) v = fmaf(beta, *p, v);
        *p = v;
    }
#endif
}

#define SGEMM_TF32(name, TA, TB)                                                                               \
    GRAFT_KERNEL void __launch_bounds__(128)                                                                    \
        name(int m, int n, int k, float alpha, const float* __restrict__ A, int lda, const float* __restrict__ B, \
             int ldb, float beta, float* __restrict__ C, int ldc) {                                             \
        sgemm_tf32<TA, TB>(m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);                                      \
    }

SGEMM_TF32(sgemm_tf32_nn, false, false)
SGEMM_TF32(sgemm_tf32_nt, false, true)
SGEMM_TF32(sgemm_tf32_tn, true, false)
SGEMM_TF32(sgemm_tf32_tt, true, true)
