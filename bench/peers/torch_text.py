#!/usr/bin/python3
"""Times PyTorch training steps of a Kim (2014) text CNN, the peer of
graft's BenchmarkTextStep/model=cnn.

Model: nn.Embedding(20000, 100, padding_idx=0) (dense gradients), three
nn.Conv1d(100, 100, k) for k = 3, 4, 5 over the 200 tokens, ReLU, max over
time, concatenation, nn.Linear(300, 2). One step: forward in train mode,
CrossEntropyLoss (mean), backward, SGD (lr 0.01, momentum 0.9) over all
parameters, zero_grad. Ids and labels are random and fixed. After --warmup
steps the script times --reps repetitions of --steps steps and prints

    torch model=cnn batch=64 threads=1 examples/s median=... best=...

Needs Debian's python3-torch (PyTorch 1.13):

    /usr/bin/python3 bench/peers/torch_text.py --threads 1
    /usr/bin/python3 bench/peers/torch_text.py --threads 2
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn


class TextCNN(nn.Module):
    def __init__(self, vocab=20000, dim=100, filters=100, widths=(3, 4, 5), classes=2):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim, padding_idx=0)
        self.convs = nn.ModuleList([nn.Conv1d(dim, filters, k) for k in widths])
        self.fc = nn.Linear(filters * len(widths), classes)

    def forward(self, ids):
        x = self.emb(ids).transpose(1, 2)  # [N, D, T]
        feats = [torch.relu(c(x)).max(dim=2).values for c in self.convs]
        return self.fc(torch.cat(feats, dim=1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seq", type=int, default=200)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--reps", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = TextCNN()
    m.train()
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    ids = torch.randint(0, 20000, (a.batch, a.seq))
    labels = torch.arange(a.batch) % 2
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(m(ids), labels)
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    rates = []
    for _ in range(a.reps):
        t = time.perf_counter()
        for _ in range(a.steps):
            step()
        rates.append(a.batch * a.steps / (time.perf_counter() - t))
    print(f"torch model=cnn batch={a.batch} threads={a.threads} examples/s "
          f"median={statistics.median(rates):.1f} best={max(rates):.1f}")


if __name__ == "__main__":
    main()
