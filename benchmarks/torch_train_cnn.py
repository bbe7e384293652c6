#!/usr/bin/env python3
"""The reference for `dm train --model cnn`: the same CNN, batch, optimizer and data in Debian's
PyTorch.

Usage: torch_train_cnn.py BATCH [--steps N] [--threads T] [--evaluate]
Prints one line: "torch cnn batch B: N samples/s (T s for S samples)". The network is
dm::cli::fashion_cnn at its defaults (two blocks of Conv2d 3x3 padding 1, BatchNorm2d, ReLU and
MaxPool2d 2 with 32 and 64 channels; Flatten, Dropout 0.25, Linear to 128, ReLU, Linear to 10),
trained in training mode for one epoch, or for the first N batches of the first N x BATCH
samples as `dm train --limit` takes them. Normalisation, SGD with momentum 0.9 and lr 0.01
match `dm train --schedule constant --lr 0.01`. torch.set_num_threads(T) (default 2) sets the
threads of its oneDNN convolutions and GEMMs. --evaluate also runs the test split in evaluation
mode afterwards, as dm train does after every epoch, so that the whole processes do the same
work when their CPU time is compared.
"""
import argparse
import time

import torch

from fashion_mnist_data import load


def network(c1=32, c2=64, hidden=128, dropout=0.25):
    def block(cin, cout):
        return [torch.nn.Conv2d(cin, cout, 3, padding=1), torch.nn.BatchNorm2d(cout), torch.nn.ReLU(),
                torch.nn.MaxPool2d(2)]

    return torch.nn.Sequential(torch.nn.Unflatten(1, (1, 28, 28)), *block(1, c1), *block(c1, c2), torch.nn.Flatten(),
                               torch.nn.Dropout(dropout), torch.nn.Linear(c2 * 7 * 7, hidden), torch.nn.ReLU(),
                               torch.nn.Linear(hidden, 10))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("batch", type=int)
    parser.add_argument("--steps", type=int, default=0, help="train on the first steps x batch samples (0: all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--evaluate", action="store_true", help="evaluate on the test split afterwards")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x, y = load("train")
    if args.steps > 0:
        x, y = x[: args.steps * args.batch], y[: args.steps * args.batch]
    torch.manual_seed(0)
    model = network()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = x.shape[0]
    model.train()
    start = time.perf_counter()
    order = torch.randperm(n)
    for i in range(0, n, args.batch):
        idx = order[i : i + args.batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    print(f"torch cnn batch {args.batch}: {n / seconds:.0f} samples/s ({seconds:.2f} s for {n} samples)")
    if args.evaluate:
        tx, ty = load("t10k")
        model.eval()
        with torch.no_grad():
            correct = sum(int((model(tx[i : i + 1000]).argmax(1) == ty[i : i + 1000]).sum()) for i in range(0, 10000, 1000))
        print(f"torch cnn test accuracy: {correct / 10000:.4f}")


if __name__ == "__main__":
    main()
