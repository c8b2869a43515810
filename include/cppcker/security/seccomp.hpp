#pragma once
// seccomp: Docker's JSON profile format in, the OCI `linux.seccomp` object out (capability- and
// architecture-conditional rules resolved, as Docker's daemon does), compiled to a BPF program with
// libseccomp (loaded on first use) and cached by exact content, installed in the container right before
// its execve.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cppcker/oci/runtime_spec.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker {

// The default profile shipped with cppcker (Docker's behaviour, in Docker's JSON format).
const std::string& default_seccomp_profile();

// What a profile's includes/excludes are resolved against.
struct SeccompContext {
  std::vector<std::string> capabilities;  // the container's bounding set: "CAP_SYS_ADMIN", ...
  std::string architecture;               // the native one as libseccomp names it: "SCMP_ARCH_X86_64"
  unsigned kernel_major = 0, kernel_minor = 0;  // for includes.minKernel
};
SeccompContext host_seccomp_context(std::vector<std::string> capabilities);

// A Docker profile (its JSON text) resolved for `context`: the architectures of the native arch's
// archMap entry (or the profile's "architectures"), the rules whose includes match and excludes do not,
// each rule's names, action, errnoRet and args kept. includes/excludes "arches" use Docker's names
// ("amd64", "x86", "arm64", ...) and match the native architecture or one the filter also covers. The
// OCI form (architectures and plain rules) is accepted too. Throws Error (125) naming what is wrong with
// the profile, also in rules that do not apply here: invalid JSON, an unknown field, action, operator,
// architecture or flag, a rule without names, SCMP_ACT_NOTIFY or listenerPath (no agent support).
oci::Seccomp resolve_docker_profile(std::string_view profile_json, const SeccompContext& context);

// The BPF program for `seccomp` (struct sock_filter array as bytes). Compiled with libseccomp; the
// result is cached in `cache_dir` (made 0700) under a name hashed from oci::to_json(seccomp).dump(), in
// a file (0600) holding that text and the program, reused only when the stored text is byte-for-byte
// the one asked for (a damaged or foreign file is compiled again and replaced).
std::string seccomp_program(const oci::Seccomp& seccomp, const fs::path& cache_dir);
// The same without a cache, with runc's semantics: args on distinct indexes must all match, several on
// one index are alternatives; a system call name libseccomp does not know is skipped. Throws Error (125)
// for an unknown action, operator, architecture or flag, SCMP_ACT_NOTIFY, or an argument index over 5.
std::string compile_seccomp(const oci::Seccomp& seccomp);

// In the container: installs the program (seccomp(SECCOMP_SET_MODE_FILTER) with the flags the spec
// asked for: SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW; TSYNC is never needed, the process
// is single-threaded). Raw system calls only, no libseccomp. Requires no_new_privs or CAP_SYS_ADMIN.
// Throws Error (125) for a malformed program or another flag, SystemError when the kernel refuses.
void install_seccomp_program(std::string_view program, const std::vector<std::string>& flags);

// What compile_seccomp and install_seccomp_program accept, sorted (the `features` command lists them):
// actions, argument operators, architectures, and the filter flags cppcker knows.
std::vector<std::string> known_seccomp_actions();
std::vector<std::string> known_seccomp_operators();
std::vector<std::string> known_seccomp_architectures();
std::vector<std::string> known_seccomp_flags();
// The known flags this kernel's seccomp(2) takes (probed without installing anything).
std::vector<std::string> supported_seccomp_flags();

}  // namespace cppcker
