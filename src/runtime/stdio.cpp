#include "cppcker/runtime/stdio.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

#include "cppcker/util/error.hpp"

namespace cppcker {

namespace {
void make_pipe(UniqueFd& read_end, UniqueFd& write_end) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe");
  read_end.reset(p[0]);
  write_end.reset(p[1]);
}
}  // namespace

StdioPipes::StdioPipes(bool with_stdin) {
  if (with_stdin) make_pipe(in_read_, in_write_);
  make_pipe(out_read_, out_write_);
  make_pipe(err_read_, err_write_);
}

void StdioPipes::container_started() {
  in_read_.reset();
  out_write_.reset();
  err_write_.reset();
}

void relay_stdio(int in, UniqueFd in_write, UniqueFd out_read, UniqueFd err_read, int pidfd,
                 const std::function<void(int, std::string_view)>& sink) {
  if (in < 0) in_write.reset();  // nothing to send: the container reads EOF
  if (in_write) ::fcntl(in_write.get(), F_SETFL, ::fcntl(in_write.get(), F_GETFL) | O_NONBLOCK);
  std::string to_container;  // read from `in`, not yet taken by the container
  bool in_open = in >= 0 && in_write;
  auto buf = std::make_unique_for_overwrite<char[]>(65536);
  bool process_ended = false;
  for (;;) {
    const bool outputs_open = out_read || err_read;
    if (!outputs_open) return;
    pollfd fds[5] = {{out_read ? out_read.get() : -1, POLLIN, 0},
                     {err_read ? err_read.get() : -1, POLLIN, 0},
                     {in_open && to_container.size() < 65536 ? in : -1, POLLIN, 0},
                     {in_write && !to_container.empty() ? in_write.get() : -1, POLLOUT, 0},
                     {pidfd >= 0 && !process_ended ? pidfd : -1, POLLIN, 0}};
    // Once the process has ended, whatever still holds the pipes gets a moment to finish writing.
    int rc = ::poll(fds, 5, process_ended ? 200 : -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      throw_errno("poll");
    }
    if (rc == 0) return;
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      UniqueFd& pipe = i == 0 ? out_read : err_read;
      ssize_t n = ::read(pipe.get(), buf.get(), 65536);
      if (n > 0) sink(i + 1, std::string_view(buf.get(), static_cast<std::size_t>(n)));
      else if (n == 0 || errno != EINTR) pipe.reset();
    }
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(in, buf.get(), 65536);
      if (n > 0) {
        to_container.append(buf.get(), static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        in_open = false;
      }
    }
    if (in_write && !to_container.empty() && (fds[3].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = ::write(in_write.get(), to_container.data(), to_container.size());
      if (n > 0) to_container.erase(0, static_cast<std::size_t>(n));
      else if (n < 0 && errno != EAGAIN && errno != EINTR) {  // the container closed its stdin
        to_container.clear();
        in_write.reset();
        in_open = false;
      }
    }
    if (!in_open && to_container.empty()) in_write.reset();  // EOF for the container
    if (fds[4].revents & POLLIN) process_ended = true;
  }
}

IgnoreSigpipe::IgnoreSigpipe() {
  struct sigaction sa{};
  sa.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &sa, &old_);
}

IgnoreSigpipe::~IgnoreSigpipe() { ::sigaction(SIGPIPE, &old_, nullptr); }

std::function<void(int, std::string_view)> caller_stdio_sink() {
  auto gone = std::make_shared<bool[]>(3);
  return [gone](int stream, std::string_view bytes) {
    if (gone[stream]) return;
    while (!bytes.empty()) {
      ssize_t n = ::write(stream, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        gone[stream] = true;  // the reader went away; the container must not block on us
        return;
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  };
}

}  // namespace cppcker
