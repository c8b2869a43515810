// A program on a pseudo-terminal for the tests of -t: the test plays the user at the keyboard.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>

#include "test_support.hpp"

namespace testsupport {

PtySession::PtySession(const std::vector<std::string>& argv, unsigned short rows, unsigned short cols) {
  winsize ws{rows, cols, 0, 0};
  if (::openpty(&master_, &slave_, nullptr, nullptr, &ws) != 0) throw std::runtime_error("openpty failed");
  ::fcntl(master_, F_SETFD, FD_CLOEXEC);
  ::fcntl(slave_, F_SETFD, FD_CLOEXEC);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::setsid();
    ::ioctl(slave_, TIOCSCTTY, 0);
    for (int fd = 0; fd < 3; ++fd) ::dup2(slave_, fd);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  // The slave stays open here too: its modes can be read after the program ends.
}

PtySession::~PtySession() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  ::close(master_);
  ::close(slave_);
}

void PtySession::send(std::string_view keys) {
  while (!keys.empty()) {
    ssize_t n = ::write(master_, keys.data(), keys.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("write to the pty failed");
    keys.remove_prefix(static_cast<std::size_t>(n));
  }
}

void PtySession::resize(unsigned short rows, unsigned short cols) {
  winsize ws{rows, cols, 0, 0};
  // The kernel sends SIGWINCH to the terminal's foreground process group: the program under test.
  ::ioctl(master_, TIOCSWINSZ, &ws);
}

void PtySession::pump(int timeout_ms) {
  pollfd p{master_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return;
  char buf[4096];
  ssize_t n = ::read(master_, buf, sizeof buf);
  if (n <= 0) return;
  std::size_t from = output_.size() >= 3 ? output_.size() - 3 : 0;
  output_.append(buf, static_cast<std::size_t>(n));
  // Answer "where is the cursor?" (DSR) as a terminal emulator does; busybox's line editor asks it
  // after each prompt and would otherwise take the next keys for the answer.
  for (auto at = output_.find("\x1b[6n", from); at != std::string::npos; at = output_.find("\x1b[6n", at + 1))
    send("\x1b[1;1R");
}

bool PtySession::expect(const std::string& text, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto found = output_.find(text, seen_);
    if (found != std::string::npos) {
      seen_ = found + text.size();
      return true;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return false;
    pump(static_cast<int>(std::min<long>(left, 50)));
  }
}

int PtySession::wait(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int status = 0;
  for (;;) {
    pump(10);
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
  }
  pid_ = -1;
  for (int i = 0; i < 5; ++i) pump(10);  // what it wrote last
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

unsigned PtySession::local_modes() const {
  termios t{};
  ::tcgetattr(slave_, &t);
  return t.c_lflag;
}

}  // namespace testsupport
