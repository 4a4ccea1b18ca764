#!/usr/bin/env python3
"""Times PyTorch's torch.mm on the GPU on the shapes of graft's
BenchmarkSgemmCUDA (kernels/cuda): square products, FP32 with
torch.backends.cuda.matmul.allow_tf32 = False, and TF32, timed with CUDA
events, the best of a few batches.

    python3 bench/peers/torch_cuda.py [--shapes 1024,2048,4096]

Prints a comment line naming torch and the GPU, then one line per
implementation and shape, e.g. "impl=fp32 shape=1024x1024x1024 gflops=51234.5",
which bench/gpu/run.sh sets beside graft's numbers.
"""
import argparse

import torch


def rate(d, tf32, batches=3):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    a = torch.randn(d, d, device="cuda")
    b = torch.randn(d, d, device="cuda")
    c = torch.empty(d, d, device="cuda")
    flops = 2.0 * d * d * d
    iters = max(10, int(2e12 / flops))  # some tenths of a second per batch
    for _ in range(3):
        torch.mm(a, b, out=c)
    torch.cuda.synchronize()
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    best = 0.0
    for _ in range(batches):
        start.record()
        for _ in range(iters):
            torch.mm(a, b, out=c)
        end.record()
        end.synchronize()
        best = max(best, flops * iters / (start.elapsed_time(end) / 1e3) / 1e9)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shapes", default="1024,2048,4096", help="comma-separated square sizes")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("torch_cuda.py: torch sees no CUDA device")
    print(f"# torch {torch.__version__} on {torch.cuda.get_device_name(0)}")
    for impl, tf32 in (("fp32", False), ("tf32", True)):
        for d in (int(s) for s in args.shapes.split(",")):
            print(f"impl={impl} shape={d}x{d}x{d} gflops={rate(d, tf32):.1f}", flush=True)
    torch.backends.cuda.matmul.allow_tf32 = False


if __name__ == "__main__":
    main()
