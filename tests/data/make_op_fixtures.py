#!/usr/bin/env python3
"""Writes the PyTorch golden fixtures that tests/ops/test_torch_fixtures.cpp checks dm against.

Run with Debian's interpreter (the one that has torch):

    /usr/bin/python3 tests/data/make_op_fixtures.py

It writes one JSON file per op family to tests/data/ops/: elementwise.json, reduce.json,
matmul.json and shape.json. The output is deterministic (seeded), so regenerating with the same
torch gives the same files.

Each case is {"name", "op", "args", "inputs": [tensor...], "output": tensor} where a tensor is
{"shape": [...], "dtype": "f32"|"f64"|"i64"|"bool", "data": [...row-major...]}; non-finite
values are written as the strings "inf", "-inf" and "nan". The meaning of every "op" is given
once, by TORCH_OPS below, and mirrored by the C++ table in the test.

Floating outputs are computed by torch in f64 from the (exactly representable) inputs and then
rounded to the output dtype, so an f32 expectation is the correctly rounded answer rather than
one particular f32 kernel's rounding; a cross-check against torch's own f32 result guards the
widening.
"""
import json
import math
import pathlib
import re

import numpy as np
import torch

SEED = 20240607
OUT_DIR = pathlib.Path(__file__).resolve().parent / "ops"

DTYPES = {"f32": torch.float32, "f64": torch.float64, "i64": torch.int64, "bool": torch.bool}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}

INF = float("inf")
NAN = float("nan")


def all_dims(x):
    return list(range(x.dim()))


# op name -> torch semantics. `xs` are the input tensors, `a` the case's args.
TORCH_OPS = {
    # elementwise, tensor (op) tensor with broadcasting
    "add": lambda xs, a: xs[0] + xs[1],
    "sub": lambda xs, a: xs[0] - xs[1],
    "mul": lambda xs, a: xs[0] * xs[1],
    "div": lambda xs, a: xs[0] / xs[1],
    # elementwise with a Python scalar; rsub/rdiv put the scalar on the left
    "add_scalar": lambda xs, a: xs[0] + a["other"],
    "sub_scalar": lambda xs, a: xs[0] - a["other"],
    "mul_scalar": lambda xs, a: xs[0] * a["other"],
    "div_scalar": lambda xs, a: xs[0] / a["other"],
    "rsub_scalar": lambda xs, a: a["other"] - xs[0],
    "rdiv_scalar": lambda xs, a: a["other"] / xs[0],
    "neg": lambda xs, a: -xs[0],
    "abs": lambda xs, a: torch.abs(xs[0]),
    "exp": lambda xs, a: torch.exp(xs[0]),
    "log": lambda xs, a: torch.log(xs[0]),
    "sqrt": lambda xs, a: torch.sqrt(xs[0]),
    "pow_scalar": lambda xs, a: torch.pow(xs[0], a["exponent"]),
    "pow": lambda xs, a: torch.pow(xs[0], xs[1]),
    "relu": lambda xs, a: torch.relu(xs[0]),
    "sigmoid": lambda xs, a: torch.sigmoid(xs[0]),
    "tanh": lambda xs, a: torch.tanh(xs[0]),
    "gelu": lambda xs, a: torch.nn.functional.gelu(xs[0], approximate="none"),
    "clamp": lambda xs, a: torch.clamp(xs[0], a["lo"], a["hi"]),
    "maximum": lambda xs, a: torch.maximum(xs[0], xs[1]),
    "minimum": lambda xs, a: torch.minimum(xs[0], xs[1]),
    "eq": lambda xs, a: torch.eq(xs[0], xs[1]),
    "ne": lambda xs, a: torch.ne(xs[0], xs[1]),
    "lt": lambda xs, a: torch.lt(xs[0], xs[1]),
    "le": lambda xs, a: torch.le(xs[0], xs[1]),
    "gt": lambda xs, a: torch.gt(xs[0], xs[1]),
    "ge": lambda xs, a: torch.ge(xs[0], xs[1]),
    "eq_scalar": lambda xs, a: torch.eq(xs[0], a["other"]),
    "ne_scalar": lambda xs, a: torch.ne(xs[0], a["other"]),
    "lt_scalar": lambda xs, a: torch.lt(xs[0], a["other"]),
    "le_scalar": lambda xs, a: torch.le(xs[0], a["other"]),
    "gt_scalar": lambda xs, a: torch.gt(xs[0], a["other"]),
    "ge_scalar": lambda xs, a: torch.ge(xs[0], a["other"]),
    "where": lambda xs, a: torch.where(xs[0], xs[1], xs[2]),
    # reductions; "*_all" reduce over every element to a 0-d tensor
    "sum_all": lambda xs, a: torch.sum(xs[0]),
    "sum": lambda xs, a: torch.sum(xs[0], dim=a["dims"], keepdim=a["keepdim"]),
    "mean_all": lambda xs, a: torch.mean(xs[0]),
    "mean": lambda xs, a: torch.mean(xs[0], dim=a["dims"], keepdim=a["keepdim"]),
    "max_all": lambda xs, a: torch.max(xs[0]),
    "max": lambda xs, a: torch.max(xs[0], dim=a["dim"], keepdim=a["keepdim"]).values,
    "min_all": lambda xs, a: torch.min(xs[0]),
    "min": lambda xs, a: torch.min(xs[0], dim=a["dim"], keepdim=a["keepdim"]).values,
    "argmax_all": lambda xs, a: torch.argmax(xs[0]),
    "argmax": lambda xs, a: torch.argmax(xs[0], dim=a["dim"], keepdim=a["keepdim"]),
    "argmin_all": lambda xs, a: torch.argmin(xs[0]),
    "argmin": lambda xs, a: torch.argmin(xs[0], dim=a["dim"], keepdim=a["keepdim"]),
    "var_all": lambda xs, a: torch.var(xs[0], dim=all_dims(xs[0]), correction=a["correction"]),
    "var": lambda xs, a: torch.var(xs[0], dim=a["dims"], correction=a["correction"], keepdim=a["keepdim"]),
    "std_all": lambda xs, a: torch.std(xs[0], dim=all_dims(xs[0]), correction=a["correction"]),
    "std": lambda xs, a: torch.std(xs[0], dim=a["dims"], correction=a["correction"], keepdim=a["keepdim"]),
    "softmax": lambda xs, a: torch.softmax(xs[0], dim=a["dim"]),
    "log_softmax": lambda xs, a: torch.log_softmax(xs[0], dim=a["dim"]),
    "logsumexp": lambda xs, a: torch.logsumexp(xs[0], dim=a["dim"], keepdim=a["keepdim"]),
    # linear algebra
    "matmul": lambda xs, a: torch.matmul(xs[0], xs[1]),
    # shape ops; results are compared by value in row-major order, views or not
    "permute": lambda xs, a: xs[0].permute(a["dims"]),
    "permute_contiguous": lambda xs, a: xs[0].permute(a["dims"]).contiguous(),
    "transpose": lambda xs, a: xs[0].transpose(a["dim0"], a["dim1"]),
    "t": lambda xs, a: xs[0].t(),
    "slice": lambda xs, a: slice_along(xs[0], a["dim"], a["start"], a["end"], a["step"]),
    "narrow": lambda xs, a: xs[0].narrow(a["dim"], a["start"], a["length"]),
    "select": lambda xs, a: xs[0].select(a["dim"], a["index"]),
    "index_select": lambda xs, a: torch.index_select(xs[0], a["dim"], xs[1]),
    "cat": lambda xs, a: torch.cat(xs, dim=a["dim"]),
    "stack": lambda xs, a: torch.stack(xs, dim=a["dim"]),
    "expand": lambda xs, a: xs[0].expand(a["shape"]),
    "squeeze_all": lambda xs, a: xs[0].squeeze(),
    "squeeze": lambda xs, a: xs[0].squeeze(a["dim"]),
    "unsqueeze": lambda xs, a: xs[0].unsqueeze(a["dim"]),
    "reshape": lambda xs, a: xs[0].reshape(a["shape"]),
    "flatten": lambda xs, a: xs[0].flatten(a["start_dim"], a["end_dim"]),
    # a reshape of a non-contiguous tensor, which cannot be a view
    "transpose_reshape": lambda xs, a: xs[0].transpose(a["dim0"], a["dim1"]).reshape(a["shape"]),
}


def slice_along(x, dim, start, end, step):
    index = [slice(None)] * x.dim()
    index[dim] = slice(start, end, step)
    return x[tuple(index)]


# ---- inputs ------------------------------------------------------------------------------------
# Inputs carry three decimals so that the JSON stays short and readable; every value is then
# converted to its dtype, and that exact value is what the file records.

def _rounded(values64, dtype):
    return (torch.round(values64 * 1000.0) / 1000.0).to(DTYPES[dtype])


def randn(*shape, dtype="f32", scale=1.0):
    return _rounded(torch.randn(shape, dtype=torch.float64) * scale, dtype)


def uniform(low, high, *shape, dtype="f32"):
    return _rounded(low + (high - low) * torch.rand(shape, dtype=torch.float64), dtype)


def small_ints(low, high, *shape, dtype="f32"):
    """Integer values in [low, high), so that comparisons meet ties and equalities."""
    return torch.randint(low, high, shape, dtype=torch.int64).to(DTYPES[dtype])


def bools(*shape):
    return torch.rand(shape) < 0.5


def values(data, dtype="f32", shape=None):
    t = torch.tensor(data, dtype=DTYPES[dtype])
    return t.reshape(shape) if shape is not None else t


# ---- evaluation --------------------------------------------------------------------------------

def evaluate(op, inputs, args):
    fn = TORCH_OPS[op]
    natural = fn(inputs, args)
    if not natural.is_floating_point():
        return natural.contiguous()
    widened = [x.to(torch.float64) if x.is_floating_point() else x for x in inputs]
    wide = fn(widened, args).to(natural.dtype).contiguous()
    # The widened evaluation must agree with torch's own; a loose check catches a wrong lambda
    # or a promotion change, not rounding.
    if not torch.allclose(wide, natural.to(wide.dtype), rtol=1e-4, atol=1e-4, equal_nan=True):
        raise AssertionError(f"{op}: widened result differs from torch's\n{wide}\n{natural}")
    return wide


def encode_value(v, dtype):
    if dtype == "bool":
        return bool(v)
    if dtype == "i64":
        return int(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if dtype == "f32":
        # The shortest decimal that reads back as this f32. The reader parses it as a double
        # and rounds to f32, so keep it only when that double rounding lands on the same value.
        short = float(str(np.float32(v)))
        if np.float32(short) == np.float32(v):
            return short
    return float(v)  # the exact value; json writes the shortest repr that round-trips


def encode_tensor(t):
    dtype = DTYPE_NAMES[t.dtype]
    flat = t.contiguous().reshape(-1).tolist()
    return {"shape": list(t.shape), "dtype": dtype, "data": [encode_value(v, dtype) for v in flat]}


class Family:
    def __init__(self, name):
        self.name = name
        self.cases = []

    def add(self, name, op, inputs, **args):
        if not re.fullmatch(r"[A-Za-z0-9_]+", name):
            raise ValueError(f"case name {name!r} must be a valid test name")
        if any(c["name"] == name for c in self.cases):
            raise ValueError(f"duplicate case name {name!r} in {self.name}")
        for x in inputs:
            if x.numel() > 256:
                raise ValueError(f"{name}: keep fixture tensors small ({x.numel()} elements)")
        output = evaluate(op, inputs, args)
        self.cases.append({
            "name": name,
            "op": op,
            "args": args,
            "inputs": [encode_tensor(x) for x in inputs],
            "output": encode_tensor(output),
        })

    def write(self):
        header = {
            "family": self.name,
            "generator": "tests/data/make_op_fixtures.py",
            "torch_version": torch.__version__,
            "seed": SEED,
        }
        lines = [json.dumps(c, separators=(",", ":"), allow_nan=False) for c in self.cases]
        text = json.dumps(header, separators=(",", ":"))[:-1] + ',"cases":[\n' + ",\n".join(lines) + "\n]}\n"
        path = OUT_DIR / f"{self.name}.json"
        path.write_text(text)
        return path, len(self.cases), len(text)


# ---- the cases ---------------------------------------------------------------------------------

BROADCAST_PAIRS = [
    ("same_2x3", (2, 3), (2, 3)),
    ("col_3x1_row_1x4", (3, 1), (1, 4)),
    ("2x3x4_by_4", (2, 3, 4), (4,)),
    ("4_by_2x3x4", (4,), (2, 3, 4)),
    ("2x1x3_by_4x1", (2, 1, 3), (4, 1)),
    ("2x3_by_scalar", (2, 3), ()),
    ("scalar_by_2x3", (), (2, 3)),
    ("scalar_by_scalar", (), ()),
]


def elementwise_cases():
    f = Family("elementwise")

    for op in ("add", "sub", "mul", "div"):
        for tag, sa, sb in BROADCAST_PAIRS:
            b = uniform(0.5, 2.0, *sb) * torch.where(bools(*sb), 1.0, -1.0) if op == "div" else randn(*sb)
            f.add(f"{op}_{tag}", op, [randn(*sa), b.to(torch.float32)])
        b64 = uniform(0.5, 2.0, 1, 4, dtype="f64") if op == "div" else randn(1, 4, dtype="f64")
        f.add(f"{op}_f64_col_3x1_row_1x4", op, [randn(3, 1, dtype="f64"), b64])
        f.add(f"{op}_i64_2x3_by_3", op, [small_ints(-9, 10, 2, 3, dtype="i64"), small_ints(1, 5, 3, dtype="i64")])
    # Promotion follows torch's lattice: i64 with f32 gives f32, f32 with f64 gives f64.
    f.add("add_i64_f32_promotes", "add", [small_ints(-5, 5, 2, 3, dtype="i64"), randn(2, 3)])
    f.add("mul_f32_f64_promotes", "mul", [randn(2, 3), randn(3, dtype="f64")])
    f.add("div_edge_zero_nan", "div",
          [values([1.0, -1.0, 0.0, NAN, INF, 2.0]), values([0.0, 0.0, 0.0, 1.0, INF, -INF])])

    for op, other in (("add", 2.5), ("sub", -1.25), ("mul", -3.0), ("div", 4.0), ("rsub", 1.5)):
        f.add(f"{op}_scalar_2x3", f"{op}_scalar", [randn(2, 3)], other=other)
    f.add("rdiv_scalar_2x3", "rdiv_scalar", [uniform(0.5, 2.0, 2, 3)], other=2.0)
    f.add("mul_scalar_f64", "mul_scalar", [randn(3, 2, dtype="f64")], other=0.1)

    for op in ("neg", "abs", "exp", "relu", "sigmoid", "tanh", "gelu"):
        f.add(f"{op}_3x4", op, [randn(3, 4, scale=2.0)])
        f.add(f"{op}_f64_2x5", op, [randn(2, 5, dtype="f64", scale=2.0)])
    for op in ("log", "sqrt"):
        f.add(f"{op}_3x4", op, [uniform(0.01, 10.0, 3, 4)])
        f.add(f"{op}_f64_2x5", op, [uniform(0.01, 10.0, 2, 5, dtype="f64")])
    f.add("neg_i64", "neg", [small_ints(-9, 10, 2, 3, dtype="i64")])
    f.add("abs_i64", "abs", [small_ints(-9, 10, 2, 3, dtype="i64")])
    f.add("relu_i64", "relu", [small_ints(-9, 10, 2, 3, dtype="i64")])

    edge = [-INF, -100.0, -1.0, 0.0, 1.0, 100.0, INF, NAN]
    f.add("exp_edge", "exp", [values([-INF, -100.0, 0.0, 88.0, 89.0, INF, NAN])])
    f.add("log_edge", "log", [values([0.0, -1.0, 1.0, 1e-30, INF, NAN])])
    f.add("sqrt_edge", "sqrt", [values([0.0, -1.0, 4.0, 1e-30, INF, NAN])])
    f.add("abs_edge", "abs", [values(edge)])
    f.add("relu_edge", "relu", [values(edge)])
    f.add("sigmoid_edge", "sigmoid", [values(edge)])
    f.add("tanh_edge", "tanh", [values(edge)])
    f.add("gelu_edge", "gelu", [values([-100.0, -10.0, -1e-3, 0.0, 1e-3, 10.0, 100.0, NAN])])

    base = uniform(0.2, 3.0, 3, 4)
    for tag, e in (("square", 2.0), ("cube", 3.0), ("half", 0.5), ("inverse", -1.0), ("zero", 0.0), ("2_5", 2.5)):
        f.add(f"pow_scalar_{tag}", "pow_scalar", [base], exponent=e)
    f.add("pow_scalar_square_negative_base", "pow_scalar", [randn(3, 4)], exponent=2.0)
    f.add("pow_scalar_f64", "pow_scalar", [uniform(0.2, 3.0, 2, 3, dtype="f64")], exponent=1.5)
    f.add("pow_scalar_edge_half", "pow_scalar", [values([-1.0, 0.0, 4.0, INF, NAN])], exponent=0.5)
    f.add("pow_scalar_edge_zero", "pow_scalar", [values([-1.0, 0.0, INF, NAN])], exponent=0.0)
    f.add("pow_tensor_2x3_by_3", "pow", [uniform(0.2, 3.0, 2, 3), uniform(-2.0, 2.0, 3)])
    f.add("pow_tensor_f64", "pow", [uniform(0.2, 3.0, 3, 1, dtype="f64"), uniform(-2.0, 2.0, 1, 2, dtype="f64")])

    f.add("clamp_3x4", "clamp", [randn(3, 4)], lo=-0.5, hi=0.5)
    f.add("clamp_f64", "clamp", [randn(2, 5, dtype="f64")], lo=0.0, hi=1.0)
    f.add("clamp_edge", "clamp", [values(edge)], lo=-2.0, hi=3.0)

    for op in ("maximum", "minimum"):
        f.add(f"{op}_col_3x1_row_1x4", op, [randn(3, 1), randn(1, 4)])
        f.add(f"{op}_2x3x4_by_4", op, [randn(2, 3, 4), randn(4)])
        f.add(f"{op}_f64", op, [randn(2, 3, dtype="f64"), randn(2, 3, dtype="f64")])
        f.add(f"{op}_i64", op, [small_ints(-5, 5, 2, 3, dtype="i64"), small_ints(-5, 5, 3, dtype="i64")])
        f.add(f"{op}_nan_propagates", op, [values([NAN, 1.0, NAN, -INF]), values([0.0, NAN, NAN, INF])])

    for op in ("eq", "ne", "lt", "le", "gt", "ge"):
        f.add(f"{op}_2x3_by_3", op, [small_ints(-2, 3, 2, 3), small_ints(-2, 3, 3)])
        f.add(f"{op}_col_3x1_row_1x4_f64", op, [small_ints(-2, 3, 3, 1, dtype="f64"), small_ints(-2, 3, 1, 4, dtype="f64")])
        f.add(f"{op}_i64", op, [small_ints(-2, 3, 2, 3, dtype="i64"), small_ints(-2, 3, 2, 3, dtype="i64")])
        f.add(f"{op}_scalar", f"{op}_scalar", [small_ints(-2, 3, 3, 4)], other=0.0)
        f.add(f"{op}_scalar_fraction", f"{op}_scalar", [values([-1.0, 0.25, 0.5, 0.75, NAN, INF])], other=0.5)
        f.add(f"{op}_nan", op, [values([NAN, NAN, 1.0, 2.0]), values([NAN, 1.0, NAN, 2.0])])

    f.add("where_2x3_by_3", "where", [bools(2, 3), randn(2, 3), randn(3)])
    f.add("where_broadcast_all_three", "where", [bools(3, 1), randn(1, 4), randn()])
    f.add("where_f64", "where", [bools(2, 1, 3), randn(2, 4, 3, dtype="f64"), randn(4, 1, dtype="f64")])
    f.add("where_i64", "where", [bools(2, 3), small_ints(-9, 10, 2, 3, dtype="i64"), small_ints(-9, 10, 3, dtype="i64")])

    # 37 is no multiple of any vector width: these reach a kernel's main loop and its tail.
    f.add("add_odd_5x37_by_37", "add", [randn(5, 37), randn(37)])
    f.add("mul_odd_5x1_by_5x37", "mul", [randn(5, 1), randn(5, 37)])
    f.add("div_odd_f64_5x37", "div", [randn(5, 37, dtype="f64"), uniform(0.5, 2.0, 37, dtype="f64")])
    for op in ("exp", "tanh", "sigmoid", "gelu"):
        f.add(f"{op}_odd_5x37", op, [randn(5, 37, scale=3.0)])
    f.add("log_odd_5x37", "log", [uniform(0.01, 10.0, 5, 37)])
    f.add("gt_odd_5x37_by_37", "gt", [small_ints(-2, 3, 5, 37), small_ints(-2, 3, 37)])
    return f


def reduce_cases():
    f = Family("reduce")
    x = randn(2, 3, 4)
    x64 = randn(3, 5, dtype="f64")
    xi = small_ints(-9, 10, 3, 4, dtype="i64")

    for op in ("sum", "mean"):
        f.add(f"{op}_all_2x3x4", f"{op}_all", [x])
        f.add(f"{op}_all_f64", f"{op}_all", [x64])
        f.add(f"{op}_all_1d", f"{op}_all", [randn(7)])
        f.add(f"{op}_all_0d", f"{op}_all", [randn()])
        for dims, keepdim in (([0], False), ([1], False), ([-1], False), ([0, 2], False), ([1], True),
                              ([0, 2], True), ([0, 1, 2], False)):
            tag = "_".join(str(d).replace("-", "m") for d in dims) + ("_keepdim" if keepdim else "")
            f.add(f"{op}_dims_{tag}", op, [x], dims=dims, keepdim=keepdim)
        f.add(f"{op}_f64_dim_1", op, [x64], dims=[1], keepdim=False)
        f.add(f"{op}_wide_row_1x150", op, [randn(1, 150)], dims=[1], keepdim=False)
    f.add("sum_all_i64", "sum_all", [xi])
    f.add("sum_i64_dim_0", "sum", [xi], dims=[0], keepdim=False)
    f.add("sum_all_bool", "sum_all", [bools(3, 4)])
    f.add("sum_bool_dim_1", "sum", [bools(3, 4)], dims=[1], keepdim=True)
    f.add("sum_all_with_inf", "sum_all", [values([1.0, INF, 2.0])])
    f.add("mean_all_with_nan", "mean_all", [values([1.0, NAN, 2.0])])

    for op in ("max", "min", "argmax", "argmin"):
        f.add(f"{op}_all_2x3x4", f"{op}_all", [x])
        f.add(f"{op}_all_f64", f"{op}_all", [x64])
        f.add(f"{op}_all_i64", f"{op}_all", [xi])
        for dim, keepdim in ((0, False), (1, False), (-1, False), (1, True)):
            tag = str(dim).replace("-", "m") + ("_keepdim" if keepdim else "")
            f.add(f"{op}_dim_{tag}", op, [x], dim=dim, keepdim=keepdim)
        f.add(f"{op}_f64_dim_0", op, [x64], dim=0, keepdim=False)
        f.add(f"{op}_i64_dim_1", op, [xi], dim=1, keepdim=False)
    # Ties: torch reports the first index that holds the extreme value.
    ties = values([3, 1, 3, 1, 2, 2, 2, 2, 0, 5, 5, 0], dtype="i64", shape=(3, 4))
    for op in ("argmax", "argmin"):
        f.add(f"{op}_all_ties_first", f"{op}_all", [ties])
        f.add(f"{op}_dim_1_ties_first", op, [ties], dim=1, keepdim=False)
        f.add(f"{op}_dim_0_ties_first", op, [ties], dim=0, keepdim=False)
    f.add("max_dim_nan_propagates", "max", [values([1.0, NAN, 3.0, 2.0, 5.0, 4.0], shape=(2, 3))], dim=1, keepdim=False)
    f.add("min_all_nan_propagates", "min_all", [values([1.0, NAN, -3.0])])

    for op in ("var", "std"):
        for correction in (0, 1):
            f.add(f"{op}_all_correction_{correction}", f"{op}_all", [x], correction=correction)
            f.add(f"{op}_dim_1_correction_{correction}", op, [x], dims=[1], correction=correction, keepdim=False)
            f.add(f"{op}_dims_0_2_correction_{correction}_keepdim", op, [x], dims=[0, 2], correction=correction,
                  keepdim=True)
        f.add(f"{op}_f64_dim_m1", op, [x64], dims=[-1], correction=1, keepdim=False)
        f.add(f"{op}_all_f64", f"{op}_all", [x64], correction=1)
        # A large common offset: a one-pass sum-of-squares formula loses every digit here.
        f.add(f"{op}_offset_1000", op, [randn(2, 8) + 1000.0], dims=[1], correction=1, keepdim=False)

    big = randn(3, 5, scale=3.0)
    for op in ("softmax", "log_softmax"):
        for dim in (-1, 0, 1):
            f.add(f"{op}_dim_{str(dim).replace('-', 'm')}", op, [big], dim=dim)
        f.add(f"{op}_3d_dim_1", op, [randn(2, 3, 4)], dim=1)
        f.add(f"{op}_f64", op, [randn(3, 5, dtype="f64", scale=3.0)], dim=-1)
        # Overflows exp unless the maximum is subtracted first.
        f.add(f"{op}_large_values", op, [values([1000.0, 1001.0, 999.0, -1000.0, 0.0, 1000.0], shape=(2, 3))], dim=1)
        f.add(f"{op}_masked_minus_inf", op, [values([0.0, -INF, 1.0, 2.0, -INF, -INF], shape=(2, 3))], dim=1)
    for dim, keepdim in ((-1, False), (0, False), (1, True)):
        tag = str(dim).replace("-", "m") + ("_keepdim" if keepdim else "")
        f.add(f"logsumexp_dim_{tag}", "logsumexp", [big], dim=dim, keepdim=keepdim)
    f.add("logsumexp_f64", "logsumexp", [randn(3, 5, dtype="f64", scale=3.0)], dim=1, keepdim=False)
    f.add("logsumexp_large_values", "logsumexp", [values([1000.0, 1001.0, 999.0, -1000.0, 0.0, 1000.0],
                                                         shape=(2, 3))], dim=1, keepdim=False)

    # Odd extents so that vectorised reductions meet their tails along either dim.
    odd = randn(5, 37)
    for op in ("sum", "mean"):
        for dim in (0, 1):
            f.add(f"{op}_odd_5x37_dim_{dim}", op, [odd], dims=[dim], keepdim=False)
    for op in ("max", "argmax", "argmin"):
        for dim in (0, 1):
            f.add(f"{op}_odd_5x37_dim_{dim}", op, [odd], dim=dim, keepdim=False)
    f.add("var_odd_5x37_dim_1", "var", [odd], dims=[1], correction=1, keepdim=False)
    f.add("softmax_odd_5x37_dim_1", "softmax", [odd], dim=1)
    f.add("log_softmax_odd_5x37_dim_0", "log_softmax", [odd], dim=0)
    f.add("logsumexp_odd_5x37_dim_1", "logsumexp", [odd], dim=1, keepdim=False)
    return f


def matmul_cases():
    f = Family("matmul")
    shapes = [
        ("1d_dot_1d", (5,), (5,)),
        ("2d_3x4_by_4x5", (3, 4), (4, 5)),
        ("1d_by_2d", (4,), (4, 5)),
        ("2d_by_1d", (3, 4), (4,)),
        ("batched_3d_by_3d", (2, 3, 4), (2, 4, 5)),
        ("batched_3d_by_2d", (2, 3, 4), (4, 5)),
        ("batched_2d_by_3d", (3, 4), (2, 4, 5)),
        ("batched_broadcast_2x1_by_3", (2, 1, 3, 4), (3, 4, 2)),
        ("batched_1d_by_3d", (4,), (2, 4, 3)),
        ("batched_3d_by_1d", (2, 3, 4), (4,)),
        ("2d_k32", (6, 32), (32, 5)),
        ("2d_1x1_by_1x7", (1, 1), (1, 7)),
    ]
    for dtype in ("f32", "f64"):
        for tag, sa, sb in shapes:
            f.add(f"{tag}_{dtype}", "matmul", [randn(*sa, dtype=dtype), randn(*sb, dtype=dtype)])
    return f


def shape_cases():
    f = Family("shape")
    x = randn(2, 3, 4)
    x64 = randn(2, 3, dtype="f64")
    xi = small_ints(-9, 10, 2, 3, 2, dtype="i64")

    f.add("permute_contiguous_2_0_1", "permute_contiguous", [x], dims=[2, 0, 1])
    f.add("permute_contiguous_i64", "permute_contiguous", [xi], dims=[2, 0, 1])
    f.add("permute_view_1_2_0", "permute", [x], dims=[1, 2, 0])
    f.add("permute_negative_dims", "permute", [x], dims=[-1, 0, -2])
    f.add("transpose_0_2", "transpose", [x], dim0=0, dim1=2)
    f.add("transpose_negative", "transpose", [x], dim0=-1, dim1=-2)
    f.add("transpose_2d_f64", "transpose", [x64], dim0=0, dim1=1)
    f.add("t_2d", "t", [randn(3, 5)])
    f.add("t_1d", "t", [randn(4)])

    y = randn(5, 6)
    f.add("slice_dim1_step2", "slice", [y], dim=1, start=1, end=6, step=2)
    f.add("slice_dim0_negative", "slice", [y], dim=0, start=-4, end=-1, step=1)
    f.add("slice_dim0_step3", "slice", [y], dim=0, start=0, end=5, step=3)
    f.add("slice_3d_last_dim_step3", "slice", [x], dim=2, start=0, end=4, step=3)
    f.add("slice_i64", "slice", [xi], dim=1, start=1, end=3, step=1)
    f.add("narrow_dim1", "narrow", [y], dim=1, start=2, length=3)
    f.add("select_dim0", "select", [x], dim=0, index=1)
    f.add("select_negative", "select", [x], dim=-1, index=-1)

    z = randn(4, 3)
    f.add("index_select_dim0_repeat", "index_select", [z, values([3, 0, 3], dtype="i64")], dim=0)
    f.add("index_select_dim1", "index_select", [z, values([2, 0], dtype="i64")], dim=1)
    f.add("index_select_3d_last", "index_select", [x, values([1, 3, 0, 2, 2], dtype="i64")], dim=-1)
    f.add("index_select_f64_dim0", "index_select", [x64, values([1], dtype="i64")], dim=0)

    f.add("cat_dim0_three", "cat", [randn(2, 3), randn(1, 3), randn(3, 3)], dim=0)
    f.add("cat_dim1", "cat", [randn(2, 2), randn(2, 3)], dim=1)
    f.add("cat_3d_last", "cat", [randn(2, 3, 1), randn(2, 3, 2)], dim=-1)
    f.add("cat_f64", "cat", [randn(3, dtype="f64"), randn(2, dtype="f64")], dim=0)
    f.add("cat_i64_dim1", "cat", [small_ints(-9, 10, 2, 1, dtype="i64"), small_ints(-9, 10, 2, 2, dtype="i64")], dim=1)
    f.add("cat_bool", "cat", [bools(2, 2), bools(1, 2)], dim=0)
    f.add("cat_single", "cat", [randn(2, 3)], dim=1)

    for dim in (0, 1, -1):
        f.add(f"stack_dim_{str(dim).replace('-', 'm')}", "stack", [randn(2, 3), randn(2, 3), randn(2, 3)], dim=dim)
    f.add("stack_1d_f64", "stack", [randn(4, dtype="f64"), randn(4, dtype="f64")], dim=0)
    f.add("stack_0d", "stack", [randn(), randn(), randn()], dim=0)
    f.add("stack_i64", "stack", [small_ints(0, 9, 3, dtype="i64"), small_ints(0, 9, 3, dtype="i64")], dim=1)

    f.add("expand_col", "expand", [randn(3, 1)], shape=[3, 4])
    f.add("expand_new_leading_dims", "expand", [randn(4)], shape=[2, 3, 4])
    f.add("expand_keep_minus_one", "expand", [randn(2, 1, 3)], shape=[-1, 4, -1])
    f.add("expand_scalar", "expand", [randn()], shape=[2, 3])
    f.add("expand_i64", "expand", [small_ints(-9, 10, 1, 3, dtype="i64")], shape=[2, 3])

    w = randn(1, 3, 1, 2)
    f.add("squeeze_all", "squeeze_all", [w])
    f.add("squeeze_all_to_0d", "squeeze_all", [randn(1, 1)])
    f.add("squeeze_dim2", "squeeze", [w], dim=2)
    f.add("squeeze_dim0", "squeeze", [w], dim=0)
    f.add("squeeze_negative_dim", "squeeze", [w], dim=-2)
    # torch leaves a dim whose size is not 1 in place rather than failing.
    f.add("squeeze_dim_not_one_is_noop", "squeeze", [w], dim=1)
    f.add("unsqueeze_0", "unsqueeze", [x64], dim=0)
    f.add("unsqueeze_middle", "unsqueeze", [x64], dim=1)
    f.add("unsqueeze_end", "unsqueeze", [x64], dim=2)
    f.add("unsqueeze_negative", "unsqueeze", [x64], dim=-1)
    f.add("unsqueeze_0d", "unsqueeze", [randn()], dim=0)

    f.add("reshape_2x3x4_to_4x6", "reshape", [x], shape=[4, 6])
    f.add("reshape_flat_minus_one", "reshape", [x], shape=[-1])
    f.add("reshape_infer_middle", "reshape", [x], shape=[3, -1, 2])
    f.add("reshape_to_0d", "reshape", [randn(1)], shape=[])
    f.add("reshape_bool", "reshape", [bools(2, 3)], shape=[3, 2])
    f.add("reshape_i64_add_dims", "reshape", [xi], shape=[1, 3, 1, 2, 2])
    f.add("transpose_reshape_copy", "transpose_reshape", [x], dim0=1, dim1=2, shape=[2, 12])
    f.add("transpose_reshape_f64", "transpose_reshape", [x64], dim0=0, dim1=1, shape=[6])
    f.add("flatten_all", "flatten", [x], start_dim=0, end_dim=-1)
    f.add("flatten_tail", "flatten", [xi], start_dim=1, end_dim=-1)
    f.add("flatten_middle", "flatten", [xi], start_dim=1, end_dim=2)
    return f


def main():
    torch.manual_seed(SEED)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    total = 0
    for make in (elementwise_cases, reduce_cases, matmul_cases, shape_cases):
        path, count, size = make().write()
        total += size
        print(f"{path.relative_to(OUT_DIR.parent.parent.parent)}: {count} cases, {size / 1024:.1f} KiB")
    print(f"total {total / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
