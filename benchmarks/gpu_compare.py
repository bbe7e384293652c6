#!/usr/bin/env python3
"""Ours beside PyTorch on one GPU: runs bench_gpu, then benchmarks/torch_gpu.py, and prints one
table of the cases both timed, with the ratio and the target of each.

Usage: gpu_compare.py [--bench PATH] [--bench-library-path DIRS] [--min-seconds S] [--repeats N]
                      [--timeout SECONDS] [--python INTERPRETER]
Run it with the interpreter that has a CUDA PyTorch (the torch script runs under the same one
unless --python says otherwise). Both programs' own output is passed through, so the raw
numbers stay in the log; each is stopped after --timeout seconds, keeping the cases it finished.
--bench-library-path is bench_gpu's LD_LIBRARY_PATH alone: the libraries bundled for our
programs (libstdc++ and zlib among them) are kept out of PyTorch's process.

Targets: every GEMM at least 0.95x torch.matmul's speed; the training step at least as fast as
PyTorch eager's; each elementwise op at least 85% of the device-to-device copy bandwidth that
bench_gpu measures in the same run (cudaMemcpyAsync). Exits 0 whether targets are met or not;
1 when a program failed or ran past its time, 0 with a note when there is no GPU.
"""
import argparse
import datetime
import json
import os
import signal
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
GEMM_TARGET = 0.95
STEP_TARGET = 1.0
COPY_TARGET = 0.85
COPY_REFERENCE = "copy/memcpy_d2d"


def run(name, command, env, timeout):
    """Runs `command`, echoing its output; returns (exit code or None on timeout, JSON records)."""
    print(f"---- {name}: {' '.join(command)}", flush=True)
    # A session of its own, so that a stop reaches whatever it started too.
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", start_new_session=True)
    expired = threading.Event()

    def stop():
        expired.set()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout, stop)
    timer.start()
    records = []
    try:
        for line in proc.stdout:
            print(line, end="", flush=True)
            start = line.find('{"side"')
            if start >= 0:
                try:
                    records.append(json.loads(line[start:]))
                except json.JSONDecodeError:
                    pass
        rc = proc.wait()
    finally:
        timer.cancel()
    if expired.is_set():
        print(f"---- {name}: stopped after {timeout:.0f}s; the cases it finished are kept", flush=True)
        return None, records
    print(f"---- {name}: exit {rc}", flush=True)
    return rc, records


def unit_and_value(case, record):
    """The unit a case is shown in and its value: TFLOP/s, ms per step, or GB/s."""
    seconds = record.get("seconds")
    if seconds is None or seconds <= 0:
        return None, None
    if record.get("flop"):
        return "TFLOP/s", record["flop"] / seconds / 1e12
    if record.get("bytes"):
        return "GB/s", record["bytes"] / seconds / 1e9
    return "ms", seconds * 1e3


def row(case, ours, torch, copy_gbps):
    """(case, unit, ours, torch, ratio, target, result) for one case; missing values as '-'."""
    unit, ours_value = unit_and_value(case, ours or {})
    torch_unit, torch_value = unit_and_value(case, torch or {})
    unit = unit or torch_unit or "-"

    def shown(value, record):
        if value is not None:
            return f"{value:.{3 if value < 10 else 2 if value < 100 else 1 if value < 1000 else 0}f}"
        return "error" if record and "error" in record else "-"

    # The ratio is always ours' speed over torch's: torch's time over ours.
    ratio = None
    if ours_value is not None and torch_value is not None:
        ratio = torch["seconds"] / ours["seconds"]
    if case == COPY_REFERENCE:
        target, result = "reference", ""
    elif case.startswith("gemm/") or case.startswith("mlp_step/"):
        goal = GEMM_TARGET if case.startswith("gemm/") else STEP_TARGET
        target = f">={goal:.2f}x torch"
        result = "-" if ratio is None else ("met" if ratio >= goal else "missed")
    elif case.startswith("elementwise/"):
        target = f">={COPY_TARGET:.0%} of copy"
        if ours_value is None or copy_gbps is None:
            result = "-"
        else:
            share = ours_value / copy_gbps
            result = f"{'met' if share >= COPY_TARGET else 'missed'} ({share:.0%})"
    else:
        target, result = "", ""
    return (case, unit, shown(ours_value, ours), shown(torch_value, torch), "-" if ratio is None else f"{ratio:.2f}x",
            target, result)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", default=os.path.normpath(os.path.join(HERE, "..", "build", "benchmarks", "bench_gpu")),
                        help="the bench_gpu program (default: build/benchmarks/bench_gpu)")
    parser.add_argument("--bench-library-path", default=None,
                        help="LD_LIBRARY_PATH for bench_gpu only (default: this process's)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter with PyTorch (default: this one)")
    parser.add_argument("--min-seconds", type=float, default=0.1, help="each timed repeat lasts at least this")
    parser.add_argument("--repeats", type=int, default=3, help="medians of this many repeats")
    parser.add_argument("--timeout", type=float, default=70.0, help="seconds each program may run")
    args = parser.parse_args()

    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    bench_env = dict(os.environ)
    if args.bench_library_path is not None:
        bench_env["LD_LIBRARY_PATH"] = args.bench_library_path
    ours_rc, ours = run("ours", [args.bench, f"--benchmark_min_time={args.min_seconds}",
                                 f"--benchmark_repetitions={args.repeats}"], bench_env, args.timeout)
    torch_rc, theirs = run("torch", [args.python, os.path.join(HERE, "torch_gpu.py"),
                                     f"--min-seconds={args.min_seconds}", f"--repeats={args.repeats}"],
                           dict(os.environ), args.timeout)
    failed = ours_rc != 0 or torch_rc != 0

    info = {}
    cases = {}  # case -> {"ours": record, "torch": record}, in the order first seen
    for record in ours + theirs:
        side = record.get("side")
        if "case" in record:
            cases.setdefault(record["case"], {})[side] = record
        elif "gpu" in record:
            info[side] = record
    print()
    if not cases:
        print(f"gpu_compare ({date}): no case was measured (no GPU, or neither program ran); nothing to compare")
        return 1 if failed else 0

    gpu = info.get("torch", {}).get("gpu") or info.get("ours", {}).get("gpu", "unknown GPU")
    versions = info.get("torch", {})
    print(f"GPU benchmark on {gpu}, {date}: ours (bench_gpu) beside PyTorch {versions.get('torch', '?')} "
          f"(CUDA {versions.get('cuda', '?')}; its bf16 products reduce in {versions.get('bf16_reduction', '?')})")
    print(f"medians of {args.repeats} repeats of at least {args.min_seconds}s; ratio = ours' speed / torch's "
          "(torch's time / ours); elementwise on 2^28 f32, bytes read + written once each")
    copy = cases.get(COPY_REFERENCE, {}).get("ours", {})
    copy_gbps = unit_and_value(COPY_REFERENCE, copy)[1]
    if copy_gbps is not None:
        print(f"copy bandwidth (ours, cudaMemcpyAsync device to device): {copy_gbps:.1f} GB/s")
    rows = [row(case, sides.get("ours"), sides.get("torch"), copy_gbps) for case, sides in cases.items()]
    header = ("case", "unit", "ours", "torch", "ratio", "target", "result")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])] + [r[i].rjust(widths[i]) for i in (2, 3, 4)] + \
                [r[5].ljust(widths[5]), r[6]]
        print("  ".join(cells).rstrip())
    met = sum(r[6].startswith("met") for r in rows)
    missed = sum(r[6].startswith("missed") for r in rows)
    unmeasured = sum(r[6] == "-" for r in rows)
    print(f"targets: {met} met, {missed} missed, {unmeasured} not measured")
    for case, sides in cases.items():
        for side in ("ours", "torch"):
            if "error" in sides.get(side, {}):
                print(f"{side} {case}: " + " / ".join(sides[side]["error"].splitlines()))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
