#!/usr/bin/env bash
# bench/policy.sh — a scheduler storm: DISKS disks (default 1,000) bound to POLICIES policies (10), all due at
# the same hour, under `cairn serve --test-clock`. Two storms: the first snapshots every (empty) disk; then
# CHANGED disks get 1 MiB of new data each; the second storm is the measured one ("disks mostly unchanged
# since their last snapshot"). For each storm: time from the firing to every snapshot started and NORMAL,
# DescribeSnapshots latency (p50/p99/max) from a client calling it back to back during the storm.
#
#   bench/policy.sh                     # 1,000 disks, 10 policies
#   DISKS=200 POLICIES=4 bench/policy.sh
#
# The test clock stands still while a storm runs (AdvanceClock answers once everything due has run), so
# the times are wall-clock times measured from outside. A benchmark, not a test: it never fails on a timing.
# There is no anchor: restic, borg and PBS have no policy scheduler to compare with; the goal is the issue's.
set -eEuo pipefail
export PATH="/usr/bin:/bin:/usr/sbin:/sbin:$PATH"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DISKS=${DISKS:-1000}
POLICIES=${POLICIES:-10}
CHANGED=${CHANGED:-$((DISKS / 10))}
work=${WORK:-/var/tmp/cairn-bench-policy}
per_instance=20   # Tencent's data disks per instance

if [ -d "$work" ] && [ -n "$(ls -A "$work")" ] && [ ! -e "$work/.cairn-bench-policy" ]; then
  echo "$work exists, is not empty and was not made by this script; refusing to wipe it" >&2; exit 1
fi
rm -rf "$work"; mkdir -p "$work/logs"; touch "$work/.cairn-bench-policy"
trap 'echo "failed at line $LINENO; logs in $work/logs" >&2' ERR
trap '[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true' EXIT

"$root/bin/cairn" serve --data "$work/data" --test-clock --api-listen 127.0.0.1:0 --nbd-listen 127.0.0.1:0 ${CAIRN_SERVE_OPTS:-} \
  > "$work/logs/serve.out" 2> "$work/logs/serve.log" &
pid=$!
for _ in $(seq 600); do grep -q "cairn ready" "$work/logs/serve.out" 2>/dev/null && break; sleep 0.1; done
nbd=$(sed -n 's/.* nbd=nbd:\/\/\([^ ]*\).*/\1/p' "$work/logs/serve.out")
[ -n "$nbd" ] || { echo "cairn serve did not start; see $work/logs/serve.log" >&2; exit 1; }
export CAIRN_CREDENTIALS="$work/data/credentials.json"
cairn() { "$root/bin/cairn" "$@"; }

echo "== setup: $DISKS disks on $(( (DISKS + per_instance - 1) / per_instance )) instances, $POLICIES policies"
start=$(date +%s.%N)
disks=()
left=$DISKS
while [ "$left" -gt 0 ]; do
  n=$(( left < per_instance ? left : per_instance ))
  ins=$(cairn instance create --wait)
  mapfile -t made < <(cairn disk create --size 10 --count "$n" --instance "$ins" --wait)
  disks+=("${made[@]}")
  left=$(( left - n ))
done
[ "${#disks[@]}" -eq "$DISKS" ] || { echo "made ${#disks[@]} disks, wanted $DISKS" >&2; exit 1; }
# every policy fires daily at 03:00 region time; disks are dealt out round-robin, bound 80 per call
for p in $(seq 0 $((POLICIES - 1))); do
  id=$(cairn policy create --name "storm-$p" --hours 3 --retention-days 7 2>/dev/null)
  mine=()
  for i in $(seq "$p" "$POLICIES" $((DISKS - 1))); do mine+=("${disks[$i]}"); done
  for ((o = 0; o < ${#mine[@]}; o += 80)); do cairn policy bind "$id" "${mine[@]:o:80}"; done
done
printf '  setup took %.0f s\n' "$(echo "$(date +%s.%N) - $start" | bc)"

# move the clock to 02:59 region time (UTC+8) so the next advance crosses one 03:00 firing for all of them
now=$(cairn clock now)
to_0259() {
  "$root/bin/cairn" clock now >/dev/null
  python3 - "$1" <<'PY'
import sys, datetime
now = datetime.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00")).astimezone(datetime.timezone(datetime.timedelta(hours=8)))
target = now.replace(hour=2, minute=59, second=0, microsecond=0)
if target <= now: target += datetime.timedelta(days=1)
print("PT%dS" % int((target - now).total_seconds()))
PY
}
cairn clock advance "$(to_0259 "$now")" > /dev/null

storm() {
  local label=$1 result
  result=$(python3 "$root/bench/policy_storm.py" "$CAIRN_CREDENTIALS" PT2M "$DISKS")
  echo "  $label: $result"
  echo "$label $result" >> "$work/results.txt"
}
echo "== storm 1: every disk's first snapshot (empty disks)"
storm first
cairn clock advance "$(to_0259 "$(cairn clock now)")" > /dev/null
echo "== $CHANGED disks get 1 MiB of new data each"
for i in $(seq 0 $((CHANGED - 1))); do
  qemu-io -f raw -c "write -P $((i % 250 + 1)) $((i % 64))M 1M" "nbd://$nbd/${disks[$i]}" > /dev/null
done
echo "== storm 2: mostly unchanged disks (the measured one)"
storm second
runs=$(cairn --output json policy history "$(cairn --output json policy list | python3 -c 'import json,sys; print(json.load(sys.stdin)["AutoSnapshotPolicySet"][0]["AutoSnapshotPolicyId"])')" --limit 1000 \
  | python3 -c 'import json,sys; r=json.load(sys.stdin)["RunSet"]; print(sum(1 for x in r if x["RunState"]=="SUCCESS"), "of", len(r), "runs of one policy succeeded")')
echo "  $runs"
grep -o 'cairn_scheduler_[a-z_]*total{[^}]*} [0-9.E]*' <(python3 - "$CAIRN_CREDENTIALS" <<'PY'
import json, sys, urllib.request
print(urllib.request.urlopen(json.load(open(sys.argv[1]))["endpoint"].rstrip("/") + "/metrics").read().decode())
PY
) | sed 's/^/  /'
echo "results in $work/results.txt; server log $work/logs/serve.log"
