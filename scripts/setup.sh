#!/usr/bin/env bash
# Set-up for a fresh Debian 12 machine, as root: installs dependencies, builds the cppcker program (not
# the tests: scripts/test.sh builds those), installs it to /usr/local (the binary, shell completions and
# the default seccomp profile), builds the busybox image that ships with the project, imports it, lists
# it and runs a container from it through the installed `cppcker`.
# The demo container has no network: the default bridge (cppcker0, like docker0) is made on a first bridged
# run and kept for the next ones, so a set-up that only proves the install leaves no host network state.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCPPCKER_BUILD_TESTS=OFF
cmake --build build -j"$(nproc)" --target cppcker completions
cmake --install build --prefix /usr/local
scripts/build-busybox-image.sh build/busybox.tar busybox:latest
cppcker load -i build/busybox.tar
cppcker images
cppcker run --rm --network none --mem=128 --cpus=0.5 busybox sh -c 'echo "hello from $(hostname), pid $$ in its own namespaces"; ps'
