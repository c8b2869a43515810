// cppcker info: Docker's system-wide fields that apply to a daemonless runtime.
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cctype>
#include <fstream>
#include <iostream>

#include "cppcker/cgroup/cgroup.hpp"
#include "cppcker/cli/commands.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker::cli {

namespace {

// /etc/os-release's PRETTY_NAME, as Docker shows it.
std::string operating_system() {
  std::ifstream in("/etc/os-release");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("PRETTY_NAME=", 0) != 0) continue;
    std::string v = line.substr(12);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'')) v = v.substr(1, v.size() - 2);
    return v;
  }
  return "Linux";
}

// Docker's units.BytesSize: binary units, four significant digits ("3.82GiB").
std::string bytes_size(double size) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int i = 0;
  while (size >= 1024.0 && i < 5) {
    size /= 1024.0;
    ++i;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g%s", size, units[i]);
  return buf;
}

nlohmann::ordered_json info_json(const GlobalOptions& global) {
  std::size_t running = 0, paused = 0, total = 0;
  ContainerStore containers(global.root);
  for (const auto& c : containers.list()) {
    const ContainerState s = ContainerStore::observed_state(c);
    const std::string status = s.paused ? "paused" : s.status;
    ++total;
    running += status == "running";
    paused += status == "paused";
  }
  std::size_t images = global.store().list_images().size();
  RuntimeConfig config = global.runtime_config();
  nlohmann::ordered_json security = nlohmann::ordered_json::array();
  security.push_back("name=seccomp,profile=" + (config.seccomp_profile.empty() ? std::string("default") : config.seccomp_profile));
  if (!config.userns_remap.empty()) security.push_back("name=userns");
  if (config.no_new_privileges) security.push_back("name=no-new-privileges");
  struct utsname u{};
  ::uname(&u);
  struct sysinfo si{};
  ::sysinfo(&si);
  std::error_code ec;
  std::string self = fs::read_symlink("/proc/self/exe", ec).string();
  return {{"Containers", total},
          {"ContainersRunning", running},
          {"ContainersPaused", paused},
          {"ContainersStopped", total - running - paused},
          {"Images", images},
          {"Driver", "overlay2"},
          {"LoggingDriver", "json-file"},
          {"CgroupDriver", "cgroupfs"},
          {"CgroupVersion", detect_cgroup_mode() == CgroupMode::v2 ? "2" : "1"},
          {"KernelVersion", u.release},
          {"OperatingSystem", operating_system()},
          {"OSType", "linux"},
          {"Architecture", u.machine},
          {"NCPU", ::sysconf(_SC_NPROCESSORS_ONLN)},
          {"MemTotal", static_cast<std::uint64_t>(si.totalram) * si.mem_unit},
          {"DockerRootDir", global.root},
          {"Name", u.nodename},
          {"ServerVersion", CPPCKER_VERSION},
          {"Runtimes", {{"cppcker", {{"path", self}}}}},
          {"DefaultRuntime", "cppcker"},
          {"SecurityOptions", security}};
}

std::string info_text(const nlohmann::ordered_json& j) {
  auto s = [](const nlohmann::ordered_json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
  std::string out;
  out += "Containers: " + s(j["Containers"]) + "\n";
  out += " Running: " + s(j["ContainersRunning"]) + "\n";
  out += " Paused: " + s(j["ContainersPaused"]) + "\n";
  out += " Stopped: " + s(j["ContainersStopped"]) + "\n";
  out += "Images: " + s(j["Images"]) + "\n";
  out += "Cppcker Version: " + s(j["ServerVersion"]) + "\n";
  out += "Storage Driver: " + s(j["Driver"]) + "\n";
  out += "Logging Driver: " + s(j["LoggingDriver"]) + "\n";
  out += "Cgroup Driver: " + s(j["CgroupDriver"]) + "\n";
  out += "Cgroup Version: " + s(j["CgroupVersion"]) + "\n";
  std::string runtimes;
  for (const auto& [name, _] : j["Runtimes"].items()) runtimes += (runtimes.empty() ? "" : " ") + name;
  out += "Runtimes: " + runtimes + "\n";
  out += "Default Runtime: " + s(j["DefaultRuntime"]) + "\n";
  // Docker's layout of "name=seccomp,profile=default": the name, then each other key indented below it.
  out += "Security Options:\n";
  for (const auto& option : j["SecurityOptions"]) {
    for (const auto& kv : split(option.get<std::string>(), ',')) {
      auto eq = kv.find('=');
      std::string key = kv.substr(0, eq), value = eq == std::string::npos ? "" : kv.substr(eq + 1);
      if (key == "name") out += " " + value + "\n";
      else out += "  " + std::string(1, static_cast<char>(std::toupper(key[0]))) + key.substr(1) + ": " + value + "\n";
    }
  }
  out += "Kernel Version: " + s(j["KernelVersion"]) + "\n";
  out += "Operating System: " + s(j["OperatingSystem"]) + "\n";
  out += "OSType: " + s(j["OSType"]) + "\n";
  out += "Architecture: " + s(j["Architecture"]) + "\n";
  out += "CPUs: " + s(j["NCPU"]) + "\n";
  out += "Total Memory: " + bytes_size(j["MemTotal"].get<double>()) + "\n";
  out += "Name: " + s(j["Name"]) + "\n";
  out += "Cppcker Root Dir: " + s(j["DockerRootDir"]) + "\n";
  return out;
}

}  // namespace

void register_info(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("info", "Display system-wide information");
  auto format = std::make_shared<std::string>();
  cmd->add_option("-f,--format", *format, "Format the output: \"json\"");
  set_action(cmd, [&global, format] { return print_formatted(info_json(global), *format, info_text); });
}

}  // namespace cppcker::cli
