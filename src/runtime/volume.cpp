#include "cppcker/runtime/volume.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <regex>

#include "cppcker/runtime/options.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"
#include "cppcker/util/text.hpp"

namespace cppcker {

using nlohmann::json;

json MountSpec::to_json() const {
  return {{"type", type},           {"source", source},   {"target", target}, {"readonly", readonly},
          {"anonymous", anonymous}, {"options", options}, {"idmap", idmap}, {"propagation", propagation}};
}

MountSpec MountSpec::from_json(const json& j) {
  return {j.value("type", ""),       j.value("source", ""),  j.value("target", ""), j.value("readonly", false),
          j.value("anonymous", false), j.value("options", ""), j.value("idmap", false), j.value("propagation", "")};
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

namespace {

// One CSV record as Go's encoding/csv reads it (Docker's CLI parses --mount that way): fields split at
// commas, a field in double quotes may hold commas, "" inside quotes is one quote.
std::vector<std::string> csv_fields(const std::string& text) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        out.back().push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back().push_back(c);
      }
    } else if (c == '"' && out.back().empty()) {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back().push_back(c);
    }
  }
  if (quoted) throw Error("invalid argument \"" + text + "\" for \"--mount\" flag: extraneous or missing \" in quoted-field", 125);
  return out;
}

// Go's strconv.ParseBool.
std::optional<bool> parse_bool(const std::string& v) {
  for (const char* t : {"1", "t", "T", "true", "TRUE", "True"})
    if (v == t) return true;
  for (const char* f : {"0", "f", "F", "false", "FALSE", "False"})
    if (v == f) return false;
  return std::nullopt;
}

// Go's filepath.Clean for an absolute path: no "." or "..", no trailing slash.
std::string clean_path(const std::string& path) {
  std::string out = fs::path(path).lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

}  // namespace

MountSpec parse_mount_flag(const std::string& text) {
  // The CLI's own checks come out as an invalid flag value, the daemon's as an invalid mount config.
  auto flag_error = [&](const std::string& why) {
    return Error("invalid argument \"" + text + "\" for \"--mount\" flag: " + why, 125);
  };
  MountSpec m;
  m.type = "volume";
  bool volume_options = false, bind_options = false, tmpfs_options = false;
  std::optional<std::int64_t> tmpfs_size;
  std::optional<unsigned long> tmpfs_mode;
  for (const auto& field : csv_fields(text)) {
    auto eq = field.find('=');
    const std::string key = ascii_lower(field.substr(0, eq));
    if (eq == std::string::npos) {
      if (key == "readonly" || key == "ro") {
        m.readonly = true;
        continue;
      }
      if (key == "volume-nocopy") {
        volume_options = true;  // cppcker never copies an image's files into a volume
        continue;
      }
      throw flag_error("invalid field '" + field + "' must be a key=value pair");
    }
    const std::string value = field.substr(eq + 1);
    if (key == "type") {
      m.type = ascii_lower(value);
    } else if (key == "source" || key == "src") {
      m.source = value;
    } else if (key == "target" || key == "dst" || key == "destination") {
      m.target = value;
    } else if (key == "readonly" || key == "ro") {
      auto b = parse_bool(value);
      if (!b) throw flag_error("invalid value for " + key + ": " + value);
      m.readonly = *b;
    } else if (key == "bind-propagation") {
      bind_options = true;
      m.propagation = ascii_lower(value);
    } else if (key == "volume-nocopy") {
      volume_options = true;
      if (!parse_bool(value)) throw flag_error("invalid value for volume-nocopy: " + value);
    } else if (key == "tmpfs-size") {
      tmpfs_options = true;
      try {
        tmpfs_size = parse_memory_size(value, "--mount");
      } catch (const Error&) {
        throw flag_error("invalid value for " + key + ": " + value);
      }
    } else if (key == "tmpfs-mode") {
      tmpfs_options = true;
      std::size_t pos = 0;
      unsigned long mode = 0;
      try {
        mode = std::stoul(value, &pos, 8);
      } catch (...) {
        pos = 0;
      }
      if (value.empty() || pos != value.size() || value.front() == '-' || value.front() == '+' || mode > 0xffffffffUL)
        throw flag_error("invalid value for " + key + ": " + value);
      tmpfs_mode = mode;
    } else {
      throw flag_error("unexpected key '" + key + "' in '" + field + "'");
    }
  }
  if (m.type.empty()) throw flag_error("type is required");
  if (m.target.empty()) throw flag_error("target is required");
  if (volume_options && m.type != "volume") throw flag_error("cannot mix 'volume-*' options with mount type '" + m.type + "'");
  if (bind_options && m.type != "bind") throw flag_error("cannot mix 'bind-*' options with mount type '" + m.type + "'");
  if (tmpfs_options && m.type != "tmpfs") throw flag_error("cannot mix 'tmpfs-*' options with mount type '" + m.type + "'");

  // The daemon's validation (volume/mounts/linux_parser.go), before anything is made.
  auto config_error = [&](const std::string& why) {
    return Error("invalid mount config for type \"" + m.type + "\": " + why, 125);
  };
  if (m.type != "bind" && m.type != "volume" && m.type != "tmpfs") throw config_error("mount type unknown");
  if (m.target.front() != '/') throw config_error("invalid mount path: '" + m.target + "' mount path must be absolute");
  m.target = clean_path(m.target);
  if (m.target == "/") throw config_error("invalid specification: destination can't be '/'");
  if (m.type == "bind") {
    if (m.source.empty()) throw config_error("field Source must not be empty");
    if (m.source.front() != '/') throw config_error("invalid mount path: '" + m.source + "' mount path must be absolute");
    static const char* const modes[] = {"private", "rprivate", "shared", "rshared", "slave", "rslave"};
    if (!m.propagation.empty() && std::find(std::begin(modes), std::end(modes), m.propagation) == std::end(modes))
      throw config_error("invalid propagation mode: " + m.propagation);
    m.source = clean_path(m.source);
    std::error_code ec;
    if (!fs::exists(m.source, ec)) throw config_error("bind source path does not exist: " + m.source);
  } else if (m.type == "volume") {
    if (m.source.empty()) {
      m.anonymous = true;
    } else if (!valid_volume_name(m.source)) {
      throw Error("create " + m.source + ": \"" + m.source + "\" includes invalid characters for a local volume name, only "
                  "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path",
                  125);
    }
  } else {
    if (!m.source.empty()) throw config_error("field Source must not be specified");
    std::vector<std::string> options;
    if (m.readonly) options.push_back("ro");
    if (tmpfs_size && *tmpfs_size > 0) options.push_back("size=" + std::to_string(*tmpfs_size));
    if (tmpfs_mode) {
      char mode[32];
      std::snprintf(mode, sizeof mode, "mode=%lo", *tmpfs_mode);
      options.push_back(mode);
    }
    for (const auto& o : options) m.options += (m.options.empty() ? "" : ",") + o;
  }
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
