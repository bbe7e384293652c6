#!/usr/bin/python3
"""torch's attention block forward + backward at the shapes of bench_attention, beside ours.

Run with Debian's interpreter (it has torch):

    /usr/bin/python3 benchmarks/torch_attention.py [path/to/bench_attention]

The block is y = Linear(LayerNorm(x + MultiheadAttention(x, x, x))) with embed_dim 128,
4 heads, sequence 64, batch 32 (batch_first, need_weights=False), x requiring a gradient; a
step is the forward and the backward of a fixed upstream gradient, exactly what bench_attention
times. Prints the median of 5 repeats, each a timed loop of at least 0.3 s, with
torch.set_num_threads(2) (and 1). Given the path of bench_attention, it then runs it at 2
threads with --torch_ms set to torch's figure, so that it prints ours / torch.
"""

import subprocess
import sys

import torch
from reference_timing import median_of

BATCH, SEQ, EMBED, HEADS = 32, 64, 128, 4
MIN_SECONDS = 0.3


def step_fn(causal):
    torch.manual_seed(1)
    mha = torch.nn.MultiheadAttention(EMBED, HEADS, batch_first=True)
    norm = torch.nn.LayerNorm(EMBED)
    dense = torch.nn.Linear(EMBED, EMBED)
    x = torch.randn(BATCH, SEQ, EMBED, requires_grad=True)
    g = torch.randn(BATCH, SEQ, EMBED)
    mask = torch.ones(SEQ, SEQ, dtype=torch.bool).triu(1) if causal else None
    params = [x, *mha.parameters(), *norm.parameters(), *dense.parameters()]

    def step():
        for p in params:
            p.grad = None
        attended, _ = mha(x, x, x, need_weights=False, attn_mask=mask)
        dense(norm(x + attended)).backward(g)

    return step


def main():
    print(f"torch {torch.__version__}")
    at_two = None
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for causal in (False, True):
            t = median_of(step_fn(causal), MIN_SECONDS)
            name = "attention_block_step" + ("_causal" if causal else "")
            print(f"torch {name}/b32_l64_e128_h4/threads:{threads}: {t * 1e3:9.3f} ms")
            if threads == 2 and not causal:
                at_two = t
    if len(sys.argv) > 1:
        subprocess.run([sys.argv[1], "--benchmark_filter=threads:2", "--benchmark_repetitions=5",
                        "--benchmark_report_aggregates_only=true", f"--torch_ms={at_two * 1e3:.4f}"], check=True)


if __name__ == "__main__":
    main()
