// cudaemu: host definitions of the CUDA built-ins graft's kernels use, so
// that g++ compiles the .cu files unchanged. A block's threads run as
// fibers on the calling OS thread (emu.cpp); __syncthreads, __syncwarp and
// the shuffles are barriers between them. Static __shared__ arrays are
// plain statics in their own section, which is refilled with 0xff bytes
// (NaN) before every block, because one block runs at a time.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
using std::max;
using std::min;

#ifdef CUDAEMU_SCAN
// The registry generator preprocesses the kernels with these, to find each
// extern "C" kernel and its launch bounds in the output (gen-registry.sh).
#define __global__ __cudaemu_kernel__
#define __launch_bounds__(...) __cudaemu_lb__ __VA_ARGS__ __cudaemu_lb_end__
#else
#define __global__
#define __launch_bounds__(...)
#endif
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static __attribute__((section("cudaemu_shared")))
#define __align__(n) __attribute__((aligned(n)))
#define __CUDA_ARCH__ 800

struct uint3 {
    unsigned x, y, z;
};
struct dim3e {
    unsigned x, y, z;
};
struct alignas(16) float4 {
    float x, y, z, w;
};
inline float4 make_float4(float a, float b, float c, float d) { return float4{a, b, c, d}; }

// The running thread's index, and the launch's geometry.
extern uint3 emu_tid;
extern dim3e emu_block_idx, emu_block_dim, emu_grid_dim;
#define threadIdx emu_tid
#define blockIdx emu_block_idx
#define blockDim emu_block_dim
#define gridDim emu_grid_dim
constexpr int warpSize = 32;

void emu_syncthreads();
// emu_warp_exchange is a warp barrier over the lanes of mask: it publishes
// size bytes at v and, unless lane_from < 0, copies lane lane_from's bytes
// to out.
void emu_warp_exchange(const void* v, void* out, int size, int lane_from, unsigned mask);
int emu_lane();

inline void __syncthreads() { emu_syncthreads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { emu_warp_exchange(nullptr, nullptr, 0, -1, mask); }

// emu_shfl returns lane src's v, or the caller's own v when src is outside
// its segment of width lanes (as __shfl_up_sync and __shfl_down_sync do).
template <class T> T emu_shfl(unsigned mask, T v, int src, bool own) {
    static_assert(sizeof(T) <= 8, "cudaemu: shuffles of at most 8 bytes");
    T r;
    emu_warp_exchange(&v, &r, sizeof(T), own ? -1 : src, mask);
    return own ? v : r;
}
template <class T> T __shfl_sync(unsigned mask, T v, int src, int width = warpSize) {
    int lane = emu_lane();
    return emu_shfl(mask, v, (lane & ~(width - 1)) + (src & (width - 1)), false);
}
template <class T> T __shfl_xor_sync(unsigned mask, T v, int m, int width = warpSize) {
    int lane = emu_lane(), src = lane ^ m;
    return emu_shfl(mask, v, src, (src & ~(width - 1)) > (lane & ~(width - 1)));
}
template <class T> T __shfl_down_sync(unsigned mask, T v, unsigned d, int width = warpSize) {
    int lane = emu_lane(), src = lane + (int)d;
    return emu_shfl(mask, v, src, (src & ~(width - 1)) != (lane & ~(width - 1)));
}
template <class T> T __shfl_up_sync(unsigned mask, T v, unsigned d, int width = warpSize) {
    int lane = emu_lane(), src = lane - (int)d;
    return emu_shfl(mask, v, src, src < (lane & ~(width - 1)));
}

template <class T> T __ldg(const T* p) { return *p; }
// Atomics: a fiber is never switched out inside one, so plain code is atomic.
inline float atomicAdd(float* p, float v) {
    float o = *p;
    *p = o + v;
    return o;
}
inline int atomicAdd(int* p, int v) {
    int o = *p;
    *p = (int)((unsigned)o + (unsigned)v);
    return o;
}
inline float __int_as_float(int i) {
    float f;
    memcpy(&f, &i, 4);
    return f;
}
inline int __float_as_int(float f) {
    int i;
    memcpy(&i, &f, 4);
    return i;
}
// The _rn intrinsics are single IEEE operations, never fused: the volatile
// store keeps g++ from contracting them into an FMA.
inline float __fadd_rn(float a, float b) {
    volatile float r = a + b;
    return r;
}
inline float __fsub_rn(float a, float b) {
    volatile float r = a - b;
    return r;
}
inline float __fmul_rn(float a, float b) {
    volatile float r = a * b;
    return r;
}
inline float __fdiv_rn(float a, float b) {
    volatile float r = a / b;
    return r;
}
inline float __fsqrt_rn(float a) { return sqrtf(a); }
