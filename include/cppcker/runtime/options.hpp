#pragma once
// Parsing of the values `run` takes, with Docker's rules and error wording.
#include <cstdint>
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
// Merges `overrides` into `base` by key (later wins), keeping base order.
std::vector<std::string> merge_env(std::vector<std::string> base, const std::vector<std::string>& overrides);

}  // namespace cppcker
