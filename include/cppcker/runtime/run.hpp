#pragma once
// Running a created container: in the foreground (this process waits and forwards signals) or detached
// (a monitor process, detached from the terminal, keeps it: reaps it, records its end, keeps its log).
#include "cppcker/runtime/container.hpp"
#include "cppcker/storage/store.hpp"

namespace cppcker {

// Starts and waits; returns the container's exit status. Removes it afterwards with spec.auto_remove.
int run_foreground(const ImageStore& images, const ContainerStore& containers, const NetworkStore& networks,
                   Container& c);
// Forks the monitor and returns once the container runs; throws the start error otherwise.
void run_detached(const ImageStore& images, const ContainerStore& containers, const NetworkStore& networks,
                  Container& c);

}  // namespace cppcker
