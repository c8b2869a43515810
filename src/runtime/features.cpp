#include "cppcker/runtime/features.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "cppcker/oci/runtime_spec.hpp"
#include "cppcker/runtime/rootfs.hpp"
#include "cppcker/security/capabilities.hpp"
#include "cppcker/security/seccomp.hpp"

#ifndef CPPCKER_VERSION
#error "CPPCKER_VERSION must be defined for features.cpp (CMakeLists.txt)"
#endif

namespace cppcker {

nlohmann::json runtime_features() {
  using nlohmann::json;
  std::vector<std::string> namespaces = oci::namespace_types();
  std::sort(namespaces.begin(), namespaces.end());
  json seccomp = {{"enabled", true},
                  {"actions", known_seccomp_actions()},
                  {"operators", known_seccomp_operators()},
                  {"archs", known_seccomp_architectures()},
                  {"knownFlags", known_seccomp_flags()},
                  {"supportedFlags", supported_seccomp_flags()}};
  json linux = {{"namespaces", namespaces},
                {"capabilities", known_capabilities()},
                // Both cgroup versions through the cgroupfs; no systemd manager (--systemd-cgroup is refused),
                // no rdma controller.
                {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}, {"rdma", false}}},
                {"seccomp", seccomp},
                {"apparmor", {{"enabled", false}}},
                {"selinux", {{"enabled", false}}},
                {"intelRdt", {{"enabled", false}}}};
  return {{"ociVersionMin", "1.0.0"},
          {"ociVersionMax", oci::kRuntimeSpecVersion},
          {"hooks", oci::hook_names()},
          {"mountOptions", known_mount_options()},
          {"linux", linux},
          {"annotations", {{"io.github.cppcker.version", CPPCKER_VERSION}}}};
}

}  // namespace cppcker
