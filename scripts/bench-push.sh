#!/usr/bin/env bash
# Push and commit benchmarks (issue #11's targets), each printing its medians and ratio:
#   scripts/bench/push.sh   cppcker push vs `skopeo copy` from an OCI layout of the same one-layer image
#                           (the Debian minbase layer of bench-pull.sh when cached), to a loopback registry;
#                           target: cppcker at least as fast.
#   scripts/bench/commit.sh cppcker commit vs `podman commit` of a container with a 100 MB change;
#                           target: cppcker 1.5x faster.
#   sudo scripts/bench-push.sh [RUNS]      (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
[ "$(id -u)" = 0 ] || { echo "bench-push: run as root" >&2; exit 1; }
scripts/install-deps.sh >/dev/null
[ -x build/cppcker ] || scripts/build.sh >/dev/null
echo "== push (scripts/bench/push.sh $runs)"
scripts/bench/push.sh "$runs"
echo "== commit (scripts/bench/commit.sh $runs)"
scripts/bench/commit.sh "$runs"
