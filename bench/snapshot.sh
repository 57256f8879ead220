#!/usr/bin/env bash
# bench/snapshot.sh — snapshot-style backups of one deterministic disk image: a full backup, an incremental
# after 1% scattered 64 KiB changes, and a full restore, with restic and borg (the anchors) and Cairn, in one
# run on one disk. Prints a Markdown table for docs/benchmarks.md; Cairn rows add ratios.
#
#   bench/snapshot.sh                       # 4 GiB image
#   SIZE_MB=1024 bench/snapshot.sh          # quicker; VERIFY=1 also prints sha256s and compares restores
#
# Knobs: SIZE_MB (4096), SEED (1), WORK (/var/tmp/cairn-bench-snapshot, wiped at start), CAIRN_SERVE_OPTS
# (extra `cairn serve` flags, e.g. --repository-block-size 256), LOAD_S (20, the under-load step),
# BORG_COMPRESSION (zstd,3: the same codec and level as Cairn's repository), TOOLS ("restic borg cairn": which
# to run; ratios need the anchors in the same run). restic uses repository
# format 2 with --compression auto (zstd) and always encrypts; borg runs with `-e none`. Restores write
# every byte, zeros too: restic 0.14 (Debian 12) has no sparse restore, so borg runs without --sparse too.
# Every restore is timed until its bytes are on the disk (`sync`), as a flatten's copy is; the flatten of a
# clone is timed alone, from a cold cache, and compared with the restores.
# A benchmark, not a test: it never fails on a timing. Needs restic and borg (scripts/install-test-tools.sh)
# and about 10 times SIZE_MB free in WORK (each tool's image copy, repository and restore are kept).
set -eEuo pipefail
export PATH="/usr/bin:/bin:/usr/sbin:/sbin:$PATH"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SIZE_MB=${SIZE_MB:-4096}
SEED=${SEED:-1}
VERIFY=${VERIFY:-0}
BORG_COMPRESSION=${BORG_COMPRESSION:-zstd,3}
work=${WORK:-/var/tmp/cairn-bench-snapshot}
py=/usr/bin/python3   # Debian's python: it has python3-libnbd, which change_image uses for nbd:// targets
size=$((SIZE_MB << 20))

for t in restic borg; do
  command -v "$t" >/dev/null || { echo "$t is missing: apt-get install restic borgbackup (or run scripts/install-test-tools.sh)" >&2; exit 1; }
done
# Wipe the work dir, but never a directory this script did not make (WORK=/ or WORK=$HOME by mistake).
if [ -d "$work" ] && [ -n "$(ls -A "$work")" ] && [ ! -e "$work/.cairn-bench-snapshot" ]; then
  echo "$work exists, is not empty and was not made by this script; refusing to wipe it" >&2; exit 1
fi
rm -rf "$work"; mkdir -p "$work/logs" "$work/cache"; touch "$work/.cairn-bench-snapshot"
trap 'echo "failed at line $LINENO; logs in $work/logs" >&2' ERR

# The image generator and the change writer. Every byte comes from SHAKE-128 of (seed, label, index), so a
# run on any machine or Python version produces the same image and the same change.
cat > "$work/image.py" <<'PY'
import array, hashlib, os, sys
U = 64 << 10                                        # layout and change granularity: 64 KiB
def stream(label, n): return hashlib.shake_128(label.encode()).digest(n)
def le(b): return int.from_bytes(b, "little")

def text_pool(seed):
    # 2,000 seeded words, 8,192 seeded lines of 4-14 words: text regions pick lines at random, so they are
    # compressible (zstd-3 about 3x, lz4 about 2x) but never repeat long enough to deduplicate.
    words = []
    for i in range(2000):
        h = stream(f"{seed}:w:{i}", 11)
        words.append(bytes(97 + x % 26 for x in h[1:3 + h[0] % 9]))
    lines = []
    for i in range(8192):
        h = stream(f"{seed}:l:{i}", 29)
        idx = array.array("H", h[1:29])
        lines.append(b" ".join(words[j % 2000] for j in idx[:4 + h[0] % 11]) + b"\n")
    return lines

def text(seed, pool, i, n):
    out, c = [], 0
    while sum(map(len, out)) < n:
        out.append(b"".join([pool[j & 8191] for j in array.array("H", stream(f"{seed}:t:{i}:{c}", 2 * (n // 48 + 32)))]))
        c += 1
    return b"".join(out)[:n]

def gen(path, size, seed):
    # Extents of 64 KiB to 4 MiB, each one of four kinds with equal odds: r = random, t = text, z = zeros
    # (left as a hole), d = copies of pieces of earlier r/t extents, placed at other 64 KiB-aligned offsets.
    pool, units, done, i = text_pool(seed), size // U, [], 0
    total = dict.fromkeys("rtzd", 0)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    os.ftruncate(fd, size)
    u = 0
    while u < units:
        h = stream(f"{seed}:e:{i}", 8)
        n, kind = min(1 + h[0] % 64, units - u), "rtzd"[h[1] % 4]
        if kind == "d" and not done: kind = "r"
        if kind == "r": os.pwrite(fd, stream(f"{seed}:r:{i}", n * U), u * U)
        elif kind == "t": os.pwrite(fd, text(seed, pool, i, n * U), u * U)
        elif kind == "d":
            dst, left, c = u, n, 0
            while left:
                su, sn = done[le(stream(f"{seed}:d:{i}:{c}", 4)) % len(done)]
                m = min(left, sn)
                src = su + le(stream(f"{seed}:o:{i}:{c}", 4)) % (sn - m + 1)
                os.pwrite(fd, os.pread(fd, m * U, src * U), dst * U)
                dst, left, c = dst + m, left - m, c + 1
        if kind in "rt": done.append((u, n))
        total[kind] += n * U
        u, i = u + n, i + 1
    os.close(fd)
    names = dict(r="random", t="text", z="zeros (hole)", d="duplicates")
    print("image: " + ", ".join(f"{names[k]} {v / 2**20:,.0f} MiB ({100 * v / size:.0f}%)" for k, v in total.items())
          + f"; {i} extents")

def change(target, size, seed):
    # 1% of the bytes, as 64 KiB writes of new random data at distinct seeded 64 KiB-aligned offsets, in
    # place (no truncation, like dd conv=notrunc). The target is the image file or an nbd:// URI.
    units, n = size // U, max(1, round(size * 0.01 / U))
    seen, offs, c = set(), [], 0
    while len(offs) < n:
        k = le(stream(f"{seed}:c:{c}", 8)) % units; c += 1
        if k not in seen: seen.add(k); offs.append(k)
    if target.startswith("nbd"):
        import nbd
        h = nbd.NBD(); h.connect_uri(target)
        for j, k in enumerate(offs): h.pwrite(stream(f"{seed}:cd:{j}", U), k * U)
        h.flush(); h.shutdown()
    else:
        fd = os.open(target, os.O_WRONLY)
        for j, k in enumerate(offs): os.pwrite(fd, stream(f"{seed}:cd:{j}", U), k * U)
        os.fsync(fd); os.close(fd)
    print(f"change: {n * U} bytes ({n * U / 2**20:.1f} MiB, {100 * n * U / size:.2f}%) in {n} writes of 64 KiB")

cmd, target, size, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
(gen if cmd == "gen" else change)(target, size, seed)
PY

change_image() { $py "$work/image.py" change "$1" "$size" "$SEED"; }   # file or nbd:// URI
reset_image() { mkdir -p "$work/data-$1"; cp --sparse=always "$work/pristine.raw" "$work/data-$1/image.raw"; }   # TOOL: a fresh file, none overwritten
repo_bytes() { du -sb "$1" | cut -f1; }
drop_note=""
drop_caches() {   # cold cache before each timed step, like the reference baselines
  sync
  if [ -w /proc/sys/vm/drop_caches ] && echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; then :
  else drop_note="page cache NOT dropped (/proc/sys/vm/drop_caches not writable): figures are warm-cache"; fi
}
# timed VAR LOG CMD...: drops caches, runs CMD with its output in logs/LOG, stores wall seconds in VAR.
timed() {
  local var=$1 log=$2 t0 t1; shift 2
  drop_caches
  t0=$(date +%s.%N)
  "$@" > "$work/logs/$log" 2>&1 || { echo "$log failed:" >&2; tail -5 "$work/logs/$log" >&2; return 1; }
  t1=$(date +%s.%N)
  printf -v "$var" '%.2f' "$(echo "$t1 - $t0" | bc)"
  echo "  $log: ${!var} s"
}
# durably CMD...: a restore is done when its bytes are on the disk, as a flatten's copy is (restic and borg
# return with gigabytes still in the page cache; a crash then would lose them)
durably() { "$@" && sync; }
# record TOOL FULL_S INCR_S REPO_AFTER_FULL_BYTES REPO_GROWTH_BYTES RESTORE_S
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$work/results.tsv"; }
# Nothing is deleted or overwritten between the timed steps (each tool has its own copy of the image and
# its own restore dir, kept until the next run wipes the work dir): deleting 4 GiB on a file system
# mounted with `discard` (as this machine's root is) sends the device discards that slowed whichever tool
# ran next (measured: Cairn's full snapshot and flatten 10-15% slower right after borg's restore was deleted).
check_restore() {   # VERIFY=1: the restored file must equal the changed image
  local f; f=$(find "$1" -name image.raw -type f | head -1)
  [ -n "$f" ] || { echo "no image.raw under $1" >&2; return 1; }
  if [ "$VERIFY" = 1 ]; then cmp "$f" "$work/changed.raw" && echo "  restore verified: identical to the changed image"; fi
}

echo "== $(date -u +%FT%TZ) $(restic version | cut -d' ' -f1-2), $(borg --version); image $SIZE_MB MiB, seed $SEED, work dir $work"
t0=$(date +%s.%N)
$py "$work/image.py" gen "$work/pristine.raw" "$size" "$SEED"
echo "  generated in $(echo "$(date +%s.%N) - $t0" | bc | xargs printf '%.1f') s; $(du -m "$work/pristine.raw" | cut -f1) MiB allocated"
if [ "$VERIFY" = 1 ]; then
  echo "  sha256 pristine $(sha256sum < "$work/pristine.raw" | cut -d' ' -f1)"
  cp --sparse=always "$work/pristine.raw" "$work/changed.raw"; change_image "$work/changed.raw" > /dev/null
  echo "  sha256 changed  $(sha256sum < "$work/changed.raw" | cut -d' ' -f1)"
fi

run_restic() {
  echo "== restic"
  export RESTIC_PASSWORD=cairn-bench RESTIC_REPOSITORY="$work/restic-repo" RESTIC_CACHE_DIR="$work/cache/restic"
  local full incr restore after_full
  reset_image restic
  restic init --repository-version 2 > "$work/logs/restic-init.log" 2>&1
  cd "$work/data-restic"
  timed full restic-full.log restic --compression auto backup image.raw
  after_full=$(repo_bytes "$work/restic-repo")
  echo "  $(change_image "$work/data-restic/image.raw")"
  timed incr restic-incr.log restic --compression auto backup image.raw   # same path: the full is its parent
  timed restore restic-restore.log durably restic restore latest --target "$work/restore-restic"
  cd "$work"
  record restic "$full" "$incr" "$after_full" $(( $(repo_bytes "$work/restic-repo") - after_full )) "$restore"
  check_restore "$work/restore-restic"
}

run_borg() {
  echo "== borg (-e none, --compression $BORG_COMPRESSION)"
  export BORG_REPO="$work/borg-repo" BORG_BASE_DIR="$work/cache/borg" BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
  local full incr restore after_full
  reset_image borg
  borg init -e none > "$work/logs/borg-init.log" 2>&1
  cd "$work/data-borg"
  timed full borg-full.log borg create --compression "$BORG_COMPRESSION" ::full image.raw
  after_full=$(repo_bytes "$work/borg-repo")
  echo "  $(change_image "$work/data-borg/image.raw")"
  timed incr borg-incr.log borg create --compression "$BORG_COMPRESSION" ::incr image.raw
  mkdir -p "$work/restore-borg"; cd "$work/restore-borg"
  timed restore borg-restore.log durably borg extract ::incr
  cd "$work"
  record borg "$full" "$incr" "$after_full" $(( $(repo_bytes "$work/borg-repo") - after_full )) "$restore"
  check_restore "$work/restore-borg"
}

# Cairn: `cairn serve` on its own data dir (repository on the same disk), the pristine image copied onto a
# disk over NBD (not timed: the anchors' image file just exists), then the same three steps through the CLI:
# a snapshot, the same 1% change written over NBD, a second snapshot, and a restore = the second snapshot's
# read-only NBD export copied to a file with nbdcopy (a rollback or clone itself is instant). Extra figures:
# the server's own capture times, the first 4 KiB read of random blocks of a fresh clone (cold base cache,
# while its flatten runs), and how long a second clone takes to be flattened (independent) at --flatten-rate 0.
run_cairn() {
  echo "== cairn"
  local data="$work/cairn" full incr restore after_full api nbd gib pid
  gib=$(( (SIZE_MB + 10239) / 10240 * 10 ))   # CLOUD_PREMIUM: 10 GiB steps
  "$root/bin/cairn" serve --data "$data" --api-listen 127.0.0.1:0 --nbd-listen 127.0.0.1:0 --flatten-rate 0 ${CAIRN_SERVE_OPTS:-} \
    > "$work/logs/cairn-serve.out" 2> "$work/logs/cairn-serve.log" &
  pid=$!
  cairn_pid=$pid
  trap 'kill -TERM "$cairn_pid" 2>/dev/null || true' EXIT   # never leave the server running, whatever fails
  for _ in $(seq 600); do grep -q "cairn ready" "$work/logs/cairn-serve.out" 2>/dev/null && break; sleep 0.1; done
  api=$(sed -n 's/.*cairn ready api=\(http:[^ ]*\) nbd=.*/\1/p' "$work/logs/cairn-serve.out")
  nbd=$(sed -n 's/.* nbd=nbd:\/\/\([^ ]*\).*/\1/p' "$work/logs/cairn-serve.out")
  [ -n "$nbd" ] || { echo "cairn serve did not start; see $work/logs/cairn-serve.log" >&2; return 1; }
  cli() { "$root/bin/cairn" --credentials "$data/credentials.json" "$@"; }
  local ins disk snap1 snap2 clone clone2
  ins=$(cli instance create --wait)
  disk=$(cli disk create --size "$gib" --instance "$ins" --wait)
  nbdcopy --flush "$work/pristine.raw" "nbd://$nbd/$disk"
  timed full cairn-full.log cli snapshot create "$disk" --wait
  snap1=$(tail -1 "$work/logs/cairn-full.log")
  after_full=$(repo_bytes "$data/repository")
  echo "  $(change_image "nbd://$nbd/$disk")"
  timed incr cairn-incr.log cli snapshot create "$disk" --wait
  snap2=$(tail -1 "$work/logs/cairn-incr.log")
  mkdir -p "$work/restore-cairn"
  restore_export() {   # the snapshot's bytes out to a file, through its read-only NBD export
    nbdcopy "nbd://$nbd/$snap2" "$work/restore-cairn/image.raw" && truncate -s "$size" "$work/restore-cairn/image.raw"
  }
  timed restore cairn-restore.log durably restore_export
  record cairn "$full" "$incr" "$after_full" $(( $(repo_bytes "$data/repository") - after_full )) "$restore"
  echo "  server-side capture: $(grep -o 'incremental=[a-z]* blocks=[0-9]* ms=[0-9]* store_ms=[0-9]* commit_ms=[0-9]*\( spilled_mib=[0-9]* commit=[a-z0-9:/]*\)\{0,1\}' "$work/logs/cairn-serve.log" | tr '\n' ';')"
  check_restore "$work/restore-cairn"

  # first reads of a fresh clone: cold base cache, blocks fetched from the repository on demand, while the
  # clone's own flatten runs
  local t0 t1 clone3
  clone2=$(cli snapshot clone "$snap1" --wait); cli disk attach "$clone2" --instance "$ins" --wait
  drop_caches
  $py - "nbd://$nbd/$clone2" "$size" <<'PYREAD'
import nbd, random, sys, time
h = nbd.NBD(); h.connect_uri(sys.argv[1]); size = int(sys.argv[2]); r = random.Random(5); lat = []
for _ in range(200):
    off = r.randrange(size // 4096) * 4096
    t = time.perf_counter(); h.pread(4096, off); lat.append((time.perf_counter() - t) * 1000)
lat.sort()
print(f"  first 4 KiB reads of random blocks of a fresh clone: p50 {lat[100]:.1f} ms, p99 {lat[197]:.1f} ms, max {lat[-1]:.1f} ms")
PYREAD
  # (flattens are watched in the server's log, not by polling the API: a CLI poll every 0.2 s would take most of a core)
  until grep -q "disk flattened disk=$clone2" "$work/logs/cairn-serve.log"; do sleep 0.05; done
  # a full flatten alone: from a cold cache, the time from asking for a clone until it no longer needs its
  # snapshot (unlimited rate; durable: the flatten syncs before it says so) — compared with the restores
  drop_caches
  t0=$(date +%s.%N)
  clone3=$(cli snapshot clone "$snap2" --wait)
  until grep -q "disk flattened disk=$clone3" "$work/logs/cairn-serve.log"; do sleep 0.05; done
  t1=$(date +%s.%N)
  printf -v flatten '%.2f' "$(echo "$t1 - $t0" | bc)"
  printf 'flatten\t%s\n' "$flatten" >> "$work/results.tsv"
  echo "  clone made independent (flattened) in $flatten s, $(echo "$SIZE_MB / $flatten" | bc) MiB/s of image"

  # under load: fio random 4 KiB writes at queue depth 16 on the disk for LOAD_S seconds, alone and then
  # while snapshots are taken back to back; the writers' throughput and CreateSnapshot's latency (the
  # API server's own histogram, so no client start-up is counted)
  local load_s=${LOAD_S:-20} alone during n=0 loop
  fio_bw() {   # [MiB]: random 4 KiB writes over the first MiB of the disk (default: the whole image) for load_s s
    fio --name=load --ioengine=nbd --uri="nbd://$nbd/$disk" --rw=randwrite --bs=4k --iodepth=16 \
      --size="${1:-$SIZE_MB}M" --time_based --runtime="$load_s" --randseed=11 --output-format=json 2>> "$work/logs/fio-load.err" \
      | tee -a "$work/logs/fio-load.json" | $py -c 'import json,sys; t=sys.stdin.read(); print(int(json.loads(t[t.index("{"):])["jobs"][0]["write"]["bw"]))'; }   # fio prints a line before its JSON
  snapshots_back_to_back() { ( sleep 2; end=$((SECONDS + load_s - 2)); while [ $SECONDS -lt $end ]; do cli snapshot create "$disk" --wait > /dev/null 2>&1 || true; done ) & loop=$!; }
  alone=$(fio_bw)
  curl -s "$api/metrics" > "$work/logs/metrics-before-load.txt"   # CreateSnapshot latency counts only the calls under load
  snapshots_back_to_back   # from 2 s in, once fio is writing
  during=$(fio_bw)
  wait "$loop"
  n=$(cli --output json snapshot list --disk "$disk" --limit 100 | $py -c 'import json,sys; print(json.load(sys.stdin)["TotalCount"])')
  echo "  fio 4 KiB random writes, QD16: $((alone / 1024)) MiB/s alone, $((during / 1024)) MiB/s while snapshots ran back to back ($(echo "scale=2; $during / $alone" | bc)x; $((n - 2)) snapshots taken)"
  # More CreateSnapshot calls under the same writes on a second disk holding 256 MiB: each capture then takes a
  # few seconds, not half a minute (over the whole image a slow disk allowed one call in the step above: no p99)
  local small_disk
  small_disk=$(cli disk create --size "$gib" --instance "$ins" --wait)
  head -c 256M "$work/pristine.raw" | nbdcopy --flush - "nbd://$nbd/$small_disk"
  cli snapshot create "$small_disk" --wait > /dev/null
  disk=$small_disk snapshots_back_to_back
  disk=$small_disk fio_bw 256 > /dev/null
  wait "$loop"
  curl -s "$api/metrics" > "$work/logs/metrics-after-load.txt"
  $py - "$work/logs/metrics-before-load.txt" "$work/logs/metrics-after-load.txt" <<'PY'
import re, sys
def buckets(path):
    b = {}
    for line in open(path):
        m = re.match(r'cairn_api_request_duration_seconds_bucket\{action="CreateSnapshot",le="([^"]+)"\} (\S+)', line)
        if m: b[float("inf") if m.group(1) == "+Inf" else float(m.group(1))] = float(m.group(2))
    return b
before, after = buckets(sys.argv[1]), buckets(sys.argv[2])
b = {le: n - before.get(le, 0) for le, n in after.items()}
total = b.get(float("inf"), 0)
p99 = next((le for le in sorted(b) if b[le] >= 0.99 * total), float("nan"))
print(f"  CreateSnapshot latency at the server while fio writes: p99 <= {p99 * 1000:g} ms over {int(total)} calls (histogram bucket bound)")
PY
  kill -TERM "$pid"; wait "$pid" || true   # a capture under load may log its end after its snapshot is NORMAL
  echo "  captures under load: $(grep -o 'blocks=[0-9]* ms=[0-9]* store_ms=[0-9]* commit_ms=[0-9]* spilled_mib=[0-9]*' "$work/logs/cairn-serve.log" | tail -n +3 | tr '\n' ';')"
}


for tool in ${TOOLS:-restic borg cairn}; do "run_$tool"; done

echo
echo "== results: $SIZE_MB MiB image, 1% scattered 64 KiB change, repository on the same disk, seed $SEED"
[ -n "$drop_note" ] && echo "$drop_note" || echo "cold page cache before every timed step"
$py - "$work/results.tsv" "$SIZE_MB" <<'PY'
import sys
rows, mib = {}, float(sys.argv[2])
flatten = None
for line in open(sys.argv[1]):
    if line.startswith("flatten\t"):
        flatten = float(line.split("\t")[1]); continue
    tool, full, incr, after, grow, rest = line.rstrip("\n").split("\t")
    full, incr, rest = float(full), float(incr), float(rest)
    rows[tool] = [full, mib / full, incr, int(after) / 2**20, int(grow) / 2**20, rest, mib / rest]
cols = ["full s", "full MiB/s", "incr s", "repo after full MiB", "repo growth MiB", "restore s", "restore MiB/s"]
print("| tool | " + " | ".join(cols) + " |")
print("|---|" + "---:|" * len(cols))
for tool, v in rows.items():
    print(f"| {tool} | {v[0]:.2f} | {v[1]:,.0f} | {v[2]:.2f} | {v[3]:,.0f} | {v[4]:,.0f} | {v[5]:.2f} | {v[6]:,.0f} |")
if "cairn" in rows:
    for peer in ("restic", "borg"):
        if peer in rows:
            r = [c / p if p else float("nan") for c, p in zip(rows["cairn"], rows[peer])]
            print(f"| cairn ÷ {peer} | " + " | ".join(f"{x:.2f}" for x in r) + " |")
    print("\nRatios are cairn's value over the peer's: below 1 is better for s and MiB, above 1 for MiB/s.")
if flatten:
    peers = ", ".join(f"{mib / flatten / rows[p][6]:.2f}x {p}'s restore" for p in ("restic", "borg") if p in rows)
    print(f"\nFull flatten of a clone: {flatten:.2f} s, {mib / flatten:,.0f} MiB/s of image" + (f" ({peers})" if peers else ""))
PY
echo
echo "total ${SECONDS} s; logs and repositories in $work ($(du -sm "$work" | cut -f1) MiB)"
