#!/usr/bin/env bash
# CNN training throughput: `dm train --model cnn` (32-64-128, batch norm, dropout 0.25) beside
# the same network in Debian's PyTorch (benchmarks/torch_train_cnn.py), same batch, optimizer and
# data, both on 2 threads (torch.set_num_threads(2): its oneDNN convolutions), alternating runs so
# both see the same machine load; prints the medians of samples/s and the ratio ours / torch per
# batch size. Then the CPU seconds (user + system) of each whole process on one thread, which a
# busy machine disturbs far less than wall time: both load the data, train, and evaluate the test
# split once; the start-up cost of each (dm --help, importing torch) is printed beside them.
#   benchmarks/train_cnn.sh [REPEATS] [STEPS]   (from the repository root after a Release build)
# STEPS 0 (the default) trains one epoch; N trains N batches on the first N x batch samples.
set -euo pipefail
shopt -s inherit_errexit  # a failing run inside $(...) stops the script
cd "$(dirname "$0")/.."
repeats=${1:-3}
steps=${2:-0}
dm=build/apps/dm/dm
batches=(64 256)
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# dm train's options for BATCH and THREADS: one epoch, on the first STEPS x BATCH samples when
# STEPS > 0.
dm_args() {
  local args=(train --model cnn --batch-size "$1" --epochs 1 --lr 0.01 --schedule constant --threads "$2")
  if ((steps > 0)); then args+=(--limit $((steps * $1))); fi
  echo "${args[@]}"
}
torch_args() {
  local args=("$1" --threads "$2")
  if ((steps > 0)); then args+=(--steps "$steps"); fi
  echo "${args[@]}"
}
dm_samples_per_s() {
  local metrics; metrics=$(mktemp)
  # shellcheck disable=SC2046  # dm_args is a list of words without spaces
  "$dm" $(dm_args "$1" 2) --metrics "$metrics" > /dev/null 2>&1
  /usr/bin/python3 -c 'import json,sys; print(next(r for r in map(json.loads, open(sys.argv[1])) if r.get("type") == "epoch")["samples_per_s"])' "$metrics"
  rm -f "$metrics"
}
torch_samples_per_s() {
  # shellcheck disable=SC2046
  /usr/bin/python3 benchmarks/torch_train_cnn.py $(torch_args "$1" 2) | sed -E 's/.*: ([0-9.]+) samples.*/\1/'
}
cpu_seconds() { /usr/bin/time -f "%U %S" "$@" 2>&1 > /dev/null | tail -1 | awk '{print $1 + $2}'; }

printf "%-6s %6s %14s %15s %8s\n" model batch "dm samples/s" "torch samples/s" ratio
for batch in "${batches[@]}"; do
  ours=() theirs=()
  for ((r = 0; r < repeats; ++r)); do
    ours+=("$(dm_samples_per_s "$batch")")
    theirs+=("$(torch_samples_per_s "$batch")")
  done
  o=$(printf "%s\n" "${ours[@]}" | median) t=$(printf "%s\n" "${theirs[@]}" | median)
  printf "%-6s %6s %14.0f %15.0f %7.2fx\n" cnn "$batch" "$o" "$t" "$(awk -v o="$o" -v t="$t" 'BEGIN {print o / t}')"
done

echo "CPU seconds, one thread, whole process (load, train, evaluate): dm / torch, per round"
for batch in "${batches[@]}"; do
  for ((r = 1; r <= repeats; ++r)); do
    # shellcheck disable=SC2046
    d=$(cpu_seconds "$dm" $(dm_args "$batch" 1))
    # shellcheck disable=SC2046
    t=$(cpu_seconds /usr/bin/python3 benchmarks/torch_train_cnn.py $(torch_args "$batch" 1) --evaluate)
    echo "cnn b$batch round $r: $d / $t  (ratio $(awk -v d="$d" -v t="$t" 'BEGIN {printf "%.2f", d / t}'))"
  done
done
echo "start-up CPU seconds: dm --help $(cpu_seconds "$dm" --help)," \
  "import torch $(cpu_seconds /usr/bin/python3 -c 'import torch')"
