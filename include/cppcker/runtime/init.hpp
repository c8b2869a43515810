#pragma once
// --init: cppcker-init (src/init/cppcker_init.cpp), a small static program embedded in cppcker, becomes
// the container's PID 1. It is executed from a sealed memfd copy, never from a host file: the container
// can neither reach cppcker through /proc/1/exe (CVE-2019-5736) nor change the copy.
#include <string_view>

#include "cppcker/util/fd.hpp"

namespace cppcker {

// The embedded program.
std::string_view init_program();
// A sealed (no write, grow, shrink, or new seals), close-on-exec memfd holding it, ready for
// execveat(fd, "", argv, envp, AT_EMPTY_PATH) with argv = {"cppcker-init", PROGRAM, ARGV0, ARG...}.
// Throws StageError("init", ...).
UniqueFd sealed_init_program();

}  // namespace cppcker
