#!/usr/bin/env bash
# Start-up benchmark, two parts, each compared in the same run:
# 1. `cppcker run --rm --network none busybox true` against
#   minimal-run  scripts/bench/minimal-run.c: the same kernel steps in C and nothing else (cgroup dirs,
#                clone with namespaces, overlay, /proc, pivot_root, exec): the floor
#   runc run     Debian's runc on a bundle of the same rootfs (its default spec; no overlay)
#   podman run --rm --runtime runc --network none   Debian's podman (overlay storage, conmon)
#   targets: cppcker within 1.5x of minimal-run, 20x faster than podman.
#   minimal-run with MINIMAL_SHAPE=1, the floor of cppcker's design: the same C program plus what the design
#                itself requires at C's cost (the child-mode re-execution, Docker's container filesystem:
#                /dev, /sys, cgroups, /etc files, read-only and masked paths; a seccomp filter as long as
#                the default profile's, a durable record; with a bridge, the setup-netns and setup-veth
#                re-executions beside it). Printed against the targets: what they leave for cppcker's own code.
# 2. The same with a bridged network: cppcker's default network (its own bridge and nftables table, from a
#   config file of the benchmark's) against minimal-run that also creates a veth pair over raw netlink
#   onto a bridge and configures eth0, and against podman's default network (CNI bridge, through
#   iptables-nft). Targets: cppcker within 1.3x of that C program, 10x faster than podman.
# 3. OCI runtimes on one bundle (scripts/bench/oci-bundle.sh): `cppcker-runc run` against `runc run` and `crun run`
#   (where crun starts on the machine). Targets: at least 2x faster than runc, no slower than crun.
# Every tool is started once per container from the same shell loop; RUNS containers per round, ROUNDS
# rounds interleaved; the median time per container is printed. After each of parts 1 and 2, where
# cppcker's start goes: RUNS starts with CPPCKER_TIMING marks (src/util/timing.cpp) from the CLI, the
# child-mode stage and the setup-* stages, each mark's median time from the launch (scripts/bench/stage-clock.c);
# and the cost of one exec of a stage (`cppcker child-mode` up to its first system call) against a static C
# program that returns at once (target: <= 1 ms over it); the CPU time of a start (all CPUs) next to
# minimal-run's, and one stage exec again while another CPU spins (how much two CPUs really overlap here).
# Then: the resident memory (RSS, PSS) of one detached container's monitor (target <= 1 MB) next to podman's
# conmon; `exec CONTAINER true` against `nsenter -t PID -a true` (target <= 1.3x) and against the floor of
# its design in C (scripts/bench/exec-floor.c); 100 detached containers started in a loop (time per run -d,
# their monitors' memory in all: target <= 100 MB; `ps` over them: target <= 20 ms).
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
work=$(mktemp -d /tmp/cppcker-bench-run.XXXXXX)
# A copy of the binary, as `cmake --install` makes one: measured here, the linker's output file costs
# ~1.4 ms more CPU per start than a copy of it (the way the kernel caches the file's pages differs; most
# likely large folios for a copy written whole, 4 kB pages for the linker's), and users run the copy.
install -m 0755 build/cppcker "$work/cppcker-bin"
cppcker=$work/cppcker-bin
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
spinner=""  # a CPU burner of the benchmark's own (below), stopped by its pid
cleanup() {
  set +e
  [ -n "$spinner" ] && kill "$spinner" 2>/dev/null
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
gcc -O2 -o "$work/stage-clock" scripts/bench/stage-clock.c
gcc -O2 -o "$work/exec-floor" scripts/bench/exec-floor.c
printf 'int main(void) { return 0; }\n' > "$work/static-true.c"
gcc -O2 -static -o "$work/static-true" "$work/static-true.c"
clock=$work/stage-clock

# runc's own default spec, running /bin/true without a terminal, its cgroup below ours.
runc spec --bundle "$work/bundle"
sed -i -e 's/"terminal": true/"terminal": false/' -e 's/"sh"$/"\/bin\/true"/' \
       -e 's/"linux": {/"linux": {\n\t\t"cgroupsPath": "cppcker-bench-runc",/' "$work/bundle/config.json"

# TIMING_FILE set (breakdown): the start under `stage-clock mark`, which turns cppcker's marks on.
timed() { if [ -n "${TIMING_FILE:-}" ]; then "$clock" mark "$TIMING_FILE" "$@"; else "$@"; fi; }
run_cppcker() { timed "$cppcker" --root "$work/cppcker" run --rm --network none --cgroup-parent cppcker-bench-cppcker busybox true; }
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
run_minimal_shape() { MINIMAL_SHAPE=1 run_minimal; }
run_runc() { runc --root "$work/runc-state" run --bundle "$work/bundle" "bench-$RANDOM$RANDOM" </dev/null; }
podman_run=(run --runtime runc --network none --cgroup-parent /cppcker-bench-podman
            --ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
run_podman() { "${podman[@]}" "${podman_run[@]}" --rm busybox:latest true; }
tools=(minimal minimal_shape cppcker cppcker_noseccomp cppcker_userns runc podman)

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

# breakdown TOOL: RUNS starts of run_TOOL under `stage-clock mark`, each writing cppcker's own start-path
# marks (CPPCKER_TIMING, src/util/timing.cpp) from every process of the start; prints each mark's median
# time from the launch, in the order they come, with the step since the line before.
breakdown() {
  local t=$1 dir=$work/timing-$1 i
  mkdir -p "$dir"
  for ((i = 0; i < runs; i++)); do TIMING_FILE=$dir/$i "run_$t" >/dev/null; done
  awk '
    BEGIN {
      what["cli"] = "exec of the CLI: kernel, loader, constructors, to main()"
      what["parsed"] = "command line parsed (CLI11)"
      what["record"] = "image found, container record written"
      what["clone"] = "records, log, pipes; clone() with the namespaces next"
      what["child-mode"] = "  child: child-mode exec, loader, constructors, to main()"
      what["spec"] = "OCI spec loaded (or built and written)"
      what["setup-netns"] = "  stage: setup-netns exec, to main()"
      what["setup-netns-done"] = "  stage: network namespace made and kept"
      what["files"] = "volumes, network begun, hostname/hosts/resolv.conf"
      what["seccomp"] = "seccomp program read (compiled once, cached)"
      what["cgroup"] = "cgroup made, the child put in it"
      what["child-request"] = "  child: start request (spec) received"
      what["mounts"] = "  child: overlay rootfs and its mounts"
      what["pivot_root"] = "  child: pivot_root"
      what["setup-veth"] = "  stage: setup-veth exec, to main()"
      what["setup-veth-done"] = "  stage: veth pair, address, route"
      what["go"] = "network finished, go sent"
      what["child-go"] = "  child: masked paths done, go received"
      what["confined"] = "  child: user, capabilities, seccomp; next the exec"
      what["started"] = "the program started: its exec closed the start socket"
      what["recorded"] = "running state recorded"
      what["exited"] = "the program ended and was reaped"
      what["cgroup-removed"] = "its cgroup removed"
      what["network-down"] = "its network torn down"
      what["exit-recorded"] = "exit code recorded"
      what["record-removed"] = "record, upper layer and files removed (--rm)"
      what["cleaned"] = "the CLI done with the container"
      what["reaped"] = "the CLI exited"
    }
    FNR == 1 { base = ""; files++ }
    { if ($1 == "launch") base = $2; t[$1, files] = $2; seen[$1] = 1 }
    END {
      for (l in seen) {
        n = 0
        for (f = 1; f <= files; f++) if ((l, f) in t) v[++n] = (t[l, f] - t["launch", f]) / 1e6
        for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
        med[l] = v[int((n + 1) / 2)]
      }
      m = 0
      for (l in med) order[++m] = l
      for (i = 2; i <= m; i++) { x = order[i]; for (j = i - 1; j >= 1 && med[order[j]] > med[x]; j--) order[j + 1] = order[j]; order[j + 1] = x }
      prev = 0
      for (i = 1; i <= m; i++) {
        l = order[i]
        if (l == "launch") continue
        printf "    %-17s %6.2f ms  +%5.2f   %s\n", l, med[l], med[l] - prev, what[l]
        prev = med[l]
      }
    }' "$dir"/*
}

echo "bench-run: $runs containers x $rounds rounds each (podman: $(( runs < 5 ? runs : 5 )) per round); median per container"
echo "no network (--network none):"
measure "${tools[@]}"
awk -v c="${med[cppcker]}" -v m="${med[minimal]}" -v f="${med[minimal_shape]}" -v p="${med[podman]}" -v r="${med[runc]}" 'BEGIN {
  printf "  cppcker / minimal-run = %.2f   (target <= 1.5)\n", c / m
  printf "  design floor / minimal-run = %.2f: the target leaves %.2f ms for all of cppcker'"'"'s own work (C++, JSON, files)\n", f / m, (1.5 * m - f) / 1000
  printf "  podman / cppcker      = %.1f   (target >= 20)\n", p / c
  printf "  runc / cppcker        = %.2f\n", r / c
}'
awk -v c="${med[cppcker]}" -v s="${med[cppcker_noseccomp]}" -v u="${med[cppcker_userns]}" 'BEGIN {
  printf "  seccomp costs %.2f ms per start (cppcker - cppcker_noseccomp; target <= 1)\n", (c - s) / 1000
  printf "  a user namespace costs %.2f ms per start (cppcker_userns - cppcker)\n", (u - c) / 1000
}'
echo "  where cppcker's start goes (median of $runs, ms from the launch; the child's lines run beside the parent's):"
breakdown cppcker
# One exec of a stage: child-mode given a descriptor that is not there fails at its first system call.
# After a pause: what the starts above left to the kernel's workers (podman's clean-up most) is done.
sleep 3
stage_us=$("$clock" exec $((runs * 10)) "$cppcker" child-mode 99 0)
static_us=$("$clock" exec $((runs * 10)) "$work/static-true")
awk -v c="$stage_us" -v s="$static_us" 'BEGIN {
  printf "  one exec of a stage (cppcker child-mode, to its first system call) %.2f ms; a static C program that returns: %.2f ms\n", c / 1000, s / 1000
  printf "  stage exec over static C = %.2f ms   (target <= 1)\n", (c - s) / 1000
}'
# What a start costs in CPU, all processes and kernel threads together (from /proc/stat), and how much a
# second busy CPU slows one exec: where the two barely run side by side (a VM's vCPUs sharing a core),
# a start's steps gain little from overlapping and its CPU time is what its wall time follows.
cpu_ms() {  # cpu_ms TOOL: busy CPU ms per container over RUNS starts of run_TOOL
  local before after i
  before=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat)
  for ((i = 0; i < runs; i++)); do "run_$1" >/dev/null; done
  after=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat)
  awk -v d=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$runs" 'BEGIN {printf "%.1f", d * 1000 / hz / n}'
}
sh -c 'while :; do :; done' &
spinner=$!
busy_us=$("$clock" exec $((runs * 10)) "$cppcker" child-mode 99 0)
kill "$spinner"
wait "$spinner" 2>/dev/null || true
spinner=""
echo "  CPU per start (all CPUs): cppcker $(cpu_ms cppcker) ms, minimal-run $(cpu_ms minimal) ms, design floor $(cpu_ms minimal_shape) ms"
awk -v b="$busy_us" -v c="$stage_us" 'BEGIN {
  printf "  one exec of a stage while another CPU spins: %.2f ms (%.2f ms idle)\n", b / 1000, c / 1000
}'

# Bridged: the C floor's own bridge; cppcker's default network from the benchmark's config file.
ip link add cpkbench0 type bridge && ip addr add 10.218.0.1/24 dev cpkbench0 && ip link set cpkbench0 up
"$cppcker" --root "$work/cppcker-net" --config "$bench_config" load -i "$work/busybox.tar" >/dev/null
run_minimal_veth() {
  MINIMAL_BRIDGE=cpkbench0 MINIMAL_NET=10.218.0.2/24,10.218.0.1 \
    "$work/minimal-run" "$work/bundle/rootfs" "$work/minimal" cppcker-bench-minimal 1 /bin/true
}
run_minimal_veth_shape() { MINIMAL_SHAPE=1 run_minimal_veth; }
run_cppcker_bridge() {
  timed "$cppcker" --root "$work/cppcker-net" --config "$bench_config" run --rm --cgroup-parent cppcker-bench-cppcker busybox true
}
run_podman_bridge() {
  "${podman[@]}" run --runtime runc --cgroup-parent /cppcker-bench-podman \
    --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 --rm busybox:latest true
}
net_tools=(minimal_veth minimal_veth_shape cppcker_bridge podman_bridge)
for t in "${net_tools[@]}"; do
  "run_$t" >/dev/null || { echo "bench-run: $t failed to run a container" >&2; exit 1; }
done
echo "bridged network (default network of each; the C floor makes a veth pair over netlink):"
measure "${net_tools[@]}"
awk -v c="${med[cppcker_bridge]}" -v m="${med[minimal_veth]}" -v f="${med[minimal_veth_shape]}" -v p="${med[podman_bridge]}" 'BEGIN {
  printf "  cppcker / minimal-run with veth = %.2f   (target <= 1.3)\n", c / m
  printf "  design floor / minimal-run with veth = %.2f: the target leaves %.2f ms for all of cppcker'"'"'s own work\n", f / m, (1.3 * m - f) / 1000
  printf "  podman / cppcker                = %.1f   (target >= 10)\n", p / c
}'
echo "  where cppcker's bridged start goes (median of $runs, ms from the launch):"
breakdown cppcker_bridge

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

# exec into that running container, against util-linux's nsenter into all its namespaces.
pid=$("$cppcker" --root "$work/cppcker" inspect --format '{{.State.Pid}}' "$id")
run_exec_nsenter() { nsenter -t "$pid" -a true; }
run_exec_cppcker() { "$cppcker" --root "$work/cppcker" exec "$id" true; }
# The floor of the design's exec in C (scripts/bench/exec-floor.c): a helper that confines itself outside
# the container's pid namespace, then the fork into it; seccomp as long as the default profile's.
run_exec_floor() { "$work/exec-floor" "$pid" 1253 true; }
for t in exec_nsenter exec_floor exec_cppcker; do
  "run_$t" >/dev/null || { echo "bench-run: $t failed" >&2; exit 1; }
done
echo "exec of true in a running container:"
measure exec_nsenter exec_floor exec_cppcker
awk -v c="${med[exec_cppcker]}" -v n="${med[exec_nsenter]}" -v f="${med[exec_floor]}" 'BEGIN {
  printf "  cppcker exec / nsenter -a = %.2f   (target <= 1.3)\n", c / n
  printf "  design floor / nsenter -a = %.2f: the target leaves %.2f ms for all of cppcker'"'"'s own work\n", f / n, (1.3 * n - f) / 1000
}'
"$cppcker" --root "$work/cppcker" rm -f "$id" >/dev/null

# 100 detached containers: the time of each run -d, what their monitors hold, and ps over them.
available() { awk '/^MemAvailable/ {print $2}' /proc/meminfo; }
before_kb=$(available)
ids=()
start=$(date +%s%N)
for ((i = 0; i < 100; i++)); do
  ids+=("$("$cppcker" --root "$work/cppcker" run -d --network none --cgroup-parent cppcker-bench-cppcker busybox sleep 1000)")
done
end=$(date +%s%N)
sleep 1
after_kb=$(available)
rss=0 pss=0
for id in "${ids[@]}"; do
  m=$(grep -o '"monitor_pid": *[0-9]*' "$work/cppcker/containers/$id/container.json" | grep -o '[0-9]*$')
  rss=$((rss + $(awk '/^VmRSS/ {print $2}' "/proc/$m/status")))
  pss=$((pss + $(awk '/^Pss:/ {print $2}' "/proc/$m/smaps_rollup")))
done
ps_us=$("$clock" exec 20 "$cppcker" --root "$work/cppcker" ps)
echo "100 detached containers (busybox sleep), started one after another:"
awk -v t="$(( (end - start) / 1000 ))" -v r="$rss" -v p="$pss" -v b="$before_kb" -v a="$after_kb" -v ps="$ps_us" 'BEGIN {
  printf "  run -d: %.1f ms per container (%.2f s for 100)\n", t / 100000, t / 1e6
  printf "  their monitors: RSS %.1f MB, PSS %.1f MB in all; MemAvailable fell by %.1f MB   (target <= 100 MB in all)\n", r / 1024, p / 1024, (b - a) / 1024
  printf "  ps with 100 containers: %.1f ms   (target <= 20)\n", ps / 1000
}'
"$cppcker" --root "$work/cppcker" rm -f "${ids[@]}" >/dev/null

# OCI runtimes on the same rootfs, each with its own state and cgroup, all removed by the helper.
CPPCKER_RUNC=$cppcker scripts/bench/oci-bundle.sh "$runs" "$rounds" "$work/bundle/rootfs"
