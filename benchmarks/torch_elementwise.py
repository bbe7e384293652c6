#!/usr/bin/python3
"""PyTorch timings of the ops in bench_elementwise: out-of-place add and relu on 16M and 64M
f32, and a 1x10 add (per-op overhead).

Run with Debian's interpreter (it has torch):  /usr/bin/python3 benchmarks/torch_elementwise.py
Prints the median of 5 repeats, each the mean of a timed loop, with the same logical bytes/s
as bench_elementwise (add 3*4*N, relu 2*4*N), for 1 and 2 threads (torch's default here is 1).
"""

import torch
from reference_timing import median_of


MIN_SECONDS = 0.5


def main():
    print(f"torch {torch.__version__}, default threads={torch.get_num_threads()}")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for n in (1 << 24, 1 << 26):
            a, b = torch.rand(n) - 0.5, torch.rand(n) - 0.5
            t = median_of(lambda: torch.add(a, b), MIN_SECONDS)
            print(f"torch add  n={n:>9} threads={threads}: {t * 1e3:8.3f} ms {3 * 4 * n / t / 1e9:6.2f} GB/s")
            t = median_of(lambda: torch.relu(a), MIN_SECONDS)
            print(f"torch relu n={n:>9} threads={threads}: {t * 1e3:8.3f} ms {2 * 4 * n / t / 1e9:6.2f} GB/s")
            del a, b
        a, b = torch.rand(1, 10), torch.rand(1, 10)
        t = median_of(lambda: torch.add(a, b), MIN_SECONDS)
        print(f"torch add 1x10 threads={threads}: {t * 1e9:8.1f} ns")


if __name__ == "__main__":
    main()
