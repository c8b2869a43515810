#include "cppcker/security/capabilities.hpp"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "cppcker/util/error.hpp"

namespace cppcker {

const std::vector<std::string>& known_capabilities() {
  static const std::vector<std::string> names = {
      "CAP_CHOWN",           "CAP_DAC_OVERRIDE",  "CAP_DAC_READ_SEARCH", "CAP_FOWNER",          "CAP_FSETID",
      "CAP_KILL",            "CAP_SETGID",        "CAP_SETUID",          "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE",
      "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",       "CAP_NET_RAW",         "CAP_IPC_LOCK",
      "CAP_IPC_OWNER",       "CAP_SYS_MODULE",    "CAP_SYS_RAWIO",       "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
      "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",     "CAP_SYS_BOOT",        "CAP_SYS_NICE",        "CAP_SYS_RESOURCE",
      "CAP_SYS_TIME",        "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",          "CAP_LEASE",           "CAP_AUDIT_WRITE",
      "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",       "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",       "CAP_SYSLOG",
      "CAP_WAKE_ALARM",      "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",      "CAP_PERFMON",         "CAP_BPF",
      "CAP_CHECKPOINT_RESTORE"};
  static_assert(CAP_LAST_CAP == 40, "update the capability names");
  return names;
}

const std::vector<std::string>& default_capabilities() {
  static const std::vector<std::string> names = {"CAP_CHOWN",       "CAP_DAC_OVERRIDE", "CAP_FSETID",   "CAP_FOWNER",
                                                 "CAP_MKNOD",       "CAP_NET_RAW",      "CAP_SETGID",   "CAP_SETUID",
                                                 "CAP_SETFCAP",     "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE",
                                                 "CAP_SYS_CHROOT",  "CAP_KILL",         "CAP_AUDIT_WRITE"};
  return names;
}

std::optional<int> capability_number(std::string_view name) {
  const auto& names = known_capabilities();
  auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) return std::nullopt;
  return static_cast<int>(it - names.begin());
}

std::vector<std::string> host_capabilities() {
  std::vector<std::string> out;
  const auto& names = known_capabilities();
  for (std::size_t i = 0; i < names.size(); ++i)
    if (::prctl(PR_CAPBSET_READ, i, 0, 0, 0) == 1) out.push_back(names[i]);
  return out;
}

std::string normalize_capability(std::string_view name) {
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper == "ALL") return upper;
  if (upper.rfind("CAP_", 0) != 0) upper = "CAP_" + upper;
  if (!capability_number(upper)) throw Error("unknown capability: \"" + std::string(name) + "\"", 125);
  return upper;
}

std::vector<std::string> adjust_capabilities(const std::vector<std::string>& base, const std::vector<std::string>& add,
                                             const std::vector<std::string>& drop) {
  std::vector<std::string> adds, drops;
  for (const auto& a : add) adds.push_back(normalize_capability(a));
  for (const auto& d : drop) drops.push_back(normalize_capability(d));
  auto has = [](const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); };
  std::vector<std::string> out;
  if (has(adds, "ALL")) {
    out = known_capabilities();
  } else if (!has(drops, "ALL")) {
    for (const auto& c : base)
      if (!has(drops, c) || has(adds, c)) out.push_back(c);
  }
  for (const auto& a : adds)
    if (a != "ALL" && !has(out, a)) out.push_back(a);
  if (has(adds, "ALL"))
    for (const auto& d : drops)  // --cap-add ALL --cap-drop X: everything but X
      if (d != "ALL") out.erase(std::remove(out.begin(), out.end(), d), out.end());
  // Number order: a stable spec whatever order the flags came in.
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return *capability_number(a) < *capability_number(b);
  });
  return out;
}

oci::Capabilities capability_sets(const std::vector<std::string>& caps, bool root_user) {
  oci::Capabilities sets;
  sets.bounding = caps;
  if (root_user) sets.effective = sets.permitted = caps;
  return sets;
}

CapabilityMasks capability_masks(const oci::Capabilities& caps) {
  auto mask = [](const std::vector<std::string>& names) {
    std::uint64_t m = 0;
    for (const auto& n : names) {
      auto number = capability_number(n);
      if (!number) throw Error("unknown capability \"" + n + "\"", 125);
      m |= std::uint64_t{1} << *number;
    }
    return m;
  };
  return {mask(caps.bounding), mask(caps.effective), mask(caps.permitted), mask(caps.inheritable), mask(caps.ambient)};
}

namespace {
struct CapData {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
};
}  // namespace

std::uint64_t effective_capabilities() {
  CapData c;
  if (::syscall(SYS_capget, &c.header, c.data) != 0) throw_errno("capget");
  return c.data[0].effective | (std::uint64_t{c.data[1].effective} << 32);
}

void drop_bounding_set(std::uint64_t keep) {
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if (keep & (std::uint64_t{1} << cap)) continue;
    // EINVAL: a capability this kernel does not know, nothing to drop.
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      throw_errno("drop " + known_capabilities()[static_cast<std::size_t>(cap)] + " from the bounding set");
  }
}

void apply_capability_sets(const CapabilityMasks& m) {
  CapData current;
  if (::syscall(SYS_capget, &current.header, current.data) != 0) throw_errno("capget");
  const std::uint64_t have = current.data[0].permitted | (std::uint64_t{current.data[1].permitted} << 32);
  CapData c;
  auto put = [&](std::uint64_t mask, __u32 __user_cap_data_struct::*field) {
    mask &= have;  // what this process lacks itself cannot be handed on (e.g. CAP_SYS_RESOURCE here)
    c.data[0].*field = static_cast<__u32>(mask);
    c.data[1].*field = static_cast<__u32>(mask >> 32);
  };
  put(m.effective, &__user_cap_data_struct::effective);
  put(m.permitted, &__user_cap_data_struct::permitted);
  put(m.inheritable, &__user_cap_data_struct::inheritable);
  if (::syscall(SYS_capset, &c.header, c.data) != 0) throw_errno("set the container's capabilities");
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) throw_errno("clear ambient capabilities");
  // The kernel raises an ambient capability only when it is permitted and inheritable; runc skips the
  // others (its default spec lists ambient capabilities without inheritable ones), and so does cppcker.
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap)
    if ((m.ambient & m.inheritable & have & (std::uint64_t{1} << cap)) &&
        ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0)
      throw_errno("raise ambient " + known_capabilities()[static_cast<std::size_t>(cap)]);
}

}  // namespace cppcker
