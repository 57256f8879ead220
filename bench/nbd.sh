#!/usr/bin/env bash
# bench/nbd.sh — the same fio jobs against Cairn, qemu-nbd and nbdkit (file plugin), each serving a
# preconditioned raw file on the same file system, in one run. Prints IOPS, MiB/s and p99 latency per
# job and Cairn ÷ best peer; also Cairn's start-to-ready time and RSS idle / under load.
#
#   bench/nbd.sh                 # 1 GiB files, 10 s per job
#   SIZE_MB=4096 RUNTIME=20 bench/nbd.sh
#
# A benchmark, not a test: it never fails on a timing. Needs fio, qemu-nbd, nbdkit (bin/test installs them).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SIZE_MB=${SIZE_MB:-1024}
RUNTIME=${RUNTIME:-10}
work=$(mktemp -d "${TMPDIR:-/var/tmp}/cairn-bench.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export PATH="/usr/bin:/bin:/usr/sbin:/sbin:$PATH"
py=/usr/bin/python3

. "$root/scripts/java-home.sh"
[ -f "$root/cairn-cli/target/cairn.jar" ] || (cd "$root" && mvn -q -B -DskipTests install)
cairn() { "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -jar "$root/cairn-cli/target/cairn.jar" "$@"; }

free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_nbd() { for _ in $(seq 1 200); do nbdinfo --size "nbd://127.0.0.1:$1/" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "NBD server on port $1 never answered" >&2; return 1; }
rss_mb() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

echo "== setting up ($SIZE_MB MiB files in $work)"
# --- Cairn: a disk attached to a running instance; its file is preconditioned by writing it fully over NBD.
api_port=$(free_port); nbd_port=$(free_port)
start_ns=$(date +%s%N)
"$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -jar "$root/cairn-cli/target/cairn.jar" serve \
  --data "$work/cairn" --api-listen 127.0.0.1:$api_port --nbd-listen 127.0.0.1:$nbd_port > "$work/cairn.out" 2> "$work/cairn.log" &
cairn_pid=$!; pids+=("$cairn_pid")
for _ in $(seq 1 600); do grep -q 'cairn ready' "$work/cairn.out" && break; sleep 0.02; done
ready_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
export CAIRN_CREDENTIALS="$work/cairn/credentials.json"
size_gb=$(( ((SIZE_MB + 10239) / 10240) * 10 ))   # CLOUD_PREMIUM sizes are multiples of 10 GiB; fio uses the first SIZE_MB
ins=$(cairn instance create --wait)
disk=$(cairn disk create --size "$size_gb" --instance "$ins" --wait)
cairn_uri="nbd://127.0.0.1:$nbd_port/$disk"
idle_rss=$(rss_mb "$cairn_pid")
head -c $((SIZE_MB << 20)) /dev/urandom > "$work/seed.raw"
nbdcopy --flush "$work/seed.raw" "$cairn_uri"

# --- qemu-nbd (default cache: writeback, threads) and nbdkit file, each on its own copy.
cp "$work/seed.raw" "$work/qemu.raw"; cp "$work/seed.raw" "$work/nbdkit.raw"
qport=$(free_port); kport=$(free_port)
qemu-nbd -f raw -b 127.0.0.1 -p "$qport" -t -e 8 "$work/qemu.raw" & pids+=("$!")
nbdkit -f -i 127.0.0.1 -p "$kport" file "$work/nbdkit.raw" & pids+=("$!")
wait_nbd "$qport"; wait_nbd "$kport"
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true

declare -A uri=([cairn]="$cairn_uri" [qemu-nbd]="nbd://127.0.0.1:$qport/" [nbdkit-file]="nbd://127.0.0.1:$kport/")
jobs=(
  "randread-4k-qd1 --rw=randread --bs=4k --iodepth=1"
  "randread-4k-qd32 --rw=randread --bs=4k --iodepth=32"
  "randwrite-4k-qd1 --rw=randwrite --bs=4k --iodepth=1"
  "randwrite-4k-qd32 --rw=randwrite --bs=4k --iodepth=32"
  "read-1m-qd8 --rw=read --bs=1m --iodepth=8"
  "write-1m-qd8 --rw=write --bs=1m --iodepth=8"
  "multiconn-randread-4k-4x8 --rw=randread --bs=4k --iodepth=8 --numjobs=4 --group_reporting"
)
results="$work/results.tsv"; : > "$results"
load_rss=0
for job in "${jobs[@]}"; do
  name=${job%% *}; args=${job#* }
  for target in cairn qemu-nbd nbdkit-file; do
    # shellcheck disable=SC2086
    fio --name="$name" --ioengine=nbd --uri="${uri[$target]}" $args --size=${SIZE_MB}M \
        --time_based --runtime="$RUNTIME" --ramp_time=1 --output-format=json > "$work/fio.json" 2> "$work/fio.err" || {
      echo "fio $name on $target failed: $(cat "$work/fio.err")" >&2; continue; }
    if [ "$target" = cairn ]; then r=$(rss_mb "$cairn_pid"); [ "$r" -gt "$load_rss" ] && load_rss=$r; fi
    $py - "$name" "$target" "$work/fio.json" >> "$results" <<'PY'
import json, sys
name, target, path = sys.argv[1:4]
text = open(path).read()  # fio prints "fio: connected to NBD server" before the JSON
j = json.loads(text[text.index("{"):])["jobs"][0]
side = j["read"] if j["read"]["io_bytes"] > 0 else j["write"]
p99 = side["clat_ns"].get("percentile", {}).get("99.000000", 0) / 1000
print(f"{name}\t{target}\t{side['iops']:.0f}\t{side['bw_bytes']/1048576:.1f}\t{p99:.0f}")
PY
  done
done

echo
echo "== results (best of one run each; $SIZE_MB MiB files, ${RUNTIME}s per job, fio --ioengine=nbd)"
$py - "$results" <<'PY'
import sys, collections
rows = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    name, target, iops, mib, p99 = line.rstrip("\n").split("\t")
    rows[name][target] = (float(iops), float(mib), float(p99))
print(f"| job | {'cairn':>22} | {'qemu-nbd':>22} | {'nbdkit-file':>22} | cairn ÷ best peer |")
print("|---|---|---|---|---|")
for name, t in rows.items():
    cells = []
    for target in ("cairn", "qemu-nbd", "nbdkit-file"):
        if target in t:
            iops, mib, p99 = t[target]
            cells.append(f"{iops:>8,.0f} IOPS {mib:>7,.1f} MiB/s p99 {p99:,.0f} µs")
        else:
            cells.append("failed")
    peers = [t[p][0] for p in ("qemu-nbd", "nbdkit-file") if p in t]
    ratio = f"{t['cairn'][0] / max(peers):.2f}" if "cairn" in t and peers else "-"
    print(f"| {name} | " + " | ".join(cells) + f" | {ratio} |")
PY
echo
echo "cairn: start to 'cairn ready' ${ready_ms} ms; RSS idle ${idle_rss} MiB, under load (max seen) ${load_rss} MiB"
