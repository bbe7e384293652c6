#!/usr/bin/python3
"""torch conv2d forward + backward at the shapes of bench_conv, as the reference beside it.

Run with Debian's interpreter (it has torch):  /usr/bin/python3 benchmarks/torch_conv.py
Prints the median of 5 repeats, each a timed loop of at least 0.3 s, for 1 and 2 threads: a
step is forward, then the weight and bias gradients, plus the input gradient for the second
layer, exactly what bench_conv times; GFLOPS count the same products.
"""

import torch
import torch.nn.functional as F
from reference_timing import median_of

# name, batch, in_channels, out_channels, size, input needs a gradient
LAYERS = [("conv1_1x28x28_to_32", 64, 1, 32, 28, False), ("conv2_32x14x14_to_64", 64, 32, 64, 14, True)]
MIN_SECONDS = 0.3


def step_fn(n, c, oc, size, input_grad):
    x = torch.randn(n, c, size, size, requires_grad=input_grad)
    w = torch.randn(oc, c, 3, 3, requires_grad=True)
    b = torch.randn(oc, requires_grad=True)
    g = torch.randn(n, oc, size, size)

    def step():
        for t in (x, w, b):
            t.grad = None
        F.conv2d(x, w, b, 1, 1).backward(g)

    return step


def main():
    print(f"torch {torch.__version__}, mkldnn: {torch.backends.mkldnn.is_available()}")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for name, n, c, oc, size, input_grad in LAYERS:
            t = median_of(step_fn(n, c, oc, size, input_grad), MIN_SECONDS)
            flops = 2 * n * oc * size * size * c * 9 * (3 if input_grad else 2)
            print(f"torch conv_step/{name}/threads:{threads}: {t * 1e3:9.3f} ms {flops / t / 1e9:7.1f} GFLOPS")


if __name__ == "__main__":
    main()
