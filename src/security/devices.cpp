#include "cppcker/security/devices.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstring>
#include <regex>

#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker {

using nlohmann::json;

namespace {
oci::DeviceRule allow(const char* type, std::optional<std::int64_t> major, std::optional<std::int64_t> minor,
                      const char* access) {
  return {true, type, major, minor, access};
}
}  // namespace

std::vector<oci::DeviceRule> default_device_rules() {
  return {{false, "a", std::nullopt, std::nullopt, "rwm"},
          allow("c", std::nullopt, std::nullopt, "m"),
          allow("b", std::nullopt, std::nullopt, "m"),
          allow("c", 1, 3, "rwm"),    // null
          allow("c", 1, 5, "rwm"),    // zero
          allow("c", 1, 7, "rwm"),    // full
          allow("c", 1, 8, "rwm"),    // random
          allow("c", 1, 9, "rwm"),    // urandom
          allow("c", 5, 0, "rwm"),    // tty
          allow("c", 5, 1, "rwm"),    // console
          allow("c", 5, 2, "rwm"),    // ptmx
          allow("c", 136, std::nullopt, "rwm")};  // the pty slaves in /dev/pts
}

std::vector<oci::DeviceRule> allow_all_device_rules() { return {allow("a", std::nullopt, std::nullopt, "rwm")}; }

oci::DeviceRule parse_device_cgroup_rule(const std::string& text) {
  static const std::regex re(R"(^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$)");
  std::smatch m;
  if (!std::regex_match(text, m, re)) throw Error("invalid device cgroup format '" + text + "'", 125);
  auto number = [](const std::string& s) -> std::optional<std::int64_t> {
    if (s == "*") return std::nullopt;
    return std::stoll(s);
  };
  return {true, m[1].str(), number(m[2].str()), number(m[3].str()), m[4].str()};
}

json DeviceMapping::to_json() const {
  return {{"PathOnHost", host_path}, {"PathInContainer", container_path}, {"CgroupPermissions", permissions}};
}

DeviceMapping DeviceMapping::from_json(const json& j) {
  return {j.value("PathOnHost", ""), j.value("PathInContainer", ""), j.value("CgroupPermissions", "rwm")};
}

DeviceMapping parse_device_flag(const std::string& text) {
  std::vector<std::string> parts = split(text, ':');
  auto permissions = [](const std::string& s) {
    return !s.empty() && s.size() <= 3 && s.find_first_not_of("rwm") == std::string::npos;
  };
  DeviceMapping d;
  switch (parts.size()) {
    case 3:
      if (!permissions(parts[2])) throw Error("invalid device mode: " + parts[2], 125);
      d.permissions = parts[2];
      [[fallthrough]];
    case 2:
      if (parts.size() == 2 && permissions(parts[1])) {
        d.permissions = parts[1];
      } else {
        d.container_path = parts[1];
      }
      [[fallthrough]];
    case 1:
      d.host_path = parts[0];
      break;
    default:
      throw Error("invalid device specification: " + text, 125);
  }
  if (d.container_path.empty()) d.container_path = d.host_path;
  if (d.host_path.empty() || d.host_path.front() != '/')
    throw Error("invalid device specification: " + text + ": the host path must be absolute", 125);
  if (d.container_path.front() != '/')
    throw Error("invalid device specification: " + text + ": the path in the container must be absolute", 125);
  d.host_path = fs::path(d.host_path).lexically_normal().string();
  d.container_path = fs::path(d.container_path).lexically_normal().string();
  return d;
}

namespace {

std::optional<oci::Device> device_node(const fs::path& path, const struct stat& st) {
  std::string type;
  if (S_ISCHR(st.st_mode)) type = "c";
  else if (S_ISBLK(st.st_mode)) type = "b";
  else return std::nullopt;
  return oci::Device{type, path.string(), static_cast<std::int64_t>(major(st.st_rdev)),
                     static_cast<std::int64_t>(minor(st.st_rdev)), static_cast<std::uint32_t>(st.st_mode & 07777),
                     st.st_uid, st.st_gid};
}

}  // namespace

std::vector<ResolvedDevice> resolve_device(const DeviceMapping& mapping, const fs::path& host_dev) {
  (void)host_dev;
  auto fail = [&](int err) {
    return Error("error gathering device information while adding custom device \"" + mapping.host_path + "\": " +
                     std::strerror(err),
                 125);
  };
  struct stat st{};
  if (::stat(mapping.host_path.c_str(), &st) != 0) throw fail(errno);
  std::vector<ResolvedDevice> out;
  auto add = [&](const fs::path& host, const struct stat& s, const std::string& inside) {
    auto node = device_node(host, s);
    if (!node) return false;
    node->path = inside;
    out.push_back({*node, {true, node->type, node->major, node->minor, mapping.permissions}});
    return true;
  };
  if (S_ISDIR(st.st_mode)) {
    // A directory: every device node below it, at the same place below the container path.
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(mapping.host_path, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      struct stat s{};
      if (::lstat(it->path().c_str(), &s) != 0) continue;
      fs::path rel = it->path().lexically_relative(mapping.host_path);
      add(it->path(), s, (fs::path(mapping.container_path) / rel).string());
    }
    return out;
  }
  if (!add(mapping.host_path, st, mapping.container_path))
    throw Error("error gathering device information while adding custom device \"" + mapping.host_path +
                    "\": not a device node",
                125);
  return out;
}

std::vector<oci::Device> host_device_nodes(const fs::path& dev) {
  std::vector<oci::Device> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dev, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path rel = it->path().lexically_relative(dev);
    const std::string top = rel.begin()->string();
    if (it->is_directory(ec) && (top == "pts" || top == "shm" || top == "mqueue" || top == "fd")) {
      it.disable_recursion_pending();
      continue;
    }
    if (rel == "console" || rel == "ptmx" || rel == "tty") continue;  // the container's own
    struct stat st{};
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    if (auto node = device_node(fs::path("/dev") / rel, st)) out.push_back(*node);
  }
  return out;
}

}  // namespace cppcker
