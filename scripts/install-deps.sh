#!/usr/bin/env bash
# Installs what cppcker needs to build, run and test, from Debian 12's packages.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(
  build-essential cmake pkg-config
  libcli11-dev nlohmann-json3-dev libcurl4-openssl-dev libarchive-dev libspdlog-dev libssl-dev
  libzstd-dev zlib1g-dev libgtest-dev
  libnl-3-dev libnl-route-3-dev libnftables-dev   # netlink for veth/bridge, nftables for NAT and ports
  libseccomp-dev                         # seccomp profiles compiled to BPF (loaded on first use)
  busybox-static ca-certificates tar openssl
  docker-registry skopeo apache2-utils   # for the integration tests: a real registry, a second client, htpasswd
  iproute2 util-linux                    # for the network tests: `ip` and `nsenter` for a second namespace
  podman conmon containernetworking-plugins containerd runc  # for the OCI peer tests: they drive cppcker-runc
  umoci                                  # for the commit tests: a second reader of committed layers
  buildah                                # for the build tests and bench: an independent builder of the same Dockerfiles
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

apt-get update
# docker-registry's package would start a registry service listening on :5000 of every interface; the
# tests start their own on 127.0.0.1, so keep the package from starting one while it installs.
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=1
fi
trap '[ -n "$made_policy" ] && rm -f "$policy"' EXIT
apt-get install -y --no-install-recommends "${missing[@]}"
