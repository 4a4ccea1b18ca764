#!/usr/bin/python3
"""Times PyTorch's CPU convolutions on the layers of graft's BenchmarkConv2D
and, given graft's benchmark output, prints graft's ratio per layer and pass.

    /usr/bin/python3 bench/peers/torch_conv.py --threads 1 [--graft graft.txt]

GFLOP/s for every pass is the layer's forward FLOPs divided by that pass's
time, as in BenchmarkConv2D. Needs Debian's python3-torch (PyTorch 1.13).
"""
import argparse
import re
import time

import torch

# name, N, H, W, C, O, K, stride, pad, groups (keep in step with bench/conv_test.go)
LAYERS = [
    ("mnist_c1", 64, 28, 28, 1, 32, 5, 1, 2, 1),
    ("mnist_c2", 64, 14, 14, 32, 64, 5, 1, 2, 1),
    ("r18_conv1", 32, 224, 224, 3, 64, 7, 2, 3, 1),
    ("r18_l1", 32, 56, 56, 64, 64, 3, 1, 1, 1),
    ("r18_l2", 32, 28, 28, 128, 128, 3, 1, 1, 1),
    ("r18_l3", 32, 14, 14, 256, 256, 3, 1, 1, 1),
    ("r18_l4", 32, 7, 7, 512, 512, 3, 1, 1, 1),
    ("mbv2_dw", 32, 56, 56, 144, 144, 3, 1, 1, 144),
    ("pw_1x1", 32, 56, 56, 64, 256, 1, 1, 0, 1),
]


def best_time(fn, budget=1.0):
    fn()
    best, start = float("inf"), time.perf_counter()
    while time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def torch_rates(channels_last):
    out = {}
    for name, n, h, w, c, o, k, s, p, g in LAYERS:
        x = torch.randn(n, c, h, w)
        conv = torch.nn.Conv2d(c, o, k, stride=s, padding=p, groups=g)
        if channels_last:
            x = x.to(memory_format=torch.channels_last)
            conv = conv.to(memory_format=torch.channels_last)
        x.requires_grad_(True)
        y = conv(x)
        oh, ow = y.shape[2], y.shape[3]
        flops = 2.0 * n * o * oh * ow * (c // g) * k * k
        dy = torch.randn_like(y)
        with torch.no_grad():
            t_fwd = best_time(lambda: conv(x))
        # backward data and weights separately, through autograd.grad
        y = conv(x)
        t_bd = best_time(lambda: torch.autograd.grad(y, x, dy, retain_graph=True))
        t_bw = best_time(lambda: torch.autograd.grad(y, [conv.weight, conv.bias], dy, retain_graph=True))
        out[(name, "fwd")] = flops / t_fwd / 1e9
        out[(name, "bwd_data")] = flops / t_bd / 1e9
        out[(name, "bwd_weights")] = flops / t_bw / 1e9
        out[(name, "fwd+bwd")] = 3 * flops / (t_fwd + t_bd + t_bw) / 1e9
    return out


def graft_rates(path):
    """Best GFLOP/s per layer and pass from `go test -bench Conv2D` output."""
    best = {}
    pat = re.compile(r"layer=(\w+)/pass=(\w+)\S*\s+\d+\s+[\d.]+ ns/op\s+([\d.]+) GFLOP/s")
    for line in open(path):
        m = pat.search(line)
        if m:
            key = (m.group(1), m.group(2))
            best[key] = max(best.get(key, 0), float(m.group(3)))
    for name, *_ in LAYERS:
        parts = [best.get((name, p)) for p in ("fwd", "bwd_data", "bwd_weights")]
        if all(parts):
            best[(name, "fwd+bwd")] = 3 / sum(1 / r for r in parts)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--graft", help="output of go test -bench Conv2D to compare with")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t = torch_rates(channels_last=False)
    tl = torch_rates(channels_last=True)
    g = graft_rates(args.graft) if args.graft else {}
    print(f"# PyTorch {torch.__version__}, {args.threads} thread(s); GFLOP/s = forward FLOPs / pass time")
    print(f"{'layer':10} {'pass':12} {'torch':>8} {'torch_cl':>8} {'graft':>8} {'ratio':>6}")
    for name, *_ in LAYERS:
        for p in ("fwd", "bwd_data", "bwd_weights", "fwd+bwd"):
            best_torch = max(t[(name, p)], tl[(name, p)])
            gr = g.get((name, p))
            ratio = f"{gr / best_torch:6.2f}" if gr else "     -"
            gs = f"{gr:8.1f}" if gr else "       -"
            print(f"{name:10} {p:12} {t[(name, p)]:8.1f} {tl[(name, p)]:8.1f} {gs} {ratio}")


if __name__ == "__main__":
    main()
