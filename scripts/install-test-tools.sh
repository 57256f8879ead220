#!/usr/bin/env bash
# Installs the real tools Cairn's tests drive, from Debian's packages. Idempotent and quick when done.
set -euo pipefail
packages=(qemu-utils nbdkit libnbd-bin python3-libnbd fio e2fsprogs fuse2fs fuse postgresql restic borgbackup procps)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing test tools: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
