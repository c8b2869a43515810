#!/usr/bin/env bash
# Push benchmark: an image with one gzip layer (the Debian minbase layer of bench-pull.sh when it is
# cached, else ~50 MB compressed of files from /usr/lib), loaded into cppcker from an OCI layout, pushed to a
# docker-registry on 127.0.0.1 by
#   cppcker push                       (HEAD, then the stored gzip blob as it is, config, manifest)
#   skopeo copy oci:<layout> docker:// (the same blobs from the same OCI layout)
# Each run starts a fresh registry on a new port (empty storage, and no tool can mount or skip a blob it
# remembers from a previous run); RUNS rounds (default 5), the two tools interleaved; medians printed.
#   sudo scripts/bench/push.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
[ "$(id -u)" = 0 ] || { echo "bench-push: run as root" >&2; exit 1; }
for p in docker-registry skopeo curl bc; do
  command -v "$p" >/dev/null || { echo "bench-push: $p is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
done
bin=${CPPCKER:-build/cppcker}
[ -x "$bin" ] || { echo "bench-push: $bin not built" >&2; exit 1; }

work=$(mktemp -d /tmp/cppcker-bench-push.XXXXXX)
reg_pid=""
stop_registry() {
  if [ -n "$reg_pid" ]; then kill "$reg_pid" 2>/dev/null || true; wait "$reg_pid" 2>/dev/null || true; fi
  reg_pid=""
}
cleanup() {
  stop_registry
  rm -rf "$work"
}
trap cleanup EXIT

layer=${BENCH_CACHE:-/var/cache/cppcker-bench}/minbase.tar.gz
if [ ! -s "$layer" ]; then
  layer=$work/layer.tar.gz
  # Real files, ~50 MB once compressed: the largest shared libraries of this machine.
  find /usr/lib/x86_64-linux-gnu -maxdepth 1 -type f -name '*.so*' -printf '%s %p\n' | sort -rn |
    awk '{t += $1; print $2; if (t > 140e6) exit}' > "$work/files"
  tar --numeric-owner -cf - -T "$work/files" 2>/dev/null | gzip -6 > "$layer"
fi

# The image as an OCI layout (gzip blob kept byte for byte).
oci=$work/oci
mkdir -p "$oci/blobs/sha256"
layer_digest=$(sha256sum "$layer" | cut -d' ' -f1)
diff_id=$(gzip -dc "$layer" | sha256sum | cut -d' ' -f1)
cp "$layer" "$oci/blobs/sha256/$layer_digest"
arch=$(dpkg --print-architecture)
printf '{"architecture":"%s","os":"linux","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$arch" "$diff_id" > "$work/config.json"
config_digest=$(sha256sum "$work/config.json" | cut -d' ' -f1)
mv "$work/config.json" "$oci/blobs/sha256/$config_digest"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
  "$config_digest" "$(stat -c %s "$oci/blobs/sha256/$config_digest")" "$layer_digest" "$(stat -c %s "$layer")" > "$work/manifest.json"
manifest_digest=$(sha256sum "$work/manifest.json" | cut -d' ' -f1)
mv "$work/manifest.json" "$oci/blobs/sha256/$manifest_digest"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"bench/push:src"}}]}' \
  "$manifest_digest" "$(stat -c %s "$oci/blobs/sha256/$manifest_digest")" > "$oci/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$oci/oci-layout"

root=$work/root
echo '{}' > "$work/cppcker.json"
cpk() { "$bin" --root "$root" --config "$work/cppcker.json" "$@"; }
cpk load -q -i "$oci" >/dev/null
src=$(cpk images -q --no-trunc | head -1)
[ "$src" = "sha256:$config_digest" ] || { echo "bench-push: load gave $src" >&2; exit 1; }

start_registry() {
  port=$(shuf -i 20000-60000 -n 1)
  while (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$(shuf -i 20000-60000 -n 1); done
  rm -rf "$work/registry"
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
}

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A times
echo "layer: $(du -h "$layer" | cut -f1) gzip; $runs rounds, cppcker and skopeo interleaved, a fresh registry each"
for round in $(seq "$runs"); do
  for tool in cppcker skopeo; do
    start_registry
    target=127.0.0.1:$port/bench/$tool$round:latest
    [ "$tool" = cppcker ] && cpk tag "$src" "$target"
    sync
    t0=$(now)
    if [ "$tool" = cppcker ]; then
      cpk push -q "$target" >/dev/null
    else
      skopeo copy --quiet --dest-tls-verify=false "oci:$oci:bench/push:src" "docker://$target" >/dev/null
    fi
    t1=$(now)
    times[$tool]+="$(echo "$t1 - $t0" | bc -l) "
    # Both must have put the same blobs there.
    curl -sfI "http://127.0.0.1:$port/v2/bench/$tool$round/blobs/sha256:$layer_digest" >/dev/null ||
      { echo "bench-push: $tool did not push the layer" >&2; exit 1; }
    [ "$tool" = cppcker ] && cpk rmi "$target" >/dev/null
    stop_registry
  done
done
for n in cppcker skopeo; do
  m=$(printf '%s\n' ${times[$n]} | median)
  echo "$m" > "$work/$n.median"
  printf '%-8s median %.3f s   runs: %s\n' "$n" "$m" "$(printf '%.3f ' ${times[$n]})"
done
c=$(cat "$work/cppcker.median"); s=$(cat "$work/skopeo.median")
printf 'skopeo / cppcker: %.2f   (target >= 1.00)\n' "$(echo "$s / $c" | bc -l)"
