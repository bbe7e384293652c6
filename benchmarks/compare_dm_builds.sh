#!/usr/bin/env bash
# Two builds of dm beside Debian's PyTorch, alternating so all three see the same load: the
# epoch's samples/s of each (as train_mlp.sh measures them), then the CPU seconds of the same
# epoch with one thread (user + system), which a busy machine disturbs far less than wall time.
#   benchmarks/compare_dm_builds.sh OLD_DM NEW_DM [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?OLD_DM}; new=${2:?NEW_DM}; rounds=${3:-3}
configs=("784-128-10 64" "784-128-10 256" "784-1024-1024-10 256")
samples_per_s() {
  local metrics; metrics=$(mktemp)
  "$1" train --model "mlp:$2" --batch-size "$3" --epochs 1 --lr 0.01 --schedule constant --metrics "$metrics" > /dev/null 2>&1
  /usr/bin/python3 -c 'import json,sys; print(round(next(r for r in map(json.loads, open(sys.argv[1])) if r.get("type") == "epoch")["samples_per_s"]))' "$metrics"
  rm -f "$metrics"
}
cpu_seconds() {
  /usr/bin/time -f "%U %S" "$1" train --model "mlp:$2" --batch-size "$3" --epochs 1 --lr 0.01 --schedule constant \
    --threads 1 2>&1 > /dev/null | tail -1 | awk '{print $1 + $2}'
}
echo "samples/s: old / new / torch, per round"
for config in "${configs[@]}"; do
  read -r sizes batch <<< "$config"
  for ((r = 1; r <= rounds; ++r)); do
    o=$(samples_per_s "$old" "$sizes" "$batch"); n=$(samples_per_s "$new" "$sizes" "$batch")
    t=$(/usr/bin/python3 benchmarks/torch_train_mlp.py "$sizes" "$batch" | sed -E 's/.*: ([0-9.]+) samples.*/\1/')
    echo "$sizes b$batch round $r: $o / $n / $t  (load $(cut -d' ' -f1 /proc/loadavg))"
  done
done
echo "CPU seconds, one thread: old / new, per round"
for config in "${configs[@]}"; do
  read -r sizes batch <<< "$config"
  for ((r = 1; r <= rounds; ++r)); do
    echo "$sizes b$batch round $r: $(cpu_seconds "$old" "$sizes" "$batch") / $(cpu_seconds "$new" "$sizes" "$batch")"
  done
done
echo "start-up CPU seconds (dm --help): old $(/usr/bin/time -f '%U %S' "$old" --help 2>&1 > /dev/null | awk '{print $1 + $2}')" \
  "new $(/usr/bin/time -f '%U %S' "$new" --help 2>&1 > /dev/null | awk '{print $1 + $2}')"
