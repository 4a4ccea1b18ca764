"""Writes the .pth fixtures of graft's nn/pth tests with Debian's PyTorch 1.13.

    /usr/bin/python3 testdata/pth/gen.py            # the small fixtures here
    /usr/bin/python3 testdata/pth/gen.py --big DIR  # torchvision resnet18 and
        # mobilenet_v2 state_dicts (seeded random weights) and their outputs,
        # into DIR (CI: $HOME/.cache/graft/pth)

Each NAME.pth has a NAME.ref.safetensors beside it holding what PyTorch
holds after torch.load: every tensor of the state_dict as float32 (or int64)
values under "param.<name>", so the Go test checks the values exactly. The
safetensors writer here is ten lines, so nothing but torch is needed.
"""
import collections, json, os, struct, sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def save_st(path, tensors):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = tensors[name].detach().contiguous()
        a = a.to(torch.int64) if not a.is_floating_point() else a.to(torch.float32)
        b = a.numpy().astype("<i8" if a.dtype == torch.int64 else "<f4").tobytes()
        header[name] = {"dtype": "I64" if a.dtype == torch.int64 else "F32", "shape": list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def save(dirname, name, obj, ref=None, extra=None):
    p = os.path.join(dirname, name + ".pth")
    torch.save(obj, p)
    if ref is not None:
        t = {"param." + k: v for k, v in ref.items()}
        t.update(extra or {})
        save_st(os.path.join(dirname, name + ".ref.safetensors"), t)


class Evil:
    """What a hostile checkpoint hides: unpickling it would run a shell."""

    def __reduce__(self):
        return (os.system, ("echo graft-must-not-run-this > /tmp/graft-pth-pwned",))


class LeNet5(torch.nn.Module):
    """testdata/parity/gen.py's LeNet-5 (graft's lenet5 names), 3 classes."""

    def __init__(self, classes=3):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = torch.nn.Conv2d(6, 16, 5)
        self.fc1 = torch.nn.Linear(400, 120)
        self.fc2 = torch.nn.Linear(120, 84)
        self.fc3 = torch.nn.Linear(84, classes)


def small():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                              torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 5))
    net[1].running_mean.uniform_(-1, 1)
    net[1].running_var.uniform_(0.5, 2)
    net[1].num_batches_tracked.fill_(7)
    sd = net.state_dict()
    save(HERE, "small", sd, sd)

    # Views: transposed, offset, strided, shared storage, scalars, empty.
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 7
    views = collections.OrderedDict(
        base=base, t=base.t(), rows=base[1:3], cols=base[:, 1::2], corner=base[2:, 3:],
        scalar=base[1, 2], empty=base[:0], chan=torch.randn(2, 3, 4, 5).permute(0, 2, 3, 1))
    save(HERE, "views", views, views)

    # dtypes: half, bfloat16, double, int32, uint8, bool, int64
    dt = collections.OrderedDict(
        half=torch.tensor([0.5, -2, 65504, 6e-8, float("inf"), -0.0], dtype=torch.float16),
        bf16=torch.randn(3, 2).to(torch.bfloat16), double=torch.randn(5, dtype=torch.float64),
        int32=torch.tensor([-3, 0, 2**31 - 1], dtype=torch.int32), uint8=torch.tensor([0, 255], dtype=torch.uint8),
        bools=torch.tensor([True, False, True]), long=torch.tensor(-(2**40)))
    save(HERE, "dtypes", dt, {k: (v.float() if v.is_floating_point() else v.long()) for k, v in dt.items()})

    # A training checkpoint: the state_dict nested, beside an optimizer's state.
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.randn(2, 3, 8, 8)).sum().backward()
    opt.step()
    save(HERE, "nested", {"epoch": 3, "state_dict": net.state_dict(), "optimizer": opt.state_dict(),
                          "args": {"lr": 0.1, "arch": "small", "tags": ["a", "b"], "none": None}}, net.state_dict())
    # DataParallel's "module." prefix, and parameters kept as nn.Parameter.
    dp = collections.OrderedDict(("module." + k, v) for k, v in net.state_dict().items())
    save(HERE, "dataparallel", dp, net.state_dict())
    save(HERE, "params", collections.OrderedDict(net.named_parameters()),
         {k: v for k, v in net.named_parameters()})
    # What `graft finetune --from lenet5.pth --arch lenet5` reads: a
    # training checkpoint of a DataParallel-wrapped LeNet-5, in half precision.
    torch.manual_seed(3)
    le = LeNet5().half()
    save(HERE, "lenet5", {"epoch": 1, "model": collections.OrderedDict(
        ("module." + k, v) for k, v in le.state_dict().items())}, le.state_dict())
    # Hostile: a __reduce__ calling os.system beside a real tensor.
    save(HERE, "evil", {"weight": torch.ones(2), "payload": Evil()})


def big(outdir):
    import torchvision
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(2)
    for name, ctor in [("resnet18", torchvision.models.resnet18), ("mobilenet_v2", torchvision.models.mobilenet_v2)]:
        torch.manual_seed(1)
        m = ctor()
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.weight.data.uniform_(0.5, 1.5)
                mod.bias.data.uniform_(-0.2, 0.2)
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
                mod.num_batches_tracked.fill_(11)
        m.eval()
        g = torch.Generator().manual_seed(2)
        x = torch.randn(2, 3, 224, 224, generator=g)
        with torch.no_grad():
            y = m(x)
        sd = m.state_dict()
        save(outdir, name, sd, sd, {"input": x, "logits": y})
    print("wrote", outdir)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--big":
        big(sys.argv[2])
    else:
        small()
