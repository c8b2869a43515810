#!/usr/bin/env bash
# Pull benchmark: a Debian minbase rootfs (one gzip layer of ~50 MB, made with debootstrap) pulled from a
# docker-registry on 127.0.0.1 by
#   cppcker pull                       (verifies digest and diffID, stores the blob, extracts while downloading)
#   podman pull                        (Debian's podman, overlay storage, --tls-verify=false)
#   curl blob | tar -xz                (no verification, no store: the floor)
# Each is run RUNS times (default 5) from a clean store; the median wall time is printed.
#   sudo scripts/bench-pull.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
[ "$(id -u)" = 0 ] || { echo "bench-pull: run as root" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
need=()
for p in podman debootstrap curl docker-registry skopeo bc; do command -v "$p" >/dev/null || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends podman debootstrap curl docker-registry skopeo bc >/dev/null
fi
[ -x build/cppcker ] || scripts/build.sh >/dev/null

cache=${BENCH_CACHE:-/var/cache/cppcker-bench}
mkdir -p "$cache"
layer=$cache/minbase.tar.gz
if [ ! -s "$layer" ]; then
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  [ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
  echo "bench-pull: debootstrap --variant=minbase bookworm from $mirror (once; cached in $cache)"
  rm -rf "$cache/rootfs"
  debootstrap --variant=minbase bookworm "$cache/rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1
  tar --numeric-owner -C "$cache/rootfs" -cf - . | gzip -6 > "$layer.tmp"
  mv "$layer.tmp" "$layer"
  rm -rf "$cache/rootfs"
fi

work=$(mktemp -d /tmp/cppcker-bench.XXXXXX)
reg_pid=""
cleanup() {
  if [ -n "$reg_pid" ]; then kill "$reg_pid" 2>/dev/null || true; wait "$reg_pid" 2>/dev/null || true; fi
  podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver overlay rmi -a -f >/dev/null 2>&1 || true
  umount -R "$work/podman" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The image as an OCI layout, pushed as is (the gzip blob is kept byte for byte).
oci=$work/oci
mkdir -p "$oci/blobs/sha256"
layer_digest=$(sha256sum "$layer" | cut -d' ' -f1)
diff_id=$(gzip -dc "$layer" | sha256sum | cut -d' ' -f1)
cp "$layer" "$oci/blobs/sha256/$layer_digest"
arch=$(dpkg --print-architecture)
printf '{"architecture":"%s","os":"linux","config":{"Cmd":["bash"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$arch" "$diff_id" > "$work/config.json"
config_digest=$(sha256sum "$work/config.json" | cut -d' ' -f1)
mv "$work/config.json" "$oci/blobs/sha256/$config_digest"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
  "$config_digest" "$(stat -c %s "$oci/blobs/sha256/$config_digest")" "$layer_digest" "$(stat -c %s "$layer")" > "$work/manifest.json"
manifest_digest=$(sha256sum "$work/manifest.json" | cut -d' ' -f1)
mv "$work/manifest.json" "$oci/blobs/sha256/$manifest_digest"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"minbase"}}]}' \
  "$manifest_digest" "$(stat -c %s "$oci/blobs/sha256/$manifest_digest")" > "$oci/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$oci/oci-layout"

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
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
image=127.0.0.1:$port/bench/debian:minbase
skopeo copy --quiet --dest-tls-verify=false "oci:$oci:minbase" "docker://$image" >/dev/null

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
podman_cmd="podman --root $work/podman --runroot $work/podman-run --storage-driver overlay"

names=(curl-tar cppcker podman)
prep=("rm -rf $work/x; mkdir -p $work/x"
      "rm -rf $work/cppcker"
      "$podman_cmd rmi -a -f >/dev/null 2>&1 || true")
cmds=("curl -sf http://127.0.0.1:$port/v2/bench/debian/blobs/sha256:$layer_digest | tar -xz --numeric-owner -C $work/x"
      "build/cppcker --root $work/cppcker pull -q $image >/dev/null"
      "$podman_cmd pull -q --tls-verify=false $image >/dev/null")
declare -A times
echo "layer: $(du -h "$layer" | cut -f1) gzip, $(gzip -dc "$layer" | wc -c | awk '{printf "%.0f MB", $1/1e6}') uncompressed; $runs rounds, the three tools interleaved in each"
# Interleaved rounds, so that drift of the machine touches every tool alike; each from a clean store,
# with dirty pages flushed before the clock starts.
for round in $(seq "$runs"); do
  for i in "${!names[@]}"; do
    eval "${prep[$i]}"
    sync
    t0=$(now); eval "${cmds[$i]}"; t1=$(now)
    times[${names[$i]}]+="$(echo "$t1 - $t0" | bc -l) "
  done
done
for n in "${names[@]}"; do
  m=$(printf '%s\n' ${times[$n]} | median)
  echo "$m" > "$work/$n.median"
  printf '%-9s median %.3f s   runs: %s\n' "$n" "$m" "$(printf '%.3f ' ${times[$n]})"
done

c=$(cat "$work/cppcker.median"); t=$(cat "$work/curl-tar.median"); p=$(cat "$work/podman.median")
printf 'cppcker / curl|tar -xz: %.2f   (target <= 1.00)\n' "$(echo "$c / $t" | bc -l)"
printf 'podman / cppcker:       %.2f   (target >= 1.60)\n' "$(echo "$p / $c" | bc -l)"
