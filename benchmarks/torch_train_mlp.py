#!/usr/bin/env python3
"""The reference for `dm train`: the same MLP, batch, optimizer and data in Debian's PyTorch.

Usage: torch_train_mlp.py SIZES BATCH [EPOCHS]   e.g. 784-128-10 64
Prints one line: "torch SIZES batch B: N samples/s (T s for E epochs)". Normalisation, SGD
with momentum 0.9 and lr 0.01 match `dm train --schedule constant --lr 0.01`. PyTorch runs at its
default thread setting, its best on this machine.
"""
import gzip
import struct
import sys
import time

import numpy as np
import torch

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = struct.unpack(">" + "I" * dims, raw[4 : 4 + 4 * dims])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    sizes = [int(s) for s in sys.argv[1].split("-")]
    batch = int(sys.argv[2])
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    x = torch.from_numpy(read_idx(f"{DATA}/train-images-idx3-ubyte.gz").astype(np.float32) / 255.0)
    x = ((x - 0.2860) / 0.3530).reshape(-1, 784)
    y = torch.from_numpy(read_idx(f"{DATA}/train-labels-idx1-ubyte.gz").astype(np.int64))
    torch.manual_seed(0)
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = x.shape[0]
    start = time.perf_counter()
    for epoch in range(epochs):
        order = torch.randperm(n)
        for i in range(0, n, batch):
            idx = order[i : i + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - start
    print(f"torch {sys.argv[1]} batch {batch}: {n * epochs / seconds:.0f} samples/s ({seconds:.2f} s for {epochs} epochs)")


if __name__ == "__main__":
    main()
