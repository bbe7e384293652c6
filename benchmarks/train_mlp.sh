#!/usr/bin/env bash
# MLP training throughput, dm train beside Debian's PyTorch, same model, batch, optimizer and
# data, alternating runs so both see the same machine load; prints the medians and the ratio.
#   benchmarks/train_mlp.sh [REPEATS]      (run from the repository root after a Release build)
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-3}
dm=build/apps/dm/dm
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf "%-22s %6s %14s %14s %8s\n" model batch "dm samples/s" "torch samples/s" ratio
for config in "784-128-10 64" "784-128-10 256" "784-1024-1024-10 256"; do
  read -r sizes batch <<< "$config"
  ours=() theirs=()
  for ((r = 0; r < repeats; ++r)); do
    metrics=$(mktemp)
    "$dm" train --model "mlp:$sizes" --batch-size "$batch" --epochs 1 --lr 0.01 --schedule constant \
      --metrics "$metrics" > /dev/null 2>&1
    ours+=("$(/usr/bin/python3 -c 'import json,sys; print(next(r for r in map(json.loads, open(sys.argv[1])) if r.get("type") == "epoch")["samples_per_s"])' "$metrics")")
    rm -f "$metrics"
    theirs+=("$(/usr/bin/python3 benchmarks/torch_train_mlp.py "$sizes" "$batch" | sed -E 's/.*: ([0-9.]+) samples.*/\1/')")
  done
  o=$(printf "%s\n" "${ours[@]}" | median) t=$(printf "%s\n" "${theirs[@]}" | median)
  printf "%-22s %6s %14.0f %14.0f %7.2fx\n" "$sizes" "$batch" "$o" "$t" "$(awk -v o="$o" -v t="$t" 'BEGIN {print o / t}')"
done
