#!/usr/bin/env bash
# Runs the whole test suite (GoogleTest unit tests and the integration tests on the real kernel and a
# real registry on 127.0.0.1) through CTest. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd build
ctest --output-on-failure --timeout 900
