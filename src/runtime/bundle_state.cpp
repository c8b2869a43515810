#include "cppcker/runtime/bundle_state.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <regex>

#include "cppcker/runtime/container.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker {

namespace {
// Directories being built or torn down; never taken for a container (an id cannot start with '.').
constexpr std::string_view kCreatingPrefix = ".creating-";
constexpr std::string_view kRemovingPrefix = ".removing-";
constexpr const char* kLockName = ".lock";
constexpr const char* kStateName = "state.json";

bool default_frozen(const BundleRecord& record) {
  if (record.cgroup.empty()) return false;
  try {
    return make_cgroup(record.cgroup)->frozen();
  } catch (const Error&) {
    return false;  // no freezer, or the cgroup is gone with the container
  }
}
}  // namespace

nlohmann::json BundleRecord::to_json() const {
  return {{"id", id},
          {"bundle", bundle.string()},
          {"rootfs", rootfs.string()},
          {"pid", pid},
          {"pid_start", pid_start},
          {"created", created},
          {"owner", owner},
          {"annotations", annotations},
          {"cgroup", cgroup},
          {"exec_fifo", exec_fifo.string()},
          {"create_finished", create_finished},
          {"config", config}};
}

BundleRecord BundleRecord::from_json(const nlohmann::json& j) {
  BundleRecord r;
  r.id = j.at("id").get<std::string>();
  r.bundle = j.at("bundle").get<std::string>();
  r.rootfs = j.value("rootfs", "");
  r.pid = j.value("pid", 0);
  r.pid_start = j.value("pid_start", std::uint64_t{0});
  r.created = j.value("created", "");
  r.owner = j.value("owner", "");
  r.annotations = j.value("annotations", std::map<std::string, std::string>{});
  r.cgroup = j.value("cgroup", CgroupPaths{});
  r.exec_fifo = j.value("exec_fifo", "");
  r.create_finished = j.value("create_finished", false);
  r.config = j.value("config", nlohmann::json::object());
  return r;
}

std::string derive_bundle_status(bool create_finished, bool process_alive, bool frozen, bool fifo_exists) {
  if (!create_finished) return "creating";
  if (!process_alive) return "stopped";
  if (frozen) return "paused";
  if (fifo_exists) return "created";
  return "running";
}

void validate_bundle_id(const std::string& id) {
  static const std::regex re("^[\\w+\\-.]+$");
  if (id.empty()) throw Error("container id cannot be empty");
  if (id == "." || id == ".." || !std::regex_match(id, re)) throw Error("invalid id format: " + id);
}

BundleStore::BundleStore(fs::path root, FrozenProbe frozen) : root_(std::move(root)), frozen_(std::move(frozen)) {
  if (!frozen_) frozen_ = default_frozen;
}

FileLock BundleStore::create(const BundleRecord& record) const {
  validate_bundle_id(record.id);
  make_dirs(root_);
  ::chmod(root_.c_str(), 0700);  // records hold the containers' environment
  fs::path target = dir(record.id);
  if (fs::exists(fs::symlink_status(target))) throw Error("container with id exists: " + record.id);
  fs::path aside = root_ / (std::string(kCreatingPrefix) + random_hex(8));
  if (::mkdir(aside.c_str(), 0700) != 0) throw_errno("mkdir " + aside.string());
  try {
    FileLock held(aside / kLockName);
    write_file_atomic(aside / kStateName, record.to_json().dump(), 0600);
    // RENAME_NOREPLACE: of two creates of one id exactly one wins, and an existing record is never replaced.
    if (::renameat2(AT_FDCWD, aside.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) != 0) {
      if (errno == EEXIST || errno == ENOTEMPTY) throw Error("container with id exists: " + record.id);
      throw_errno("rename " + aside.string());
    }
    sync_dir(root_);
    return held;
  } catch (...) {
    remove_tree(aside);
    throw;
  }
}

FileLock BundleStore::lock(const std::string& id) const {
  validate_bundle_id(id);
  try {
    FileLock held(dir(id) / kLockName);
    // Whoever held it before may have removed the container meanwhile.
    if (!fs::exists(dir(id) / kStateName)) throw Error("container does not exist");
    return held;
  } catch (const SystemError& e) {
    if (e.sys_errno() == ENOENT) throw Error("container does not exist");
    throw;
  }
}

void BundleStore::save(const BundleRecord& record) const {
  write_file_atomic(dir(record.id) / kStateName, record.to_json().dump(), 0600);
}

std::optional<BundleRecord> BundleStore::load(const std::string& id) const {
  validate_bundle_id(id);
  auto text = read_file_if_exists(dir(id) / kStateName);
  if (!text) return std::nullopt;
  try {
    return BundleRecord::from_json(nlohmann::json::parse(*text));
  } catch (const nlohmann::json::exception& e) {
    throw Error("read state of " + id + ": " + e.what());
  }
}

BundleRecord BundleStore::get(const std::string& id) const {
  auto record = load(id);
  if (!record) throw Error("container does not exist");
  return std::move(*record);
}

void BundleStore::sweep() const {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(kCreatingPrefix, 0) != 0 && name.rfind(kRemovingPrefix, 0) != 0) continue;
    // A directory whose lock is free belongs to nobody alive (a create or remove holds it throughout).
    std::optional<FileLock> free;
    try {
      free = FileLock::try_lock(entry.path() / kLockName);
    } catch (const SystemError&) {
      // No lock file (a remove that crashed between its steps): nobody can be using it.
    }
    if (free || !fs::exists(entry.path() / kLockName)) remove_tree(entry.path());
  }
}

std::vector<BundleRecord> BundleStore::list() const {
  std::vector<BundleRecord> out;
  if (!fs::exists(root_)) return out;
  sweep();
  for (const auto& entry : fs::directory_iterator(root_)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || !entry.is_directory()) continue;
    try {
      if (auto record = load(name)) out.push_back(std::move(*record));
    } catch (const Error&) {
      // Not a container directory (a name runc would not accept), or one removed while listing.
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

void BundleStore::remove(const std::string& id) const {
  validate_bundle_id(id);
  fs::path target = dir(id);
  fs::path aside = root_ / (std::string(kRemovingPrefix) + id + "-" + random_hex(4));
  if (::rename(target.c_str(), aside.c_str()) != 0) {
    if (errno == ENOENT) return;
    throw_errno("rename " + target.string());
  }
  remove_tree(aside);
  sync_dir(root_);
}

std::string BundleStore::status(const BundleRecord& record) const {
  bool alive = process_alive(record.pid, record.pid_start);
  if (!record.create_finished || !alive) return derive_bundle_status(record.create_finished, alive, false, false);
  bool fifo = !record.exec_fifo.empty() && fs::exists(fs::symlink_status(record.exec_fifo));
  return derive_bundle_status(true, true, frozen_(record), fifo);
}

oci::State BundleStore::state(const BundleRecord& record) const {
  oci::State s;
  s.id = record.id;
  s.status = status(record);
  s.pid = s.status == "stopped" ? 0 : record.pid;
  s.bundle = record.bundle.string();
  s.annotations = record.annotations;
  if (record.config.contains("ociVersion")) s.oci_version = record.config["ociVersion"].get<std::string>();
  return s;
}

}  // namespace cppcker
