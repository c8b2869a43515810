#pragma once
// The options `run` and `create` share (Docker's containerOptions): one definition of the flags and one
// path from them to a container record, so that both commands accept and check exactly the same.
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "cppcker/cli/commands.hpp"
#include "cppcker/runtime/container.hpp"

namespace cppcker::cli {

struct ContainerOptions;  // the parsed flags (src/cli/run.cpp)

// Adds the flags to `cmd` (a prefix command: IMAGE ends them). `run` adds -d/--detach too.
std::shared_ptr<ContainerOptions> add_container_options(CLI::App* cmd, bool run);

// What the flags and the words after them (IMAGE [COMMAND] [ARG...]) ask for, checked, the image pulled
// when missing, the container record made (status "created"). `command_name` names the command in errors.
struct CreatedContainer {
  Container container;
  bool detach = false;             // run -d
  std::optional<FileLock> owner;  // a foreground run's: this process owns the container from its creation
};
CreatedContainer create_container_from(const GlobalOptions& global, const ContainerOptions& options,
                                       const std::string& command_name);

}  // namespace cppcker::cli
