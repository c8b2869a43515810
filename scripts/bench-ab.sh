#!/usr/bin/env bash
# Two cppcker binaries compared start by start (e.g. main's and a change's):
#   sudo scripts/bench-ab.sh BIN_A BIN_B [N]          (N defaults to 150)
# `run --rm --network none busybox true` with A, then with B, N times over (scripts/bench/ab-run.c); prints
# each one's CPU time per start (the whole process tree) and wall time, mean and median. On a VM whose speed
# drifts (batches of the same binary here differ by 15% from minute to minute), alternating single starts
# is what tells a change of 1 ms apart; bench-run.sh's rounds cannot. State in a temporary directory,
# cgroups below this shell's own; both removed after.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n 2,3p "$0" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench-ab: run as root" >&2; exit 1; }
n=${3:-150}
command -v gcc >/dev/null || { apt-get update -qq; apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null; }

work=$(mktemp -d /tmp/cppcker-bench-ab.XXXXXX)
cleanup() {
  set +e
  grep " $work" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
  while IFS=: read -r _ _ path; do
    for d in /sys/fs/cgroup/*"$path"/cppcker-ab-* /sys/fs/cgroup"$path"/cppcker-ab-*; do
      [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
  done < /proc/self/cgroup
  rm -rf "$work"
}
trap cleanup EXIT

# Copies of both, made the same way (as an install makes one): the page cache holds a file the linker
# wrote differently from one copied whole, and that alone moves a start by ~1.4 ms of CPU here.
install -m 0755 "$1" "$work/a-cppcker"
install -m 0755 "$2" "$work/b-cppcker"
bin_a=$work/a-cppcker
bin_b=$work/b-cppcker
scripts/build-busybox-image.sh "$work/busybox.tar" busybox:latest >/dev/null
"$bin_a" --root "$work/a" load -i "$work/busybox.tar" >/dev/null
"$bin_b" --root "$work/b" load -i "$work/busybox.tar" >/dev/null
gcc -O2 -o "$work/ab-run" scripts/bench/ab-run.c
"$work/ab-run" 3 "$work/a" "$bin_a" "$work/b" "$bin_b" >/dev/null  # warm caches; fail early
echo "bench-ab: $n starts each, alternating; A = $1, B = $2 (copies)"
"$work/ab-run" "$n" "$work/a" "$bin_a" "$work/b" "$bin_b"
