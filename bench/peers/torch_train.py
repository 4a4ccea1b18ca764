#!/usr/bin/python3
"""Times PyTorch training steps (CPU, or GPU with --device cuda), the peer
of graft's training benchmarks.

One step is: forward in train mode, CrossEntropyLoss (mean), backward,
SGD step (lr 0.01, momentum 0.9), zero_grad. Inputs and labels are random
and fixed for the run. After --warmup steps the script times --reps
repetitions of --steps steps each and prints, per model, one line

    torch model=lenet5 batch=64 threads=1 images/s median=... best=...

(median and best over the repetitions). Needs Debian's python3-torch
(PyTorch 1.13); the python3 on PATH may not import torch.

    /usr/bin/python3 bench/peers/torch_train.py --model lenet5 --threads 1
    /usr/bin/python3 bench/peers/torch_train.py --model lenet5,mnistcnn,resnet18cifar --threads 2
    /usr/bin/python3 bench/peers/torch_train.py --model resnet18cifar --batch 32 --channels-last
    python3 bench/peers/torch_train.py --model resnet18cifar --device cuda   # on a GPU: FP32, no TF32

On a GPU every repetition ends with torch.cuda.synchronize(), cuDNN may
pick its algorithms (benchmark mode off, as by default), and TF32 is off.

Models (keep in step with graft's):
    lenet5         1x28x28 -> conv 6@5x5 pad 2, relu, maxpool 2 -> conv 16@5x5,
                   relu, maxpool 2 -> fc 120, relu -> fc 84, relu -> fc 10
    mnistcnn       1x28x28 -> conv 32@5x5 pad 2, relu, maxpool 2 -> conv 64@5x5
                   pad 2, relu, maxpool 2 -> fc 128, relu -> fc 10
    resnet18cifar  3x32x32, torchvision ResNet-18 (BasicBlock, widths 64, 128,
                   256, 512) with a CIFAR stem: conv 3x3 stride 1 pad 1, no
                   maxpool; 10 classes
Default batch: 64 for the MNIST models, 32 for resnet18cifar.
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
from torchvision.models.resnet import BasicBlock


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


class MnistCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.fc1 = nn.Linear(3136, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc2(torch.relu(self.fc1(x)))


class ResNetCifar(nn.Module):
    """torchvision ResNet-18 names and layout, CIFAR stem, widths w..8w."""

    def __init__(self, width=64, num_classes=10):
        super().__init__()
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity()
        self.layer1 = self._make_layer(width, 2, 1)
        self.layer2 = self._make_layer(2 * width, 2, 2)
        self.layer3 = self._make_layer(4 * width, 2, 2)
        self.layer4 = self._make_layer(8 * width, 2, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8 * width, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


MODELS = {
    # name: (constructor, input C, H, W, default batch, default steps per rep)
    "lenet5": (LeNet5, 1, 28, 28, 64, 50),
    "mnistcnn": (MnistCNN, 1, 28, 28, 64, 10),
    "resnet18cifar": (ResNetCifar, 3, 32, 32, 32, 2),
}


def bench(name, batch, steps, warmup, reps, channels_last, device="cpu"):
    ctor, c, h, w, _, _ = MODELS[name]
    torch.manual_seed(0)
    model = ctor().to(device)
    model.train()
    x = torch.randn(batch, c, h, w, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()

    for _ in range(warmup):
        step()
    sync()
    rates = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        rates.append(batch * steps / (time.perf_counter() - t0))
    return statistics.median(rates), max(rates)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="lenet5", help="lenet5, mnistcnn, resnet18cifar, a comma list, or all")
    ap.add_argument("--batch", type=int, default=0, help="batch size (0: the model's default)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--channels-last", action="store_true", help="model and input in channels_last memory format")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--reps", type=int, default=7, help="timed repetitions")
    ap.add_argument("--steps", type=int, default=0, help="steps per repetition (0: the model's default)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    args = ap.parse_args()
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    names = list(MODELS) if args.model == "all" else args.model.split(",")
    for name in names:
        if name not in MODELS:
            ap.error(f"unknown model {name!r}")
        _, _, _, _, dbatch, dsteps = MODELS[name]
        batch = args.batch or dbatch
        steps = args.steps or dsteps
        if args.device == "cuda":
            steps *= 20  # a GPU step is short
        med, best = bench(name, batch, steps, args.warmup, args.reps, args.channels_last, args.device)
        cl = " channels_last" if args.channels_last else ""
        dev = " device=cuda" if args.device == "cuda" else ""
        print(
            f"torch model={name} batch={batch} threads={args.threads}{cl}{dev} images/s median={med:.1f} best={best:.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
