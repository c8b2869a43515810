#!/usr/bin/env bash
# Configures and builds cppcker and its tests in build/.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCPPCKER_BUILD_TESTS=ON
cmake --build build -j"$(nproc)"
