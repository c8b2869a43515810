#pragma once
// Pseudo-terminals for `run -t` and `exec -t`. The pty is opened inside the container (its own devpts
// instance, so `tty` prints /dev/pts/0 there) and its master is passed back to cppcker over the start
// socket; cppcker then relays between the user's terminal and the master.
#include <sys/ioctl.h>
#include <sys/types.h>
#include <termios.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "cppcker/util/fd.hpp"

namespace cppcker {

// The size of the terminal on `fd`, if it is one.
std::optional<winsize> terminal_size(int fd);

// Puts the terminal on `fd` into raw mode (keys such as Ctrl-C and Ctrl-D then reach the container's
// terminal, whose line discipline acts on them) and restores the saved mode when destroyed.
class RawTerminal {
 public:
  explicit RawTerminal(int fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

// Inside the container (after pivot_root): opens a new pty from /dev/ptmx, makes its slave the
// controlling terminal of a new session and stdin/stdout/stderr of this process, owned by `uid`.
// Returns the master. Throws Error (125) on failure.
UniqueFd open_container_tty(const std::optional<winsize>& size, uid_t uid);

// Copies `in` (or nothing when -1) to the master and the master to `out` (or nowhere when -1) and to
// `log` (when given), and keeps the master's window size equal to that of `size_from` (a terminal, or -1)
// on SIGWINCH. Returns when `pid` (a child of this process) has ended and its output is drained; does not
// reap it.
void relay_tty(int master, int in, int out, int size_from, pid_t pid,
               const std::function<void(std::string_view)>& log = {});

}  // namespace cppcker
