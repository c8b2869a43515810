#include "cppcker/util/error.hpp"

#include <cerrno>
#include <cstring>

namespace cppcker {

SystemError::SystemError(std::string_view context, int err)
    : Error(std::string(context) + ": " + std::strerror(err)), errno_(err) {}

void throw_errno(std::string_view context) { throw SystemError(context, errno); }

}  // namespace cppcker
