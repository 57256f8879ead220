#!/usr/bin/env bash
# bench/copy.sh — cross-region snapshot copy: two `cairn serve` regions on loopback (each its own repository
# on this disk), a disk holding SIZE_MB of a mixed image (half random, a quarter text-like, a quarter zeros),
# `cairn snapshot copy --wait` of its snapshot (full), then of a second snapshot after 1% of the image was
# rewritten as scattered 64 KiB writes (incremental). Anchor: `restic copy` between two restic repositories
# of the same image file (restic 0.14, --copy-chunker-params), full and after the same change.
#
#   bench/copy.sh                 # SIZE_MB=2048
#   SIZE_MB=512 bench/copy.sh
#
# Both ends share this machine's 2 cores, so the copy's throughput is that of the two processes together.
# A benchmark, not a test: it never fails on a timing.
set -eEuo pipefail
export PATH="/usr/bin:/bin:/usr/sbin:/sbin:$PATH"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SIZE_MB=${SIZE_MB:-2048}
work=${WORK:-/var/tmp/cairn-bench-copy}
py=/usr/bin/python3   # Debian's python: it has python3-libnbd
if [ -d "$work" ] && [ -n "$(ls -A "$work")" ] && [ ! -e "$work/.cairn-bench-copy" ]; then
  echo "$work exists, is not empty and was not made by this script; refusing to wipe it" >&2; exit 1
fi
rm -rf "$work"; mkdir -p "$work/logs"; touch "$work/.cairn-bench-copy"
trap 'echo "failed at line $LINENO; logs in $work/logs" >&2' ERR
trap 'kill ${pids:-} 2>/dev/null; wait 2>/dev/null || true' EXIT
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }

cat > "$work/image.py" <<'PY'
import random, sys
MIB = 1 << 20
def gen(path, size_mb):
    r = random.Random(1)
    words = [bytes(r.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(r.randint(2, 9))) for _ in range(2000)]
    with open(path, "wb") as f:
        for i in range(size_mb):
            kind = i % 4
            if kind in (0, 1):
                f.write(r.randbytes(MIB))
            elif kind == 2:
                f.write((b" ".join(r.choice(words) for _ in range(MIB // 5)) + b" " * MIB)[:MIB])
            else:
                f.seek(MIB, 1)
        f.truncate(size_mb * MIB)
def change(target, size_mb):
    # 1% of the image as scattered 64 KiB writes, the same bytes for everyone; target a file or an nbd:// URI
    r = random.Random(2)
    n = size_mb * MIB // 100 // 65536
    writes = [(r.randrange(size_mb * 16) * 65536, r.randbytes(65536)) for _ in range(n)]
    if target.startswith("nbd://"):
        import nbd
        h = nbd.NBD(); h.connect_uri(target)
        for off, data in writes: h.pwrite(data, off)
        h.flush(); h.shutdown()
    else:
        with open(target, "r+b") as f:
            for off, data in writes: f.seek(off); f.write(data)
    print(f"changed {n} x 64 KiB = {n * 65536 / MIB:.1f} MiB")
{"gen": gen, "change": change}[sys.argv[1]](sys.argv[2], int(sys.argv[3]))
PY

echo "== $(date -u +%FT%TZ) $(restic version | cut -d' ' -f1-2); image $SIZE_MB MiB, work dir $work"
$py "$work/image.py" gen "$work/image.raw" "$SIZE_MB"

start_region() {   # name, extra args…
  local name=$1; shift
  "$root/bin/cairn" serve --data "$work/$name" --api-listen 127.0.0.1:0 --nbd-listen 127.0.0.1:0 "$@" \
    > "$work/logs/$name.out" 2> "$work/logs/$name.log" &
  pids="${pids:-} $!"
  for _ in $(seq 600); do grep -q "cairn ready" "$work/logs/$name.out" 2>/dev/null && return; sleep 0.1; done
  echo "cairn serve ($name) did not start; see $work/logs/$name.log" >&2; exit 1
}
start_region beijing --region ap-beijing
start_region guangzhou --peer-region "$work/beijing/credentials.json"
nbd=$(sed -n 's/.* nbd=nbd:\/\/\([^ ]*\).*/\1/p' "$work/logs/guangzhou.out")
export CAIRN_CREDENTIALS="$work/guangzhou/credentials.json"
cairn() { "$root/bin/cairn" "$@"; }
sent() { cairn --output json snapshot copies "$1" | $py -c 'import json,sys; print(json.load(sys.stdin)["CopySet"][0]["BytesSent"])'; }

echo "== Cairn: ap-guangzhou → ap-beijing"
gib=$(( (SIZE_MB + 1023) / 1024 )); [ "$gib" -lt 10 ] && gib=10
ins=$(cairn instance create --wait)
disk=$(cairn disk create --size "$gib" --instance "$ins" --wait)
nbdcopy --flush "$work/image.raw" "nbd://$nbd/$disk"
s1=$(cairn snapshot create "$disk" --wait 2> /dev/null)
sync; echo 3 > /proc/sys/vm/drop_caches 2> /dev/null || true
t=$(now); cairn snapshot copy "$s1" --to ap-beijing --wait > /dev/null 2>&1; cairn_full=$(since "$t")
cairn_full_sent=$(sent "$s1")
$py "$work/image.py" change "nbd://$nbd/$disk" "$SIZE_MB" > /dev/null
s2=$(cairn snapshot create "$disk" --wait 2> /dev/null)
t=$(now); cairn snapshot copy "$s2" --to ap-beijing --wait > /dev/null 2>&1; cairn_incr=$(since "$t")
cairn_incr_sent=$(sent "$s2")
printf '  full %.2f s (%s MiB sent), incremental %.2f s (%s MiB sent)\n' "$cairn_full" "$((cairn_full_sent >> 20))" \
  "$cairn_incr" "$((cairn_incr_sent >> 20))"

echo "== restic copy: repository A → repository B"
export RESTIC_PASSWORD=bench RESTIC_FROM_PASSWORD=bench
restic -q -r "$work/restic-a" init
restic -q -r "$work/restic-b" init --from-repo "$work/restic-a" --copy-chunker-params
(cd "$work" && restic -q -r "$work/restic-a" --compression auto backup image.raw > /dev/null)
sync; echo 3 > /proc/sys/vm/drop_caches 2> /dev/null || true
t=$(now); restic -q -r "$work/restic-b" copy --from-repo "$work/restic-a" > "$work/logs/restic-copy-full.log" 2>&1; restic_full=$(since "$t")
$py "$work/image.py" change "$work/image.raw" "$SIZE_MB" > /dev/null
(cd "$work" && restic -q -r "$work/restic-a" --compression auto backup image.raw > /dev/null)
t=$(now); restic -q -r "$work/restic-b" copy --from-repo "$work/restic-a" > "$work/logs/restic-copy-incr.log" 2>&1; restic_incr=$(since "$t")
printf '  full %.2f s, incremental %.2f s\n' "$restic_full" "$restic_incr"

echo
printf '| tool | full copy s | full MiB/s of image | incremental copy s |\n|---|---:|---:|---:|\n'
printf '| restic copy | %.2f | %.0f | %.2f |\n' "$restic_full" "$(echo "$SIZE_MB / $restic_full" | bc -l)" "$restic_incr"
printf '| cairn snapshot copy | %.2f | %.0f | %.2f |\n' "$cairn_full" "$(echo "$SIZE_MB / $cairn_full" | bc -l)" "$cairn_incr"
printf '| cairn ÷ restic (speed) | | %.2f | %.2f |\n' "$(echo "$restic_full / $cairn_full" | bc -l)" "$(echo "$restic_incr / $cairn_incr" | bc -l)"
