#!/usr/bin/python3
"""torch.matmul timings at the shapes of bench_gemm and bench_nested, as a second reference.

Run with Debian's interpreter (it has torch):  /usr/bin/python3 benchmarks/torch_matmul.py
Prints the median of 5 repeats, each the best of a short timed loop, for 1 and 2 threads.
"""

import torch
from reference_timing import median_of

GEMM_SHAPES = [(256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048),
               (256, 784, 128), (256, 1024, 1024)]


MIN_SECONDS = 0.3


def main():
    print(f"torch {torch.__version__}, BLAS: {torch.backends.mkl.is_available() and 'MKL' or 'non-MKL'}")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for m, k, n in GEMM_SHAPES:
            a, b = torch.rand(m, k), torch.rand(k, n)
            t = median_of(lambda: torch.matmul(a, b), MIN_SECONDS)
            print(f"torch.matmul {m}x{k}x{n} threads={threads}: {t * 1e3:9.3f} ms {2 * m * n * k / t / 1e9:7.1f} GFLOPS")
        pairs = [(torch.rand(256, 256), torch.rand(256, 256)) for _ in range(64)]
        t = median_of(lambda: [torch.matmul(x, y) for x, y in pairs], MIN_SECONDS)
        print(f"torch.matmul loop of 64 x 256^3 threads={threads}: {t * 1e3:9.3f} ms")


if __name__ == "__main__":
    main()
