#!/usr/bin/python3
"""Generates PyTorch reference data for graft's parity tests.

Purpose: graft's layers, losses and optimizers are checked against PyTorch.
This script builds two small models in float32 on the CPU, runs them on one
fixed batch and writes everything a test needs to replay the same
computation in graft as safetensors files:

    testdata/parity/lenet5.safetensors
    testdata/parity/resnet18cifar_w8.safetensors

Regenerate (from the repository root; needs Debian's python3-torch and
python3-torchvision, PyTorch 1.13 -- the python3 on PATH may not import torch):

    /usr/bin/python3 testdata/parity/gen.py

Tensor names in each file (float tensors F32, integer tensors I64):

    param.<key>          every state_dict entry before anything runs (weights,
                         biases, BN running_mean / running_var, and
                         num_batches_tracked as I64)
    input                the input batch, NCHW as torch has it
    labels               the class labels (I64, shape [batch])
    eval_logits          model.eval() logits from the original params/buffers
    logits               model.train() logits (one forward from the original state)
    loss                 CrossEntropyLoss (mean) of those logits, shape [1]
    grad.<name>          gradient of loss for every named_parameter
    after_forward.<key>  every BN buffer (running_mean, running_var,
                         num_batches_tracked) after that one train forward
    sgd.<name>           every parameter after two SGD steps (see below)
    sgdn.<name>          the same with nesterov=True          (lenet5 only)
    adamw.<name>         the same with AdamW                  (both)
    adam.<name>          the same with Adam(weight_decay=1e-4) (lenet5 only)

Each optimizer run starts from a deep copy of the original model and does,
twice on the same batch: zero_grad, train-mode forward, CE loss, backward,
step. Hyperparameters are in HYPER and in the file's __metadata__ ("hyper",
a JSON string), alongside "model", "torch" and "generated_by".

Safetensors layout (written by hand, there is no safetensors package here):
8-byte little-endian uint64 N, then N bytes of JSON header padded with
spaces to a multiple of 8, then the raw little-endian data, tensors
contiguous in sorted-name order.
"""
import copy
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
from torchvision.models.resnet import BasicBlock

HERE = os.path.dirname(os.path.abspath(__file__))

SEED_MODEL = 0  # torch.manual_seed before model construction
SEED_BN = 1  # torch.manual_seed before the BN parameter/buffer overwrite
SEED_DATA = 2  # torch.manual_seed before input and labels
BATCH = 4

HYPER = {
    "seeds": {"model": SEED_MODEL, "bn_overwrite": SEED_BN, "data": SEED_DATA},
    "batch": BATCH,
    "loss": "CrossEntropyLoss(reduction=mean)",
    "steps": 2,
    "sgd": {"lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "nesterov": False, "dampening": 0.0},
    "sgdn": {"lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "nesterov": True, "dampening": 0.0},
    "adamw": {"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01, "amsgrad": False},
    "adam": {"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 1e-4, "amsgrad": False},
    "bn": {"eps": 1e-5, "momentum": 0.1},
    "bn_overwrite": {
        "weight": "uniform(0.5,1.5)",
        "bias": "uniform(-0.2,0.2)",
        "running_mean": "normal(0,0.1)",
        "running_var": "uniform(0.5,1.5)",
    },
}

OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, **HYPER["sgd"]),
    "sgdn": lambda p: torch.optim.SGD(p, **HYPER["sgdn"]),
    "adamw": lambda p: torch.optim.AdamW(p, **{**HYPER["adamw"], "betas": tuple(HYPER["adamw"]["betas"])}),
    "adam": lambda p: torch.optim.Adam(p, **{**HYPER["adam"], "betas": tuple(HYPER["adam"]["betas"])}),
}


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # NCHW flatten: C, H, W order
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)


class ResNetCifar(nn.Module):
    """torchvision's ResNet-18 layout and names with a CIFAR stem: 3x3 stride-1
    conv1, no maxpool (Identity), widths w, 2w, 4w, 8w."""

    def __init__(self, width=64, num_classes=10, layers=(2, 2, 2, 2)):
        super().__init__()
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity()
        self.layer1 = self._make_layer(width, layers[0], 1)
        self.layer2 = self._make_layer(2 * width, layers[1], 2)
        self.layer3 = self._make_layer(4 * width, layers[2], 2)
        self.layer4 = self._make_layer(8 * width, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8 * width, num_classes)
        for m in self.modules():  # as torchvision.models.resnet.ResNet
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        for _ in range(1, blocks):
            layers.append(BasicBlock(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def overwrite_bn(model):
    torch.manual_seed(SEED_BN)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.normal_(0.0, 0.1)
                m.running_var.uniform_(0.5, 1.5)


# ---------------------------------------------------------------- safetensors

DTYPES = {torch.float32: ("F32", "<f4"), torch.int64: ("I64", "<i8")}


def to_bytes(t):
    t = t.detach().cpu().contiguous()
    if t.dtype not in DTYPES:
        raise TypeError(f"unsupported dtype {t.dtype}")
    return t.numpy().astype(DTYPES[t.dtype][1], copy=False).tobytes()


def write_safetensors(path, tensors, metadata):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        b = to_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype][0], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0, "header length not a multiple of 8"
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    meta = header.pop("__metadata__")
    body = data[8 + n :]
    out, expect = {}, 0
    for name in sorted(header):
        e = header[name]
        b, end = e["data_offsets"]
        assert b == expect, f"{name}: not contiguous in sorted order"
        expect = end
        np_dtype = {"F32": "<f4", "I64": "<i8"}[e["dtype"]]
        arr = np.frombuffer(body[b:end], dtype=np_dtype).reshape(e["shape"])
        out[name] = arr
    assert expect == len(body), "trailing bytes after last tensor"
    return out, meta


# ---------------------------------------------------------------- generation


def train_step(model, x, y):
    logits = model(x)
    loss = nn.functional.cross_entropy(logits, y)
    loss.backward()
    return logits, loss


def bn_buffer_keys(model):
    keys = []
    for mname, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            for b in ("running_mean", "running_var", "num_batches_tracked"):
                keys.append(f"{mname}.{b}")
    return keys


def generate(name, model, input_shape, optimizers):
    pristine = copy.deepcopy(model)
    out = {}
    for k, v in model.state_dict().items():
        out[f"param.{k}"] = v.detach().clone()

    torch.manual_seed(SEED_DATA)
    x = torch.randn(*input_shape)
    y = torch.randint(0, 10, (input_shape[0],), dtype=torch.int64)
    out["input"] = x.clone()
    out["labels"] = y.clone()

    # eval logits from the original params and buffers
    m = copy.deepcopy(pristine)
    m.eval()
    with torch.no_grad():
        out["eval_logits"] = m(x).clone()

    # one train-mode forward + backward
    m = copy.deepcopy(pristine)
    m.train()
    m.zero_grad()
    logits, loss = train_step(m, x, y)
    out["logits"] = logits.detach().clone()
    out["loss"] = loss.detach().reshape(1).clone()
    for pn, p in m.named_parameters():
        out[f"grad.{pn}"] = p.grad.detach().clone()
    sd = m.state_dict()
    for k in bn_buffer_keys(m):
        out[f"after_forward.{k}"] = sd[k].detach().clone()

    # optimizers: two steps each from the original state
    for prefix in optimizers:
        m = copy.deepcopy(pristine)
        m.train()
        opt = OPTIMIZERS[prefix](m.parameters())
        for _ in range(HYPER["steps"]):
            opt.zero_grad()
            train_step(m, x, y)
            opt.step()
        for pn, p in m.named_parameters():
            out[f"{prefix}.{pn}"] = p.detach().clone()

    hyper = dict(HYPER)
    hyper["optimizers"] = list(optimizers)
    hyper["input_shape"] = list(input_shape)
    for k in ("sgd", "sgdn", "adamw", "adam"):
        if k not in optimizers:
            hyper.pop(k)
    if not any(isinstance(mm, nn.BatchNorm2d) for mm in model.modules()):
        hyper.pop("bn")
        hyper.pop("bn_overwrite")
        hyper["seeds"] = {k: v for k, v in hyper["seeds"].items() if k != "bn_overwrite"}
    meta = {
        "model": name,
        "hyper": json.dumps(hyper, sort_keys=True),
        "torch": torch.__version__,
        "generated_by": "testdata/parity/gen.py",
    }
    path = os.path.join(HERE, f"{name}.safetensors")
    write_safetensors(path, out, meta)

    # read back and verify every tensor bit for bit
    back, meta_back = read_safetensors(path)
    assert meta_back == meta
    assert set(back) == set(out), set(back) ^ set(out)
    for k, t in out.items():
        a = t.detach().cpu().numpy()
        assert back[k].shape == a.shape, k
        assert back[k].dtype == a.dtype, (k, back[k].dtype, a.dtype)
        assert np.array_equal(back[k], a), k
    print(f"{path}: {os.path.getsize(path)} bytes, {len(out)} tensors, loss={out['loss'].item():.6f}")
    return out


def main():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)

    torch.manual_seed(SEED_MODEL)
    lenet = LeNet5().float()
    generate("lenet5", lenet, (BATCH, 1, 28, 28), ["sgd", "sgdn", "adamw", "adam"])

    torch.manual_seed(SEED_MODEL)
    resnet = ResNetCifar(width=8).float()
    overwrite_bn(resnet)
    generate("resnet18cifar_w8", resnet, (BATCH, 3, 32, 32), ["sgd", "adamw"])


if __name__ == "__main__":
    main()
