// Row-wise softmax, its gradient, and softmax cross-entropy: one warp per
// row of a rows×cols matrix, eight rows per block of 256 threads, sums in
// double precision.
#include "common.cuh"

// softmax_rows: y = exp(x − max − log Σ exp(x − max)) along each row, or
// with log set the log-softmax y = x − max − log Σ exp(x − max).
GRAFT_KERNEL void __launch_bounds__(256)
    softmax_rows(int rows, int cols, int log, float* __restrict__ y, const float* __restrict__ x) {
    const int row = blockIdx.x * 8 + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= rows) return;
    const float* xr = x + (long long)row * cols;
    float* yr = y + (long long)row * cols;
    float m = -INFINITY;
    for (int j = lane; j < cols; j += 32) m = fmaxf(m, xr[j]);
    m = warp_max(m);
    double s = 0;
    for (int j = lane; j < cols; j += 32) s += exp((double)xr[j] - m);
    const double ls = ::log(warp_sum(s));
    for (int j = lane; j < cols; j += 32) {
        double v = (double)xr[j] - m - ls;
        yr[j] = log ? (float)v : (float)exp(v);
    }
}

// softmax_grad_rows: dx from y = softmax(x) and dy, dx = y·(dy − Σ dy·y),
// or for the log-softmax dx = dy − exp(y)·Σ dy.
GRAFT_KERNEL void __launch_bounds__(256)
    softmax_grad_rows(int rows, int cols, int log, float* __restrict__ dx, const float* __restrict__ y,
                      const float* __restrict__ dy) {
    const int row = blockIdx.x * 8 + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= rows) return;
    const long long off = (long long)row * cols;
    double s = 0;
    for (int j = lane; j < cols; j += 32) s += log ? (double)dy[off + j] : (double)dy[off + j] * y[off + j];
    s = warp_sum(s);
    for (int j = lane; j < cols; j += 32) {
        double d = dy[off + j], v = y[off + j];
        dx[off + j] = (float)(log ? d - exp(v) * s : v * (d - s));
    }
}

// softmax_xent: the mean over the n rows of the cross-entropy between
// softmax(logits[i]) and the target (1−ε)·onehot(labels[i]) + ε/k, into
// *loss, and unless grad is null its gradient (softmax − target)/n. A label
// outside [0, k) makes its row's loss and gradient NaN. One block of 1024
// threads does all rows (a warp per row), so the sum has a fixed order.
GRAFT_KERNEL void __launch_bounds__(1024)
    softmax_xent(int n, int k, float smoothing, float* __restrict__ loss, float* __restrict__ grad,
                 const float* __restrict__ logits, const int* __restrict__ labels) {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
    const double eps = smoothing, rest = eps / k;
    double total = 0; // this warp's rows, in lane 0
    for (int row = warp; row < n; row += warps) {
        const float* xr = logits + (long long)row * k;
        const int lab = labels[row];
        const bool bad = lab < 0 || lab >= k;
        float m = -INFINITY;
        for (int j = lane; j < k; j += 32) m = fmaxf(m, xr[j]);
        m = warp_max(m);
        double s = 0;
        for (int j = lane; j < k; j += 32) s += exp((double)xr[j] - m);
        const double lse = m + ::log(warp_sum(s));
        double l = 0;
        for (int j = lane; j < k; j += 32) {
            double target = rest + (j == lab ? 1 - eps : 0), logp = xr[j] - lse;
            l -= target * logp;
            if (grad) grad[(long long)row * k + j] = bad ? NAN : (float)((exp(logp) - target) / n);
        }
        l = warp_sum(l);
        total += bad ? NAN : l;
    }
    total = block_sum(lane == 0 ? total : 0);
    if (threadIdx.x == 0) *loss = n > 0 ? (float)(total / n) : 0.f;
}
