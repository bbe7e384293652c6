#!/usr/bin/env python3
"""Writes the PyTorch golden fixture that tests/nn/test_conv_torch.cpp checks dm against.

Run with Debian's interpreter (the one that has torch):

    /usr/bin/python3 tests/data/make_conv_fixtures.py

It writes tests/data/conv/conv_pool.json: conv2d (stride, padding, dilation, groups, bias,
1x1, a batch that is not a multiple of the weight-gradient chunk), max_pool2d, avg_pool2d
(count_include_pad on and off) and adaptive_avg_pool2d, each with its output and the
gradients of every input for a fixed upstream gradient. The output is deterministic (seeded).

Each case is {"name", "op", "args", "inputs": {name: tensor}, "grad_output": tensor,
"outputs": {"y": tensor, "d<input>": tensor...}} where a tensor is {"shape": [...],
"data": [...row-major...]}. Inputs are drawn in f32 and so are exactly representable in f32
and f64; outputs and gradients are computed by torch in f64 from them, so the f32 test compares
against the exact answer rounded once, not against one f32 kernel's summation order.
"""
import json
import pathlib

import torch
import torch.nn.functional as F

SEED = 20261130
OUT = pathlib.Path(__file__).resolve().parent / "conv" / "conv_pool.json"


def tensor_json(t):
    return {"shape": list(t.shape), "data": [float(v) for v in t.detach().reshape(-1).tolist()]}


def draw(*shape):
    return torch.randn(*shape, dtype=torch.float32).to(torch.float64)


def run_case(name, op, args, inputs, fn):
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    y = fn(**leaves)
    g = draw(*y.shape)
    y.backward(g)
    outputs = {"y": tensor_json(y)}
    for k, v in leaves.items():
        outputs["d" + k] = tensor_json(v.grad)
    return {"name": name, "op": op, "args": args, "inputs": {k: tensor_json(v) for k, v in inputs.items()},
            "grad_output": tensor_json(g), "outputs": outputs}


def conv_case(name, n, c, h, w, oc, kernel, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, bias=True):
    inputs = {"x": draw(n, c, h, w), "weight": draw(oc, c // groups, kernel[0], kernel[1])}
    if bias:
        inputs["bias"] = draw(oc)
    args = {"stride": list(stride), "padding": list(padding), "dilation": list(dilation), "groups": groups}
    return run_case(name, "conv2d", args, inputs,
                    lambda x, weight, bias=None: F.conv2d(x, weight, bias, stride, padding, dilation, groups))


def max_case(name, shape, kernel, stride, padding=(0, 0), dilation=(1, 1)):
    args = {"kernel_size": list(kernel), "stride": list(stride), "padding": list(padding), "dilation": list(dilation)}
    return run_case(name, "max_pool2d", args, {"x": draw(*shape)},
                    lambda x: F.max_pool2d(x, kernel, stride, padding, dilation))


def avg_case(name, shape, kernel, stride, padding=(0, 0), count_include_pad=True):
    args = {"kernel_size": list(kernel), "stride": list(stride), "padding": list(padding),
            "count_include_pad": count_include_pad}
    return run_case(name, "avg_pool2d", args, {"x": draw(*shape)},
                    lambda x: F.avg_pool2d(x, kernel, stride, padding, count_include_pad=count_include_pad))


def adaptive_case(name, shape, output_size):
    return run_case(name, "adaptive_avg_pool2d", {"output_size": list(output_size)}, {"x": draw(*shape)},
                    lambda x: F.adaptive_avg_pool2d(x, output_size))


def main():
    torch.manual_seed(SEED)
    cases = [
        conv_case("conv_basic_3x3", 2, 3, 7, 7, 4, (3, 3)),
        conv_case("conv_stride2_pad1_rect", 2, 2, 8, 9, 3, (3, 2), stride=(2, 2), padding=(1, 1)),
        conv_case("conv_dilation2_pad2", 1, 2, 9, 9, 2, (3, 3), padding=(2, 2), dilation=(2, 2)),
        conv_case("conv_groups2_stride21", 3, 4, 6, 5, 6, (3, 3), stride=(2, 1), padding=(1, 1), groups=2),
        conv_case("conv_depthwise_no_bias", 2, 3, 5, 5, 3, (3, 3), padding=(1, 1), groups=3, bias=False),
        conv_case("conv_1x1", 5, 3, 4, 4, 2, (1, 1)),
        conv_case("conv_batch6_stride2", 6, 2, 6, 6, 3, (2, 2), stride=(2, 2)),
        conv_case("conv_mixed_pad01_dil12", 2, 2, 6, 7, 2, (2, 3), stride=(1, 2), padding=(0, 1), dilation=(1, 2)),
        max_case("max_2x2", (2, 3, 6, 6), (2, 2), (2, 2)),
        max_case("max_3x3_s2_p1", (2, 2, 7, 6), (3, 3), (2, 2), (1, 1)),
        max_case("max_2x2_s1_dil2", (1, 2, 6, 6), (2, 2), (1, 1), (0, 0), (2, 2)),
        avg_case("avg_2x2", (2, 3, 6, 6), (2, 2), (2, 2)),
        avg_case("avg_3x3_s2_p1_include_pad", (2, 2, 7, 6), (3, 3), (2, 2), (1, 1), True),
        avg_case("avg_3x3_s2_p1_exclude_pad", (2, 2, 7, 6), (3, 3), (2, 2), (1, 1), False),
        adaptive_case("adaptive_7x7_to_3x3", (2, 2, 7, 7), (3, 3)),
        adaptive_case("adaptive_5x6_to_2x4", (1, 3, 5, 6), (2, 4)),
        adaptive_case("adaptive_4x4_to_1x1", (2, 2, 4, 4), (1, 1)),
    ]
    doc = {"generator": "tests/data/make_conv_fixtures.py", "torch_version": torch.__version__, "seed": SEED,
           "cases": cases}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
