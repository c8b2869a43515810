#!/usr/bin/env bash
# Build benchmark (issue #12's targets): one multi-stage Dockerfile of 10 steps (2 stages; WORKDIR, COPY of
# ~750 files, RUN, ENV, COPY --from, CMD), from the same context and the same base image (the busybox of
# scripts/build-busybox-image.sh, pushed to a docker-registry on 127.0.0.1 and pulled by both beforehand),
#   cppcker build                          (its layer cache; --network host, as buildah's chroot isolation)
#   buildah bud --layers                   (Debian's buildah: overlay storage, --isolation chroot: its OCI
#                                           isolation cannot run here, crun refuses cgroup v1 hybrid mode)
# cold (--no-cache: every step runs and is committed) and fully cached (the same build again: every step
# from the cache), RUNS rounds (default 5) interleaved; medians printed, with the ratios against the targets:
# cold build at least 2x faster than buildah, a fully cached build under 100 ms.
#   sudo scripts/bench/build.sh [RUNS]
# State lives in a temporary directory, cgroups below this shell's own; everything is removed after.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
[ "$(id -u)" = 0 ] || { echo "bench/build: run as root" >&2; exit 1; }
for p in buildah docker-registry skopeo curl; do
  command -v "$p" >/dev/null || { echo "bench/build: $p is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
done
bin=${CPPCKER:-build/cppcker}
[ -x "$bin" ] || { echo "bench/build: $bin not built" >&2; exit 1; }

work=$(mktemp -d /tmp/cppcker-bench-build.XXXXXX)
parent=cppcker-bench-build-$$
reg_pid=""
echo '{}' > "$work/cppcker.json"
cpk=("$bin" --root "$work/cppcker" --config "$work/cppcker.json")
buildah=(buildah --root "$work/buildah" --runroot "$work/buildah-run" --storage-driver overlay)
cleanup() {
  set +e
  for id in $("${cpk[@]}" ps -aq --no-trunc 2>/dev/null); do "${cpk[@]}" rm -f "$id" >/dev/null 2>&1; done
  "${buildah[@]}" rm --all >/dev/null 2>&1
  "${buildah[@]}" rmi --all --force >/dev/null 2>&1
  grep " $work" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
  find /sys/fs/cgroup -maxdepth 8 -type d -name "$parent" 2>/dev/null | while read -r d; do
    find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  if [ -n "$reg_pid" ]; then kill "$reg_pid" 2>/dev/null; wait "$reg_pid" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The registry both builders pull the base image from.
port=$(shuf -i 20000-60000 -n 1)
while (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$(shuf -i 20000-60000 -n 1); done
cat > "$work/registry.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 150); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/v2/" >/dev/null || { cat "$work/registry.log" >&2; echo "bench/build: no registry" >&2; exit 1; }
registry=127.0.0.1:$port
# buildah's private settings (exported only now: docker-registry reads REGISTRY_* as its own configuration).
export BUILDAH_ISOLATION=chroot TMPDIR=$work/tmp REGISTRY_AUTH_FILE=$work/auth.json
export CONTAINERS_REGISTRIES_CONF=$work/registries.conf
mkdir -p "$work/tmp"
echo '{}' > "$REGISTRY_AUTH_FILE"
printf 'unqualified-search-registries = []\n[[registry]]\nlocation = "%s"\ninsecure = true\n' "$registry" \
  > "$CONTAINERS_REGISTRIES_CONF"
scripts/build-busybox-image.sh "$work/busybox.tar" busybox:latest >/dev/null
skopeo copy --quiet --dest-tls-verify=false "docker-archive:$work/busybox.tar" "docker://$registry/busybox:latest"
"${cpk[@]}" pull -q "$registry/busybox:latest" >/dev/null
"${buildah[@]}" pull --quiet --tls-verify=false "$registry/busybox:latest" >/dev/null

# The context: real source files (the kernel's UAPI headers, ~750 files) and the Dockerfile.
ctx=$work/context
mkdir -p "$ctx/src"
cp -r /usr/include/linux "$ctx/src/"
cat > "$ctx/Dockerfile" <<'DOCKERFILE'
ARG REGISTRY
FROM ${REGISTRY}/busybox AS build
WORKDIR /src
COPY src/ ./
RUN mkdir -p /out && tar -cf /out/src.tar . && sha256sum /out/src.tar > /out/src.sum && cp -r linux /out/
FROM ${REGISTRY}/busybox
ENV APP_HOME=/app
COPY --from=build /out $APP_HOME/
RUN echo ready > $APP_HOME/ready && chmod -R go-w $APP_HOME
CMD ["sh", "-c", "cat $APP_HOME/ready"]
DOCKERFILE
steps=$(grep -c '^[A-Z]' "$ctx/Dockerfile")
files=$(find "$ctx/src" -type f | wc -l)

ms() { echo $(( $(date +%s%N) / 1000000 )); }
build_cppcker() {  # build_cppcker TAG IIDFILE [--no-cache]
  "${cpk[@]}" build -q --cgroup-parent "$parent" --network host --build-arg "REGISTRY=$registry" \
    -t "$1" --iidfile "$2" "${@:3}" "$ctx" >"$work/out.log" 2>&1 ||
    { cat "$work/out.log" >&2; echo "bench/build: cppcker build failed" >&2; exit 1; }
}
build_buildah() {  # build_buildah TAG IIDFILE [--no-cache]
  "${buildah[@]}" bud --quiet --layers --isolation chroot --tls-verify=false --build-arg "REGISTRY=$registry" \
    -t "$1" --iidfile "$2" "${@:3}" "$ctx" >"$work/out.log" 2>&1 ||
    { cat "$work/out.log" >&2; echo "bench/build: buildah bud failed" >&2; exit 1; }
}

declare -A times
echo "Dockerfile: $steps steps in 2 stages; context: $files files, $(du -sh "$ctx" | cut -f1);" \
     "$runs rounds, cold then cached, cppcker and buildah interleaved"
for round in $(seq "$runs"); do
  for tool in cppcker buildah; do
    sync
    t0=$(ms); "build_$tool" "bench/build:$round" "$work/cold.iid" --no-cache; t1=$(ms)
    times[$tool-cold]+="$((t1 - t0)) "
    cat "$work/cold.iid" >> "$work/$tool.built"; echo >> "$work/$tool.built"
    t0=$(ms); "build_$tool" "bench/build:$round" "$work/cached.iid"; t1=$(ms)
    times[$tool-cached]+="$((t1 - t0)) "
    # A fully cached build gives an image already built (by this round's cold build or, when the cache
    # has the same steps from several rounds, an earlier one), never a new one.
    grep -qxF "$(cat "$work/cached.iid")" "$work/$tool.built" ||
      { echo "bench/build: $tool's cached build made a new image $(cat "$work/cached.iid")" >&2; exit 1; }
  done
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }
for k in cppcker-cold buildah-cold cppcker-cached buildah-cached; do
  m=$(median ${times[$k]})
  eval "med_${k//-/_}=$m"
  printf '  %-15s median %6d ms   (%s)\n' "$k" "$m" "${times[$k]% }"
done
awk -v c="$med_cppcker_cold" -v b="$med_buildah_cold" \
  'BEGIN {printf "cold:   buildah / cppcker = %.2fx (target >= 2x)\n", b / c}'
awk -v c="$med_cppcker_cached" -v b="$med_buildah_cached" \
  'BEGIN {printf "cached: cppcker %d ms (target < 100 ms); buildah / cppcker = %.2fx\n", c, b / c}'
