// Shared helpers of graft's CUDA kernels. Every kernel is extern "C" (its
// plain name is what the Go side looks up), works on float32, and takes
// sizes as int (checked against INT32_MAX on the Go side) and offsets of
// whole tensors as long long.
#pragma once

#define GRAFT_KERNEL extern "C" __global__

// grid_stride_for runs i over [0, n) with a grid-stride loop.
#define grid_stride_for(i, n)                                                         \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n);     \
         i += (long long)blockDim.x * gridDim.x)

// warp_sum returns the sum of v over the 32 lanes of a warp (to every lane).
__device__ __forceinline__ double warp_sum(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// block_sum returns the sum of v over the block (to every thread). The
// block is one-dimensional with a multiple of 32 threads, at most 1024;
// every thread must call it.
__device__ __forceinline__ double block_sum(double v) {
    __shared__ double part[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads(); // part may still be read by a previous call
    if (lane == 0) part[warp] = v;
    __syncthreads();
    v = lane < warps ? part[lane] : 0.0;
    return warp_sum(v);
}

// Index is a linear NHWC index split into its coordinates.
struct Index {
    int n, h, w, c;
};

__device__ __forceinline__ Index split_nhwc(long long e, int H, int W, int C) {
    Index i;
    i.c = e % C, e /= C;
    i.w = e % W, e /= W;
    i.h = e % H, i.n = e / H;
    return i;
}

// Window geometry: convolutions and pooling name the same fields (input
// h, w; output oh, ow; window kh, kw; strides sh, sw; dilations dh, dw;
// leading padding pt, pl), so these take either argument struct.

// taps_in calls f(fh, fw, ih, iw) for each tap of window (oh, ow) inside the
// input, kh then kw ascending.
template <class A, class F>
__device__ __forceinline__ void taps_in(const A& a, int oh, int ow, F f) {
    for (int fh = 0; fh < a.kh; fh++) {
        int ih = oh * a.sh - a.pt + fh * a.dh;
        if (ih < 0 || ih >= a.h) continue;
        for (int fw = 0; fw < a.kw; fw++) {
            int iw = ow * a.sw - a.pl + fw * a.dw;
            if (iw >= 0 && iw < a.w) f(fh, fw, ih, iw);
        }
    }
}

// covering calls f(fh, fw, oh, ow) for every window (oh, ow) whose tap
// (fh, fw) is input position (ih, iw), in the order (oh, ow) ascending.
template <class A, class F>
__device__ __forceinline__ void covering(const A& a, int ih, int iw, F f) {
    for (int fh = a.kh - 1; fh >= 0; fh--) {
        int th = ih + a.pt - fh * a.dh;
        if (th < 0 || th % a.sh != 0 || th / a.sh >= a.oh) continue;
        for (int fw = a.kw - 1; fw >= 0; fw--) {
            int tw = iw + a.pl - fw * a.dw;
            if (tw < 0 || tw % a.sw != 0 || tw / a.sw >= a.ow) continue;
            f(fh, fw, th / a.sh, tw / a.sw);
        }
    }
}
