#!/usr/bin/env python3
"""Writes tests/data/ops/edge.json: PyTorch's forward values *and gradients* at the edges, which
tests/ops/test_torch_edge_fixtures.cpp checks dm against.

Run with Debian's interpreter (the one that has torch), from anywhere:

    /usr/bin/python3 tests/data/make_edge_fixtures.py

The edges are those where a library most easily drifts from torch's semantics:
  - shapes: 0-d tensors (reduced over "dim 0" too), zero-size tensors (as inputs of reductions,
    index_select and in-place ops), broadcasts of a 0-d or expanded operand;
  - values: 0, -0.0, +-inf and NaN, in the inputs, in clamp's bounds, in scalars, and as the
    upstream gradient (where an inf must not leak NaN into a branch that lost a selection);
  - layouts: the C++ test builds every input three ways (contiguous, a strided view with step
    2, and a transposed view), and an input may carry "expand", a shape it is expanded to
    before the op, so that the op sees a stride-0 operand and the gradient is summed back.

The file format is make_op_fixtures.py's (see tests/data/README.md), with per case:
  "grad_output": the upstream gradient (absent when the case checks the forward value only),
  "grads": one entry per input, the gradient of that input (before any expand), or null for an
           input that is not differentiable (an index);
  "exact_zero_sign": true where torch's result is IEEE arithmetic whose zeros have a defined
           sign (x / -0.0), so the test tells -0.0 from +0.0;
  "torch_error": instead of "output", for a case torch refuses.
Inputs may have "expand": [shape]; a non-finite scalar argument is a string, as in tensors.

Expectations are computed by torch in f64 from the (exactly representable) inputs and rounded
to the case's dtype; torch's own f32 result is checked against them (loosely, NaN equal NaN).
"""
import json
import math
import pathlib
import re
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_op_fixtures import DTYPES, encode_tensor  # noqa: E402  (same folder, shared format)

SEED = 20261129
OUT_PATH = pathlib.Path(__file__).resolve().parent / "ops" / "edge.json"
INF = float("inf")
NAN = float("nan")


def inplace(method):
    """An in-place op on the input itself (through whatever view the test built), with the
    second input or else the scalar "other" as its operand."""
    def run(xs, a):
        x = xs[0]
        getattr(x, method)(xs[1] if len(xs) > 1 else a["other"])
        return x
    return run


# op name -> torch semantics; mirrored by the op table of the C++ test.
EDGE_OPS = {
    "sum_all": lambda xs, a: xs[0].sum(),
    "sum": lambda xs, a: xs[0].sum(dim=a["dims"], keepdim=a["keepdim"]),
    "mean_all": lambda xs, a: xs[0].mean(),
    "mean": lambda xs, a: xs[0].mean(dim=a["dims"], keepdim=a["keepdim"]),
    "var_all": lambda xs, a: xs[0].var(dim=None, correction=a["correction"]),
    "var": lambda xs, a: xs[0].var(dim=a["dims"], correction=a["correction"], keepdim=a["keepdim"]),
    "std_all": lambda xs, a: xs[0].std(dim=None, correction=a["correction"]),
    "std": lambda xs, a: xs[0].std(dim=a["dims"], correction=a["correction"], keepdim=a["keepdim"]),
    "logsumexp": lambda xs, a: xs[0].logsumexp(dim=a["dim"], keepdim=a["keepdim"]),
    "max_all": lambda xs, a: xs[0].max(),
    "max": lambda xs, a: xs[0].max(dim=a["dim"], keepdim=a["keepdim"]).values,
    "min": lambda xs, a: xs[0].min(dim=a["dim"], keepdim=a["keepdim"]).values,
    "index_select": lambda xs, a: xs[0].index_select(a["dim"], xs[1]),
    "maximum": lambda xs, a: torch.maximum(xs[0], xs[1]),
    "minimum": lambda xs, a: torch.minimum(xs[0], xs[1]),
    "reciprocal_of_minimum": lambda xs, a: 1.0 / torch.minimum(xs[0], xs[1]),
    "clamp": lambda xs, a: xs[0].clamp(a["lo"], a["hi"]),
    "relu": lambda xs, a: xs[0].relu(),
    "gelu": lambda xs, a: torch.nn.functional.gelu(xs[0]),
    "pow_scalar": lambda xs, a: xs[0].pow(a["exponent"]),
    "pow": lambda xs, a: xs[0].pow(xs[1]),
    "add": lambda xs, a: xs[0] + xs[1],
    "mul": lambda xs, a: xs[0] * xs[1],
    "div": lambda xs, a: xs[0] / xs[1],
    "add_scalar": lambda xs, a: xs[0] + a["other"],
    "sub_scalar": lambda xs, a: xs[0] - a["other"],
    "mul_scalar": lambda xs, a: xs[0] * a["other"],
    "div_scalar": lambda xs, a: xs[0] / a["other"],
    "rsub_scalar": lambda xs, a: a["other"] - xs[0],
    "rdiv_scalar": lambda xs, a: a["other"] / xs[0],
    "add__scalar": inplace("add_"),
    "mul__scalar": inplace("mul_"),
    "div__scalar": inplace("div_"),
    "add_": inplace("add_"),
    "clamp_": lambda xs, a: xs[0].clamp_(a["lo"], a["hi"]),
    "cat": lambda xs, a: torch.cat(xs, dim=a["dim"]),
    "stack": lambda xs, a: torch.stack(xs, dim=a["dim"]),
    "matmul": lambda xs, a: xs[0].matmul(xs[1]),
    "add__overlapping": lambda xs, a: xs[0][1:].add_(xs[0][:-1]),
}

# Forward results that are plain IEEE arithmetic: their zeros carry a defined sign.
SIGNED_ZERO_OPS = {"add", "mul", "div", "add_scalar", "sub_scalar", "mul_scalar", "div_scalar", "rsub_scalar",
                   "rdiv_scalar", "add__scalar", "mul__scalar", "div__scalar", "add_"}
INPLACE_OPS = {"add__scalar", "mul__scalar", "div__scalar", "add_", "clamp_", "add__overlapping"}


# ---- inputs --------------------------------------------------------------------------------------

def t(data, dtype="f32", shape=None):
    x = torch.tensor(data, dtype=DTYPES[dtype])
    return x.reshape(shape) if shape is not None else x


def randn(*shape, dtype="f32"):
    # Three decimals: short JSON, and every value exact in its dtype once converted.
    return (torch.round(torch.randn(shape, dtype=torch.float64) * 1000.0) / 1000.0).to(DTYPES[dtype])


def with_edges(*shape, dtype="f32"):
    """Random values with 0, -0.0, +-inf and NaN planted at fixed positions."""
    x = randn(*shape, dtype=dtype).reshape(-1)
    for i, v in zip((0, 1, 2, 3, 5), (0.0, -0.0, INF, -INF, NAN)):
        if i < x.numel():
            x[i] = v
    return x.reshape(shape)


def index(values):
    return torch.tensor(values, dtype=torch.int64)


# ---- evaluation ----------------------------------------------------------------------------------

def forward_and_grads(op, inputs, expands, args, grad_output, widen):
    """The op's result and its inputs' gradients, computed by torch in the inputs' own dtypes or,
    with `widen`, with every floating input in f64."""
    fn = EDGE_OPS[op]
    leaves = []
    for x in inputs:
        leaf = x.detach().clone()
        if leaf.is_floating_point():
            if widen:
                leaf = leaf.to(torch.float64)
            if grad_output is not None:
                leaf.requires_grad_(True)
        leaves.append(leaf)
    xs = [leaf.expand(e) if e is not None else leaf for leaf, e in zip(leaves, expands)]
    out = fn(xs, args)
    if grad_output is None:
        return out.detach(), None
    wanted = [leaf for leaf in leaves if leaf.requires_grad]
    got = torch.autograd.grad(out, wanted, grad_output.to(out.dtype), allow_unused=True)
    grads, k = [], 0
    for leaf in leaves:
        if leaf.requires_grad:
            g = got[k]
            grads.append(torch.zeros_like(leaf) if g is None else g.detach())
            k += 1
        else:
            grads.append(None)
    return out.detach(), grads


def encode_arg(v):
    """Non-finite scalar arguments (clamp's bounds) as the tensors' strings "nan", "inf", "-inf"."""
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def close(a, b):
    return a.shape == b.shape and torch.allclose(a.to(torch.float64), b.to(torch.float64), rtol=1e-4, atol=1e-4,
                                                 equal_nan=True)


class EdgeCases:
    def __init__(self):
        self.cases = []

    def add(self, name, op, inputs, expand=None, grad=True, grad_output=None, **args):
        """grad_output: None for the default (rounded normal values), a number to fill it with,
        or a tensor."""
        if not re.fullmatch(r"[A-Za-z0-9_]+", name) or any(c["name"] == name for c in self.cases):
            raise ValueError(f"bad or duplicate case name {name!r}")
        for x in inputs:
            if x.numel() > 64:
                raise ValueError(f"{name}: keep fixture tensors small")
        expands = expand or [None] * len(inputs)
        grad = grad and op not in INPLACE_OPS
        case = {"name": name, "op": op, "args": {k: encode_arg(v) for k, v in args.items()},
                "inputs": [dict(encode_tensor(x), **({"expand": list(e)} if e is not None else {}))
                           for x, e in zip(inputs, expands)]}
        try:
            out_probe, _ = forward_and_grads(op, inputs, expands, args, None, widen=False)
        except RuntimeError as e:
            case["torch_error"] = str(e).split("\n")[0]
            self.cases.append(case)
            return
        g = None
        if grad:
            if grad_output is None:
                g = randn(*out_probe.shape, dtype="f64")
            elif isinstance(grad_output, float):
                g = torch.full(out_probe.shape, grad_output, dtype=torch.float64)
            else:
                g = grad_output.to(torch.float64)
        out_wide, grads_wide = forward_and_grads(op, inputs, expands, args, g, widen=True)
        out_nat, grads_nat = forward_and_grads(op, inputs, expands, args, g, widen=False)
        out = out_wide.to(out_nat.dtype)
        if not close(out, out_nat):
            raise AssertionError(f"{name}: f64 result differs from torch's own\n{out}\n{out_nat}")
        case["output"] = encode_tensor(out.contiguous())
        case["exact_zero_sign"] = op in SIGNED_ZERO_OPS
        if g is not None:
            case["grad_output"] = encode_tensor(g.to(out_nat.dtype))
            encoded = []
            for gw, gn in zip(grads_wide, grads_nat):
                if gw is None:
                    encoded.append(None)
                    continue
                gw = gw.to(gn.dtype)
                if not close(gw, gn):
                    raise AssertionError(f"{name}: f64 gradient differs from torch's own\n{gw}\n{gn}")
                encoded.append(encode_tensor(gw.contiguous()))
            case["grads"] = encoded
        self.cases.append(case)

    def write(self):
        header = {"family": "edge", "generator": "tests/data/make_edge_fixtures.py",
                  "torch_version": torch.__version__, "seed": SEED}
        lines = [json.dumps(c, separators=(",", ":"), allow_nan=False) for c in self.cases]
        text = json.dumps(header, separators=(",", ":"))[:-1] + ',"cases":[\n' + ",\n".join(lines) + "\n]}\n"
        OUT_PATH.write_text(text)
        return len(self.cases), len(text)


# ---- the cases -----------------------------------------------------------------------------------

def reduction_cases(f):
    zero_d = t(1.5)
    for dt in ("f32", "f64"):
        f.add(f"sum_all_empty_0x3_{dt}", "sum_all", [torch.zeros(0, 3, dtype=DTYPES[dt])])
    f.add("sum_dim_0_of_empty_0x3", "sum", [torch.zeros(0, 3)], dims=[0], keepdim=False)
    f.add("sum_dim_1_of_empty_2x0_keepdim", "sum", [torch.zeros(2, 0)], dims=[1], keepdim=True)
    f.add("sum_dim_0_of_0d", "sum", [zero_d], dims=[0], keepdim=False)
    f.add("sum_dim_m1_of_0d_keepdim", "sum", [zero_d], dims=[-1], keepdim=True)
    f.add("sum_all_edges_3x4", "sum_all", [with_edges(3, 4)], grad_output=INF)
    f.add("sum_dims_0_2_expanded", "sum", [randn(1, 3, 4)], expand=[(2, 3, 4)], dims=[0, 2], keepdim=False)
    f.add("mean_all_empty_0x3", "mean_all", [torch.zeros(0, 3)])
    f.add("mean_dim_0_of_empty_0x3", "mean", [torch.zeros(0, 3)], dims=[0], keepdim=False)
    f.add("mean_dim_0_of_0d", "mean", [zero_d], dims=[0], keepdim=False)
    f.add("mean_dim_1_edges_3x4", "mean", [with_edges(3, 4)], dims=[1], keepdim=True)
    f.add("mean_dim_1_expanded_f64", "mean", [randn(3, 1, dtype="f64")], expand=[(3, 5)], dims=[1], keepdim=False)

    equal_rows = t([2.0, 2.0, 2.0, 2.0, 5.0, 1.0, 3.0, -1.0, -0.0, 0.0, 0.0, -0.0], shape=(3, 4))
    for op in ("var", "std"):
        f.add(f"{op}_dim_0_of_empty_0x3", op, [torch.zeros(0, 3)], dims=[0], correction=1, keepdim=False)
        f.add(f"{op}_dim_1_of_empty_2x0", op, [torch.zeros(2, 0)], dims=[1], correction=0, keepdim=False)
        f.add(f"{op}_dim_0_of_0d_correction_0", op, [zero_d], dims=[0], correction=0, keepdim=False)
        # n - correction = 0: the value is NaN. torch 1.13's var gradient is inf for a 0-d input
        # (and NaN for a one-element vector); dm's is NaN for both.
        f.add(f"{op}_dim_0_of_0d_correction_1", op, [zero_d], dims=[0], correction=1, keepdim=False)
        f.add(f"{op}_dim_1_equal_rows", op, [equal_rows], dims=[1], correction=1, keepdim=False)
        f.add(f"{op}_dim_1_equal_rows_inf_grad", op, [equal_rows], dims=[1], correction=0, keepdim=True,
              grad_output=t([INF, 1.0, INF], shape=(3, 1)))
        f.add(f"{op}_all_equal_values", f"{op}_all", [t([3.0] * 6, shape=(2, 3))], correction=1)
        f.add(f"{op}_all_edges", f"{op}_all", [with_edges(3, 4)], correction=1)
        f.add(f"{op}_dim_0_expanded", op, [t([1.0, 2.0, 4.0])], expand=[(4, 3)], dims=[0], correction=1,
              keepdim=False)
        f.add(f"{op}_dims_0_1_f64", op, [randn(3, 4, dtype="f64")], dims=[0, 1], correction=0, keepdim=False)

    for keepdim in (False, True):
        tag = "_keepdim" if keepdim else ""
        f.add(f"logsumexp_dim_0_of_empty_0x3{tag}", "logsumexp", [torch.zeros(0, 3)], dim=0, keepdim=keepdim)
        f.add(f"logsumexp_dim_0_of_0d{tag}", "logsumexp", [zero_d], dim=0, keepdim=keepdim)
    f.add("logsumexp_dim_1_of_empty_0x3", "logsumexp", [torch.zeros(0, 3)], dim=1, keepdim=False)
    f.add("logsumexp_dim_1_infinities", "logsumexp",
          [t([INF, 1.0, -INF, -INF, -INF, 2.0, 0.0, -0.0], shape=(4, 2))], dim=1, keepdim=False)

    f.add("max_dim_0_of_0d", "max", [zero_d], dim=0, keepdim=False)
    f.add("min_dim_m1_of_0d_keepdim", "min", [zero_d], dim=-1, keepdim=True)
    f.add("max_all_ties_split_evenly", "max_all", [t([1.0, 3.0, 3.0, 2.0])])
    # torch's max(dim) sends the gradient to the one index it reports; dm shares it among ties.
    f.add("max_dim_ties", "max", [t([1.0, 3.0, 3.0, 2.0, 0.0, 0.0], shape=(2, 3))], dim=1, keepdim=False)


def index_select_cases(f):
    x = randn(2, 3)
    f.add("index_select_empty_index", "index_select", [x, index([])], dim=1)
    f.add("index_select_empty_index_dim_0", "index_select", [randn(3, 2, dtype="f64"), index([])], dim=0)
    f.add("index_select_from_empty_3x0", "index_select", [torch.zeros(3, 0), index([2, 0, 2])], dim=0)
    f.add("index_select_repeats_edges", "index_select", [with_edges(3, 4), index([2, 0, 2, 1])], dim=0,
          grad_output=INF)


def selection_cases(f):
    a = t([3.0, 1.0, 2.0, NAN, 1.0, INF, -INF, 0.0, -0.0, NAN])
    b = t([1.0, 3.0, 2.0, 1.0, NAN, INF, 0.0, -INF, 0.0, NAN])
    for op in ("maximum", "minimum"):
        f.add(f"{op}_edges", op, [a, b])
        f.add(f"{op}_edges_inf_grad", op, [a, b], grad_output=INF)
        f.add(f"{op}_broadcast_0d", op, [with_edges(3, 4), t(0.5)])
        f.add(f"{op}_expanded_f64", op, [randn(3, 1, dtype="f64"), randn(1, 4, dtype="f64")],
              expand=[(3, 4), None])
    f.add("reciprocal_of_minimum_at_zero", "reciprocal_of_minimum", [t([1.0, -2.0]), t([0.0, 3.0])], grad_output=1.0)

    x = with_edges(3, 4)
    for tag, lo, hi in (("m1_1", -1.0, 1.0), ("nan_lo", NAN, 1.0), ("nan_hi", -1.0, NAN), ("nan_both", NAN, NAN),
                        ("lo_above_hi", 2.0, -2.0), ("inf_bounds", -INF, INF)):
        f.add(f"clamp_{tag}", "clamp", [x], lo=lo, hi=hi)
    f.add("clamp_inf_grad", "clamp", [x], lo=-0.5, hi=0.5, grad_output=INF)
    f.add("clamp_expanded", "clamp", [t([-2.0, 0.25, 2.0])], expand=[(4, 3)], lo=-1.0, hi=1.0)
    f.add("clamp__nan_lo", "clamp_", [with_edges(2, 3)], lo=NAN, hi=1.0)
    f.add("relu_inf_grad", "relu", [x], grad_output=INF)
    # dm gives gelu its limit at -inf (0, and gradient 0) where torch computes -inf * 0 = NaN.
    f.add("gelu_minus_inf", "gelu", [t([-INF, -1.0, 0.0, INF])])


def pow_cases(f):
    x = t([0.0, -0.0, 1.0, -2.0, 0.5, INF, NAN])
    f.add("pow_scalar_0_at_zero", "pow_scalar", [x], exponent=0.0, grad_output=INF)
    f.add("pow_scalar_0_f64", "pow_scalar", [x.to(torch.float64)], exponent=0.0)
    for tag, e in (("2", 2.0), ("3", 3.0), ("half", 0.5), ("m_half", -0.5), ("m1", -1.0), ("m2", -2.0), ("1_5", 1.5)):
        f.add(f"pow_scalar_{tag}_edges", "pow_scalar", [x], exponent=e)
    base = t([0.0, 0.0, 0.0, 0.0, 2.0, 1.0, -0.0])
    expo = t([0.0, 2.0, -1.0, 0.5, 3.0, 0.0, 3.0])
    f.add("pow_zero_base", "pow", [base, expo])
    f.add("pow_zero_base_f64", "pow", [base.to(torch.float64), expo.to(torch.float64)])
    f.add("pow_broadcast_exponent_0d", "pow", [t([0.0, 1.0, 2.0, 3.0], shape=(2, 2)), t(0.0)], grad_output=INF)
    f.add("pow_expanded_base", "pow", [t([0.0, 2.0]).reshape(2, 1), t([0.0, 1.0, 2.0])], expand=[(2, 3), None])


def signed_zero_cases(f):
    for n in (4, 9):
        x = with_edges(n)
        f.add(f"div_scalar_neg_zero_{n}", "div_scalar", [x], other=-0.0)
        f.add(f"rdiv_scalar_neg_zero_{n}", "rdiv_scalar", [x], other=-0.0)
        f.add(f"mul_scalar_neg_zero_{n}", "mul_scalar", [x], other=-0.0)
        f.add(f"add_scalar_neg_zero_{n}", "add_scalar", [x], other=-0.0)
        f.add(f"rsub_scalar_neg_zero_{n}", "rsub_scalar", [x], other=-0.0)
        f.add(f"sub_scalar_zero_{n}", "sub_scalar", [x], other=0.0)
    f.add("div_by_0d_neg_zero", "div", [torch.ones(4), t(-0.0)])
    f.add("div_by_0d_neg_zero_f64", "div", [with_edges(3, 3, dtype="f64"), t(-0.0, dtype="f64")])
    f.add("div_0d_neg_zero_by_tensor", "div", [t(-0.0), with_edges(2, 5)])
    f.add("div_by_expanded_neg_zero", "div", [torch.ones(3, 4), t([[-0.0], [0.0], [-0.0]])], expand=[None, (3, 4)])
    f.add("mul_by_expanded_neg_zero", "mul", [with_edges(2, 4), t([-0.0, 0.0, -0.0, 1.0])], expand=[None, (2, 4)])
    f.add("add_neg_zero_0d", "add", [t([-0.0, 0.0, 1.0]), t(-0.0)])


def inplace_cases(f):
    f.add("add__scalar_empty_2x0", "add__scalar", [torch.zeros(2, 0)], other=1.0)
    f.add("add__scalar_empty_0", "add__scalar", [torch.zeros(0)], other=1.0)
    f.add("mul__scalar_empty_0x3_f64", "mul__scalar", [torch.zeros(0, 3, dtype=torch.float64)], other=2.0)
    f.add("add__empty_2x0_by_0d", "add_", [torch.zeros(2, 0), t(1.0)])
    f.add("add__empty_3x0_by_3x0", "add_", [torch.zeros(3, 0), torch.zeros(3, 0)])
    f.add("div__scalar_neg_zero", "div__scalar", [with_edges(3, 4)], other=-0.0)
    f.add("mul__scalar_neg_zero", "mul__scalar", [with_edges(3, 4)], other=-0.0)
    f.add("clamp__empty_2x0", "clamp_", [torch.zeros(2, 0)], lo=0.0, hi=1.0)
    # torch refuses an operand that overlaps the written tensor; dm reads it from a copy first.
    f.add("add__overlapping", "add__overlapping", [t([1.0, 2.0, 3.0, 4.0])])


def dtype_rule_cases(f):
    # torch promotes mixed float dtypes here; dm asks for an explicit conversion.
    f.add("cat_f32_f64", "cat", [randn(2, 2), randn(1, 2, dtype="f64")], dim=0)
    f.add("stack_f32_f64", "stack", [randn(2), randn(2, dtype="f64")], dim=0)
    f.add("matmul_f32_f64", "matmul", [randn(2, 3), randn(3, 2, dtype="f64")])


def main():
    torch.manual_seed(SEED)
    f = EdgeCases()
    for make in (reduction_cases, index_select_cases, selection_cases, pow_cases, signed_zero_cases, inplace_cases,
                 dtype_rule_cases):
        make(f)
    count, size = f.write()
    print(f"{OUT_PATH.relative_to(OUT_PATH.parent.parent.parent.parent)}: {count} cases, {size / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
