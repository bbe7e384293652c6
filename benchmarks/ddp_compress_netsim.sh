#!/usr/bin/env bash
# The data-parallel step of a 784-1024-1024-10 MLP on two ranks joined by a
# simulated 1 Gbit/s link (scripts/netsim), with f32 gradients and with --compress bf16, runs
# alternating so both see the same machine load; prints each run's step time (batch over the
# epoch's samples/s from the metrics file), the medians, the ratio and the load average.
#   benchmarks/ddp_compress_netsim.sh [REPEATS] [RATE] [BATCH]   (root; after a Release build of dm)
# BATCH is the global batch (default 256; dm train's own default is 64).
# One rank per simulated node, one thread each; each run trains one epoch of 16 steps.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-3}
rate=${2:-1gbit}
batch=${3:-256}
dm=$PWD/build/apps/dm/dm
[[ -x $dm ]] || { echo "build dm first: bash scripts/build build -DCMAKE_BUILD_TYPE=Release -- dm" >&2; exit 2; }

if [[ -z ${DM_NETSIM_MPIRUN:-} ]]; then
  exec scripts/netsim --nodes 2 --rate "$rate" -- bash "$0" "$repeats" "$rate" "$batch"
fi

steps=16
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
step_ms() {  # the epoch's mean step time in ms, from a metrics file
  /usr/bin/python3 -c 'import json,sys; r = next(r for r in map(json.loads, open(sys.argv[1])) if r.get("type") == "epoch"); print(1000.0 * int(sys.argv[2]) / r["samples_per_s"])' "$1" "$batch"
}
run() {  # run COMPRESS -> step time in ms
  local metrics
  metrics=$(mktemp /tmp/dm_ddp_bench_XXXXXX.jsonl)
  # shellcheck disable=SC2086  # DM_NETSIM_MPIRUN is a list of options
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun $DM_NETSIM_MPIRUN -np 2 \
    "$dm" train --distributed --compress "$1" --model mlp:784-1024-1024-10 --batch-size "$batch" \
    --limit $((batch * steps)) --epochs 1 --lr 0.01 --schedule constant --threads 1 --metrics "$metrics" > /dev/null
  step_ms "$metrics"
  rm -f "$metrics"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
none=() bf16=()
for ((r = 0; r < repeats; ++r)); do
  none+=("$(run none)")
  bf16+=("$(run bf16)")
  printf "run %d: f32 %.1f ms/step, bf16 %.1f ms/step\n" $((r + 1)) "${none[-1]}" "${bf16[-1]}"
done
n=$(printf "%s\n" "${none[@]}" | median) b=$(printf "%s\n" "${bf16[@]}" | median)
printf "median step, 784-1024-1024-10, batch %d, 2 ranks at %s: f32 %.1f ms, bf16 %.1f ms, f32/bf16 %.2fx\n" \
  "$batch" "$rate" "$n" "$b" "$(awk -v n="$n" -v b="$b" 'BEGIN {print n / b}')"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
