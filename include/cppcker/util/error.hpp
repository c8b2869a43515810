#pragma once
// One exception type for every failure that reaches the user as a single line.
#include <stdexcept>
#include <string>
#include <string_view>

namespace cppcker {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, int exit_code = 1)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const noexcept { return exit_code_; }

 private:
  int exit_code_;
};

// "context: strerror(err)"; the errno value survives in the text and in sys_errno().
class SystemError : public Error {
 public:
  SystemError(std::string_view context, int err);
  int sys_errno() const noexcept { return errno_; }

 private:
  int errno_;
};

// Throws SystemError built from the current errno.
[[noreturn]] void throw_errno(std::string_view context);

}  // namespace cppcker
