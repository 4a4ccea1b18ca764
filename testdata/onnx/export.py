#!/usr/bin/python3
"""Export torchvision models to ONNX with seeded random weights, and the
PyTorch reference results graft's importer is checked against.

Usage: /usr/bin/python3 testdata/onnx/export.py [OUTDIR]   (default ~/.cache/graft/onnx)

For each model NAME it writes
  NAME.onnx        eval-mode export (BatchNorm folded into Conv, as people ship them),
                   dynamic batch, height and width
  NAME_train.onnx  training-mode export without constant folding: BatchNormalization
                   nodes kept, initializers named by the state_dict (layer1.0.conv1.weight)
  NAME_ref.safetensors
                   input x [2,3,64,64] (NCHW), eval logits, and one training step:
                   logits in training mode, the cross-entropy loss for labels [1, 3],
                   and every parameter's gradient under its state_dict name
                   (Dropout is kept in eval mode for the step, so it is deterministic).
Idempotent: a model whose files exist is skipped.
"""
import json
import os
import struct
import sys

import torch
import torchvision

MODELS = [  # name, opset
    ("resnet18", 13),
    ("mobilenet_v2", 13),
    ("mobilenet_v3_small", 14),  # opset 14: HardSwish is an operator
    ("squeezenet1_0", 13),       # Concat of branches, MaxPool with ceil_mode
]


def save_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for k, t in tensors.items():
        b = t.detach().contiguous().to(torch.float32).numpy().tobytes()
        header[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)


def randomize(m, g):
    """Random BatchNorm statistics and affine parameters, so folding them matters."""
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.weight.copy_(torch.rand(mod.weight.shape, generator=g) + 0.5)
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=g) * 0.1)
                mod.running_mean.copy_(torch.randn(mod.running_mean.shape, generator=g) * 0.1)
                mod.running_var.copy_(torch.rand(mod.running_var.shape, generator=g) + 0.5)


def train_step(name, x, dtype):
    """One training step (BatchNorm on batch statistics, Dropout off) in
    dtype: (logits, loss), gradients by state_dict name."""
    torch.manual_seed(0)
    m = getattr(torchvision.models, name)()
    randomize(m, torch.Generator().manual_seed(1))
    m = m.to(dtype)
    m.train()
    for mod in m.modules():
        if isinstance(mod, torch.nn.Dropout):
            mod.eval()
    logits = m(x.to(dtype))
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([1, 3]))
    loss.backward()
    return (logits.detach(), loss.detach()), {k: p.grad for k, p in m.named_parameters()}


def export(name, opset, out):
    paths = [os.path.join(out, name + s) for s in (".onnx", "_train.onnx", "_ref.safetensors")]
    if all(os.path.exists(p) for p in paths):
        return
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    m = getattr(torchvision.models, name)()
    randomize(m, g)
    x = torch.randn(2, 3, 64, 64, generator=g)
    dyn = {"x": {0: "n", 2: "h", 3: "w"}, "y": {0: "n"}}
    m.eval()
    torch.onnx.export(m, x, paths[0] + ".tmp", opset_version=opset, input_names=["x"],
                      output_names=["y"], dynamic_axes=dyn)
    os.replace(paths[0] + ".tmp", paths[0])
    with torch.no_grad():
        y_eval = m(x)
    torch.onnx.export(m, x, paths[1] + ".tmp", opset_version=opset, input_names=["x"],
                      output_names=["y"], dynamic_axes=dyn,
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
    os.replace(paths[1] + ".tmp", paths[1])
    ref = {"x": x, "y_eval": y_eval}
    steps = {dt: train_step(name, x, dt) for dt in (torch.float32, torch.float64)}
    (l32, g32), (l64, g64) = steps[torch.float32], steps[torch.float64]
    ref["y_train"], ref["loss"] = l64[0], l64[1].reshape(1)
    for k in g64:
        ref["grad." + k] = g64[k]
        # PyTorch's own float32 error against float64, relative to the
        # tensor's largest gradient: a training-mode BatchNorm over few
        # values per channel amplifies rounding, so float32 can do no better
        err = (g32[k].double() - g64[k]).abs().max() / g64[k].abs().max().clamp_min(1e-30)
        ref["torch_err." + k] = err.reshape(1)
    save_safetensors(paths[2], ref)
    print("exported", name, flush=True)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/graft/onnx")
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    for name, opset in MODELS:
        export(name, opset, out)


if __name__ == "__main__":
    main()
