#!/usr/bin/env bash
# Set-up for a fresh Debian 12 machine, as root: installs dependencies, builds cppcker, builds the
# busybox image that ships with the project, imports it, lists it and runs a container from it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
scripts/build-busybox-image.sh build/busybox.tar busybox:latest
build/cppcker load -i build/busybox.tar
build/cppcker images
build/cppcker run --rm --mem=128 --cpus=0.5 busybox sh -c 'echo "hello from $(hostname), pid $$ in its own namespaces"; ps'
