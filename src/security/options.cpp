#include "cppcker/security/options.hpp"

#include "cppcker/util/error.hpp"

namespace cppcker {

SecurityOptions parse_security_options(const std::vector<std::string>& options) {
  SecurityOptions out;
  for (std::size_t i = 0; i < options.size(); ++i) {
    const std::string& opt = options[i];
    auto invalid = [&] { return Error("invalid --security-opt " + std::to_string(i + 1) + ": \"" + opt + "\"", 125); };
    if (opt == "no-new-privileges") {
      out.no_new_privileges = true;
      continue;
    }
    auto sep = opt.find_first_of("=:");
    if (sep == std::string::npos) throw invalid();
    const std::string key = opt.substr(0, sep), value = opt.substr(sep + 1);
    if (key == "seccomp") {
      if (value.empty()) throw invalid();
      out.seccomp = value;
    } else if (key == "no-new-privileges") {
      if (value == "true") out.no_new_privileges = true;
      else if (value == "false") out.no_new_privileges = false;
      else throw Error("invalid --security-opt " + std::to_string(i + 1) + ": \"" + opt +
                           "\": no-new-privileges takes true or false", 125);
    } else if (key == "systempaths") {
      if (value != "unconfined") throw invalid();
      out.systempaths_unconfined = true;
    } else if (key == "apparmor" || key == "label") {
      if (value.empty()) throw invalid();
    } else {
      throw invalid();
    }
  }
  return out;
}

const std::vector<std::string>& default_masked_paths() {
  static const std::vector<std::string> paths = {
      "/proc/asound",        "/proc/acpi",      "/proc/kcore",       "/proc/keys",
      "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
      "/proc/scsi",          "/sys/firmware",   "/sys/devices/virtual/powercap"};
  return paths;
}

const std::vector<std::string>& default_readonly_paths() {
  static const std::vector<std::string> paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                                 "/proc/sysrq-trigger"};
  return paths;
}

}  // namespace cppcker
