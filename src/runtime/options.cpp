#include "cppcker/runtime/options.hpp"

#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

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

std::vector<std::string> merge_env(std::vector<std::string> base, const std::vector<std::string>& overrides) {
  for (const auto& o : overrides) {
    std::string key = o.substr(0, o.find('='));
    bool replaced = false;
    for (auto& b : base)
      if (b.substr(0, b.find('=')) == key) {
        b = o;
        replaced = true;
      }
    if (!replaced) base.push_back(o);
  }
  return base;
}

}  // namespace cppcker
