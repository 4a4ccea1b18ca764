#!/usr/bin/python3
"""Times PyTorch eager inference of torchvision's mobilenet_v2, the peer of
graft's BenchmarkMobileNetV2Forward (bench/mobilenet_test.go).

The model is in eval mode under torch.no_grad(), on a fixed random batch
of 224x224 RGB images, in NCHW and in channels_last memory format (model
and input converted). After --warmup passes the script times --reps
passes of each format and prints one line per format

    torch model=mobilenet_v2 batch=32 threads=1 format=nchw images/s median=... best=...

and the better format's median; at one thread also the images per second
of the thread's CPU time (cpu_images/s, as graft's benchmark reports). Needs Debian's python3-torch and
python3-torchvision (PyTorch 1.13):

    /usr/bin/python3 bench/peers/torch_mobilenet.py --threads 1
    /usr/bin/python3 bench/peers/torch_mobilenet.py --threads 2
"""
import argparse
import statistics
import time

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    best = {}
    for fmt in ("nchw", "channels_last"):
        m = torchvision.models.mobilenet_v2().eval()
        x = torch.randn(a.batch, 3, 224, 224)
        if fmt == "channels_last":
            m = m.to(memory_format=torch.channels_last)
            x = x.to(memory_format=torch.channels_last)
        times, cpu = [], []
        with torch.no_grad():
            for _ in range(a.warmup):
                m(x)
            for _ in range(a.reps):
                t0, c0 = time.perf_counter(), time.thread_time()
                m(x)
                times.append(time.perf_counter() - t0)
                cpu.append(time.thread_time() - c0)
        rates = [a.batch / t for t in times]
        best[fmt] = statistics.median(rates)
        # at one thread PyTorch runs the model on this thread: its CPU time
        # is the peer of graft's cpu_images/s, steadier on a shared machine
        extra = f" cpu_images/s median={statistics.median(a.batch / c for c in cpu):.2f}" if a.threads == 1 else ""
        print(f"torch model=mobilenet_v2 batch={a.batch} threads={a.threads} format={fmt} "
              f"images/s median={statistics.median(rates):.2f} best={max(rates):.2f}{extra}", flush=True)
    fmt = max(best, key=best.get)
    print(f"torch model=mobilenet_v2 batch={a.batch} threads={a.threads} better={fmt} images/s median={best[fmt]:.2f}")


if __name__ == "__main__":
    main()
