#!/usr/bin/env bash
# Set-up for a fresh Debian 12 machine, as root: installs dependencies, builds cppcker, builds the
# busybox image that ships with the project, imports it and lists it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
scripts/build-busybox-image.sh build/busybox.tar busybox:latest
build/cppcker load -i build/busybox.tar
build/cppcker images
