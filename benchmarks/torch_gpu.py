#!/usr/bin/env python3
"""PyTorch eager on GPU 0, timing the cases of bench_gpu (benchmarks/gpu.cpp) the same way.

Usage: torch_gpu.py [--min-seconds S] [--repeats N]
benchmarks/gpu_compare.py runs this beside bench_gpu and prints the ratios. Each case is
warmed up, then timed as the median of N repeats, each the mean of calls made for at least S
seconds; every call ends with torch.cuda.synchronize(), as each of bench_gpu's calls ends with
a synchronize. Prints one JSON line per case: median seconds per call and the flop or bytes of
one call (or the error that stopped the case). Without a GPU it says so and exits 0.

The names and the work of each case must stay those of gpu.cpp. bf16 products are kept to
f32 accumulation throughout (allow_bf16_reduced_precision_reduction off), as ours are, and
f32 products use TF32 only in the tf32 cases.
"""
import argparse
import json
import sys

import torch

from reference_timing import median_of

WARMUP_CALLS = 3
ELEMENTWISE_SIZE = 1 << 28


def gemm_cases():
    """(name, m, k, n, a transposed, b transposed, precision), as gemms() in gpu.cpp."""
    shapes = [
        (4096, 4096, 4096, False, False),
        (1024, 784, 1024, False, True),    # forward, layer 1: x W^T
        (1024, 1024, 1024, False, True),   # forward, layer 2
        (1024, 1024, 10, False, True),     # forward, layer 3
        (1024, 1024, 784, True, False),    # weight gradient, layer 1: g^T x
        (1024, 1024, 1024, True, False),   # weight gradient, layer 2
        (10, 1024, 1024, True, False),     # weight gradient, layer 3
        (1024, 1024, 1024, False, False),  # input gradient, layer 2: g W
        (1024, 10, 1024, False, False),    # input gradient, layer 3
    ]
    for precision in ("f32", "tf32", "bf16"):
        for m, k, n, ta, tb in shapes:
            layout = ("t" if ta else "n") + ("t" if tb else "n")
            yield f"gemm/{precision}/{m}x{k}x{n}/{layout}", m, k, n, ta, tb, precision


def operand(rows, cols, transposed, dtype, device):
    """A (rows x cols) operand; transposed: the transposed view of a (cols x rows) tensor."""
    if transposed:
        return torch.randn(cols, rows, device=device).to(dtype).t()
    return torch.randn(rows, cols, device=device).to(dtype)


def timed(fn, min_seconds, repeats):
    def call():
        fn()
        torch.cuda.synchronize()

    for _ in range(WARMUP_CALLS):
        call()
    return median_of(call, min_seconds, repeats)


def gemm_case(m, k, n, ta, tb, precision, device, min_seconds, repeats):
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    torch.manual_seed(1)
    a, b = operand(m, k, ta, dtype, device), operand(k, n, tb, dtype, device)
    try:
        return timed(lambda: torch.matmul(a, b), min_seconds, repeats)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = False


def mlp_step_case(batch, device, min_seconds, repeats):
    """One training step of 784-1024-1024-10 with the batch already on the GPU, as bench_gpu's."""
    torch.manual_seed(1)
    sizes = [784, 1024, 1024, 10]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(batch, sizes[0], device=device)
    y = torch.randint(0, sizes[-1], (batch,), device=device)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    return timed(step, min_seconds, repeats)


ELEMENTWISE = [  # (name, arrays read and written, op), as kElementwise in gpu.cpp
    ("add", 3, lambda a, b: a + b),
    ("mul", 3, lambda a, b: a * b),
    ("mul_scalar", 2, lambda a, b: a * 0.5),
    ("relu", 2, lambda a, b: torch.relu(a)),
    ("exp", 2, lambda a, b: torch.exp(a)),
]


def elementwise_case(arrays, op, device, min_seconds, repeats):
    torch.manual_seed(1)
    a = torch.randn(ELEMENTWISE_SIZE, device=device)
    b = torch.randn(ELEMENTWISE_SIZE, device=device) if arrays == 3 else None
    return timed(lambda: op(a, b), min_seconds, repeats)


def copy_case(device, min_seconds, repeats):
    src = torch.randn(ELEMENTWISE_SIZE, device=device)
    dst = torch.empty(ELEMENTWISE_SIZE, device=device)
    return timed(lambda: dst.copy_(src), min_seconds, repeats)


def cases(device, min_seconds, repeats):
    """(name, flop, bytes, thunk giving the median seconds per call)."""
    for name, m, k, n, ta, tb, precision in gemm_cases():
        yield name, 2.0 * m * k * n, 0.0, lambda m=m, k=k, n=n, ta=ta, tb=tb, p=precision: gemm_case(
            m, k, n, ta, tb, p, device, min_seconds, repeats)
    yield "mlp_step/784-1024-1024-10/batch:1024", 0.0, 0.0, lambda: mlp_step_case(1024, device, min_seconds, repeats)
    array_bytes = 4.0 * ELEMENTWISE_SIZE
    for name, arrays, op in ELEMENTWISE:
        yield f"elementwise/{name}", 0.0, arrays * array_bytes, lambda arrays=arrays, op=op: elementwise_case(
            arrays, op, device, min_seconds, repeats)
    yield "copy/copy_", 0.0, 2 * array_bytes, lambda: copy_case(device, min_seconds, repeats)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-seconds", type=float, default=0.1, help="timed calls per repeat last at least this")
    parser.add_argument("--repeats", type=int, default=3, help="the median of this many repeats")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(f"torch_gpu: no GPU present (torch {torch.__version__}, built for CUDA {torch.version.cuda}): "
              "nothing to measure")
        return 0
    device = torch.device("cuda", 0)
    try:
        torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
        bf16_reduction = "f32"
    except (AssertionError, AttributeError):  # an older torch, without the switch, answers so
        bf16_reduction = "torch's default"
    print(json.dumps({"side": "torch", "gpu": torch.cuda.get_device_name(device), "torch": torch.__version__,
                      "cuda": torch.version.cuda, "bf16_reduction": bf16_reduction}), flush=True)
    for name, flop, nbytes, measure in cases(device, args.min_seconds, args.repeats):
        record = {"side": "torch", "case": name}
        try:
            record["seconds"] = measure()
        except RuntimeError as e:  # CUDA errors and running out of memory among them
            record["error"] = str(e).splitlines()[0] if str(e) else type(e).__name__
        torch.cuda.empty_cache()  # the 1 GiB arrays of one case are not held through the next
        record.update(flop=flop, bytes=nbytes)
        print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
