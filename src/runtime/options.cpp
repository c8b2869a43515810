#include "cppcker/runtime/options.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <cstdlib>
#include <set>
#include <sstream>

#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker {

std::int64_t parse_memory_size(const std::string& text, const std::string& flag) {
  auto invalid = [&] { return Error("invalid argument \"" + text + "\" for \"" + flag + "\" flag: invalid size: '" + text + "'", 125); };
  if (text.empty()) throw invalid();
  std::size_t pos = 0;
  double value;
  try {
    value = std::stod(text, &pos);
  } catch (...) {
    throw invalid();
  }
  if (value < 0 || !std::isfinite(value)) throw invalid();
  std::string unit = text.substr(pos);
  for (char& ch : unit) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (unit.size() == 2 && unit[1] == 'b') unit.pop_back();
  if (unit.size() == 3 && unit.substr(1) == "ib") unit = unit.substr(0, 1);
  double mult = 1;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "k") mult = 1024.0;
  else if (unit == "m") mult = 1024.0 * 1024;
  else if (unit == "g") mult = 1024.0 * 1024 * 1024;
  else if (unit == "t") mult = 1024.0 * 1024 * 1024 * 1024;
  else throw invalid();
  return static_cast<std::int64_t>(value * mult);
}

double parse_cpus(const std::string& text) {
  double cpus;
  std::size_t pos = 0;
  try {
    cpus = std::stod(text, &pos);
  } catch (...) {
    throw Error("invalid argument \"" + text + "\" for \"--cpus\" flag: failed to parse " + text + " as a rational number", 125);
  }
  if (pos != text.size() || !std::isfinite(cpus))
    throw Error("invalid argument \"" + text + "\" for \"--cpus\" flag: failed to parse " + text + " as a rational number", 125);
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus < 0.01 || cpus > static_cast<double>(n)) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "range of CPUs is from 0.01 to %ld.00, as there are only %ld CPUs available", n, n);
    throw Error(buf, 125);
  }
  return cpus;
}

std::vector<std::string> parse_env(const std::vector<std::string>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) {
    if (e.empty() || e.front() == '=') throw Error("invalid environment variable: " + e, 125);
    if (e.find('=') != std::string::npos) {
      out.push_back(e);
    } else if (const char* v = std::getenv(e.c_str())) {
      out.push_back(e + "=" + v);
    }
  }
  return out;
}

std::vector<std::string> read_env_file(const std::string& path) {
  auto text = read_file_if_exists(path);
  if (!text) throw Error("open " + path + ": no such file or directory", 125);
  std::vector<std::string> lines;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    lines.push_back(line.substr(start));
  }
  return parse_env(lines);
}

namespace {

// The lines of a KEY[=VALUE] file as Docker's parseKeyValueFile keeps them.
std::vector<std::string> key_value_lines(const std::string& path) {
  auto text = read_file_if_exists(path);
  if (!text) throw Error("open " + path + ": no such file or directory", 125);
  std::vector<std::string> lines;
  std::istringstream in(*text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::size_t start = line.find_first_not_of(" \t\n\v\f\r");
    if (start == std::string::npos || line[start] == '#') continue;
    line.erase(0, start);
    std::string key = line.substr(0, line.find('='));
    if (key.find_first_of(" \t") != std::string::npos)
      throw Error("variable '" + key + "' contains whitespaces", 125);
    if (key.empty()) throw Error("no variable name on line '" + line + "'", 125);
    lines.push_back(line);
  }
  return lines;
}

}  // namespace

std::map<std::string, std::string> parse_labels(const std::vector<std::string>& files, const std::vector<std::string>& labels) {
  std::vector<std::string> all;
  for (const auto& f : files) {
    auto more = key_value_lines(f);
    all.insert(all.end(), more.begin(), more.end());
  }
  all.insert(all.end(), labels.begin(), labels.end());
  std::map<std::string, std::string> out;
  for (const auto& l : all) {
    auto eq = l.find('=');
    if (eq == 0 || l.empty()) throw Error("invalid label '" + l + "': empty name", 125);
    out[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  return out;
}

namespace {

// Go's strconv.ParseUint(s, 10, 16) as Docker's nat.ParsePortRange calls it, with its error text.
std::uint64_t parse_port_number(const std::string& s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
    throw std::invalid_argument("strconv.ParseUint: parsing \"" + s + "\": invalid syntax");
  if (s.size() > 5 || std::stoul(s) > 65535)
    throw std::invalid_argument("strconv.ParseUint: parsing \"" + s + "\": value out of range");
  return std::stoul(s);
}

}  // namespace

std::vector<std::string> parse_expose(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& e : values) {
    if (e.find(':') != std::string::npos) throw Error("invalid port format for --expose: " + e, 125);
    auto slash = e.find('/');
    std::string port = e.substr(0, slash);
    std::string proto = slash == std::string::npos ? "tcp" : e.substr(slash + 1);
    if (proto.empty()) proto = "tcp";
    std::uint64_t first = 0, last = 0;
    try {
      if (port.empty()) throw std::invalid_argument("Empty string specified for ports.");
      auto dash = port.find('-');
      first = parse_port_number(port.substr(0, dash));
      last = dash == std::string::npos ? first : parse_port_number(port.substr(dash + 1));
      if (last < first) throw std::invalid_argument("Invalid range specified for the Port: " + port);
    } catch (const std::invalid_argument& why) {
      throw Error("invalid range format for --expose: " + e + ", error: " + why.what(), 125);
    }
    for (std::uint64_t p = first; p <= last; ++p) {
      std::string key = std::to_string(p) + "/" + proto;
      if (std::find(out.begin(), out.end(), key) == out.end()) out.push_back(key);
    }
  }
  return out;
}

namespace {

// A CPU list ("0-3,5"), as Docker's parsers.ParseUintList reads it; nullopt when malformed.
std::optional<std::set<unsigned>> cpu_list(const std::string& text) {
  std::set<unsigned> out;
  if (text.empty()) return out;
  for (const auto& part : split(text, ',')) {
    auto dash = part.find('-');
    auto number = [](const std::string& s) -> std::optional<unsigned> {
      if (s.empty() || s.size() > 6 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
      return static_cast<unsigned>(std::stoul(s));
    };
    auto first = number(part.substr(0, dash));
    auto last = dash == std::string::npos ? first : number(part.substr(dash + 1));
    if (!first || !last || *last < *first) return std::nullopt;
    for (unsigned c = *first; c <= *last; ++c) out.insert(c);
  }
  return out;
}

}  // namespace

std::string online_cpus() {
  std::string text = read_file_if_exists("/sys/devices/system/cpu/online").value_or("");
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

void check_cpuset_cpus(const std::string& requested, const std::string& online) {
  auto wanted = cpu_list(requested);
  if (!wanted || wanted->empty()) throw Error("Invalid value " + requested + " for cpuset cpus", 125);
  auto available = cpu_list(online);
  if (!available) return;  // the machine's own list unreadable: the cgroup write decides
  for (unsigned c : *wanted)
    if (!available->count(c))
      throw Error("Requested CPUs are not available - requested " + requested + ", available: " + online, 125);
}

std::vector<std::string> merge_env(std::vector<std::string> base, const std::vector<std::string>& overrides) {
  // By key through an index: 20,000 -e values must not cost 20,000 scans of the environment.
  std::unordered_map<std::string, std::vector<std::size_t>> positions;
  for (std::size_t i = 0; i < base.size(); ++i) positions[base[i].substr(0, base[i].find('='))].push_back(i);
  for (const auto& o : overrides) {
    auto& at = positions[o.substr(0, o.find('='))];
    if (at.empty()) {
      at.push_back(base.size());
      base.push_back(o);
    } else {
      for (std::size_t i : at) base[i] = o;
    }
  }
  return base;
}

}  // namespace cppcker
