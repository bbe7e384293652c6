#!/usr/bin/env bash
# scripts/netsim: nodes reach each other only over their links, the command's exit status comes
# back, and every namespace it made is gone afterwards: after success, after a failing command
# and after the script itself is killed. Skips (77) where network namespaces cannot be made.
set -uo pipefail
netsim=${1:?usage: test_netsim.sh path/to/scripts/netsim}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
fail() { echo "FAIL: $*"; cat "$log"; exit 1; }

# The namespaces a run reported making; none may remain.
check_removed() {
  local made
  made=$(sed -n 's/.*namespaces \(.*\)$/\1/p' "$log" | head -1)
  [[ -n $made ]] || fail "netsim did not report its namespaces"
  for ns in $made; do
    ip netns list | awk '{print $1}' | grep -qx "$ns" && fail "namespace $ns left behind ($1)"
  done
  return 0
}

# 1. A failing command: its status comes back and everything is torn down. Node 0 reaches
#    node 2 through the switch, and the command sees three node addresses.
bash "$netsim" --nodes 3 --rate 1gbit -- bash -c '
  set -e
  [[ $DM_NETSIM_NODES == "10.77.0.1 10.77.0.2 10.77.0.3" ]]
  $DM_NETSIM_EXEC 10.77.0.3 "ip -br addr show eth0" | grep -q "10.77.0.3/24"
  ip -br addr show eth0 | grep -q "10.77.0.1/24"
  exit 3' > "$log" 2>&1
status=$?
[[ $status -eq 77 ]] && { echo "SKIP: $(tail -1 "$log")"; exit 77; }
[[ $status -eq 3 ]] || fail "expected the command's exit status 3, got $status"
grep -q "link check, node 0 -> node 1: [0-9.]* Gbit/s" "$log" || fail "no link check printed"
rate=$(sed -n 's/.*node 0 -> node 1: \([0-9.]*\) Gbit.*/\1/p' "$log")
awk -v r="$rate" 'BEGIN { exit !(r > 0.5 && r < 1.1) }' || fail "a 1gbit link carried $rate Gbit/s"
check_removed "failing command"

# 2. The script killed while its command runs: the trap tears down and kills the command. The
#    command's duration carries this shell's pid, so no other "sleep 600" on the machine counts.
command_seconds="600.$$"
bash "$netsim" --nodes 2 --rate 10gbit --no-check -- sleep "$command_seconds" > "$log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "namespaces" "$log" && break; sleep 0.1; done
sleep 0.5
kill -TERM "$pid"
wait "$pid"
status=$?
[[ $status -eq 143 ]] || fail "killed netsim exited $status, expected 143"
check_removed "killed"
pgrep -f "sleep $command_seconds" > /dev/null && fail "the command outlived netsim"

# 3. Two nodes joined directly by one cable: they reach each other, the link carries its rate,
#    and everything goes afterwards.
bash "$netsim" --nodes 2 --direct --rate 1gbit -- bash -c '
  set -e
  $DM_NETSIM_EXEC 10.77.0.2 "ip -br addr show eth0" | grep -q "10.77.0.2/24"
  exit 4' > "$log" 2>&1
status=$?
[[ $status -eq 4 ]] || fail "expected the command's exit status 4 over a direct link, got $status"
grep -q "joined directly by one 1gbit link" "$log" || fail "no direct link reported"
rate=$(sed -n 's/.*node 0 -> node 1: \([0-9.]*\) Gbit.*/\1/p' "$log")
awk -v r="$rate" 'BEGIN { exit !(r > 0.5 && r < 1.1) }' || fail "a direct 1gbit link carried $rate Gbit/s"
check_removed "direct link"

# 4. Bad options are refused before anything is made.
bash "$netsim" --rate fast -- true > "$log" 2>&1 && fail "--rate fast was accepted"
grep -q -- "--rate must look like" "$log" || fail "no message for a bad rate"
bash "$netsim" --nodes 3 --direct -- true > "$log" 2>&1 && fail "--direct with three nodes was accepted"
grep -q -- "--direct joins exactly two nodes" "$log" || fail "no message for --direct with three nodes"
echo "PASS"
