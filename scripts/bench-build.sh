#!/usr/bin/env bash
# Build benchmark (issue #12's targets), printing its medians and ratios:
#   scripts/bench/build.sh  cppcker build vs `buildah bud --layers` of a 10-step multi-stage Dockerfile, same
#                           context and base image from a loopback registry, cold (--no-cache) and fully
#                           cached; targets: cold at least 2x faster than buildah, fully cached under 100 ms.
#   sudo scripts/bench-build.sh [RUNS]      (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
[ "$(id -u)" = 0 ] || { echo "bench-build: run as root" >&2; exit 1; }
scripts/install-deps.sh >/dev/null
[ -x build/cppcker ] || scripts/build.sh >/dev/null
echo "== build (scripts/bench/build.sh $runs)"
scripts/bench/build.sh "$runs"
