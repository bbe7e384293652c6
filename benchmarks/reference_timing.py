"""Timing shared by the PyTorch reference scripts: repeated calls for at least min_seconds,
after one warm-up call, and the median of several such measurements."""
import statistics
import time


def seconds_per_call(fn, min_seconds):
    fn()  # warm-up: first-touch allocations and thread start-up
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return elapsed / calls


def median_of(fn, min_seconds, repeats=5):
    return statistics.median(seconds_per_call(fn, min_seconds) for _ in range(repeats))
