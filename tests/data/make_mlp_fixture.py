#!/usr/bin/env python3
"""Writes tests/data/mlp/mlp.json: a 784-32-10 MLP (Linear, ReLU, Linear) evaluated by PyTorch
on a batch of 8, which tests/model/test_mlp_torch.cpp checks dm against.

Run with Debian's interpreter (the one that has torch), from anywhere:

    /usr/bin/python3 tests/data/make_mlp_fixture.py

Contents (every float is an f32 value written as its shortest decimal):
- "W1_recipe": the first layer's weight (32 x 784) is not listed - it would be most of the
  file - but defined by an integer recipe both sides compute exactly:
      q[k] = ((k * multiplier) mod 2^32) mod modulus - offset,   k = row * 784 + col
      W1[k] = q[k] * 2^scale_log2
  with two checksums (sum q, sum q * (k mod 1000)) so a mistaken recipe cannot pass.
- "b1", "W2", "b2": the other parameters, from torch.nn.Linear's default init (seeded).
- "x_pixels": the inputs as integers in [0, 255], x = pixels / 256 (exact in f32). Only a
  10 x 10 window of each 28 x 28 image is non-zero, which keeps the first layer's weight
  gradient sparse: "grads"/"0.weight" lists only its non-zero columns ("columns", and
  "values" of shape (32, len(columns)) row-major); every other column is exactly zero.
- "labels", "logits" (8 x 10), "loss" (mean cross-entropy) and "grads" of every parameter
  by dm's names ("0.weight", "0.bias", "2.weight", "2.bias").

The expectations are computed in f64 from the f32 inputs and rounded to f32, so they are the
correctly rounded answers rather than one f32 kernel's rounding; torch's own f32 results are
checked against them before writing.
"""
import copy
import json
import pathlib

import numpy as np
import torch

SEED = 20240611
SIZES = (784, 32, 10)
BATCH = 8
OUT = pathlib.Path(__file__).resolve().parent / "mlp" / "mlp.json"

RECIPE = {"multiplier": 2654435761, "modulus": 293, "offset": 146, "scale_log2": -12}


def recipe_q(rows, cols):
    k = np.arange(rows * cols, dtype=np.uint64)
    h = (k * np.uint64(RECIPE["multiplier"])) % np.uint64(2**32)
    return (h % np.uint64(RECIPE["modulus"])).astype(np.int64) - RECIPE["offset"]


def f32_list(t):
    """The values rounded to f32, each as the shortest decimal that reads back as that f32."""
    return [json.loads(np.format_float_positional(v, unique=True, trim="-"))
            for v in t.detach().to(torch.float32).flatten().numpy()]


def main():
    torch.manual_seed(SEED)
    n_in, n_hidden, n_out = SIZES
    net = torch.nn.Sequential(torch.nn.Linear(n_in, n_hidden), torch.nn.ReLU(), torch.nn.Linear(n_hidden, n_out))
    q = recipe_q(n_hidden, n_in)
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(q.reshape(n_hidden, n_in).astype(np.float64) * 2.0 ** RECIPE["scale_log2"]))

    # Images: zero except a random 10 x 10 window at rows/cols 9..18.
    pixels = torch.zeros(BATCH, 28, 28, dtype=torch.int64)
    pixels[:, 9:19, 9:19] = torch.randint(0, 256, (BATCH, 10, 10))
    pixels = pixels.reshape(BATCH, n_in)
    labels = torch.randint(0, n_out, (BATCH,))
    x32 = pixels.to(torch.float32) / 256.0

    def run(model, x):
        model.zero_grad()
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits, labels)
        loss.backward()
        grads = {"0.weight": model[0].weight.grad, "0.bias": model[0].bias.grad,
                 "2.weight": model[2].weight.grad, "2.bias": model[2].bias.grad}
        return logits.detach(), loss.detach(), {k: v.detach().clone() for k, v in grads.items()}

    net64 = copy.deepcopy(net).double()
    logits, loss, grads = run(net64, x32.double())
    logits32, loss32, grads32 = run(net, x32)
    # torch's f32 kernels must agree with the f64 reference (the tolerance dm is held to).
    assert torch.allclose(logits32.double(), logits, rtol=1.3e-6, atol=1e-5)
    assert torch.allclose(loss32.double(), loss, rtol=1.3e-6, atol=1e-5)
    for k in grads:
        assert torch.allclose(grads32[k].double(), grads[k], rtol=1.3e-6, atol=1e-5), k

    w1_grad = grads["0.weight"].to(torch.float32)
    active = [c for c in range(n_in) if bool(pixels[:, c].any())]
    inactive = [c for c in range(n_in) if c not in set(active)]
    assert float(w1_grad[:, inactive].abs().max()) == 0.0

    k = np.arange(q.size, dtype=np.int64)
    fixture = {
        "generator": "tests/data/make_mlp_fixture.py",
        "torch_version": torch.__version__,
        "seed": SEED,
        "sizes": list(SIZES),
        "batch": BATCH,
        "W1_recipe": dict(RECIPE, checksum=int(q.sum()), weighted_checksum=int((q * (k % 1000)).sum())),
        "b1": f32_list(net[0].bias),
        "W2": f32_list(net[2].weight),
        "b2": f32_list(net[2].bias),
        "x_pixels": pixels.flatten().tolist(),
        "x_scale": 1.0 / 256.0,
        "labels": labels.tolist(),
        "logits": f32_list(logits),
        "loss": f32_list(loss.reshape(1))[0],
        "grads": {
            "0.weight": {"columns": active, "values": f32_list(w1_grad[:, active])},
            "0.bias": f32_list(grads["0.bias"]),
            "2.weight": f32_list(grads["2.weight"]),
            "2.bias": f32_list(grads["2.bias"]),
        },
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(active)} active input columns)")


if __name__ == "__main__":
    main()
