#!/usr/bin/env bash
# Builds the image that ships with cppcker: Debian's busybox-static as a one-layer image
# (Env PATH, Cmd ["sh"]), written as a `docker save` style archive.
#   scripts/build-busybox-image.sh OUTPUT.tar [REPO:TAG]
set -euo pipefail
out=${1:?usage: build-busybox-image.sh OUTPUT.tar [REPO:TAG]}
name=${2:-busybox:latest}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "build-busybox-image: $busybox not found (apt-get install busybox-static)" >&2; exit 1; }
if ! file_out=$(LC_ALL=C "$busybox" --help 2>&1 | head -1); then :; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,dev,etc,proc,sys,tmp,root,var,home,usr/bin,usr/sbin,sbin}
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"

mkdir -p "$work/archive"
# A reproducible tar: the same busybox always gives the same diffID and image ID.
tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$root" -cf "$work/layer.tar" .
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
mkdir -p "$work/archive/$diff_id"
mv "$work/layer.tar" "$work/archive/$diff_id/layer.tar"

arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
version=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || echo unknown)
created=$(date -u -d "@$(stat -c %Y "$busybox")" +%Y-%m-%dT%H:%M:%SZ)
cat > "$work/config.json" <<JSON
{"architecture":"$arch","os":"linux","created":"$created","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},"history":[{"created":"$created","created_by":"busybox-static $version from Debian"}]}
JSON
config_id=$(sha256sum "$work/config.json" | cut -d' ' -f1)
mv "$work/config.json" "$work/archive/$config_id.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]\n' "$config_id" "$name" "$diff_id" \
  > "$work/archive/manifest.json"
tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$work/archive" -cf "$out" .
echo "$out: $name (sha256:$config_id)"
