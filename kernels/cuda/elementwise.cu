// Elementwise kernels: arithmetic, fill, activations and their gradients.
// One grid-stride loop each; a destination may be one of the sources.
#include "common.cuh"

GRAFT_KERNEL void ew_fill(long long n, float v, float* __restrict__ y) {
    grid_stride_for(i, n) y[i] = v;
}

// ew_add: z = x + y.
GRAFT_KERNEL void ew_add(long long n, float* z, const float* x, const float* y) {
    grid_stride_for(i, n) z[i] = x[i] + y[i];
}

// ew_mul: z = x·y.
GRAFT_KERNEL void ew_mul(long long n, float* z, const float* x, const float* y) {
    grid_stride_for(i, n) z[i] = x[i] * y[i];
}

// ew_scale: y = alpha·x.
GRAFT_KERNEL void ew_scale(long long n, float alpha, float* y, const float* x) {
    grid_stride_for(i, n) y[i] = alpha * x[i];
}

// ew_axpy: y = y + alpha·x, one fused multiply-add.
GRAFT_KERNEL void ew_axpy(long long n, float alpha, float* y, const float* x) {
    grid_stride_for(i, n) y[i] = fmaf(alpha, x[i], y[i]);
}

// The activations, numbered as graft's tensor.Activation.
enum { ACT_RELU, ACT_RELU6, ACT_LEAKY_RELU, ACT_SIGMOID, ACT_TANH, ACT_GELU };

__device__ __forceinline__ float activate(int kind, float alpha, float x) {
    switch (kind) {
    case ACT_RELU: return x < 0.f ? 0.f : x; // NaN passes through
    case ACT_RELU6: return x < 0.f ? 0.f : (x > 6.f ? 6.f : x);
    case ACT_LEAKY_RELU: return x < 0.f ? alpha * x : x;
    case ACT_SIGMOID:
        if (x >= 0.f) return 1.f / (1.f + expf(-x));
        else {
            float e = expf(x);
            return e / (1.f + e);
        }
    case ACT_TANH: return tanhf(x);
    case ACT_GELU: return 0.5f * x * erfcf(-x * 0.70710678118654752f); // exact: x·Φ(x)
    }
    return __int_as_float(0x7fc00000); // an unknown kind gives NaN
}

// activate_grad is dy·f'(x), given x and y = f(x).
__device__ __forceinline__ float activate_grad(int kind, float alpha, float x, float y, float dy) {
    switch (kind) {
    case ACT_RELU: return x > 0.f ? dy : 0.f;
    case ACT_RELU6: return x > 0.f && x < 6.f ? dy : 0.f;
    case ACT_LEAKY_RELU: return x > 0.f ? dy : alpha * dy;
    case ACT_SIGMOID: return dy * y * (1.f - y);
    case ACT_TANH: return dy * (1.f - y * y);
    case ACT_GELU: {
        float cdf = 0.5f * erfcf(-x * 0.70710678118654752f);
        float pdf = expf(-0.5f * x * x) * 0.39894228040143268f; // 1/√(2π)
        return dy * (cdf + x * pdf);
    }
    }
    return __int_as_float(0x7fc00000);
}

// act_fwd: y = f(x) (alpha: LeakyReLU's negative slope).
GRAFT_KERNEL void act_fwd(long long n, int kind, float alpha, float* y, const float* x) {
    grid_stride_for(i, n) y[i] = activate(kind, alpha, x[i]);
}

// act_bwd: dx = f'(x)·dy, given x and y = f(x).
GRAFT_KERNEL void act_bwd(long long n, int kind, float alpha, float* dx, const float* x, const float* y,
                          const float* dy) {
    grid_stride_for(i, n) dx[i] = activate_grad(kind, alpha, x[i], y[i], dy[i]);
}
