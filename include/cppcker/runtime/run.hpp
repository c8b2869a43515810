#pragma once
// Running a created container: in the foreground (this process relays its streams, forwards signals and
// waits) or detached (a monitor process, detached from the terminal, keeps it: reaps it, records its end,
// keeps its log). Both execute the container's OCI spec (containers/<id>/config.json) with the core.
#include "cppcker/oci/runtime_spec.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/runtime/spec.hpp"
#include "cppcker/storage/store.hpp"

namespace cppcker {

// Where the container's files are (the spec names them).
ContainerPaths container_paths(const ContainerStore& containers, const Container& c);
// Builds the spec of a new container and writes it as config.json (0600) into `dir` (the record being
// made). Throws Error (125) for a setting that cannot be honoured.
void write_new_spec(const ContainerStore& containers, const Container& c, const fs::path& dir);
// The container's spec from config.json, rebuilt from the record when the file is missing or unreadable
// (a machine crash may lose it: it is written without fsync, its record is the source of truth).
oci::Spec load_spec(const ContainerStore& containers, const Container& c);

// Starts and waits; returns the container's exit status. Removes it afterwards with spec.auto_remove.
int run_foreground(const ImageStore& images, const ContainerStore& containers, const NetworkStore& networks,
                   Container& c);
// Forks the monitor and returns once the container runs; throws the start error otherwise.
void run_detached(const ImageStore& images, const ContainerStore& containers, const NetworkStore& networks,
                  Container& c);

}  // namespace cppcker
