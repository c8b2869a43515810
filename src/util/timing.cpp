#include "cppcker/util/timing.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

namespace cppcker {

namespace {

// -2: not looked up yet. Opened on the first mark, after the stage has closed what it inherited.
int g_timing_fd = -2;
constexpr int kHighFd = 900;  // below the usual soft limit of 1024

}  // namespace

std::int64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int timing_fd() noexcept {
  if (g_timing_fd == -2) {
    const char* path = std::getenv("CPPCKER_TIMING");
    g_timing_fd = path && *path ? ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
    // Far above the numbers the stages dup2 their streams and sockets onto (0-2, 3 + preserved): a
    // mark must never land in a descriptor that became something else.
    if (g_timing_fd >= 0) {
      const int high = ::fcntl(g_timing_fd, F_DUPFD_CLOEXEC, kHighFd);
      if (high >= 0) {
        ::close(g_timing_fd);
        g_timing_fd = high;
      } else {
        ::close(g_timing_fd);  // no room up there: no marks rather than marks in the wrong place
        g_timing_fd = -1;
      }
    }
  }
  return g_timing_fd;
}

void timing_mark(const char* label, std::int64_t at_ns) noexcept {
  if (g_timing_fd == -1) return;
  if (at_ns == 0) at_ns = monotonic_ns();
  const int fd = timing_fd();
  if (fd < 0) return;
  // One write per mark: O_APPEND keeps the lines of concurrent stages whole.
  char line[128];
  std::size_t n = std::strlen(label);
  if (n > 80) n = 80;
  std::memcpy(line, label, n);
  line[n++] = ' ';
  n = static_cast<std::size_t>(std::to_chars(line + n, line + sizeof line - 1, at_ns).ptr - line);
  line[n++] = '\n';
  if (::write(fd, line, n) < 0) {
    // A benchmark aid: a lost mark must never fail a start.
  }
}

}  // namespace cppcker
