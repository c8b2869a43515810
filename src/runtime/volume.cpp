#include "cppcker/runtime/volume.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <regex>

#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker {

using nlohmann::json;

json MountSpec::to_json() const {
  return {{"type", type},           {"source", source},   {"target", target}, {"readonly", readonly},
          {"anonymous", anonymous}, {"options", options}, {"idmap", idmap}};
}

MountSpec MountSpec::from_json(const json& j) {
  return {j.value("type", ""),       j.value("source", ""),  j.value("target", ""), j.value("readonly", false),
          j.value("anonymous", false), j.value("options", ""), j.value("idmap", false)};
}

bool valid_volume_name(const std::string& name) {
  static const std::regex re("^[a-zA-Z0-9][a-zA-Z0-9_.-]+$");
  return std::regex_match(name, re);
}

static void check_target(const std::string& target, const std::string& text) {
  if (target.empty() || target.front() != '/')
    throw Error("invalid mount config: the destination of \"" + text + "\" must be an absolute path", 125);
  if (fs::path(target).lexically_normal() == "/")
    throw Error("invalid mount config: the destination of \"" + text + "\" cannot be /", 125);
}

MountSpec parse_volume_flag(const std::string& text) {
  std::vector<std::string> parts = split(text, ':');
  MountSpec m;
  if (parts.size() == 1) {
    m.type = "volume";
    m.anonymous = true;
    m.target = parts[0];
  } else if (parts.size() <= 3) {
    m.source = parts[0];
    m.target = parts[1];
    if (parts.size() == 3) {
      for (const auto& option : split(parts[2], ',')) {
        if (option == "ro") m.readonly = true;
        else if (option == "rw") m.readonly = false;
        else if (option == "idmap") m.idmap = true;
        else throw Error("invalid mode: " + parts[2], 125);
      }
    }
    if (m.source.empty()) throw Error("invalid volume specification: '" + text + "'", 125);
    if (m.source.front() == '/') {
      m.type = "bind";
      m.source = fs::path(m.source).lexically_normal().string();
    } else {
      m.type = "volume";
      if (!valid_volume_name(m.source))
        throw Error("\"" + m.source + "\" includes invalid characters for a local volume name, only "
                    "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path",
                    125);
    }
  } else {
    throw Error("invalid volume specification: '" + text + "'", 125);
  }
  check_target(m.target, text);
  m.target = fs::path(m.target).lexically_normal().string();
  return m;
}

MountSpec parse_tmpfs_flag(const std::string& text) {
  MountSpec m;
  m.type = "tmpfs";
  auto colon = text.find(':');
  m.target = text.substr(0, colon);
  m.options = colon == std::string::npos ? "" : text.substr(colon + 1);
  check_target(m.target, text);
  m.target = fs::path(m.target).lexically_normal().string();
  return m;
}

VolumeStore::VolumeStore(fs::path root) : root_(std::move(root)) { make_dirs(root_ / "volumes"); }

bool VolumeStore::exists(const std::string& name) const {
  return valid_volume_name(name) && fs::exists(root_ / "volumes" / name / "volume.json");
}

std::string VolumeStore::create(const std::string& requested) const {
  std::string name = requested.empty() ? random_hex(32) : requested;
  if (!valid_volume_name(name)) throw Error("invalid volume name \"" + name + "\"", 125);
  FileLock lock(root_ / "volumes" / ".lock");
  if (exists(name)) return name;
  fs::path dir = root_ / "volumes" / name;
  make_dirs(dir / "_data");
  // The volume's root is the mount's root in the container: Docker's 0755, whatever our umask.
  if (::chmod((dir / "_data").c_str(), 0755) != 0) throw_errno("chmod " + (dir / "_data").string());
  write_file_atomic(dir / "volume.json", json{{"Name", name}, {"CreatedAt", format_rfc3339(now())}}.dump());
  return name;
}

std::vector<std::string> VolumeStore::list() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(root_ / "volumes", ec))
    if (e.is_directory() && fs::exists(e.path() / "volume.json")) out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

nlohmann::ordered_json VolumeStore::inspect(const std::string& name) const {
  if (!valid_volume_name(name)) throw Error("get " + name + ": no such volume");
  auto meta = read_file_if_exists(root_ / "volumes" / name / "volume.json");
  if (!meta) throw Error("get " + name + ": no such volume");
  json j = json::parse(*meta, nullptr, false);
  return {{"CreatedAt", j.is_discarded() ? "" : j.value("CreatedAt", "")},
          {"Driver", "local"},
          {"Labels", nullptr},
          {"Mountpoint", data_path(name).string()},
          {"Name", name},
          {"Options", nullptr},
          {"Scope", "local"}};
}

void VolumeStore::remove(const std::string& name) const {
  if (!valid_volume_name(name) || !exists(name)) throw Error("get " + name + ": no such volume");
  fs::path dir = root_ / "volumes" / name;
  fs::path doomed = root_ / "volumes" / (".removing-" + name);
  if (::rename(dir.c_str(), doomed.c_str()) != 0) throw_errno("remove volume " + name);
  remove_tree(doomed);
}

}  // namespace cppcker
