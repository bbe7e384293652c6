#!/usr/bin/env bash
# The parameter server on a simulated cluster (scripts/netsim): `dm ps serve` on node 0 and one
# `dm ps work` per further node, every node on its own link of RATE to one switch. For each
# worker count and mode, one run trains mlp:784-128-10 on Fashion-MNIST until the server's test
# accuracy reaches the target (85%) or --steps versions; the table gives per run the samples/s
# of all workers together, the seconds from the first update to the target (the server
# evaluates every --eval-every versions, and that time is included), the last test accuracy
# and the versions trained. Then one run with 2 workers in which a worker is killed (SIGKILL)
# mid-run and restarted under its name: it must still reach the target, and the server must
# report the restarted worker's reconnect.
#
#   benchmarks/ps_netsim.sh [--rate 1gbit] [--workers "2 4 8"] [--modes "sync async bounded ..."]
#                           [--steps N] [--limit N] [--batch-size N] [--eval-every N]
#                           [--target 0.85] [--max-staleness N] [--tiny]
#
# Modes: sync, async, bounded (bounded staleness, --max-staleness), each also with a -bf16
# suffix (workers push bf16 with error feedback: --compress bf16). --tiny: 2 workers, every mode
# once, 20 versions on 512 samples, no link check: it shows that everything runs, not how fast.
# Needs root (network namespaces) and a Release build of dm; exits 77 (skipped) without root.
# Every process runs with DM_NUM_THREADS=1 (the nodes share this machine's cores).
set -euo pipefail
cd "$(dirname "$0")/.."
self=$PWD/benchmarks/ps_netsim.sh
dm=$PWD/build/apps/dm/dm

rate=1gbit worker_counts="2 4 8" modes="sync async bounded sync-bf16 async-bf16 bounded-bf16"
steps=3000 limit=0 batch=64 eval_every=50 target=0.85 staleness=2 check="" inside=0 kill_run=0 restart_steps="" steady_delay_ms=0 data=/usr/share/datasets/fashion-mnist
while (($#)); do
  case $1 in
    --rate) rate=${2:?}; shift 2 ;;
    --workers) worker_counts=${2:?}; shift 2 ;;
    --modes) modes=${2:?}; shift 2 ;;
    --steps) steps=${2:?}; shift 2 ;;
    --limit) limit=${2:?}; shift 2 ;;
    --batch-size) batch=${2:?}; shift 2 ;;
    --eval-every) eval_every=${2:?}; shift 2 ;;
    --target) target=${2:?}; shift 2 ;;
    --max-staleness) staleness=${2:?}; shift 2 ;;
    --data) data=${2:?}; shift 2 ;;
    --tiny) worker_counts=2 steps=20 limit=512 eval_every=10 check=--no-check restart_steps=100 steady_delay_ms=50; shift ;;
    --no-check) check=--no-check; shift ;;
    --inside) inside=1; shift ;;  # internal: this invocation runs in node 0 of a simulated cluster
    --kill-run) kill_run=1; shift ;;  # internal: also the run with a worker killed and restarted
    # internal: the restart run's versions, and a pause per step of its steady worker (--tiny:
    # long enough that the restarted process, which loads its data first, joins before the end)
    --restart-steps) restart_steps=${2:?}; shift 2 ;;
    --steady-delay-ms) steady_delay_ms=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "ps_netsim: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for m in $modes; do
  [[ $m =~ ^(sync|async|bounded)(-bf16)?$ ]] || { echo "ps_netsim: unknown mode '$m'" >&2; exit 2; }
done
for w in $worker_counts; do
  [[ $w =~ ^[0-9]+$ ]] && ((w >= 2 && w <= 63)) || { echo "ps_netsim: worker counts must be 2..63, got '$w'" >&2; exit 2; }
done

# The options every nested invocation gets again.
forward=(--rate "$rate" --modes "$modes" --steps "$steps" --limit "$limit" --batch-size "$batch"
  --eval-every "$eval_every" --target "$target" --max-staleness "$staleness" --data "$data"
  --restart-steps "${restart_steps:-$steps}" --steady-delay-ms "$steady_delay_ms")

if ((!inside)); then
  [[ $(id -u) -eq 0 ]] || { echo "ps_netsim: skipped: network namespaces (scripts/netsim) need root" >&2; exit 77; }
  [[ -x $dm ]] || { echo "build dm first: bash scripts/build build -DCMAKE_BUILD_TYPE=Release -- dm" >&2; exit 2; }
  [[ -f $data/t10k-images-idx3-ubyte || -f $data/t10k-images-idx3-ubyte.gz ]] ||
    { echo "ps_netsim: skipped: no Fashion-MNIST under $data (Debian dataset-fashion-mnist)" >&2; exit 77; }
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  printf "%-8s %-13s %12s %14s %9s %9s\n" workers mode samples/s "s_to_$target" accuracy versions
  first=1
  for w in $worker_counts; do
    # One cluster per worker count; the restart run goes in the first (it needs 2 workers).
    extra=()
    ((first)) && extra=(--kill-run)
    first=0
    # shellcheck disable=SC2086  # $check is empty or one option
    scripts/netsim --nodes $((w + 1)) --rate "$rate" $check -- bash "$self" --inside "${forward[@]}" --workers "$w" "${extra[@]}"
  done
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit 0
fi

# Inside node 0: the server here, worker i on node i.
read -r -a nodes <<< "$DM_NETSIM_NODES"
workers=$worker_counts
scratch=$(mktemp -d /tmp/dm_ps_netsim_XXXXXX)
trap 'rm -rf "$scratch"' EXIT
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$scratch/secret"
server_host=${nodes[0]}
port=5555

# start_worker INDEX NAME SEED COMPRESS [DELAY_MS]: in node INDEX, in the background; its pid
# lands in a file.
start_worker() {
  local log="$scratch/$2.$3.log"
  "$DM_NETSIM_EXEC" "${nodes[$1]}" "echo \$\$ > '$scratch/$2.pid'; exec env DM_NUM_THREADS=1 '$dm' ps work \
--host $server_host --port $port --secret-file '$scratch/secret' --data '$data' --limit $limit --batch-size $batch \
--seed $3 --name $2 --compress $4 --step-delay-ms ${5:-0}" > "$log" 2>&1 &
}

# start_server MODE COUNT METRICS LOG [STEPS]: in this node, in the background.
start_server() {
  DM_NUM_THREADS=1 "$dm" ps serve --host "$server_host" --port $port --secret-file "$scratch/secret" --mode "$1" \
    --max-staleness "$staleness" --steps "${5:-$steps}" --workers "$2" --eval-every "$eval_every" --target-accuracy "$target" \
    --data "$data" --metrics "$3" > "$4" 2>&1 &
  server_pid=$!
}

# What a run's metrics file says: samples/s, seconds to the target ("-" if not reached), the last
# test accuracy, the versions trained.
summarise() {
  /usr/bin/python3 - "$1" "$target" << 'PY'
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
target = float(sys.argv[2])
summary = next(r for r in records if r["type"] == "summary")
evals = [r for r in records if r["type"] == "eval"]
reached = next((r["seconds"] for r in evals if r["test_accuracy"] >= target), None)
accuracy = evals[-1]["test_accuracy"] if evals else float("nan")
print("%.1f %s %.4f %d" % (summary["samples_per_s"], "-" if reached is None else "%.2f" % reached, accuracy, summary["version"]))
PY
}

for mode in $modes; do
  base=${mode%-bf16} compress=none
  [[ $mode == *-bf16 ]] && compress=bf16
  start_server "$base" "$workers" "$scratch/$mode.jsonl" "$scratch/$mode.server.log"
  for ((i = 1; i <= workers; ++i)); do start_worker "$i" "w$i" "$i" "$compress"; done
  status=0
  wait "$server_pid" || status=$?
  wait || true  # the workers end when the server says training is over
  if ((status != 0)); then
    echo "ps_netsim: the $mode server with $workers workers failed ($status):" >&2
    tail -n 20 "$scratch/$mode.server.log" >&2
    exit 1
  fi
  read -r rate_s seconds accuracy versions <<< "$(summarise "$scratch/$mode.jsonl")"
  printf "%-8s %-13s %12s %14s %9s %9s\n" "$workers" "$mode" "$rate_s" "$seconds" "$accuracy" "$versions"
done

((kill_run)) || exit 0
# A worker killed mid-run and restarted under its name, asynchronous mode with 2 workers.
log=$scratch/restart.server.log
start_server async 2 "$scratch/restart.jsonl" "$log" "$restart_steps"
start_worker 1 steady 1 none "$steady_delay_ms"
start_worker 2 phoenix 2 none
# Mid-run: once the server has reported a quarter of the versions.
kill_at=$((restart_steps / 4 > 0 ? restart_steps / 4 : 1))
until grep -qE "^version ([0-9]+) loss" "$log" && (($(grep -oE "^version [0-9]+ loss" "$log" | tail -1 | cut -d' ' -f2) >= kill_at)); do
  kill -0 "$server_pid" 2> /dev/null || break
  sleep 0.1
done
if kill -0 "$server_pid" 2> /dev/null && [[ -s $scratch/phoenix.pid ]]; then
  kill -9 "$(cat "$scratch/phoenix.pid")" 2> /dev/null || true
  sleep 0.5
  start_worker 2 phoenix 3 none
  killed=yes
else
  killed="no (the run ended first)"
fi
status=0
wait "$server_pid" || status=$?
wait || true
((status == 0)) || { echo "ps_netsim: the restart run's server failed ($status):" >&2; tail -n 20 "$log" >&2; exit 1; }
read -r rate_s seconds accuracy versions <<< "$(summarise "$scratch/restart.jsonl")"
reconnects=$(sed -n 's/^dm ps: final worker phoenix .* reconnects \([0-9]*\).*/\1/p' "$log")
printf "%-8s %-13s %12s %14s %9s %9s\n" 2 "async-restart" "$rate_s" "$seconds" "$accuracy" "$versions"
echo "restart run: worker killed mid-run: $killed; reconnects the server reported for it: ${reconnects:-none};" \
  "target $target reached: $([[ $seconds == - ]] && echo no || echo "yes, after $seconds s")"
grep "^dm ps: final worker" "$log" | sed 's/^/  /'
