#pragma once
// What cgroup.cpp (the v1/v2 classes) shares with cgroup_stats.cpp (reading the statistics files).
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "cppcker/cgroup/cgroup.hpp"

namespace cppcker::cgroup_detail {

// The directory of the v1 hierarchy holding `controller` ("cpuacct"), if the cgroup has one.
using ControllerDir = std::function<std::optional<std::filesystem::path>(const std::string& controller)>;

// runc's statistics from the v1 files of each controller's directory.
CgroupStats read_stats_v1(const ControllerDir& dir);
// The same from one cgroup2 directory.
CgroupStats read_stats_v2(const std::filesystem::path& dir);

}  // namespace cppcker::cgroup_detail
