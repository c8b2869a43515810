#include "cppcker/runtime/config.hpp"

#include <sys/resource.h>

#include <cctype>

#include <nlohmann/json.hpp>

#include "cppcker/runtime/options.hpp"
#include "cppcker/security/capabilities.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker {

namespace {

struct UlimitName {
  const char* name;
  const char* type;
  int resource;
};
constexpr UlimitName kUlimits[] = {
    {"as", "RLIMIT_AS", RLIMIT_AS},           {"core", "RLIMIT_CORE", RLIMIT_CORE},
    {"cpu", "RLIMIT_CPU", RLIMIT_CPU},        {"data", "RLIMIT_DATA", RLIMIT_DATA},
    {"fsize", "RLIMIT_FSIZE", RLIMIT_FSIZE},  {"locks", "RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"memlock", "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"msgqueue", "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"nice", "RLIMIT_NICE", RLIMIT_NICE},     {"nofile", "RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"nproc", "RLIMIT_NPROC", RLIMIT_NPROC},  {"rss", "RLIMIT_RSS", RLIMIT_RSS},
    {"rtprio", "RLIMIT_RTPRIO", RLIMIT_RTPRIO}, {"rttime", "RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"sigpending", "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING}, {"stack", "RLIMIT_STACK", RLIMIT_STACK}};

std::uint64_t parse_limit(const std::string& value, const std::string& text) {
  if (value == "-1" || value == "unlimited") return RLIM_INFINITY;
  std::size_t pos = 0;
  std::uint64_t v = 0;
  try {
    if (value.empty() || !std::isdigit(static_cast<unsigned char>(value[0]))) throw std::invalid_argument(value);
    v = std::stoull(value, &pos);
  } catch (const std::exception&) {
    throw Error("invalid argument \"" + text + "\" for \"--ulimit\" flag: invalid ulimit value: " + value, 125);
  }
  if (pos != value.size()) throw Error("invalid argument \"" + text + "\" for \"--ulimit\" flag: invalid ulimit value: " + value, 125);
  return v;
}

oci::Rlimit make_rlimit(const std::string& name, std::uint64_t soft, std::uint64_t hard, const std::string& text) {
  for (const auto& u : kUlimits) {
    if (name != u.name) continue;
    if (soft > hard)
      throw Error("invalid argument \"" + text + "\" for \"--ulimit\" flag: ulimit soft limit must be less than or equal to hard limit: " +
                      std::to_string(soft) + " > " + std::to_string(hard),
                  125);
    rlimit current{};
    // Raising a hard limit needs CAP_SYS_RESOURCE, which this host may not give: say so now.
    if (::getrlimit(u.resource, &current) == 0 && hard > current.rlim_max &&
        !(effective_capabilities() & (std::uint64_t{1} << *capability_number("CAP_SYS_RESOURCE"))))
      throw Error("ulimit " + text + ": the hard limit " + std::to_string(hard) + " is above this host's " +
                      (current.rlim_max == RLIM_INFINITY ? std::string("unlimited") : std::to_string(current.rlim_max)) +
                      " and raising it needs CAP_SYS_RESOURCE, which cppcker does not have here",
                  125);
    return {u.type, hard, soft};
  }
  throw Error("invalid argument \"" + text + "\" for \"--ulimit\" flag: invalid ulimit type: " + name, 125);
}

}  // namespace

oci::Rlimit parse_ulimit(const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos) throw Error("invalid argument \"" + text + "\" for \"--ulimit\" flag: invalid ulimit argument: " + text, 125);
  std::string name = text.substr(0, eq), values = text.substr(eq + 1);
  auto colon = values.find(':');
  std::uint64_t soft = parse_limit(values.substr(0, colon), text);
  std::uint64_t hard = colon == std::string::npos ? soft : parse_limit(values.substr(colon + 1), text);
  return make_rlimit(name, soft, hard, text);
}

RuntimeConfig RuntimeConfig::parse(const std::string& text) {
  using nlohmann::json;
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error("config file: invalid JSON", 125);
  RuntimeConfig c;
  try {
    c.no_new_privileges = j.value("no-new-privileges", false);
    c.userns_remap = j.value("userns-remap", "");
    if (!c.userns_remap.empty() && c.userns_remap != "default")
      throw Error("config file: userns-remap: only \"default\" (the user cppcker) is supported, not \"" + c.userns_remap + "\"", 125);
    c.seccomp_profile = j.value("seccomp-profile", "");
    if (j.contains("default-shm-size"))
      c.default_shm_size = parse_memory_size(j["default-shm-size"].get<std::string>(), "default-shm-size");
    if (j.contains("default-pids-limit")) c.default_pids_limit = j["default-pids-limit"].get<std::int64_t>();
    if (j.contains("default-ulimits"))
      for (auto& [name, u] : j["default-ulimits"].items()) {
        std::uint64_t hard = u.value("Hard", std::uint64_t{0}), soft = u.value("Soft", std::uint64_t{0});
        c.default_ulimits.push_back(make_rlimit(u.value("Name", name), soft, hard, name));
      }
  } catch (const json::exception& e) {
    throw Error(std::string("config file: ") + e.what(), 125);
  }
  return c;
}

RuntimeConfig RuntimeConfig::load(const fs::path& path, bool required) {
  auto text = read_file_if_exists(path);
  if (!text) {
    if (required) throw Error("config file " + path.string() + " not found");
    return {};
  }
  return parse(*text);
}

}  // namespace cppcker
