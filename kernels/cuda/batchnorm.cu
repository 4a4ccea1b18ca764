// Batch normalisation over channels-last data: x is rows×c (rows = N·H·W),
// statistics per channel. The per-channel sums run in blocks of 32×16
// threads: x along 32 consecutive channels (grid x), y along the rows, in
// double precision, summed across y in shared memory.
#include "common.cuh"

// column_sums returns, to thread y == 0, the sums over the block's 16 y
// threads of v (and w); every thread must call it.
__device__ __forceinline__ void column_sums(double& v, double& w) {
    __shared__ double sv[16][33], sw[16][33];
    __syncthreads(); // the tables may still be read by a previous call
    sv[threadIdx.y][threadIdx.x] = v, sw[threadIdx.y][threadIdx.x] = w;
    __syncthreads();
    if (threadIdx.y == 0)
        for (int r = 1; r < 16; r++) v += sv[r][threadIdx.x], w += sw[r][threadIdx.x];
}

// bn_train_stats computes each channel's batch mean and biased variance
// (two passes: the mean, then Σ(x − mean)²), writes save_mean and
// save_invstd = 1/√(var + eps), and, unless run_mean is null, updates the
// running statistics: run = (1 − momentum)·run + momentum·batch, the
// variance unbiased (·rows/(rows − 1)) when unbiased is set and rows > 1.
GRAFT_KERNEL void __launch_bounds__(512)
    bn_train_stats(int rows, int c, float momentum, float eps, int unbiased, const float* __restrict__ x,
                   float* __restrict__ run_mean, float* __restrict__ run_var, float* __restrict__ save_mean,
                   float* __restrict__ save_invstd) {
    const int j = blockIdx.x * 32 + threadIdx.x;
    const bool ok = j < c;
    double s = 0, unused = 0;
    if (ok)
        for (int r = threadIdx.y; r < rows; r += 16) s += x[(long long)r * c + j];
    column_sums(s, unused);
    __shared__ double mean[32];
    if (threadIdx.y == 0) mean[threadIdx.x] = s / max(rows, 1);
    __syncthreads();
    const double m = mean[threadIdx.x];
    double sq = 0;
    if (ok)
        for (int r = threadIdx.y; r < rows; r += 16) {
            double d = x[(long long)r * c + j] - m;
            sq += d * d;
        }
    column_sums(sq, unused);
    if (threadIdx.y != 0 || !ok) return;
    const double v = sq / max(rows, 1);
    save_mean[j] = (float)m;
    save_invstd[j] = (float)(1.0 / sqrt(v + (double)eps));
    if (run_mean) {
        const double uv = unbiased && rows > 1 ? sq / (rows - 1) : v, mo = momentum;
        run_mean[j] = (float)((1 - mo) * run_mean[j] + mo * m);
        run_var[j] = (float)((1 - mo) * run_var[j] + mo * uv);
    }
}

// bn_train_apply: y = gamma·((x − mean)·invstd) + beta, then max(y, 0)
// when relu is set.
GRAFT_KERNEL void bn_train_apply(long long total, int c, int relu, float* __restrict__ y, const float* __restrict__ x,
                                 const float* __restrict__ gamma, const float* __restrict__ beta,
                                 const float* __restrict__ mean, const float* __restrict__ invstd) {
    grid_stride_for(e, total) {
        int j = e % c;
        float v = fmaf(gamma[j], (x[e] - mean[j]) * invstd[j], beta[j]);
        y[e] = relu && v < 0.f ? 0.f : v;
    }
}

// bn_inference: y = x·scale + shift with scale = gamma/√(var + eps) and
// shift = beta − scale·mean, then max(y, 0) when relu is set.
GRAFT_KERNEL void bn_inference(long long total, int c, float eps, int relu, float* __restrict__ y,
                               const float* __restrict__ x, const float* __restrict__ gamma,
                               const float* __restrict__ beta, const float* __restrict__ mean,
                               const float* __restrict__ var) {
    grid_stride_for(e, total) {
        int j = e % c;
        float scale = (float)(gamma[j] / sqrt((double)var[j] + eps));
        float shift = (float)(beta[j] - (double)scale * mean[j]);
        float v = fmaf(x[e], scale, shift);
        y[e] = relu && v < 0.f ? 0.f : v;
    }
}

// bn_bwd_reduce: dbeta = Σ dy and dgamma = Σ dy·x̂ over the rows, with
// x̂ = (x − mean)·invstd.
GRAFT_KERNEL void __launch_bounds__(512)
    bn_bwd_reduce(int rows, int c, float* __restrict__ dgamma, float* __restrict__ dbeta, const float* __restrict__ x,
                  const float* __restrict__ dy, const float* __restrict__ mean, const float* __restrict__ invstd) {
    const int j = blockIdx.x * 32 + threadIdx.x;
    double sdy = 0, sdyx = 0;
    if (j < c) {
        const double m = mean[j], inv = invstd[j];
        for (int r = threadIdx.y; r < rows; r += 16) {
            long long i = (long long)r * c + j;
            double d = dy[i];
            sdy += d, sdyx += d * ((x[i] - m) * inv);
        }
    }
    column_sums(sdy, sdyx);
    if (threadIdx.y != 0 || j >= c) return;
    dgamma[j] = (float)sdyx, dbeta[j] = (float)sdy;
}

// bn_bwd_data: dx = gamma·invstd·(dy − Σdy/rows − x̂·Σdy·x̂/rows), reading
// the sums from dbeta and dgamma as bn_bwd_reduce left them.
GRAFT_KERNEL void bn_bwd_data(long long total, int c, float* __restrict__ dx, const float* __restrict__ x,
                              const float* __restrict__ dy, const float* __restrict__ gamma,
                              const float* __restrict__ mean, const float* __restrict__ invstd,
                              const float* __restrict__ dgamma, const float* __restrict__ dbeta) {
    const float rn = 1.f / (float)max(total / c, 1LL);
    grid_stride_for(e, total) {
        int j = e % c;
        float inv = invstd[j], xh = (x[e] - mean[j]) * inv;
        dx[e] = gamma[j] * inv * (dy[e] - dbeta[j] * rn - xh * (dgamma[j] * rn));
    }
}
