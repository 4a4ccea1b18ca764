// cudaemu: a host nvcuda::wmma for the m16n16k8 TF32 shape, the one graft's
// kernels use. Every lane holds the whole fragment (on a GPU the warp's
// lanes share it out), so the results are right but the lanes' registers
// are not the GPU's. mma_sync accumulates in float, k ascending; the
// tensor cores' order and internal precision are not reproduced.
#pragma once
#include <cstring>
#include <type_traits>

namespace nvcuda {
namespace wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
namespace precision {
struct tf32 {};
} // namespace precision
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K, class T, class L = void> struct fragment {
    static constexpr int rows = std::is_same<Use, matrix_b>::value ? K : M;
    static constexpr int cols = std::is_same<Use, matrix_a>::value ? K : N;
    float m[rows * cols];
};

// __float_to_tf32 rounds to 10 mantissa bits, to nearest with ties away
// from zero (cvt.rna.tf32.f32); Inf and NaN pass unchanged.
inline float __float_to_tf32(float f) {
    unsigned u;
    memcpy(&u, &f, 4);
    if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;
    memcpy(&f, &u, 4);
    return f;
}

template <class F> void fill_fragment(F& f, float v) {
    for (auto& x : f.m) x = v;
}

// load_matrix_sync for matrix_a and matrix_b, whose layout is a type.
template <class Use, int M, int N, int K, class T, class L>
void load_matrix_sync(fragment<Use, M, N, K, T, L>& f, const float* p, unsigned ldm) {
    using F = fragment<Use, M, N, K, T, L>;
    constexpr bool col = std::is_same<L, col_major>::value;
    for (int i = 0; i < F::rows; i++)
        for (int j = 0; j < F::cols; j++) f.m[i * F::cols + j] = col ? p[j * ldm + i] : p[i * ldm + j];
}

// load_matrix_sync and store_matrix_sync for the accumulator, whose layout
// is an argument.
template <int M, int N, int K>
void load_matrix_sync(fragment<accumulator, M, N, K, float>& f, const float* p, unsigned ldm, layout_t l) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) f.m[i * N + j] = l == mem_col_major ? p[j * ldm + i] : p[i * ldm + j];
}
template <int M, int N, int K>
void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f, unsigned ldm, layout_t l) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) (l == mem_col_major ? p[j * ldm + i] : p[i * ldm + j]) = f.m[i * N + j];
}

// mma_sync computes d = a·b + c; d may be c.
template <int M, int N, int K, class TA, class LA, class TB, class LB>
void mma_sync(fragment<accumulator, M, N, K, float>& d, const fragment<matrix_a, M, N, K, TA, LA>& a,
              const fragment<matrix_b, M, N, K, TB, LB>& b, const fragment<accumulator, M, N, K, float>& c) {
    float r[M * N];
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = c.m[i * N + j];
            for (int k = 0; k < K; k++) s += a.m[i * K + k] * b.m[k * N + j];
            r[i * N + j] = s;
        }
    memcpy(d.m, r, sizeof r);
}
} // namespace wmma
} // namespace nvcuda
