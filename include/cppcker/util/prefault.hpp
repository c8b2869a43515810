#pragma once
// The pages a short-lived process of cppcker needs, mapped in bulk at its start. Every exec of the binary
// (the CLI, child-mode, the setup-* stages) starts with nothing mapped, and on this kind of VM (shadow page
// tables) a page fault costs 5-17 us; fault-around maps 64 kB of a file each time. One madvise that
// populates a range costs ~0.1 us a page of a file (and as much again to unmap it at exit), ~0.7 us a page
// of heap: cheaper than the faults it saves, even though it maps more than is used. Best effort: without
// MADV_POPULATE_READ/WRITE (Linux 5.14) pages come at their first touch, as before. Not for a long-lived
// process that must stay small (monitor-wait).

#include <cstddef>

namespace cppcker {

// Maps every page of the program's code (its executable segment, ~1300 pages): page cache, shared,
// nothing copied; but resident in this process from now on (drop_clean_file_pages() gives them back).
// Measured per `run` (the CLI and child-mode): ~70 page faults fewer, ~1 ms of CPU. Not the constant data
// nor libc's code: what they save (~10 faults each) is what mapping and unmapping all their pages costs.
void prefault_program_code() noexcept;

// Makes `bytes` of heap at once, for a process that will use about that much (the CLI of `run` grows it
// to ~500 kB, child-mode to ~260 kB). malloc keeps the pages: its mmap and trim thresholds and its top pad
// are set to fit `bytes`, which also ends glibc's adaptive mmap threshold in this process.
void prefault_heap(std::size_t bytes) noexcept;

}  // namespace cppcker
