#!/usr/bin/env bash
# Start-up benchmark: `cppcker run --rm --network none busybox true`, compared in the same run with
#   minimal-run  scripts/bench/minimal-run.c: the same kernel steps in C and nothing else (cgroup dirs,
#                clone with namespaces, overlay, /proc, pivot_root, exec): the floor
#   runc run     Debian's runc on a bundle of the same rootfs (its default spec; no overlay)
#   podman run --rm --runtime runc --network none   Debian's podman (overlay storage, conmon)
# Every tool is started once per container from the same shell loop; RUNS containers per round, ROUNDS
# rounds interleaved; the median time per container is printed with the targets (cppcker within 1.5x of
# minimal-run, 20x faster than podman). Then the resident memory of one detached container's monitor
# (target <= 1 MB) next to podman's conmon.
#   sudo scripts/bench-run.sh [RUNS] [ROUNDS]        (defaults 20 and 5)
# Cgroups are made below this shell's own cgroup only, state in a temporary directory; all removed after.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
rounds=${2:-5}
[ "$(id -u)" = 0 ] || { echo "bench-run: run as root" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
need=()
for p in runc podman gcc busybox; do command -v "$p" >/dev/null || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends runc podman gcc libc6-dev busybox-static >/dev/null
fi
[ -x build/cppcker ] || scripts/build.sh >/dev/null
cppcker=$PWD/build/cppcker

work=$(mktemp -d /tmp/cppcker-bench-run.XXXXXX)
podman=(podman --root "$work/podman" --runroot "$work/podman-run" --tmpdir "$work/podman-tmp"
        --storage-driver overlay --cgroup-manager cgroupfs --events-backend file)
cleanup() {
  set +e
  for id in $("$cppcker" --root "$work/cppcker" ps -aq --no-trunc 2>/dev/null); do
    "$cppcker" --root "$work/cppcker" rm -f "$id" >/dev/null 2>&1
  done
  "${podman[@]}" rm -af -t 0 >/dev/null 2>&1
  "${podman[@]}" rmi -af >/dev/null 2>&1
  "${podman[@]}" system reset -f >/dev/null 2>&1
  grep " $work" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
  for d in /sys/fs/cgroup/*/"$own_memory"/cppcker-bench-* /sys/fs/cgroup/*/cppcker-bench-* /sys/fs/cgroup/cppcker-bench-*; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  rm -rf "$work"
}
own_memory=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/self/cgroup)
trap cleanup EXIT

# The image that ships with cppcker, and its rootfs for the tools that take a directory.
scripts/build-busybox-image.sh "$work/busybox.tar" busybox:latest >/dev/null
mkdir -p "$work/image" "$work/bundle/rootfs" "$work/minimal"
tar -xf "$work/busybox.tar" -C "$work/image"
tar -xf "$(find "$work/image" -name layer.tar | head -1)" -C "$work/bundle/rootfs"
"$cppcker" --root "$work/cppcker" load -i "$work/busybox.tar" >/dev/null
"${podman[@]}" load -i "$work/busybox.tar" >/dev/null 2>&1
gcc -O2 -o "$work/minimal-run" scripts/bench/minimal-run.c

# runc's own default spec, running /bin/true without a terminal, its cgroup below ours.
runc spec --bundle "$work/bundle"
sed -i -e 's/"terminal": true/"terminal": false/' -e 's/"sh"$/"\/bin\/true"/' \
       -e 's/"linux": {/"linux": {\n\t\t"cgroupsPath": "cppcker-bench-runc",/' "$work/bundle/config.json"

run_cppcker() { "$cppcker" --root "$work/cppcker" run --rm --network none --cgroup-parent cppcker-bench-cppcker busybox true; }
# minimal-run makes and removes its run directory below this one itself.
run_minimal() { "$work/minimal-run" "$work/bundle/rootfs" "$work/minimal" cppcker-bench-minimal 1 /bin/true; }
run_runc() { runc --root "$work/runc-state" run --bundle "$work/bundle" "bench-$RANDOM$RANDOM" </dev/null; }
podman_run=(run --runtime runc --network none --cgroup-parent /cppcker-bench-podman
            --ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
run_podman() { "${podman[@]}" "${podman_run[@]}" --rm busybox:latest true; }
tools=(minimal cppcker runc podman)

# Each once first: warm caches, and fail early if a tool does not work here.
for t in "${tools[@]}"; do
  "run_$t" >/dev/null || { echo "bench-run: $t failed to run a container" >&2; exit 1; }
done

declare -A samples
for ((r = 0; r < rounds; r++)); do
  for t in "${tools[@]}"; do
    n=$runs
    [ "$t" = podman ] && n=$(( runs < 5 ? runs : 5 ))  # podman is slow; fewer runs, same median logic
    start=$(date +%s%N)
    for ((i = 0; i < n; i++)); do "run_$t" >/dev/null; done
    end=$(date +%s%N)
    samples[$t]+="$(( (end - start) / n / 1000 )) "
  done
done

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { awk -v us="$1" 'BEGIN {printf "%.1f", us / 1000}'; }
echo "bench-run: $runs containers x $rounds rounds each (podman: $(( runs < 5 ? runs : 5 )) per round); median per container"
declare -A med
for t in "${tools[@]}"; do
  med[$t]=$(median "${samples[$t]}")
  printf '  %-8s %8s ms   (rounds: %s)\n' "$t" "$(ms "${med[$t]}")" "$(for s in ${samples[$t]}; do printf '%s ' "$(ms "$s")"; done)"
done
awk -v c="${med[cppcker]}" -v m="${med[minimal]}" -v p="${med[podman]}" -v r="${med[runc]}" 'BEGIN {
  printf "  cppcker / minimal-run = %.2f   (target <= 1.5)\n", c / m
  printf "  podman / cppcker      = %.1f   (target >= 20)\n", p / c
  printf "  runc / cppcker        = %.2f\n", r / c
}'

# Resident memory of what stays behind a detached container.
id=$("$cppcker" --root "$work/cppcker" run -d --network none --cgroup-parent cppcker-bench-cppcker busybox sleep 1000)
sleep 0.5
monitor=$(grep -o '"monitor_pid": *[0-9]*' "$work/cppcker/containers/$id/container.json" | grep -o '[0-9]*$')
pid_of_podman=$("${podman[@]}" "${podman_run[@]}" -d busybox:latest sleep 1000)
sleep 0.5
conmon=$("${podman[@]}" inspect --format '{{.State.ConmonPid}}' "$pid_of_podman")
memory() { printf 'RSS %5d kB  PSS %5d kB' "$(awk '/^VmRSS/ {print $2}' "/proc/$1/status")" \
                                          "$(awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup")"; }
echo "resident memory of one detached container's keeper:"
echo "  cppcker monitor  $(memory "$monitor")   (target RSS <= 1024 kB)"
echo "  podman conmon    $(memory "$conmon")"
