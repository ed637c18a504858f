"""The reference MLP and the LeNet-5 CNN in PyTorch, for scripts/bench-train:
same data, same split, same recipe ((x/255-0.5)/0.5, Adam lr 1e-3, batch 64),
at PyTorch's best CPU settings (fused Adam, flush-denormal). Prints one JSON
line.
    bench_train_torch.py DATA THREADS EPOCHS VAL_SIZE [mlp|cnn] [TRAIN_LIMIT]
The MLP is 784-128-10 with ReLU; the CNN is sweep's `--model cnn`: a 5x5
convolution to 6 channels (padding 2), 2x2 max pooling, a 5x5 convolution to
16, 2x2 max pooling, then 400-120-84-10, ReLU throughout."""

import gzip
import json
import os
import struct
import sys
import time

import torch


def idx(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    magic, count = struct.unpack(">II", raw[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", raw[8:16])
        t = torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8)
        return t.reshape(count, rows * cols)
    return torch.frombuffer(bytearray(raw[8:]), dtype=torch.uint8).long()


def main():
    data, threads, epochs, val_size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    kind = sys.argv[5] if len(sys.argv) > 5 else "mlp"
    limit = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    x = idx(os.path.join(data, "train-images-idx3-ubyte.gz")).float().div_(255).sub_(0.5).div_(0.5)
    y = idx(os.path.join(data, "train-labels-idx1-ubyte.gz"))
    n = x.shape[0] - val_size
    xt, yt, xv, yv = x[:n], y[:n], x[n:], y[n:]
    if limit:
        n = min(n, limit)
        xt, yt = xt[:n], yt[:n]
    nn = torch.nn
    if kind == "cnn":
        xt, xv = xt.reshape(-1, 1, 28, 28).contiguous(), xv.reshape(-1, 1, 28, 28).contiguous()
        model = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
        )
    else:
        model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    loss_fn = torch.nn.CrossEntropyLoss()
    seconds = 0.0
    for _ in range(epochs):
        perm = torch.randperm(n)
        t0 = time.perf_counter()
        for i in range(0, n, 64):
            idx_b = perm[i : i + 64]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[idx_b]), yt[idx_b])
            loss.backward()
            opt.step()
        seconds += time.perf_counter() - t0
    with torch.no_grad():
        acc = (model(xv).argmax(1) == yv).float().mean().item()
    print(json.dumps({"samples_per_sec": n * epochs / seconds, "seconds": seconds, "val_accuracy": acc, "torch": torch.__version__}))


main()
