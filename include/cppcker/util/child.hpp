#pragma once
// A child process owned by the code that started it: unless released, the owner's end kills it (through a
// pidfd, so a reused pid is never hit) and reaps it, so no error path leaves a stray process behind.
#include <sys/types.h>

#include "cppcker/util/fd.hpp"

namespace cppcker {

class OwnedChild {
 public:
  OwnedChild() = default;
  // Takes over `pid`, a child of this process that has not been reaped. Opens its pidfd.
  explicit OwnedChild(pid_t pid);
  OwnedChild(OwnedChild&& other) noexcept;
  OwnedChild& operator=(OwnedChild&& other) noexcept;
  OwnedChild(const OwnedChild&) = delete;
  OwnedChild& operator=(const OwnedChild&) = delete;
  ~OwnedChild();

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  explicit operator bool() const { return pid_ > 0; }
  // Sends `sig` through the pidfd (false once the process is gone).
  bool signal(int sig) const;
  // Waits for the end (EINTR retried); returns the wait status. The child is reaped then.
  int wait();
  // Kills and reaps it now.
  void kill_and_reap();
  // The process lives on unowned (its reaper is someone else's concern now).
  pid_t release();

 private:
  pid_t pid_ = -1;
  UniqueFd pidfd_;
};

}  // namespace cppcker
