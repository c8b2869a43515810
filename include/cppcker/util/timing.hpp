#pragma once

// Start-path timing for the benchmarks (scripts/bench-run.sh). With CPPCKER_TIMING=<file> in the
// environment, every mark appends "<label> <CLOCK_MONOTONIC ns>\n" to that file; the stages of one start
// (CLI, child-mode, setup-*) write to the same file, so the benchmark can show where the time goes. Without
// the variable a mark costs a branch on a flag read once per process.

#include <cstdint>

namespace cppcker {

// Nanoseconds on CLOCK_MONOTONIC (the same clock in every process of one start).
std::int64_t monotonic_ns() noexcept;

// Appends the mark; `at_ns` is when it happened (default: now).
void timing_mark(const char* label, std::int64_t at_ns = 0) noexcept;

// The descriptor marks are written to, or -1. A stage that closes every descriptor it does not know
// (child-mode) keeps this one (close-on-exec: the user's program never gets it).
int timing_fd() noexcept;

}  // namespace cppcker
