#pragma once
// The command-line layer: parses, calls the library, prints. One register_* per command file.
#include <filesystem>
#include <functional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cppcker/network/network.hpp"
#include "cppcker/registry/config.hpp"
#include "cppcker/runtime/config.hpp"
#include "cppcker/storage/store.hpp"

namespace cppcker::cli {

struct GlobalOptions {
  std::string root;
  std::string config_path;
  bool config_given = false;
  std::string log_level = "warn";

  ImageStore store() const { return ImageStore(root); }
  RegistryConfig registry_config() const { return RegistryConfig::load(config_path, config_given); }
  NetworkStore networks() const { return NetworkStore(root, NetworkConfig::load(config_path, config_given)); }
  RuntimeConfig runtime_config() const { return RuntimeConfig::load(config_path, config_given); }
};

// A command's work; its return value is the process exit code.
using Action = std::function<int()>;
// Sets the subcommand's callback so that it records `action` for main to run after parsing.
void set_action(CLI::App* command, Action action);

void register_pull(CLI::App& app, GlobalOptions& global);
void register_images(CLI::App& app, GlobalOptions& global);
void register_rmi(CLI::App& app, GlobalOptions& global);
void register_tag(CLI::App& app, GlobalOptions& global);
void register_inspect(CLI::App& app, GlobalOptions& global);
void register_load(CLI::App& app, GlobalOptions& global);
void register_save(CLI::App& app, GlobalOptions& global);
void register_run(CLI::App& app, GlobalOptions& global);
void register_ps(CLI::App& app, GlobalOptions& global);
void register_rm(CLI::App& app, GlobalOptions& global);
void register_stop(CLI::App& app, GlobalOptions& global);
void register_kill(CLI::App& app, GlobalOptions& global);
void register_logs(CLI::App& app, GlobalOptions& global);
void register_exec(CLI::App& app, GlobalOptions& global);
void register_start(CLI::App& app, GlobalOptions& global);
void register_restart(CLI::App& app, GlobalOptions& global);
void register_volume(CLI::App& app, GlobalOptions& global);
void register_network(CLI::App& app, GlobalOptions& global);
void register_port(CLI::App& app, GlobalOptions& global);

// Docker's way with several arguments: `each` for every one in turn; a failure prints "Error: ..." and
// the next one is tried. Returns the exit code: 1 if any failed.
int for_each_argument(const std::vector<std::string>& arguments, const std::function<void(const std::string&)>& each);

// Docker's `... inspect A B`: one JSON array of what `describe` returns for each name, then an
// "Error: ..." line for each name it failed on. Returns the exit code: 1 if any failed.
int print_inspected(const std::vector<std::string>& names,
                    const std::function<nlohmann::ordered_json(const std::string&)>& describe);

// Shared printing helpers.
std::string short_id(const std::string& digest);                // 12 hex characters
std::string format_table(const std::vector<std::vector<std::string>>& rows);  // Docker's tabwriter layout

}  // namespace cppcker::cli
