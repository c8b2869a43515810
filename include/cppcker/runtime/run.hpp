#pragma once
// Running a created container: in the foreground (this process relays its streams, forwards signals and
// waits) or detached (a monitor process, detached from the terminal, keeps it: reaps it, records its end,
// keeps its log). Both execute the container's OCI spec (containers/<id>/config.json) with the core.
#include <functional>
#include <string_view>

#include "cppcker/oci/runtime_spec.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/runtime/spec.hpp"
#include "cppcker/storage/store.hpp"

namespace cppcker {

// Where the container's files are (the spec names them).
ContainerPaths container_paths(const ContainerStore& containers, const Container& c);
// The container's spec from config.json; built from the record (and written there, 0600) at its first
// start, and again when the file is missing or unreadable (a machine crash may lose it: it is written
// without fsync, the record is the source of truth).
oci::Spec load_spec(const ContainerStore& containers, const Container& c);

// Starts and waits; returns the container's exit status. Removes it afterwards with spec.auto_remove.
// When its restart policy restarts it, a detached monitor takes over the container from here on.
// `attach_stdin` false: a container made with -i reads EOF instead of our stdin (`start -a` without -i).
// `output`, when set, receives the container's output (stream 1 or 2) instead of this process's stdio (the
// image builder hands a RUN step's output to its observer); it is used without a terminal only.
// `owner`: the owner lock, when the caller took it with the record (ContainerStore::create); else taken here.
using OutputSink = std::function<void(int stream, std::string_view bytes)>;
int run_foreground(const ImageStore& images, const ContainerStore& containers, const NetworkStore& networks,
                   Container& c, bool attach_stdin = true, const OutputSink& output = {},
                   std::optional<FileLock> owner = std::nullopt);
// Forks the monitor and returns once the container runs; throws the start error otherwise. The monitor
// restarts the container as its restart policy says and runs its health probes.
void run_detached(const ImageStore& images, const ContainerStore& containers, const NetworkStore& networks,
                  Container& c);
// `start` of a container that is not running: a fresh state (the restart count and the user's stop mark
// reset), then run_detached.
void start_again(const ImageStore& images, const ContainerStore& containers, const NetworkStore& networks, Container& c);
// `start -a [-i]`: the same fresh state, then run_foreground: this process relays the container's output
// (and stdin with `attach_stdin`), forwards signals and returns its exit status.
int start_again_attached(const ImageStore& images, const ContainerStore& containers, const NetworkStore& networks,
                         Container& c, bool attach_stdin);

}  // namespace cppcker
