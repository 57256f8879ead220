#!/usr/bin/env bash
# bench/deploy.sh — batch deployment: RunInstances with InstanceCount COUNT (50) from a custom image holding
# IMAGE_MB (10240) MiB of data. Measures the time from the call until every instance is RUNNING and its system
# disk has answered a first 4 KiB read over NBD, the bytes the node's data directory grew by, and the read
# throughput of four fresh instances reading their disks at once while the node's base cache fills.
#
#   bench/deploy.sh                       # 50 instances from a 10 GiB image
#   IMAGE_MB=2048 COUNT=20 bench/deploy.sh
#
# No anchor: qemu-img/nbdkit have no image service; the goal (issue 6) is ≤ 5 s for 50 instances here.
# A benchmark, not a test: it never fails on a timing.
set -eEuo pipefail
export PATH="/usr/bin:/bin:/usr/sbin:/sbin:$PATH"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE_MB=${IMAGE_MB:-10240}
COUNT=${COUNT:-50}
work=${WORK:-/var/tmp/cairn-bench-deploy}
py=/usr/bin/python3   # Debian's python: it has python3-libnbd
if [ -d "$work" ] && [ -n "$(ls -A "$work")" ] && [ ! -e "$work/.cairn-bench-deploy" ]; then
  echo "$work exists, is not empty and was not made by this script; refusing to wipe it" >&2; exit 1
fi
rm -rf "$work"; mkdir -p "$work/logs"; touch "$work/.cairn-bench-deploy"
trap 'echo "failed at line $LINENO; logs in $work/logs" >&2' ERR
trap '[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true' EXIT

"$root/bin/cairn" serve --data "$work/data" --api-listen 127.0.0.1:0 --nbd-listen 127.0.0.1:0 ${CAIRN_SERVE_OPTS:-} \
  > "$work/logs/serve.out" 2> "$work/logs/serve.log" &
pid=$!
for _ in $(seq 600); do grep -q "cairn ready" "$work/logs/serve.out" 2>/dev/null && break; sleep 0.1; done
nbd=$(sed -n 's/.* nbd=nbd:\/\/\([^ ]*\).*/\1/p' "$work/logs/serve.out")
[ -n "$nbd" ] || { echo "cairn serve did not start; see $work/logs/serve.log" >&2; exit 1; }
export CAIRN_CREDENTIALS="$work/data/credentials.json"
cairn() { "$root/bin/cairn" "$@"; }
system_disk() { cairn --output json disk list --instance "$1" | $py -c 'import json,sys; print([d["DiskId"] for d in json.load(sys.stdin)["DiskSet"] if d["DiskUsage"]=="SYSTEM_DISK"][0])'; }

gib=$(( (IMAGE_MB + 1023) / 1024 + 1 )); [ "$gib" -lt 20 ] && gib=20
echo "== the image: ${IMAGE_MB} MiB written by fio onto a ${gib} GiB system disk, then CreateImage"
golden=$(cairn instance create --name golden --system-disk-size "$gib" --wait)
fio --name=fill --ioengine=nbd --uri="nbd://$nbd/$(system_disk "$golden")" --rw=write --bs=1M --size="${IMAGE_MB}M" \
  --refill_buffers --buffer_compress_percentage=40 --output=/dev/null 2> "$work/logs/fio.err"
t=$(date +%s.%N)
img=$(cairn image create --name web --instance "$golden" --wait)
printf '  image %s made in %.1f s\n' "$img" "$(echo "$(date +%s.%N) - $t" | bc)"
before=$(du -sk "$work/data" | cut -f1)

echo "== RunInstances InstanceCount=$COUNT, then a first 4 KiB read of every system disk"
t0=$(date +%s.%N)
mapfile -t instances < <(cairn instance create --image "$img" --count "$COUNT" --system-disk-size "$gib" --wait)
t1=$(date +%s.%N)
uris=()
for i in "${instances[@]}"; do uris+=("nbd://$nbd/$(system_disk "$i")"); done
t2=$(date +%s.%N)   # (listing the disks above is the bench's own bookkeeping: not counted)
$py - "${uris[@]}" <<'PY'
import nbd, sys, time
t = time.monotonic()
for uri in sys.argv[1:]:
    h = nbd.NBD(); h.connect_uri(uri); h.pread(4096, 0); h.shutdown()
print(f"  first reads of {len(sys.argv) - 1} disks: {time.monotonic() - t:.2f} s")
PY
t3=$(date +%s.%N)
printf '  RunInstances to all RUNNING: %.2f s; with every first read: %.2f s (goal <= 5 s)\n' \
  "$(echo "$t1 - $t0" | bc)" "$(echo "$t1 - $t0 + $t3 - $t2" | bc)"
after=$(du -sk "$work/data" | cut -f1)
echo "  the node's data grew by $(( (after - before) / 1024 )) MiB for $COUNT instances (the image holds ${IMAGE_MB} MiB)"

echo "== four fresh instances read 1 GiB each at once while the base cache fills"
$py - "${uris[@]:0:4}" <<'PY'
import nbd, sys, threading, time
def read(uri, out, i):
    h = nbd.NBD(); h.connect_uri(uri); n = 0
    for off in range(0, 1 << 30, 4 << 20):
        h.pread(4 << 20, off); n += 4 << 20
    h.shutdown(); out[i] = n
out = [0] * (len(sys.argv) - 1)
t = time.monotonic()
ts = [threading.Thread(target=read, args=(u, out, i)) for i, u in enumerate(sys.argv[1:])]
[x.start() for x in ts]; [x.join() for x in ts]
dt = time.monotonic() - t
print(f"  {sum(out) >> 20} MiB in {dt:.2f} s: {(sum(out) >> 20) / dt:.0f} MiB/s together")
PY
du -sk "$work/data/cache" | awk '{printf "  base cache now %d MiB\n", $1/1024}'
echo "logs in $work/logs"
