#pragma once
// The command-line layer: parses, calls the library, prints. One register_* per command file.
#include <filesystem>
#include <functional>
#include <optional>
#include <string_view>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cppcker/network/network.hpp"
#include "cppcker/registry/config.hpp"
#include "cppcker/runtime/config.hpp"
#include "cppcker/storage/layer_writer.hpp"
#include "cppcker/storage/store.hpp"

namespace cppcker {
struct Container;
class ContainerStore;
}  // namespace cppcker

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
void register_version(CLI::App& app, GlobalOptions& global);
void register_info(CLI::App& app, GlobalOptions& global);
void register_commit(CLI::App& app, GlobalOptions& global);
void register_diff(CLI::App& app, GlobalOptions& global);
void register_history(CLI::App& app, GlobalOptions& global);
void register_import(CLI::App& app, GlobalOptions& global);
void register_cp(CLI::App& app, GlobalOptions& global);
void register_export(CLI::App& app, GlobalOptions& global);
void register_push(CLI::App& app, GlobalOptions& global);
void register_login(CLI::App& app, GlobalOptions& global);
void register_logout(CLI::App& app, GlobalOptions& global);
void register_create(CLI::App& app, GlobalOptions& global);
void register_rename(CLI::App& app, GlobalOptions& global);
void register_wait(CLI::App& app, GlobalOptions& global);
void register_top(CLI::App& app, GlobalOptions& global);
void register_pause(CLI::App& app, GlobalOptions& global);  // pause and unpause
void register_stats(CLI::App& app, GlobalOptions& global);
void register_container(CLI::App& app, GlobalOptions& global);  // container prune
void register_image(CLI::App& app, GlobalOptions& global);      // image prune
void register_system(CLI::App& app, GlobalOptions& global);     // system df, system prune
void register_build(CLI::App& app, GlobalOptions& global);
void register_builder(CLI::App& app, GlobalOptions& global);    // builder prune
// `completion bash|zsh|fish` and the hidden `__complete KIND` that the scripts call for names.
void register_completion(CLI::App& app, GlobalOptions& global);

// What the CLI11 tree does not say about a command (help.cpp holds the table, keyed by command path).
enum class CompletionKind { none, container, image, container_or_image, network, volume };
struct CommandInfo {
  std::string_view path;      // "run", "network ls"; "" for cppcker itself
  std::string_view usage;     // Docker's usage after the path: "[OPTIONS] IMAGE [COMMAND] [ARG...]"
  std::string_view examples;  // lines indented by two spaces, or empty
  CompletionKind completion;  // what the command's arguments name
  bool needs_root;            // false: works for any user (help, version, completion)
  int min_args;               // for prefix commands (run, exec): the arguments they need; -1: from the positionals
};
const CommandInfo* command_info(const std::string& path);  // nullptr for a command the table lacks
std::string command_path(const CLI::App* cmd);             // "network ls"
std::string usage_line(const CLI::App* cmd);                // "cppcker rm [OPTIONS] CONTAINER [CONTAINER...]"
std::string help_text(const CLI::App* cmd);                 // Docker's --help layout
std::shared_ptr<CLI::FormatterBase> make_help_formatter();  // prints help_text for --help
bool needs_root(const CLI::App* cmd);
CompletionKind completion_kind(const CLI::App* cmd);

// Docker's cli/required.go: how many arguments a command takes, and its error when they are wrong.
struct ArgumentRule {
  std::size_t min = 0;
  std::optional<std::size_t> max;  // none: no limit
};
ArgumentRule argument_rule(const CLI::App* cmd);
std::size_t given_arguments(const CLI::App* cmd);  // positionals CLI11 assigned
// "" when `given` fits, else the whole message ("\"cppcker rm\" requires at least 1 argument.\nSee ...").
std::string argument_count_error(const CLI::App* cmd, std::size_t given);
// pflag's "unknown flag: --x" / "unknown shorthand flag: 'z' in -z" with the "See ... --help" line.
std::string unknown_flag_error(const CLI::App* cmd, const std::string& arg);

// Prints what `version`/`info` built: the JSON itself for `--format json`, else the human layout that
// `human` makes from it. The one place a `--format TEMPLATE` engine is wired in.
int print_formatted(const nlohmann::ordered_json& data, const std::string& format,
                    const std::function<std::string(const nlohmann::ordered_json&)>& human);

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
