#!/usr/bin/env bash
# Commit benchmark: a container writes a 100 MB change (100 files of 1 MB from /dev/urandom), then
# `cppcker commit` and `podman commit` (its default runtime runc, overlay storage, cgroupfs) turn the same
# change into an image, RUNS times each, interleaved; the median of each and their ratio are printed.
# Target: cppcker 1.5x faster than podman.
#   sudo scripts/bench/commit.sh [RUNS]        (default 5)
# State lives in a temporary directory, cgroups below this shell's own; everything is removed after.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
[ "$(id -u)" = 0 ] || { echo "bench/commit: run as root" >&2; exit 1; }
command -v podman >/dev/null || { echo "bench/commit: podman is missing (scripts/install-deps.sh)" >&2; exit 1; }
[ -x build/cppcker ] || scripts/build.sh >/dev/null
cppcker=$PWD/build/cppcker

work=$(mktemp -d /tmp/cppcker-bench-commit.XXXXXX)
cpk=("$cppcker" --root "$work/cppcker")
podman=(podman --root "$work/podman" --runroot "$work/podman-run" --tmpdir "$work/podman-tmp"
        --storage-driver overlay --cgroup-manager cgroupfs --events-backend file --runtime runc)
parent=cppcker-bench-commit-$$
cleanup() {
  set +e
  for id in $("${cpk[@]}" ps -aq --no-trunc 2>/dev/null); do "${cpk[@]}" rm -f "$id" >/dev/null 2>&1; done
  "${podman[@]}" rm -af -t 0 >/dev/null 2>&1
  "${podman[@]}" rmi -af >/dev/null 2>&1
  grep " $work" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
  find /sys/fs/cgroup -maxdepth 8 -type d -name "$parent" 2>/dev/null | while read -r d; do
    find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT

if [ -f build/busybox.tar ]; then cp build/busybox.tar "$work/busybox.tar"
else scripts/build-busybox-image.sh "$work/busybox.tar" localhost/busybox:latest >/dev/null; fi
name=$("${cpk[@]}" load -i "$work/busybox.tar" | sed -n 's/^Loaded image: //p' | head -1)
"${podman[@]}" load -i "$work/busybox.tar" >/dev/null 2>&1

change='i=0; while [ $i -lt 100 ]; do head -c 1048576 /dev/urandom > /f$i; i=$((i+1)); done'
"${cpk[@]}" run --network none --cgroup-parent "$parent" --name src "$name" sh -c "$change"
# podman's default limits are above this machine's (no CAP_SYS_RESOURCE): the ones the peer tests use.
"${podman[@]}" run --network none --cgroup-parent "$parent" --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 \
  --name src "$name" sh -c "$change"

ns() { date +%s%N; }
cpk_times=() podman_times=()
for i in $(seq 1 "$runs"); do
  t0=$(ns); "${cpk[@]}" commit src "bench:$i" >/dev/null; t1=$(ns)
  cpk_times+=($(( (t1 - t0) / 1000000 )))
  "${cpk[@]}" rmi "bench:$i" >/dev/null
  t0=$(ns); "${podman[@]}" commit -q src "bench:$i" >/dev/null 2>&1; t1=$(ns)
  podman_times+=($(( (t1 - t0) / 1000000 )))
  "${podman[@]}" rmi "bench:$i" >/dev/null 2>&1
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }
c=$(median "${cpk_times[@]}") p=$(median "${podman_times[@]}")
echo "commit of a 100 MB change, median of $runs runs:"
echo "  cppcker commit   ${c} ms   (${cpk_times[*]})"
echo "  podman commit    ${p} ms   (${podman_times[*]})"
awk -v c="$c" -v p="$p" 'BEGIN {printf "  podman / cppcker = %.2fx (target >= 1.5x)\n", p / c}'
