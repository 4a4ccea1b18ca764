#!/usr/bin/python3
"""Times PyTorch eager inference of torchvision models, the peer of graft's
BenchmarkONNXInfer (which imports the same models exported to ONNX by
testdata/onnx/export.py).

One run is model(x) under torch.no_grad() in eval mode on a fixed random
batch [N, 3, 224, 224]. After two warm-up runs the script times --reps runs
and prints one line per model (at one thread also the images per second
of the thread's CPU time, cpu_images/s):

    torch-infer model=resnet18 batch=32 threads=1 images/s median=... best=...

    /usr/bin/python3 bench/peers/torch_infer.py --model mobilenet_v2,resnet18 --threads 1
"""
import argparse
import statistics
import time

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="mobilenet_v2,resnet18")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    for name in a.model.split(","):
        m = getattr(torchvision.models, name)().eval()
        x = torch.randn(a.batch, 3, a.size, a.size)
        with torch.no_grad():
            m(x)
            m(x)
            times, cpu = [], []
            for _ in range(a.reps):
                t0, c0 = time.perf_counter(), time.thread_time()
                m(x)
                times.append(time.perf_counter() - t0)
                cpu.append(time.thread_time() - c0)
        med, best = statistics.median(times), min(times)
        # at one thread the model runs on this thread: images per second of
        # its CPU time, the peer of graft's cpu_images/s
        extra = f" cpu_images/s median={a.batch / statistics.median(cpu):.1f}" if a.threads == 1 else ""
        print(f"torch-infer model={name} batch={a.batch} threads={a.threads} images/s "
              f"median={a.batch / med:.1f} best={a.batch / best:.1f}{extra}", flush=True)


if __name__ == "__main__":
    main()
