#include "cppcker/util/prefault.hpp"

#include <link.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace cppcker {

namespace {

std::uintptr_t page_size() { return static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE)); }

}  // namespace

void prefault_program_code() noexcept {
  ::dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void*) -> int {
        if (info->dlpi_name[0] != '\0') return 0;  // a library's: not the program's
        const std::uintptr_t page = page_size();
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& segment = info->dlpi_phdr[i];
          if (segment.p_type != PT_LOAD || !(segment.p_flags & PF_X) || segment.p_memsz == 0) continue;
          const std::uintptr_t start = info->dlpi_addr + segment.p_vaddr;
          const std::uintptr_t first = start & ~(page - 1);
          ::madvise(reinterpret_cast<void*>(first), start + segment.p_memsz - first, MADV_POPULATE_READ);
        }
        return 1;  // the program comes first: done
      },
      nullptr);
}

void prefault_heap(std::size_t bytes) noexcept {
  // From the heap, not a mapping of its own, and kept there once freed: a trim leaves `bytes` at the top.
  ::mallopt(M_MMAP_THRESHOLD, static_cast<int>(2 * bytes));
  ::mallopt(M_TRIM_THRESHOLD, static_cast<int>(4 * bytes));
  ::mallopt(M_TOP_PAD, static_cast<int>(bytes));
  void* block = std::malloc(bytes);
  if (!block) return;
  const std::uintptr_t page = page_size();
  const auto from = (reinterpret_cast<std::uintptr_t>(block) + page - 1) & ~(page - 1);
  const auto to = (reinterpret_cast<std::uintptr_t>(block) + bytes) & ~(page - 1);
  if (to > from) ::madvise(reinterpret_cast<void*>(from), to - from, MADV_POPULATE_WRITE);
  std::free(block);
}

}  // namespace cppcker
