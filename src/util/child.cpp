#include "cppcker/util/child.hpp"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace cppcker {

OwnedChild::OwnedChild(pid_t pid) : pid_(pid), pidfd_(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))) {}

OwnedChild::OwnedChild(OwnedChild&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), pidfd_(std::move(other.pidfd_)) {}

OwnedChild& OwnedChild::operator=(OwnedChild&& other) noexcept {
  if (this != &other) {
    kill_and_reap();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::move(other.pidfd_);
  }
  return *this;
}

OwnedChild::~OwnedChild() { kill_and_reap(); }

bool OwnedChild::signal(int sig) const {
  if (pid_ <= 0) return false;
  // Unreaped, the pid cannot have been reused; the pidfd makes that explicit where it could be opened.
  if (pidfd_) return ::syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0) == 0;
  return ::kill(pid_, sig) == 0;
}

int OwnedChild::wait() {
  int status = 0;
  if (pid_ <= 0) return status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  pidfd_.reset();
  return status;
}

void OwnedChild::kill_and_reap() {
  if (pid_ <= 0) return;
  signal(SIGKILL);
  wait();
}

pid_t OwnedChild::release() {
  pidfd_.reset();
  return std::exchange(pid_, -1);
}

}  // namespace cppcker
