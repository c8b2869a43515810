#pragma once
// What the prune commands (container, image, volume, system) share: Docker's confirmation prompt and the
// layout of their reports (defined in src/cli/system.cpp).
#include <cstdint>
#include <string>
#include <vector>

#include "cppcker/runtime/housekeeping.hpp"

namespace cppcker::cli {

// Prints "WARNING! <what>\nAre you sure you want to continue? [y/N] " and reads a line from stdin: true
// for "y" or "Y" only (end of input is a no), as Docker's PromptForConfirmation.
bool confirm_prune(const std::string& what);
// "Deleted Containers:\n<id>\n...\n\n", nothing when `lines` is empty.
std::string prune_section(const std::string& title, const std::vector<std::string>& lines);
// `container prune --filter`: until=<timestamp or duration> and label=k / label=k=v (src/cli/container.cpp).
// Throws Error (exit 1) for another key or a bad value, as Docker's client.
ContainerPruneFilter container_prune_filter(const std::vector<std::string>& filters);
// "Total reclaimed space: 1.2MB\n"
std::string reclaimed_line(std::uint64_t bytes);

}  // namespace cppcker::cli
