#!/usr/bin/env bash
# How close a 784-1024-1024-10 training step (batch 256) comes to its own GEMMs: bench_gemm
# times the step's GEMMs alone, then one dm train epoch runs, in pairs so both see the same
# machine load; prints each pair's GFLOPS and the ratio.
#   benchmarks/train_gemm_share.sh [PAIRS]     (from the repository root after a Release build)
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-5}
flop_per_sample=9.56416e6  # what bench_gemm reports as flop_per_sample for this step
for ((p = 0; p < pairs; ++p)); do
  gemm=$(build/benchmarks/bench_gemm --benchmark_filter=mlp --benchmark_repetitions=3 \
           --benchmark_report_aggregates_only=true 2>&1 | grep median | sed -E 's/.* ([0-9.]+)G\/s.*/\1/')
  metrics=$(mktemp)
  build/apps/dm/dm train --model mlp:784-1024-1024-10 --batch-size 256 --epochs 1 --lr 0.01 \
    --schedule constant --metrics "$metrics" > /dev/null 2>&1
  samples=$(/usr/bin/python3 -c 'import json,sys; print(next(r for r in map(json.loads, open(sys.argv[1])) if r.get("type") == "epoch")["samples_per_s"])' "$metrics")
  rm -f "$metrics"
  awk -v g="$gemm" -v s="$samples" -v f="$flop_per_sample" 'BEGIN {
    t = s * f / 1e9
    printf "GEMMs alone %6.1f GFLOPS   training %6.0f samples/s = %6.1f GFLOPS   %5.1f%%\n", g, s, t, 100 * t / g }'
done
