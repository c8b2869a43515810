#pragma once
// A container's standard streams without a terminal: pipes that cppcker makes and relays, so the
// container never holds the caller's own descriptors (its terminal, the file its output goes to).
#include <signal.h>
#include <sys/types.h>

#include <functional>
#include <string_view>

#include "cppcker/runtime/process.hpp"
#include "cppcker/util/fd.hpp"

namespace cppcker {

// Three pipes; `container()` are the ends the container gets, the others stay here.
class StdioPipes {
 public:
  // stdin is a pipe only with `with_stdin` (else the container's own /dev/null).
  explicit StdioPipes(bool with_stdin);
  StdioFds container() const { return {in_read_.get(), out_write_.get(), err_write_.get()}; }
  // Closes the container's ends here once it holds them.
  void container_started();

  int in_write() const { return in_write_.get(); }
  int out_read() const { return out_read_.get(); }
  int err_read() const { return err_read_.get(); }
  UniqueFd take_in_write() { return std::move(in_write_); }
  UniqueFd take_out_read() { return std::move(out_read_); }
  UniqueFd take_err_read() { return std::move(err_read_); }

 private:
  UniqueFd in_read_, in_write_, out_read_, out_write_, err_read_, err_write_;
};

// Copies `in` (the caller's stdin, or -1) into the container's stdin pipe, and the container's stdout
// and stderr pipes to `sink` (stream 1 or 2, the bytes). Returns when both output pipes are at EOF, or,
// with `pidfd` >= 0, shortly after that process has ended (an exec's background children may keep the
// pipes open; a container's cannot, they die with its PID 1).
void relay_stdio(int in, UniqueFd in_write, UniqueFd out_read, UniqueFd err_read, int pidfd,
                 const std::function<void(int stream, std::string_view bytes)>& sink);

// While alive, SIGPIPE is ignored: a reader of our output that goes away must not kill the process that
// relays a container's streams while the container still runs.
class IgnoreSigpipe {
 public:
  IgnoreSigpipe();
  ~IgnoreSigpipe();
  IgnoreSigpipe(const IgnoreSigpipe&) = delete;
  IgnoreSigpipe& operator=(const IgnoreSigpipe&) = delete;

 private:
  struct sigaction old_{};
};

// A sink that writes stream 1 to fd 1 and stream 2 to fd 2 and carries on (dropping output) when the
// reader of one is gone.
std::function<void(int, std::string_view)> caller_stdio_sink();

}  // namespace cppcker
