// 2-D convolution on NHWC activations with OIHW weights, as graft's
// reference defines it: x [N,H,W,C], w [O, C/G, KH, KW], y [N,OH,OW,O];
// output channel o is in group g = o / (O/G) and reads input channels
// g·C/G + c, at
//
//	ih = oh·sh − pt + kh·dh,  iw = ow·sw − pl + kw·dw
//
// (positions outside the input read as zero).
//
// The three passes are implicit GEMMs: one block computes a 64×64 tile of
// a GEMM whose operands are gathered from the tensors as they are loaded
// into shared memory (no im2col buffer), 256 threads of 4×4 outputs, k in
// steps of 8. Forward and backward-data walk k tap by tap and, within a
// tap, over chunks of 8 channels, so that the inner loop has no division.
#include "common.cuh"

// ConvArgs is the geometry; the Go side fills it (convArgs) and checks it.
struct ConvArgs {
    int n, h, w, c; // input NHWC
    int o, kh, kw;  // weights [o][cg][kh][kw]
    int oh, ow;     // output height and width
    int sh, sw;     // strides
    int dh, dw;     // dilations
    int pt, pl;     // padding before (top, left); after is implied by oh, ow
    int groups, cg, og;
};

constexpr int CBM = 64, CBN = 64, CBK = 8, CPAD = 4;

// tile_mma adds the product of the k-major shared tiles As[CBK][CBM] and
// Bs[CBK][CBN] to this thread's 4×4 piece, rows ty·4.., columns tx·4...
__device__ __forceinline__ void tile_mma(float (*As)[CBM + CPAD], float (*Bs)[CBN + CPAD], float acc[4][4], int ty,
                                         int tx) {
#pragma unroll
    for (int p = 0; p < CBK; p++) {
        float4 a = *reinterpret_cast<const float4*>(&As[p][ty * 4]);
        float4 b = *reinterpret_cast<const float4*>(&Bs[p][tx * 4]);
        const float av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
}

// conv_gemm is the forward pass (BWD false) or the backward-data pass
// (BWD true), as an implicit GEMM; grid z is the group.
//
// Forward: rows are output pixels (N·OH·OW, grid x), columns the group's
// output channels (grid y), k the taps × the group's input channels;
// out = y = Σ + bias (bias may be null).
//
// Backward data: rows are input pixels (N·H·W), columns the group's input
// channels, k the taps × the group's output channels:
// out = dx[n,ih,iw,g·cg+c] = Σ dy[n,oh,ow,g·og+o]·w[g·og+o,c,kh,kw] over the
// taps whose (oh, ow) = ((ih + pt − kh·dh)/sh, (iw + pl − kw·dw)/sw) divide
// exactly and fall inside the output. Every dx element is written once.
template <bool BWD>
__device__ __forceinline__ void conv_gemm(const ConvArgs& a, float* __restrict__ out, const float* __restrict__ src,
                                          const float* __restrict__ w, const float* __restrict__ bias) {
    __shared__ __align__(16) float As[CBK][CBM + CPAD];
    __shared__ __align__(16) float Bs[CBK][CBN + CPAD];
    const int tid = threadIdx.x, ty = tid / 16, tx = tid % 16, g = blockIdx.z;
    const int rh = BWD ? a.h : a.oh, rw = BWD ? a.w : a.ow; // the rows' image size
    const int cols = BWD ? a.cg : a.og, inner = BWD ? a.og : a.cg;
    const int M = a.n * rh * rw, taps = a.kh * a.kw;
    const int m0 = blockIdx.x * CBM, n0 = blockIdx.y * CBN;
    // This thread loads As[lr][li + 32q] and Bs[lr][li + 32q], q = 0, 1.
    const int lr = tid % CBK, li = tid / CBK;
    int nn[2], ph[2], pw[2]; // the image and position of this thread's rows
    bool rowOK[2];
#pragma unroll
    for (int q = 0; q < 2; q++) {
        int pix = m0 + li + 32 * q;
        rowOK[q] = pix < M;
        pw[q] = pix % rw, ph[q] = pix / rw % rh, nn[q] = pix / rw / rh;
    }
    float acc[4][4] = {};
    for (int tap = 0; tap < taps; tap++) {
        const int fh = tap / a.kw, fw = tap % a.kw;
        long long off[2]; // where this tap reads the row's channels in src, or -1
#pragma unroll
        for (int q = 0; q < 2; q++) {
            if (!BWD) {
                int ih = ph[q] * a.sh - a.pt + fh * a.dh, iw = pw[q] * a.sw - a.pl + fw * a.dw;
                bool in = rowOK[q] && ih >= 0 && ih < a.h && iw >= 0 && iw < a.w;
                off[q] = in ? (((long long)nn[q] * a.h + ih) * a.w + iw) * a.c + (long long)g * a.cg : -1;
            } else {
                int th = ph[q] + a.pt - fh * a.dh, tw = pw[q] + a.pl - fw * a.dw;
                bool in = rowOK[q] && th >= 0 && tw >= 0 && th % a.sh == 0 && tw % a.sw == 0 && th / a.sh < a.oh &&
                          tw / a.sw < a.ow;
                off[q] = in ? (((long long)nn[q] * a.oh + th / a.sh) * a.ow + tw / a.sw) * a.o + (long long)g * a.og
                            : -1;
            }
        }
        for (int k0 = 0; k0 < inner; k0 += CBK) {
            const int kk = k0 + lr;
#pragma unroll
            for (int q = 0; q < 2; q++) {
                As[lr][li + 32 * q] = off[q] >= 0 && kk < inner ? src[off[q] + kk] : 0.f;
                const int col = n0 + li + 32 * q;
                const long long o = g * a.og + (BWD ? kk : col), c = BWD ? col : kk; // w[o][c][tap]
                Bs[lr][li + 32 * q] = col < cols && kk < inner ? w[(o * a.cg + c) * taps + tap] : 0.f;
            }
            __syncthreads();
            tile_mma(As, Bs, acc, ty, tx);
            __syncthreads();
        }
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int pix = m0 + ty * 4 + i;
        if (pix >= M) break;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int col = n0 + tx * 4 + j;
            if (col >= cols) break;
            if (!BWD) out[(long long)pix * a.o + g * a.og + col] = acc[i][j] + (bias ? bias[g * a.og + col] : 0.f);
            else out[(long long)pix * a.c + g * a.cg + col] = acc[i][j];
        }
    }
}

GRAFT_KERNEL void __launch_bounds__(256)
    conv2d_fwd(ConvArgs a, float* __restrict__ y, const float* __restrict__ x, const float* __restrict__ w,
               const float* __restrict__ bias) {
    conv_gemm<false>(a, y, x, w, bias);
}

GRAFT_KERNEL void __launch_bounds__(256)
    conv2d_bwd_data(ConvArgs a, float* __restrict__ dx, const float* __restrict__ dy, const float* __restrict__ w) {
    conv_gemm<true>(a, dx, dy, w, nullptr);
}

// PixelWalk is one output pixel (n, oh, ow) moved forward in steps.
struct PixelWalk {
    int pix, n, oh, ow;
    __device__ void start(int p, int OH, int OW) {
        pix = p, ow = p % OW, oh = p / OW % OH, n = p / OW / OH;
    }
    __device__ void advance(int step, int OH, int OW) {
        pix += step, ow += step;
        while (ow >= OW) {
            ow -= OW;
            if (++oh == OH) oh = 0, n++;
        }
    }
};

// Backward weights, for one tap and group per grid z (and a slice of the
// pixels when split > 1): rows are the group's output channels (grid y),
// columns its input channels (grid x), k the output pixels:
// dw[g·og+o, c, kh, kw] = Σ_pixels dy[pix, g·og+o]·x[n, ih, iw, g·cg+c].
// With split > 1 the slices add atomically into dw, which the Go side has
// zeroed (the order of the additions then varies from run to run).
GRAFT_KERNEL void __launch_bounds__(256)
    conv2d_bwd_weights(ConvArgs a, int split, float* __restrict__ dw, const float* __restrict__ x,
                       const float* __restrict__ dy) {
    __shared__ __align__(16) float As[CBK][CBM + CPAD];
    __shared__ __align__(16) float Bs[CBK][CBN + CPAD];
    const int tid = threadIdx.x, ty = tid / 16, tx = tid % 16;
    const int taps = a.kh * a.kw, P = a.n * a.oh * a.ow;
    int z = blockIdx.z;
    const int part = z % split;
    z /= split;
    const int tap = z % taps, g = z / taps, fh = tap / a.kw, fw = tap % a.kw;
    const int m0 = blockIdx.y * CBM, n0 = blockIdx.x * CBN;
    // Slices of whole k steps.
    const int per = ((P + split - 1) / split + CBK - 1) / CBK * CBK;
    const int p0 = part * per, p1 = min(P, p0 + per);
    // This thread loads As[lr + 4q][li] and Bs[lr + 4q][li], q = 0, 1: two
    // pixels, consecutive threads on consecutive channels.
    const int li = tid % CBM, lr = tid / CBM;
    PixelWalk px[2];
#pragma unroll
    for (int q = 0; q < 2; q++) px[q].start(p0 + lr + 4 * q, a.oh, a.ow);
    const int o = m0 + li, c = n0 + li;
    float acc[4][4] = {};
    for (int k0 = p0; k0 < p1; k0 += CBK) {
#pragma unroll
        for (int q = 0; q < 2; q++) {
            const PixelWalk& p = px[q];
            bool in = p.pix < p1;
            As[lr + 4 * q][li] = in && o < a.og ? dy[(long long)p.pix * a.o + g * a.og + o] : 0.f;
            int ih = p.oh * a.sh - a.pt + fh * a.dh, iw = p.ow * a.sw - a.pl + fw * a.dw;
            in = in && c < a.cg && ih >= 0 && ih < a.h && iw >= 0 && iw < a.w;
            Bs[lr + 4 * q][li] = in ? x[(((long long)p.n * a.h + ih) * a.w + iw) * a.c + g * a.cg + c] : 0.f;
            px[q].advance(CBK, a.oh, a.ow);
        }
        __syncthreads();
        tile_mma(As, Bs, acc, ty, tx);
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        int oo = m0 + ty * 4 + i;
        if (oo >= a.og) break;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            int cc = n0 + tx * 4 + j;
            if (cc >= a.cg) break;
            float* p = &dw[((long long)(g * a.og + oo) * a.cg + cc) * taps + tap];
            if (split > 1) atomicAdd(p, acc[i][j]);
            else *p = acc[i][j];
        }
    }
}

// Depthwise convolution (groups = C = O, one filter per channel): plain
// loops, one thread per output element, consecutive threads on consecutive
// channels. w is [C, 1, KH, KW].

// dw_conv2d_fwd: y[n,oh,ow,c] = bias[c] + Σ_taps x[n,ih,iw,c]·w[c,kh,kw].
GRAFT_KERNEL void dw_conv2d_fwd(ConvArgs a, float* __restrict__ y, const float* __restrict__ x,
                                const float* __restrict__ w, const float* __restrict__ bias) {
    grid_stride_for(e, (long long)a.n * a.oh * a.ow * a.c) {
        const Index o = split_nhwc(e, a.oh, a.ow, a.c);
        const float* img = x + (long long)o.n * a.h * a.w * a.c + o.c;
        const float* f = w + (long long)o.c * a.kh * a.kw;
        float s = 0.f;
        taps_in(a, o.h, o.w, [&](int fh, int fw, int ih, int iw) {
            s = fmaf(img[((long long)ih * a.w + iw) * a.c], f[fh * a.kw + fw], s);
        });
        y[e] = s + (bias ? bias[o.c] : 0.f);
    }
}

// dw_conv2d_bwd_data: dx[n,ih,iw,c] = Σ dy[n,oh,ow,c]·w[c,kh,kw] over the
// taps that read x[n,ih,iw,c].
GRAFT_KERNEL void dw_conv2d_bwd_data(ConvArgs a, float* __restrict__ dx, const float* __restrict__ dy,
                                     const float* __restrict__ w) {
    grid_stride_for(e, (long long)a.n * a.h * a.w * a.c) {
        const Index i = split_nhwc(e, a.h, a.w, a.c);
        const float* f = w + (long long)i.c * a.kh * a.kw;
        float s = 0.f;
        covering(a, i.h, i.w, [&](int fh, int fw, int oh, int ow) {
            s = fmaf(dy[(((long long)i.n * a.oh + oh) * a.ow + ow) * a.c + i.c], f[fh * a.kw + fw], s);
        });
        dx[e] = s;
    }
}

// dw_conv2d_bwd_weights: dw[c,kh,kw] = Σ_pixels dy[pix,c]·x[n,ih,iw,c].
// Blocks of 32×8 threads: x along 32 channels (grid x), y along pixels, one
// tap per grid y, a slice of the pixels per grid z; the 8 rows are summed
// in shared memory. With gridDim.z > 1 the slices add atomically into dw,
// which the Go side has zeroed.
GRAFT_KERNEL void __launch_bounds__(256)
    dw_conv2d_bwd_weights(ConvArgs a, float* __restrict__ dw, const float* __restrict__ x,
                          const float* __restrict__ dy) {
    __shared__ float part[8][33];
    const int c = blockIdx.x * 32 + threadIdx.x, tap = blockIdx.y, fh = tap / a.kw, fw = tap % a.kw;
    const int P = a.n * a.oh * a.ow, split = gridDim.z;
    const int per = (P + split - 1) / split, p0 = blockIdx.z * per, p1 = min(P, p0 + per);
    float s = 0.f;
    if (c < a.c && p0 + (int)threadIdx.y < p1) {
        PixelWalk p;
        for (p.start(p0 + threadIdx.y, a.oh, a.ow); p.pix < p1; p.advance(8, a.oh, a.ow)) {
            int ih = p.oh * a.sh - a.pt + fh * a.dh, iw = p.ow * a.sw - a.pl + fw * a.dw;
            if (ih < 0 || ih >= a.h || iw < 0 || iw >= a.w) continue;
            s = fmaf(dy[(long long)p.pix * a.c + c], x[(((long long)p.n * a.h + ih) * a.w + iw) * a.c + c], s);
        }
    }
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y != 0 || c >= a.c) return;
    for (int r = 1; r < 8; r++) s += part[r][threadIdx.x];
    float* out = &dw[(long long)c * a.kh * a.kw + tap];
    if (split > 1) atomicAdd(out, s);
    else *out = s;
}
