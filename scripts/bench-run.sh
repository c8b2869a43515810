#!/usr/bin/env bash
# Start-up benchmark, two parts, each compared in the same run:
# 1. `cppcker run --rm --network none busybox true` against
#   minimal-run  scripts/bench/minimal-run.c: the same kernel steps in C and nothing else (cgroup dirs,
#                clone with namespaces, overlay, /proc, pivot_root, exec): the floor
#   runc run     Debian's runc on a bundle of the same rootfs (its default spec; no overlay)
#   podman run --rm --runtime runc --network none   Debian's podman (overlay storage, conmon)
#   targets: cppcker within 1.5x of minimal-run, 20x faster than podman.
# 2. The same with a bridged network: cppcker's default network (its own bridge and nftables table, from a
#   config file of the benchmark's) against minimal-run that also creates a veth pair over raw netlink
#   onto a bridge and configures eth0, and against podman's default network (CNI bridge, through
#   iptables-nft). Targets: cppcker within 1.3x of that C program, 10x faster than podman.
# 3. OCI runtimes on one bundle (scripts/bench/oci-bundle.sh): `cppcker-runc run` against `runc run` and `crun run`
#   (where crun starts on the machine). Targets: at least 2x faster than runc, no slower than crun.
# Every tool is started once per container from the same shell loop; RUNS containers per round, ROUNDS
# rounds interleaved; the median time per container is printed. Then the resident memory of one detached
# container's monitor (target <= 1 MB) next to podman's conmon.
#   sudo scripts/bench-run.sh [RUNS] [ROUNDS]        (defaults 20 and 5)
# Cgroups are made below this shell's own cgroup only, state in a temporary directory; all removed after,
# as are the bridges, the nftables tables and /run/netns mount podman's CNI made (if they were not there
# before), and net.ipv4.ip_forward is put back.
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
ip_forward_before=$(cat /proc/sys/net/ipv4/ip_forward)
# --userns=auto adds cppcker's ranges to these on first use: the machine gets its own back.
cp -p /etc/subuid "$work/subuid.saved" 2>/dev/null || true
cp -p /etc/subgid "$work/subgid.saved" 2>/dev/null || true
nft_tables_before=$(nft list tables 2>/dev/null || true)
cni_before=$([ -e /var/lib/cni ] && echo yes || echo no)
podman_bridge_before=$([ -e /sys/class/net/cni-podman0 ] && echo yes || echo no)
run_netns_before=$([ -e /run/netns ] && echo yes || echo no)  # podman's namespaces live there (a mount)
bench_config=$work/cppcker-config.json
echo '{"bridge": "cpkbench1", "bip": "10.218.1.1/24", "nft-table": "cppcker_bench"}' > "$bench_config"
cleanup() {
  set +e
  for id in $("$cppcker" --root "$work/cppcker-net" --config "$bench_config" ps -aq --no-trunc 2>/dev/null); do
    "$cppcker" --root "$work/cppcker-net" --config "$bench_config" rm -f "$id" >/dev/null 2>&1
  done
  "$cppcker" --root "$work/cppcker-net" --config "$bench_config" network prune -f >/dev/null 2>&1
  ip link del cpkbench0 2>/dev/null
  if [ "$podman_bridge_before" = no ]; then ip link del cni-podman0 2>/dev/null; fi
  for t in "ip nat" "ip filter" "ip6 nat" "ip6 filter"; do
    grep -qx "table $t" <<<"$nft_tables_before" || nft delete table $t 2>/dev/null
  done
  if [ "$cni_before" = no ]; then rm -rf /var/lib/cni; fi
  if [ "$run_netns_before" = no ]; then
    while grep -q " /run/netns " /proc/self/mountinfo; do umount /run/netns || break; done
    rmdir /run/netns 2>/dev/null
  fi
  echo "$ip_forward_before" > /proc/sys/net/ipv4/ip_forward
  [ -e "$work/subuid.saved" ] && cp -p "$work/subuid.saved" /etc/subuid
  [ -e "$work/subgid.saved" ] && cp -p "$work/subgid.saved" /etc/subgid
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
# The same confined start without its seccomp filter, and with a user namespace: what each costs.
run_cppcker_noseccomp() {
  "$cppcker" --root "$work/cppcker" run --rm --network none --security-opt seccomp=unconfined \
    --cgroup-parent cppcker-bench-cppcker busybox true
}
run_cppcker_userns() {
  "$cppcker" --root "$work/cppcker" run --rm --network none --userns=auto --cgroup-parent cppcker-bench-cppcker busybox true
}
# minimal-run makes and removes its run directory below this one itself.
run_minimal() { "$work/minimal-run" "$work/bundle/rootfs" "$work/minimal" cppcker-bench-minimal 1 /bin/true; }
run_runc() { runc --root "$work/runc-state" run --bundle "$work/bundle" "bench-$RANDOM$RANDOM" </dev/null; }
podman_run=(run --runtime runc --network none --cgroup-parent /cppcker-bench-podman
            --ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
run_podman() { "${podman[@]}" "${podman_run[@]}" --rm busybox:latest true; }
tools=(minimal cppcker cppcker_noseccomp cppcker_userns runc podman)

# Each once first: warm caches, and fail early if a tool does not work here.
for t in "${tools[@]}"; do
  "run_$t" >/dev/null || { echo "bench-run: $t failed to run a container" >&2; exit 1; }
done

declare -A samples med
# measure TOOL...: RUNS containers per tool per round, ROUNDS rounds interleaved; sets med[TOOL] (us).
measure() {
  local r t n start end i
  for t in "$@"; do samples[$t]=""; done
  for ((r = 0; r < rounds; r++)); do
    for t in "$@"; do
      n=$runs
      [[ $t == podman* ]] && n=$(( runs < 5 ? runs : 5 ))  # podman is slow; fewer runs, same median logic
      start=$(date +%s%N)
      for ((i = 0; i < n; i++)); do "run_$t" >/dev/null; done
      end=$(date +%s%N)
      samples[$t]+="$(( (end - start) / n / 1000 )) "
    done
  done
  for t in "$@"; do
    med[$t]=$(median "${samples[$t]}")
    printf '  %-15s %8s ms   (rounds: %s)\n' "$t" "$(ms "${med[$t]}")" "$(for s in ${samples[$t]}; do printf '%s ' "$(ms "$s")"; done)"
  done
}
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { awk -v us="$1" 'BEGIN {printf "%.1f", us / 1000}'; }

echo "bench-run: $runs containers x $rounds rounds each (podman: $(( runs < 5 ? runs : 5 )) per round); median per container"
echo "no network (--network none):"
measure "${tools[@]}"
awk -v c="${med[cppcker]}" -v m="${med[minimal]}" -v p="${med[podman]}" -v r="${med[runc]}" 'BEGIN {
  printf "  cppcker / minimal-run = %.2f   (target <= 1.5)\n", c / m
  printf "  podman / cppcker      = %.1f   (target >= 20)\n", p / c
  printf "  runc / cppcker        = %.2f\n", r / c
}'
awk -v c="${med[cppcker]}" -v s="${med[cppcker_noseccomp]}" -v u="${med[cppcker_userns]}" 'BEGIN {
  printf "  seccomp costs %.2f ms per start (cppcker - cppcker_noseccomp; target <= 1)\n", (c - s) / 1000
  printf "  a user namespace costs %.2f ms per start (cppcker_userns - cppcker)\n", (u - c) / 1000
}'

# Bridged: the C floor's own bridge; cppcker's default network from the benchmark's config file.
ip link add cpkbench0 type bridge && ip addr add 10.218.0.1/24 dev cpkbench0 && ip link set cpkbench0 up
"$cppcker" --root "$work/cppcker-net" --config "$bench_config" load -i "$work/busybox.tar" >/dev/null
run_minimal_veth() {
  MINIMAL_BRIDGE=cpkbench0 MINIMAL_NET=10.218.0.2/24,10.218.0.1 \
    "$work/minimal-run" "$work/bundle/rootfs" "$work/minimal" cppcker-bench-minimal 1 /bin/true
}
run_cppcker_bridge() {
  "$cppcker" --root "$work/cppcker-net" --config "$bench_config" run --rm --cgroup-parent cppcker-bench-cppcker busybox true
}
run_podman_bridge() {
  "${podman[@]}" run --runtime runc --cgroup-parent /cppcker-bench-podman \
    --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 --rm busybox:latest true
}
net_tools=(minimal_veth cppcker_bridge podman_bridge)
for t in "${net_tools[@]}"; do
  "run_$t" >/dev/null || { echo "bench-run: $t failed to run a container" >&2; exit 1; }
done
echo "bridged network (default network of each; the C floor makes a veth pair over netlink):"
measure "${net_tools[@]}"
awk -v c="${med[cppcker_bridge]}" -v m="${med[minimal_veth]}" -v p="${med[podman_bridge]}" 'BEGIN {
  printf "  cppcker / minimal-run with veth = %.2f   (target <= 1.3)\n", c / m
  printf "  podman / cppcker                = %.1f   (target >= 10)\n", p / c
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

# OCI runtimes on the same rootfs, each with its own state and cgroup, all removed by the helper.
scripts/bench/oci-bundle.sh "$runs" "$rounds" "$work/bundle/rootfs"
