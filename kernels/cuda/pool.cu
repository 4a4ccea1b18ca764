// Pooling over NHWC windows, as graft's reference defines it: window
// (oh, ow) covers ih = oh·sh − pt + kh·dh, iw = ow·sw − pl + kw·dw;
// positions outside the input are skipped by max pooling and by average
// pooling (which counts them in its divisor only with count_include_pad).
// One thread per output (forward) or input (backward) element, consecutive
// threads on consecutive channels. The backward passes gather: each input
// element sums the windows that cover it, in the order (oh, ow) ascending,
// so no atomics are needed and results do not vary between runs.
#include "common.cuh"

struct PoolArgs {
    int n, h, w, c;
    int oh, ow;
    int kh, kw;
    int sh, sw;
    int dh, dw;
    int pt, pl, pb, pr;
    int include_pad; // average pooling divides by the taps inside the padded input
};

// window_max returns the maximum of window (oh, ow) at channel c of image
// n (NaN wins, -Inf for an empty window) and, in *at, the offset
// (ih·W + iw) of the first tap that holds it (-1 if none).
__device__ __forceinline__ float window_max(const PoolArgs& a, const float* __restrict__ x, int n, int oh, int ow,
                                            int c, int* at) {
    float m = -INFINITY;
    int best = -1;
    const float* img = x + (long long)n * a.h * a.w * a.c + c;
    taps_in(a, oh, ow, [&](int, int, int ih, int iw) {
        float v = img[((long long)ih * a.w + iw) * a.c];
        if (best < 0 || v > m || (v != v && m == m)) m = v, best = ih * a.w + iw;
    });
    *at = best;
    return m;
}

// divisor is the count window (oh, ow) of an average pool divides by.
__device__ __forceinline__ int divisor(const PoolArgs& a, int oh, int ow) {
    int h0 = oh * a.sh - a.pt, w0 = ow * a.sw - a.pl;
    if (a.include_pad) {
        int h1 = min(h0 + (a.kh - 1) * a.dh + 1, a.h + a.pb), w1 = min(w0 + (a.kw - 1) * a.dw + 1, a.w + a.pr);
        return ((h1 - h0 + a.dh - 1) / a.dh) * ((w1 - w0 + a.dw - 1) / a.dw);
    }
    int hn = 0, wn = 0;
    for (int fh = 0; fh < a.kh; fh++) hn += h0 + fh * a.dh >= 0 && h0 + fh * a.dh < a.h;
    for (int fw = 0; fw < a.kw; fw++) wn += w0 + fw * a.dw >= 0 && w0 + fw * a.dw < a.w;
    return hn * wn;
}

GRAFT_KERNEL void maxpool2d_fwd(PoolArgs a, float* __restrict__ y, const float* __restrict__ x) {
    grid_stride_for(e, (long long)a.n * a.oh * a.ow * a.c) {
        const Index o = split_nhwc(e, a.oh, a.ow, a.c);
        int at;
        y[e] = window_max(a, x, o.n, o.h, o.w, o.c, &at);
    }
}

// maxpool2d_bwd: each dy goes to the first position of its window that
// holds the window's maximum.
GRAFT_KERNEL void maxpool2d_bwd(PoolArgs a, float* __restrict__ dx, const float* __restrict__ x,
                                const float* __restrict__ dy) {
    grid_stride_for(e, (long long)a.n * a.h * a.w * a.c) {
        const Index i = split_nhwc(e, a.h, a.w, a.c);
        float s = 0.f;
        covering(a, i.h, i.w, [&](int, int, int oh, int ow) {
            int at;
            window_max(a, x, i.n, oh, ow, i.c, &at);
            if (at == i.h * a.w + i.w) s += dy[(((long long)i.n * a.oh + oh) * a.ow + ow) * a.c + i.c];
        });
        dx[e] = s;
    }
}

// avgpool2d_fwd: y = (Σ of the window's taps inside x)·(1/divisor).
GRAFT_KERNEL void avgpool2d_fwd(PoolArgs a, float* __restrict__ y, const float* __restrict__ x) {
    grid_stride_for(e, (long long)a.n * a.oh * a.ow * a.c) {
        const Index o = split_nhwc(e, a.oh, a.ow, a.c);
        const float* img = x + (long long)o.n * a.h * a.w * a.c + o.c;
        float s = 0.f;
        taps_in(a, o.h, o.w, [&](int, int, int ih, int iw) { s += img[((long long)ih * a.w + iw) * a.c]; });
        int d = divisor(a, o.h, o.w);
        y[e] = d > 0 ? s * (1.f / d) : s;
    }
}

// avgpool2d_bwd: dx = Σ over the covering windows of dy·(1/divisor).
GRAFT_KERNEL void avgpool2d_bwd(PoolArgs a, float* __restrict__ dx, const float* __restrict__ dy) {
    grid_stride_for(e, (long long)a.n * a.h * a.w * a.c) {
        const Index i = split_nhwc(e, a.h, a.w, a.c);
        float s = 0.f;
        covering(a, i.h, i.w, [&](int, int, int oh, int ow) {
            int d = divisor(a, oh, ow);
            if (d > 0) s = fmaf(1.f / d, dy[(((long long)i.n * a.oh + oh) * a.ow + ow) * a.c + i.c], s);
        });
        dx[e] = s;
    }
}

// global_avgpool_fwd: y[n,c] = (Σ_p x[n,p,c])·(1/hw), p over the hw pixels.
GRAFT_KERNEL void global_avgpool_fwd(int n, int hw, int c, float* __restrict__ y, const float* __restrict__ x) {
    grid_stride_for(e, (long long)n * c) {
        const float* p = x + e / c * hw * (long long)c + e % c;
        float s = 0.f;
        for (int i = 0; i < hw; i++) s += p[(long long)i * c];
        y[e] = hw > 0 ? s * (1.f / hw) : 0.f;
    }
}

// global_avgpool_bwd: dx[n,p,c] = dy[n,c]·(1/hw).
GRAFT_KERNEL void global_avgpool_bwd(int n, int hw, int c, float* __restrict__ dx, const float* __restrict__ dy) {
    grid_stride_for(e, (long long)n * hw * c) dx[e] = dy[e / ((long long)hw * c) * c + e % c] * (1.f / hw);
}
