// cppcker: a daemonless, Docker-style container runtime.
#include <sys/stat.h>

#include <clocale>
#include <cstdlib>
#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cppcker/cli/commands.hpp"
#include "cppcker/runtime/networking.hpp"
#include "cppcker/runtime/process.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::cli {

namespace {
Action g_action;
}

void set_action(CLI::App* command, Action action) {
  command->callback([action = std::move(action)] { g_action = action; });
}

int for_each_argument(const std::vector<std::string>& arguments, const std::function<void(const std::string&)>& each) {
  int status = 0;
  for (const auto& argument : arguments) {
    try {
      each(argument);
    } catch (const Error& e) {
      std::cout.flush();
      std::cerr << "Error: " << e.what() << "\n";
      status = 1;
    }
  }
  return status;
}

int print_inspected(const std::vector<std::string>& names,
                    const std::function<nlohmann::ordered_json(const std::string&)>& describe) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  std::vector<std::string> errors;
  for (const auto& n : names) {
    try {
      out.push_back(describe(n));
    } catch (const Error& e) {
      errors.push_back(e.what());
    }
  }
  std::cout << out.dump(4) << "\n";
  std::cout.flush();
  for (const auto& e : errors) std::cerr << "Error: " << e << "\n";
  return errors.empty() ? 0 : 1;
}

std::string short_id(const std::string& digest) {
  std::string hex = digest.rfind("sha256:", 0) == 0 ? digest.substr(7) : digest;
  return hex.substr(0, 12);
}

// Display width of UTF-8 text: code points, not bytes ("…" is one column).
static std::size_t display_width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
  // Docker: columns padded to the widest cell plus three spaces; the last column is not padded.
  std::vector<std::size_t> width;
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i) width.resize(i + 1, 0);
      width[i] = std::max(width[i], display_width(row[i]));
    }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - display_width(row[i]) + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace cppcker::cli

int main(int argc, char** argv) {
  using namespace cppcker;
  // State is private: records hold the containers' environment (secrets), logs what they print.
  ::umask(077);
  // Hidden stages that cppcker re-executes itself into through /proc/self/exe.
  if (argc == 3 && std::string_view(argv[1]) == "child-mode") return child_mode_main(std::atoi(argv[2]));
  if (argc == 3 && std::string_view(argv[1]) == "setup-netns") return setup_netns_stage(argv[2]);
  if (argc == 3 && std::string_view(argv[1]) == "setup-veth") return setup_veth_stage(argv[2]);
  std::setlocale(LC_CTYPE, "C.UTF-8");  // file names in layers are UTF-8
  auto logger = spdlog::stderr_color_st("cppcker");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%^%l%$: %v");

  cli::GlobalOptions global;
  const char* env_root = std::getenv("CPPCKER_ROOT");
  global.root = env_root && *env_root ? env_root : "/var/lib/cppcker";
  global.config_path = "/etc/cppcker/config.json";

  CLI::App app{"cppcker: a daemonless, Docker-style container runtime", "cppcker"};
  app.set_version_flag("-v,--version", "cppcker version 0.1.0");
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--root", global.root, "Root of the state directory (env CPPCKER_ROOT)")
      ->capture_default_str();
  auto* config_opt =
      app.add_option("--config", global.config_path, "Configuration file (registries, credentials, default bridge and address pools)")
          ->capture_default_str();
  app.add_option("-l,--log-level", global.log_level, "Log level (debug, info, warn, error)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();

  cli::register_pull(app, global);
  cli::register_images(app, global);
  cli::register_rmi(app, global);
  cli::register_tag(app, global);
  cli::register_inspect(app, global);
  cli::register_load(app, global);
  cli::register_save(app, global);
  cli::register_run(app, global);
  cli::register_ps(app, global);
  cli::register_rm(app, global);
  cli::register_stop(app, global);
  cli::register_kill(app, global);
  cli::register_logs(app, global);
  cli::register_exec(app, global);
  cli::register_start(app, global);
  cli::register_restart(app, global);
  cli::register_volume(app, global);
  cli::register_network(app, global);
  cli::register_port(app, global);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "cppcker: " << e.what() << "\nSee 'cppcker --help'.\n";
    return 125;  // Docker's status for its own usage errors
  }
  global.config_given = config_opt->count() > 0;
  spdlog::set_level(spdlog::level::from_str(global.log_level));

  try {
    return cli::g_action ? cli::g_action() : 0;
  } catch (const Error& e) {
    std::cout.flush();
    std::cerr << "Error: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "Error: " << e.what() << "\n";
    return 125;
  }
}
