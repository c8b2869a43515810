#pragma once
// Parsing of the values `run` takes, with Docker's rules and error wording.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace cppcker {

// Docker's RAMInBytes: "128m", "1g", "512k", "1024" (bytes), binary units. Throws Error.
std::int64_t parse_memory_size(const std::string& text, const std::string& flag);
// --cpus: 0.01 up to the number of CPUs of this machine.
double parse_cpus(const std::string& text);
// KEY=VALUE stays; a bare KEY takes the value from this process's environment (or is dropped).
std::vector<std::string> parse_env(const std::vector<std::string>& entries);
// Lines of an --env-file: KEY=VALUE or KEY, comments and blank lines skipped.
std::vector<std::string> read_env_file(const std::string& path);
// --label-file files (lines of KEY=VALUE or KEY, `#` comments and blank lines skipped), then --label
// values on top, as Docker reads them (a later value of a key wins; KEY alone is an empty value).
std::map<std::string, std::string> parse_labels(const std::vector<std::string>& files, const std::vector<std::string>& labels);
// --expose values ("80", "80/udp", "8000-8010/tcp") as Docker's Config.ExposedPorts keys ("80/tcp"), a
// range one key per port. Throws Error (125) with Docker's wording.
std::vector<std::string> parse_expose(const std::vector<std::string>& values);
// --cpuset-cpus checked against the CPUs this machine has online (a list such as "0-3,5"). Throws Error
// (125): Docker's "Invalid value ... for cpuset cpus" or "Requested CPUs are not available ...".
void check_cpuset_cpus(const std::string& requested, const std::string& online);
std::string online_cpus();  // /sys/devices/system/cpu/online, e.g. "0-1"
// Merges `overrides` into `base` by key (later wins), keeping base order.
std::vector<std::string> merge_env(std::vector<std::string> base, const std::vector<std::string>& overrides);

}  // namespace cppcker
