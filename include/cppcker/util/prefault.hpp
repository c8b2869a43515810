#pragma once
// The pages a short-lived process of cppcker needs, mapped in bulk at its start. Every exec of the binary
// (the CLI, child-mode, the setup-* stages) starts with nothing mapped, and a page fault costs ~17 us on a
// VM (measured here; fault-around maps 64 kB of a file each time). Populating costs ~0.13 us a page of a
// file and ~0.7 us a page of heap, so one madvise is cheaper than the faults it saves even when it maps
// more than is used. Best effort: without MADV_POPULATE_READ/WRITE (Linux 5.14) pages come at their first
// touch, as before. Not for a long-lived process that must stay small (monitor-wait).

#include <cstddef>

namespace cppcker {

// Maps every page of the read-only segments (code, constant data) of the program and of the libraries
// loaded so far: page cache, shared, nothing copied; but resident in this process from now on
// (drop_clean_file_pages() gives them back).
void prefault_loaded_code() noexcept;

// Makes `bytes` of heap at once, for a process that will use about that much (the CLI of `run` grows it
// to ~500 kB, child-mode to ~260 kB). malloc keeps the pages: its mmap and trim thresholds and its top pad
// are set to fit `bytes`, which also ends glibc's adaptive mmap threshold in this process.
void prefault_heap(std::size_t bytes) noexcept;

}  // namespace cppcker
