// Optimizer updates with exactly the float32 operations of graft's Go
// references (tensor.SGDUpdate, tensor.AdamUpdate), each rounded in the
// same order: the _rn intrinsics keep the compiler from fusing a product
// and a sum into an FMA, so the results are the same bits.
#include "common.cuh"

// sgd_update: PyTorch's SGD (dampening 0). buf is null without momentum.
//
//	d = g + wd·w
//	buf = first ? d : momentum·buf + d;  d = nesterov ? d + momentum·buf : buf
//	w = w − lr·d
GRAFT_KERNEL void sgd_update(long long n, float lr, float momentum, float wd, int nesterov, int first,
                             float* __restrict__ w, const float* __restrict__ g, float* __restrict__ buf) {
    grid_stride_for(i, n) {
        float d = __fadd_rn(g[i], __fmul_rn(wd, w[i]));
        if (buf) {
            float b = first ? d : __fadd_rn(__fmul_rn(momentum, buf[i]), d);
            buf[i] = b;
            d = nesterov ? __fadd_rn(d, __fmul_rn(momentum, b)) : b;
        }
        w[i] = __fsub_rn(w[i], __fmul_rn(lr, d));
    }
}

// AdamArgs are the constants of one Adam step (the Go side's adamArgs).
struct AdamArgs {
    float beta1, c1, beta2, c2; // c1 = 1 − beta1, c2 = 1 − beta2
    float eps, wd;
    float step_size, sqrt_bc2; // lr/(1 − beta1ᵗ), √(1 − beta2ᵗ)
    float decay;               // 1 − lr·wd, for decoupled weight decay
    int decoupled;             // AdamW
};

// adam_update: PyTorch's Adam, or AdamW when decoupled.
//
//	d = g;  w = w·decay (AdamW)  or  d = d + wd·w (Adam)
//	m = beta1·m + c1·d;  v = beta2·v + (c2·d)·d
//	w = w − (step_size·m)/(√v/sqrt_bc2 + eps)
GRAFT_KERNEL void adam_update(long long n, AdamArgs a, float* __restrict__ w, const float* __restrict__ g,
                              float* __restrict__ m, float* __restrict__ v) {
    grid_stride_for(i, n) {
        float d = g[i], wi = w[i];
        if (a.decoupled) wi = __fmul_rn(wi, a.decay);
        else d = __fadd_rn(d, __fmul_rn(a.wd, wi));
        float mi = __fadd_rn(__fmul_rn(a.beta1, m[i]), __fmul_rn(a.c1, d));
        float vi = __fadd_rn(__fmul_rn(a.beta2, v[i]), __fmul_rn(__fmul_rn(a.c2, d), d));
        m[i] = mi, v[i] = vi;
        float den = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), a.sqrt_bc2), a.eps);
        w[i] = __fsub_rn(wi, __fdiv_rn(__fmul_rn(a.step_size, mi), den));
    }
}
