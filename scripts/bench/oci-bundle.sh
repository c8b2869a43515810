#!/usr/bin/env bash
# OCI runtimes on one bundle: `<rt> run --bundle B id` of /bin/true for cppcker-runc, runc and crun (where crun
# starts here), RUNS containers per round, ROUNDS rounds interleaved, the median time per container printed.
# Targets: cppcker-runc at least 2x faster than runc, no slower than crun.
#   sudo scripts/bench/oci-bundle.sh [RUNS] [ROUNDS] [ROOTFS]
# ROOTFS defaults to one made of Debian's busybox-static. Each runtime has its state in a temporary directory
# and its cgroup below this shell's own cgroup (a relative cgroupsPath); every container is deleted with
# `delete --force` and every cgroup, state and temporary directory removed after, also on failure.
# Called by scripts/bench-run.sh; runs alone too. CPPCKER_RUNC=PATH measures that binary instead of build/cppcker.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-30}
rounds=${2:-5}
rootfs_in=${3:-}
[ "$(id -u)" = 0 ] || { echo "oci-bundle: run as root" >&2; exit 1; }
# CPPCKER_RUNC: another cppcker-runc to measure instead of this tree's build.
[ -n "${CPPCKER_RUNC:-}" ] || [ -x build/cppcker ] || scripts/build.sh >/dev/null

if ! command -v crun >/dev/null; then  # Debian's; whether it starts here is measured below
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends crun >/dev/null 2>&1 || true
fi

work=$(mktemp -d /tmp/cppcker-bench-oci.XXXXXX)
own_memory=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/self/cgroup)
# argv[0] makes the one binary answer runc's command line.
ln -s "${CPPCKER_RUNC:-$PWD/build/cppcker}" "$work/cppcker-runc"
declare -A binary=([cppcker_runc]=$work/cppcker-runc [runc]=$(command -v runc || true) [crun]=$(command -v crun || true))
cleanup() {
  set +e
  for t in "${!binary[@]}"; do
    [ -n "${binary[$t]}" ] && [ -d "$work/state-$t" ] || continue
    for id in $("${binary[$t]}" --root "$work/state-$t" list -q 2>/dev/null); do
      "${binary[$t]}" --root "$work/state-$t" delete --force "$id" >/dev/null 2>&1
    done
  done
  for d in /sys/fs/cgroup/*/"$own_memory"/cppcker-bench-oci-* /sys/fs/cgroup/*/cppcker-bench-oci-* \
           /sys/fs/cgroup/cppcker-bench-oci-*; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT

bundle=$work/bundle
mkdir -p "$bundle/rootfs"
if [ -n "$rootfs_in" ]; then
  cp -a "$rootfs_in/." "$bundle/rootfs/"
else
  mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/proc" "$bundle/rootfs/dev" "$bundle/rootfs/sys"
  cp /bin/busybox "$bundle/rootfs/bin/busybox"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$bundle/rootfs/bin/$a"; done
fi
# runc's default spec, /bin/true without a terminal; each runtime gets its own relative cgroupsPath.
runc spec --bundle "$bundle"
sed -i -e 's/"terminal": true/"terminal": false/' -e 's/"sh"$/"\/bin\/true"/' "$bundle/config.json"
for t in "${!binary[@]}"; do
  mkdir -p "$work/bundle-$t"
  sed -e 's/"linux": {/"linux": {\n\t\t"cgroupsPath": "cppcker-bench-oci-'"$t"'",/' \
      -e 's|"path": "rootfs"|"path": "'"$bundle/rootfs"'"|' "$bundle/config.json" > "$work/bundle-$t/config.json"
done

n=0
run_oci() {  # run_oci TOOL: one container, foreground (run deletes it when /bin/true ends)
  n=$((n + 1))
  "${binary[$1]}" --root "$work/state-$1" run --bundle "$work/bundle-$1" "bench-$n" </dev/null
}

# Each once first: warm caches, and leave out a runtime that does not start a container here.
tools=()
for t in cppcker_runc runc crun; do
  name=${t//_/-}
  if [ -z "${binary[$t]}" ]; then echo "$name: not installed"; continue; fi
  if err=$(run_oci "$t" 2>&1 >/dev/null); then
    tools+=("$t")
  else
    echo "$name: does not start here ($(tr '\n' ' ' <<<"$err" | cut -c1-200))"
  fi
  n=$((n + 1))  # the try ran in a subshell: its id is not used again
done
[ ${#tools[@]} -gt 0 ] || exit 0

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { awk -v us="$1" 'BEGIN {printf "%.1f", us / 1000}'; }
declare -A samples med
for t in "${tools[@]}"; do samples[$t]=""; done
# Each container timed on its own (EPOCHREALTIME: no fork for the clock), rounds interleaved.
for ((r = 0; r < rounds; r++)); do
  for t in "${tools[@]}"; do
    for ((i = 0; i < runs; i++)); do
      start=${EPOCHREALTIME/./}
      run_oci "$t" >/dev/null
      end=${EPOCHREALTIME/./}
      samples[$t]+="$(( 10#$end - 10#$start )) "
    done
  done
done
echo "OCI runtimes on one bundle (run of /bin/true): $runs containers x $rounds rounds each; median per container"
for t in "${tools[@]}"; do
  med[$t]=$(median "${samples[$t]}")
  sorted=($(tr ' ' '\n' <<<"${samples[$t]}" | grep -v '^$' | sort -n))
  printf '  %-15s %8s ms   (min %s, max %s)\n' "${t//_/-}" "$(ms "${med[$t]}")" "$(ms "${sorted[0]}")" \
    "$(ms "${sorted[-1]}")"
  left=$("${binary[$t]}" --root "$work/state-$t" list -q 2>/dev/null | wc -l)
  [ "$left" = 0 ] || echo "  ${t//_/-}: $left containers left after run (removed by the cleanup)"
done
if [ -n "${med[cppcker_runc]:-}" ]; then
  [ -n "${med[runc]:-}" ] && awk -v c="${med[cppcker_runc]}" -v r="${med[runc]}" \
    'BEGIN {printf "  runc / cppcker-runc = %.2f   (target >= 2)\n", r / c}'
  [ -n "${med[crun]:-}" ] && awk -v c="${med[cppcker_runc]}" -v r="${med[crun]}" \
    'BEGIN {printf "  crun / cppcker-runc = %.2f   (target >= 1)\n", r / c}'
fi
exit 0
