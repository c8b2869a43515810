#include "cppcker/runtime/init.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include "cppcker/runtime/protocol.hpp"

// The static cppcker-init binary, placed in .rodata at build time (CPPCKER_INIT_BINARY is its path).
asm(".section .rodata\n"
    ".balign 16\n"
    ".global cppcker_init_start\n"
    "cppcker_init_start:\n"
    ".incbin \"" CPPCKER_INIT_BINARY "\"\n"
    ".global cppcker_init_end\n"
    "cppcker_init_end:\n"
    ".previous\n");
extern "C" const char cppcker_init_start[];
extern "C" const char cppcker_init_end[];

namespace cppcker {

std::string_view init_program() {
  return {cppcker_init_start, static_cast<std::size_t>(cppcker_init_end - cppcker_init_start)};
}

UniqueFd sealed_init_program() {
#ifndef MFD_EXEC
  constexpr unsigned kExec = 0x0010U;  // Linux 6.3: say so where vm.memfd_noexec would refuse otherwise
#else
  constexpr unsigned kExec = MFD_EXEC;
#endif
  UniqueFd fd(::memfd_create("cppcker-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | kExec));
  if (!fd && errno == EINVAL) fd.reset(::memfd_create("cppcker-init", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) stage_failed("init", "memfd_create");
  std::string_view program = init_program();
  while (!program.empty()) {
    ssize_t n = ::write(fd.get(), program.data(), program.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) stage_failed("init", "write the init program");
    program.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0)
    stage_failed("init", "seal the init program");
  return fd;
}

}  // namespace cppcker
