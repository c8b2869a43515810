#include "cppcker/runtime/tty.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "cppcker/util/error.hpp"

namespace cppcker {

std::optional<winsize> terminal_size(int fd) {
  winsize ws{};
  if (fd < 0 || ::ioctl(fd, TIOCGWINSZ, &ws) != 0) return std::nullopt;
  return ws;
}

RawTerminal::RawTerminal(int fd) : fd_(fd) {
  if (!::isatty(fd) || ::tcgetattr(fd, &saved_) != 0) return;
  termios raw = saved_;
  ::cfmakeraw(&raw);
  if (::tcsetattr(fd, TCSADRAIN, &raw) == 0) active_ = true;
}

RawTerminal::~RawTerminal() {
  if (active_) ::tcsetattr(fd_, TCSADRAIN, &saved_);
}

UniqueFd open_container_tty(const std::optional<winsize>& size, uid_t uid) {
  auto fail = [](const std::string& what) { throw Error("allocate a tty: " + what + ": " + std::strerror(errno), 125); };
  UniqueFd master(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) fail("open /dev/ptmx");
  if (::unlockpt(master.get()) != 0) fail("unlockpt");
  // The peer by descriptor, not by a path lookup that the container's /dev could redirect.
  UniqueFd slave(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY));
  if (!slave) fail("open the pty's slave");
  if (size && ::ioctl(slave.get(), TIOCSWINSZ, &*size) != 0) fail("set the window size");
  if (uid != 0 && ::fchown(slave.get(), uid, static_cast<gid_t>(-1)) != 0) fail("chown the pty");
  if (::setsid() < 0 && ::getsid(0) != ::getpid()) fail("setsid");  // a session leader already is fine
  if (::ioctl(slave.get(), TIOCSCTTY, 0) != 0) fail("make the pty the controlling terminal");
  for (int target = 0; target < 3; ++target)
    if (::dup2(slave.get(), target) < 0) fail("dup2");
  return master;
}

namespace {

int g_winch_pipe = -1;
void on_winch(int) {
  int saved = errno;
  if (g_winch_pipe >= 0 && ::write(g_winch_pipe, "w", 1) < 0) {
  }
  errno = saved;
}

// Writes everything, waiting when `fd` is non-blocking and full. False when the reader is gone.
bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 100);
      continue;
    }
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

void relay_tty(int master, int in, int out, int size_from, pid_t pid, const std::function<void(std::string_view)>& log) {
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) throw_errno("pidfd_open");
  ::fcntl(master, F_SETFL, ::fcntl(master, F_GETFL) | O_NONBLOCK);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) throw_errno("pipe");
  UniqueFd winch_read(pipe_fds[0]), winch_write(pipe_fds[1]);
  g_winch_pipe = winch_write.get();
  struct sigaction sa{}, old{};
  sa.sa_handler = on_winch;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGWINCH, &sa, &old);
  struct Restore {
    struct sigaction old;
    ~Restore() {
      ::sigaction(SIGWINCH, &old, nullptr);
      g_winch_pipe = -1;
    }
  } restore{old};

  std::string to_master;  // keys not yet taken by the container's terminal
  bool in_open = in >= 0;
  UniqueFd discard;  // replaces `out` once its reader is gone, so the container never blocks on us
  char buf[65536];
  // Reads what the master has; false once every slave is closed.
  auto pump_output = [&]() {
    for (;;) {
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n > 0) {
        if (log) log(std::string_view(buf, static_cast<std::size_t>(n)));
        if (out >= 0 && !write_all(out, buf, static_cast<std::size_t>(n)) && !discard) {
          discard.reset(::open("/dev/null", O_WRONLY | O_CLOEXEC));
          out = discard.get();
        }
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      return n < 0 && errno == EAGAIN;
    }
  };
  for (;;) {
    pollfd fds[4] = {{master, static_cast<short>(POLLIN | (to_master.empty() ? 0 : POLLOUT)), 0},
                     {in_open && to_master.size() < sizeof buf ? in : -1, POLLIN, 0},
                     {pidfd.get(), POLLIN, 0},
                     {winch_read.get(), POLLIN, 0}};
    if (::poll(fds, 4, -1) < 0) {
      if (errno == EINTR) continue;
      throw_errno("poll");
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
      if (!pump_output()) return;  // the container's side of the terminal is closed
    if ((fds[0].revents & POLLOUT) && !to_master.empty()) {
      ssize_t n = ::write(master, to_master.data(), to_master.size());
      if (n > 0) to_master.erase(0, static_cast<std::size_t>(n));
      else if (n < 0 && errno != EAGAIN && errno != EINTR) to_master.clear();
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(in, buf, sizeof buf);
      if (n > 0) to_master.append(buf, static_cast<std::size_t>(n));
      else if (n == 0 || errno != EINTR) in_open = false;
    }
    if (fds[3].revents & POLLIN) {
      while (::read(winch_read.get(), buf, sizeof buf) > 0) {
      }
      if (auto size = terminal_size(size_from)) ::ioctl(master, TIOCSWINSZ, &*size);
    }
    if (fds[2].revents & POLLIN) {
      // The process ended: take what it wrote. Its terminal closes with it unless something it left
      // behind still holds it, so wait for that only briefly.
      for (;;) {
        pollfd p{master, POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0) return;
        if (!pump_output()) return;
      }
    }
  }
}

}  // namespace cppcker
