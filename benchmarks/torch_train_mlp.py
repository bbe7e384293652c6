#!/usr/bin/env python3
"""The reference for `dm train`: the same MLP, batch, optimizer and data in Debian's PyTorch.

Usage: torch_train_mlp.py SIZES BATCH [EPOCHS]   e.g. 784-128-10 64
Prints one line: "torch SIZES batch B: N samples/s (T s for E epochs)". Normalisation, SGD
with momentum 0.9 and lr 0.01 match `dm train --schedule constant --lr 0.01`. PyTorch runs at its
default thread setting, its best on this machine.
"""
import sys
import time

import torch

from fashion_mnist_data import load


def main():
    sizes = [int(s) for s in sys.argv[1].split("-")]
    batch = int(sys.argv[2])
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    x, y = load("train")
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
