// Shape and sampling kernels: the maximum along an axis, strided copies
// (concatenation and its inverse), padding, and dropout with a
// counter-based generator (the same bits as graft's CPU dropout).
#include "common.cuh"

// max_axis: dst[o, j] = max over a of src[o, a, j] for src [outer, r, inner];
// NaN propagates (the first NaN met), r = 0 gives -inf. One thread per
// output element.
GRAFT_KERNEL void max_axis(long long n, int r, int inner, float* __restrict__ dst, const float* __restrict__ src) {
    grid_stride_for(e, n) {
        long long o = e / inner;
        int j = e % inner;
        const float* p = src + o * r * inner + j;
        float m = -__int_as_float(0x7f800000);
        for (int a = 0; a < r; a++) {
            float v = p[(long long)a * inner];
            if (v > m || (v != v && m == m)) m = v;
        }
        dst[e] = m;
    }
}

// copy_strided: dst[o·dstStride + j] = src[o·srcStride + j] for o < rows,
// j < len: one part of a concatenation along an axis, or of a split.
GRAFT_KERNEL void copy_strided(long long rows, long long len, long long dstStride, long long srcStride,
                               float* __restrict__ dst, const float* __restrict__ src) {
    grid_stride_for(e, rows * len) {
        long long o = e / len, j = e % len;
        dst[o * dstStride + j] = src[o * srcStride + j];
    }
}

// PadArgs mirrors the Go side's padArgs: shapes of dst and src, the pads
// before each dimension (negative crops), the mode (0 constant, 1 reflect,
// 2 edge, as graft's tensor.PadMode) and the constant.
struct PadArgs {
    int rank, mode;
    float value;
    int dshape[8], sshape[8], before[8];
};

// pad_nd: every element of dst from its source element in src, or value.
GRAFT_KERNEL void pad_nd(long long n, PadArgs a, float* __restrict__ dst, const float* __restrict__ src) {
    grid_stride_for(e, n) {
        long long rem = e, so = 0, stride = 1;
        bool inside = true;
        for (int d = a.rank - 1; d >= 0; d--) {
            int c = rem % a.dshape[d];
            rem /= a.dshape[d];
            int s = c - a.before[d], m = a.sshape[d];
            if (s < 0 || s >= m) {
                if (a.mode == 0) {
                    inside = false;
                } else if (a.mode == 2) {
                    s = s < 0 ? 0 : m - 1;
                } else {
                    int period = 2 * (m - 1);
                    if (period == 0) {
                        s = 0;
                    } else {
                        s = ((s % period) + period) % period;
                        if (s >= m) s = period - s;
                    }
                }
            }
            so += (long long)s * stride;
            stride *= m;
        }
        dst[e] = inside ? src[so] : a.value;
    }
}

// dropout_hash is the generator of graft's dropout: splitmix64 of the seed
// plus the element's index times the golden ratio; its top 24 bits, over
// 2^24, are the element's uniform draw.
__device__ __forceinline__ float dropout_draw(unsigned long long seed, long long i) {
    unsigned long long z = seed + (unsigned long long)(i + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)(z >> 40) * (1.0f / 16777216.0f);
}

// dropout: mask[i] = 0 where the draw is below p, else scale; y = x·mask.
GRAFT_KERNEL void dropout(long long n, float p, float scale, unsigned long long seed, float* __restrict__ y,
                          float* __restrict__ mask, const float* __restrict__ x) {
    grid_stride_for(i, n) {
        float m = p > 0.f && dropout_draw(seed, i) < p ? 0.f : scale;
        mask[i] = m;
        y[i] = x[i] * m;
    }
}
