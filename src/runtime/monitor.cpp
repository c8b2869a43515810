// The lean half of the container's monitor (runtime/monitor.hpp): monitor-wait, and the exec between the
// stages. Kept apart from run.cpp so that what an idle monitor touches is little and close together.
#include "cppcker/runtime/monitor.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/runtime/stdio.hpp"
#include "cppcker/runtime/tty.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker {

UniqueFd adopt_inherited_fd(int fd) {
  if (fd < 0) return {};
  if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) throw_errno("F_SETFD on inherited descriptor " + std::to_string(fd));
  return UniqueFd(fd);
}

void exec_monitor_stage(const char* stage, const MonitorRequest& r) {
  UniqueFd message = message_pipe(encode(r));
  auto pass = [](int fd) {
    if (fd >= 0 && ::fcntl(fd, F_SETFD, 0) != 0) throw_errno("F_SETFD on descriptor " + std::to_string(fd));
  };
  pass(message.get());
  for (int fd : {r.report_fd, r.owner_fd, r.tty_fd, r.out_fd, r.err_fd}) pass(fd);
  for (int fd : r.held_fds) pass(fd);
  const std::string fd_arg = std::to_string(message.get());
  const char* argv[] = {"cppcker", stage, fd_arg.c_str(), nullptr};
  // monitor-wait binds every symbol at its start, so that the dynamic loader (and every library's symbol
  // tables) is never touched again once it has let go of its start-up pages; `monitor` (and the
  // container's child-mode it execs) binds lazily, as the CLI does.
  std::vector<const char*> env;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "LD_BIND_NOW=", 12) != 0) env.push_back(*e);
  if (std::strcmp(stage, "monitor-wait") == 0) env.push_back("LD_BIND_NOW=1");
  env.push_back(nullptr);
  ::execve("/proc/self/exe", const_cast<char* const*>(argv), const_cast<char* const*>(env.data()));
  throw_errno(std::string("exec the ") + stage + " stage");
}

// Once monitor-wait is set up it needs little of what the exec mapped: the pages that the dynamic loader,
// the start-up and the request's decoding touched (and those that fault-around mapped beside them, 64 kB
// at each fault) are shared page cache that an idle monitor should not hold. They are unmapped here; what
// the relay loop uses comes back on its first touch. Only from mappings this process never wrote to (no
// anonymous pages: RELRO and written data keep their own copies), so nothing changes but what is resident.
// Best effort: without /proc/self/smaps everything simply stays mapped.
void drop_clean_file_pages() {
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> clean;
  UniqueFd smaps(::open("/proc/self/smaps", O_RDONLY | O_CLOEXEC));
  if (!smaps) return;
  std::uintptr_t start = 0, end = 0;
  bool candidate = false;  // the mapping in hand is a file's, private, readable, never written
  auto number = [](std::string_view& text, int base) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    unsigned long long value = 0;
    auto [rest, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
    text.remove_prefix(static_cast<std::size_t>(rest - text.data()));
    return value;
  };
  try {
    // A mapping's header ("start-end perms offset dev inode path"), then its fields ("Anonymous: 0 kB").
    read_lines(smaps.get(), "/proc/self/smaps", [&](std::string_view line) {
      if (line.empty()) return;
      const char c = line.front();
      if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
        candidate = false;
        start = number(line, 16);
        if (!line.starts_with('-')) return;
        line.remove_prefix(1);
        end = number(line, 16);
        if (line.size() < 5) return;
        const std::string_view perms = line.substr(1, 4);
        line.remove_prefix(5);
        number(line, 16);  // offset
        while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
        line.remove_prefix(std::min(line.size(), line.find(' ')));  // device
        const unsigned long long inode = number(line, 10);
        candidate = perms[0] == 'r' && perms[1] != 'w' && perms[3] == 'p' && inode != 0;
      } else if (candidate && line.starts_with("Anonymous:")) {
        line.remove_prefix(10);
        if (number(line, 10) == 0) clean.emplace_back(start, end);
        candidate = false;
      }
    });
  } catch (const Error&) {
    return;  // the pages stay: only memory is lost
  }
  for (const auto& [first, last] : clean) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

void relay_to_log(LogWriter& log, int tty_master, UniqueFd out, UniqueFd err, pid_t pid, int pidfd) {
  if (tty_master >= 0) {
    relay_tty(tty_master, -1, -1, -1, pid, [&](std::string_view bytes) { log.write("stdout", bytes); });
  } else {
    relay_stdio(-1, {}, std::move(out), std::move(err), pidfd,
                [&](int stream, std::string_view bytes) { log.write(stream == 2 ? "stderr" : "stdout", bytes); });
  }
  log.flush();
}

int monitor_wait_main(int message_fd) {
  MonitorRequest r;
  try {
    r = decode_monitor_request(read_message_pipe(UniqueFd(message_fd)));
  } catch (const Error&) {
    return 125;  // nothing to go on: the record's observed state tells that the monitor is gone
  }
  try {
    UniqueFd owner = adopt_inherited_fd(r.owner_fd);
    UniqueFd tty = adopt_inherited_fd(r.tty_fd);
    UniqueFd out = adopt_inherited_fd(r.out_fd);
    UniqueFd err = adopt_inherited_fd(r.err_fd);
    std::vector<UniqueFd> held;
    for (int fd : r.held_fds) held.push_back(adopt_inherited_fd(fd));
    try {
      LogWriter log(r.log_path, r.log_max_size, r.log_max_file);
      ::malloc_trim(0);  // what decoding the request left on the heap
      drop_clean_file_pages();
      UniqueFd pidfd;
      if (!tty) {
        pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, r.pid, 0)));
        if (!pidfd) throw_errno("pidfd_open " + std::to_string(r.pid));
      }
      relay_to_log(log, tty.get(), std::move(out), std::move(err), r.pid, pidfd.get());
    } catch (const Error&) {
      // Its output is lost, not its end: wait for that (without reaping: `monitor` reaps it).
      siginfo_t info{};
      while (::waitid(P_PID, static_cast<id_t>(r.pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
      }
    }
    // The published ports are free once it has ended; its streams are done with.
    held.clear();
    tty.reset();
    r.step = MonitorRequest::Step::ended;
    r.tty_fd = r.out_fd = r.err_fd = -1;
    r.held_fds.clear();
    exec_monitor_stage("monitor", r);  // `owner` stays open (and locked) across it
  } catch (const Error&) {
    return 125;
  }
}

}  // namespace cppcker
