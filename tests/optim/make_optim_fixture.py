"""Writes tests/data/optim/torch_optimizers.json: torch.optim SGD/Adam/AdamW trajectories.

Run from the repository root with Debian's interpreter (the one with python3-torch):
    /usr/bin/python3 tests/optim/make_optim_fixture.py

Each case binds two parameters ("0.weight" (3, 4) and "0.bias" (5,)), feeds the same seeded
gradients for several steps (the bias gets no gradient on step 3, so per-parameter step
counts matter) and records the parameters after every step and the final optimizer state.
"""
import json
import os

import torch

STEPS = 6
SKIP_BIAS_STEP = 3
SHAPES = [("0.weight", (3, 4)), ("0.bias", (5,))]

CASES = [
    ("sgd_plain", "sgd", dict(lr=0.1)),
    ("sgd_momentum", "sgd", dict(lr=0.05, momentum=0.9)),
    ("sgd_dampening_decay", "sgd", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    ("sgd_nesterov_decay", "sgd", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.001)),
    ("adam", "adam", dict(lr=0.01)),
    ("adam_l2", "adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("adamw", "adamw", dict(lr=0.01, weight_decay=0.05)),
]

MAKERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
DTYPES = {"f32": torch.float32, "f64": torch.float64}


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def run_case(name, kind, options, dtype_name):
    gen = torch.Generator().manual_seed(1234)
    dtype = DTYPES[dtype_name]
    params = [torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype).requires_grad_()
              for _, shape in SHAPES]
    initial = [flat(p) for p in params]
    opt = MAKERS[kind](params, **options)
    grads, after = [], []
    for step in range(STEPS):
        step_grads = []
        for i, p in enumerate(params):
            if i == 1 and step == SKIP_BIAS_STEP:
                p.grad = None
                step_grads.append(None)
            else:
                g = torch.randn(p.shape, generator=gen, dtype=torch.float64).to(dtype)
                p.grad = g
                step_grads.append(flat(g))
        opt.step()
        grads.append(step_grads)
        after.append([flat(p) for p in params])
    state = {}
    for (pname, _), p in zip(SHAPES, params):
        st = opt.state[p]
        state["step." + pname] = int(st["step"]) if "step" in st else STEPS - (1 if pname == "0.bias" else 0)
        for key in ("momentum_buffer", "exp_avg", "exp_avg_sq"):
            if key in st and st[key] is not None:
                state[key + "." + pname] = flat(st[key])
    opts = dict(options)
    if "betas" in opts:
        opts["beta1"], opts["beta2"] = opts.pop("betas")
    return {"name": name + "_" + dtype_name, "optimizer": kind, "dtype": dtype_name, "options": opts,
            "params": [{"name": n, "shape": list(s), "initial": v} for (n, s), v in zip(SHAPES, initial)],
            "grads": grads, "after": after, "state": state}


def main():
    cases = [run_case(n, k, o, d) for n, k, o in CASES for d in ("f32", "f64")]
    out = {"generator": "tests/optim/make_optim_fixture.py", "torch_version": torch.__version__,
           "steps": STEPS, "cases": cases}
    path = os.path.join("tests", "data", "optim", "torch_optimizers.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"{path}: {len(cases)} cases, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
