#pragma once
// Docker's --security-opt values and the default lists of paths a container may not see or change.
#include <optional>
#include <string>
#include <vector>

namespace cppcker {

struct SecurityOptions {
  std::string seccomp;                    // "" (the default profile), "unconfined", or a profile's path
  std::optional<bool> no_new_privileges;  // unset: the config file's default
  bool systempaths_unconfined = false;    // no masked or read-only paths
};
// "seccomp=PATH|unconfined", "no-new-privileges[=true|false]", "systempaths=unconfined", and the LSM
// options "apparmor=..."/"label=..." (accepted: there is no LSM to configure, as on a Docker host
// without one; "label=disable" and "apparmor=unconfined" are what they ask for anyway). Docker's ':'
// separator is accepted too. Throws Error (125) "invalid --security-opt ..." for anything else.
SecurityOptions parse_security_options(const std::vector<std::string>& options);

// Docker's lists: files under them are hidden (/dev/null over files, an empty read-only tmpfs over
// directories) or made read-only.
const std::vector<std::string>& default_masked_paths();
const std::vector<std::string>& default_readonly_paths();

}  // namespace cppcker
