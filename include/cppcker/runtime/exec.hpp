#pragma once
// `exec`: a new process inside a running container. A helper made non-dumpable joins the container's
// namespaces (the user namespace last) and forks the process into its pid namespace and cgroup; the
// process gets the container's process settings (capabilities, rlimits, no_new_privs, seccomp program)
// with exec's own command, environment, user and working directory.
#include <sys/types.h>

#include <string>
#include <vector>

#include "cppcker/runtime/container.hpp"

namespace cppcker {

struct ExecOptions {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // added to the container's
  std::string workdir;           // default: the container's
  std::string user;              // default: the container's
  bool interactive = false;
  bool tty = false;  // a terminal inside the container, relayed to ours
  bool detach = false;
  bool privileged = false;  // every capability (the container's seccomp filter stays, as in Docker)
};

// Returns the command's exit status (or 0 at once with `detach`). Throws Error with 126/127 when the
// command cannot be run, 1 when the container is not running.
int exec_in_container(const ContainerStore& containers, const Container& c, const ExecOptions& options);

// Shared by `exec` and a bundle container's exec (runtime/bundle.hpp), inside their helpers:
// whether `pid` is in this process's namespace of `type` ("user", ...);
bool shares_namespace(pid_t pid, const char* type);
// joins every namespace of the process behind `pidfd`, the user namespace last (becoming its root).
// Throws StageError("namespaces").
void join_container_namespaces(int pidfd, bool join_user);

}  // namespace cppcker
