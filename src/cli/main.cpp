// cppcker: a daemonless, Docker-style container runtime.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <clocale>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string_view>
#include <utility>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cppcker/cli/commands.hpp"
#include "cppcker/ocicli/ocicli.hpp"
#include "cppcker/runtime/monitor.hpp"
#include "cppcker/runtime/networking.hpp"
#include "cppcker/runtime/process.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/prefault.hpp"
#include "cppcker/util/timing.hpp"

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
  // Docker's tabwriter (minwidth 10, padding 3): a column is as wide as its widest cell plus three
  // spaces, and at least ten; the last column is not padded.
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
      if (i + 1 < row.size()) line += std::string(std::max<std::size_t>(width[i] + 3, 10) - display_width(row[i]), ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}


CLI::App* deepest_command(CLI::App& app) {
  CLI::App* cmd = &app;
  while (!cmd->get_subcommands().empty()) cmd = cmd->get_subcommands().front();
  return cmd;
}

namespace {

// Root options that take a value: skipped when looking for the command word.
bool takes_value(const CLI::App& app, const std::string& arg) {
  if (arg.find('=') != std::string::npos) return false;
  for (const CLI::Option* o : app.get_options())
    if (o->nonpositional() && o->get_expected_max() != 0 &&
        ((arg.rfind("--", 0) == 0 && o->check_lname(arg.substr(2))) || (arg.size() == 2 && o->check_sname(arg.substr(1)))))
      return true;
  return false;
}

const CLI::App* find_subcommand(const CLI::App* app, const std::string& name) {
  for (const CLI::App* s : app->get_subcommands([](const CLI::App*) { return true; }))
    if (s->get_name() == name) return s;
  return nullptr;
}

bool has_subcommands(const CLI::App* app) {
  return !app->get_subcommands([](const CLI::App* s) { return !s->get_name().empty(); }).empty();
}

// The first unknown flag among the arguments CLI11 left over (an image or container name never starts
// with "-"; a lone "-" is an argument). For run and exec (`prefix`) only what precedes the image or
// container: the command's own arguments after it (`ls -la`) are not cppcker's flags.
std::optional<std::string> first_flag(const std::vector<std::string>& args, bool prefix) {
  for (const auto& a : args) {
    if (a == "--") return std::nullopt;
    if (a.size() > 1 && a[0] == '-') return a;
    if (prefix) return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

std::optional<int> check_command_words(CLI::App& app, int argc, char** argv) {
  // Docker: a bare `cppcker` prints its help; a word that is no command is refused before any flag (even
  // --help) is looked at; a management command alone prints its help, with an unknown subcommand its usage.
  const CLI::App* cmd = &app;
  bool other_flag = false;  // --help, --version, an unknown one: CLI11 answers those
  int i = 1;
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") break;
    if (arg.size() > 1 && arg[0] == '-') {
      if (cmd != &app) break;  // the command's own flags: CLI11 reads them
      if (takes_value(app, arg)) ++i;
      else if (!takes_value(app, arg.substr(0, arg.find('=')))) other_flag = true;
      continue;
    }
    const CLI::App* sub = find_subcommand(cmd, arg);
    if (!sub) {
      if (cmd == &app) {
        std::cerr << "cppcker: '" << arg << "' is not a cppcker command.\nSee 'cppcker --help'\n";
        return 1;
      }
      std::cerr << help_text(cmd);
      return 1;
    }
    cmd = sub;
    if (!has_subcommands(cmd)) break;
  }
  if (has_subcommands(cmd) && i >= argc && !other_flag) {
    std::cout << help_text(cmd);
    return 0;
  }
  return std::nullopt;
}

// The command word of a command line: the first argument that is neither one of `app`'s own options (the
// global ones, declared before) nor its value; empty when a flag that is no global option comes first
// (--help, --version, an unknown one).
std::string_view command_word(const CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (!a.starts_with("-")) return argv[i];
    if (takes_value(app, a)) {
      ++i;  // "--root DIR", "-l debug"
      continue;
    }
    const bool value_attached = takes_value(app, a.substr(0, a.find('='))) ||     // "--root=DIR"
                                (a.size() > 2 && a[1] != '-' && takes_value(app, a.substr(0, 2)));  // "-ldebug"
    if (!value_attached) return {};
  }
  return {};
}

int report_parse_error(CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  CLI::App* cmd = deepest_command(app);
  std::vector<std::string> left = app.remaining(true);
  // Docker reads the flags first: an unknown one is reported before a missing argument.
  if (auto flag = first_flag(left, cmd->get_prefix_command())) {
    // CLI11 takes the known letters off a group ("-az" leaves "-z"); pflag names the group as typed.
    if (flag->rfind("--", 0) != 0)
      for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a.size() > flag->size() && a[0] == '-' && a[1] != '-' && a.substr(a.size() - (flag->size() - 1)) == flag->substr(1)) {
          *flag = a;
          break;
        }
      }
    std::cerr << unknown_flag_error(cmd, *flag) << "\n";
    return 125;
  }
  if (dynamic_cast<const CLI::RequiredError*>(&e) || dynamic_cast<const CLI::ExtrasError*>(&e)) {
    std::string message = argument_count_error(cmd, given_arguments(cmd) + left.size());
    if (!message.empty()) {
      std::cerr << message << "\n";
      return 1;
    }
  }
  // A bad value: pflag's wording differs, the layout and status are Docker's.
  std::cerr << e.what() << "\nSee 'cppcker" << (command_path(cmd).empty() ? "" : " " + command_path(cmd)) << " --help'.\n";
  return 125;
}

std::optional<int> check_parsed(CLI::App& app) {
  CLI::App* cmd = deepest_command(app);
  if (cmd->get_prefix_command()) {
    // run/exec stop reading options at the first word they do not know: a flag there is an unknown one.
    std::vector<std::string> rest = cmd->remaining();
    if (!rest.empty() && rest.front().size() > 1 && rest.front()[0] == '-') {
      std::cerr << unknown_flag_error(cmd, rest.front()) << "\n";
      return 125;
    }
    std::string message = argument_count_error(cmd, rest.size());
    if (!message.empty()) {
      std::cerr << message << "\n";
      return 1;
    }
  }
  if (needs_root(cmd) && ::geteuid() != 0) {
    std::cerr << "cppcker: this command needs root privileges (try sudo cppcker"
              << (command_path(cmd).empty() ? "" : " " + command_path(cmd)) << ")\n";
    return 1;
  }
  return std::nullopt;
}

}  // namespace cppcker::cli

namespace {

// The first code of every exec, before the other constructors (CLI11's validators and iostreams' in the
// CLI's unit, libnl's, libstdc++'s).
// - The child-mode stage, on every container's start path, runs from here and exits: it needs none of
//   those. The library it runs has no static constructors of its own (the test
//   `library_has_no_static_constructors` keeps it so), it uses neither iostreams nor libnl, and libstdc++'s
//   only register destructors, mark guards and fill the exception pool that is used when malloc fails.
//   Its code is not mapped at once (below): it runs a fraction of it. Measured here, one exec of the stage
//   to its first system call: 5.7 ms before, 4.7 ms so (0.3 ms of it the mapping; on a whole `run`, the
//   mapping and the faults it saves came out even).
// - Every other exec maps its code at once: util/prefault.hpp. Not monitor-wait, which must stay small
//   while its container runs.
// glibc passes a constructor of the program its argc and argv.
__attribute__((constructor(101))) void start_of_exec(int argc, char** argv, char**) {
  if ((argc == 3 || argc == 4) && std::strcmp(argv[1], "child-mode") == 0)
    std::exit(cppcker::child_mode_main(std::atoi(argv[2]), argc == 4 ? static_cast<unsigned>(std::atoi(argv[3])) : 0u));
  if (argc >= 2 && std::strcmp(argv[1], "monitor-wait") == 0) return;
  cppcker::prefault_program_code();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace cppcker;
  const std::int64_t entered = monotonic_ns();
  // State is private: records hold the containers' environment (secrets), logs what they print.
  ::umask(077);
  // Hidden stages that cppcker re-executes itself into through /proc/self/exe (child-mode: above).
  if (argc == 3 && std::string_view(argv[1]) == "setup-netns") return setup_netns_stage(argv[2]);
  if (argc == 3 && std::string_view(argv[1]) == "setup-veth") return setup_veth_stage(argv[2]);
  if (argc == 3 && std::string_view(argv[1]) == "monitor") return monitor_main(std::atoi(argv[2]));
  if (argc == 3 && std::string_view(argv[1]) == "monitor-wait") return monitor_wait_main(std::atoi(argv[2]));
  // runc's command line (oci-cli/): as `cppcker-runc` (the link the install makes) and as `cppcker oci ...`.
  if (argc >= 1 && std::filesystem::path(argv[0]).filename() == "cppcker-runc")
    return ocicli::main(argc, argv, "cppcker-runc");
  if (argc >= 2 && std::string_view(argv[1]) == "oci") return ocicli::main(argc - 1, argv + 1, "cppcker oci");
  timing_mark("cli", entered);
  std::setlocale(LC_CTYPE, "C.UTF-8");  // file names in layers are UTF-8
  auto logger = spdlog::stderr_color_st("cppcker");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%^%l%$: %v");

  cli::GlobalOptions global;
  const char* env_root = std::getenv("CPPCKER_ROOT");
  global.root = env_root && *env_root ? env_root : "/var/lib/cppcker";
  global.config_path = "/etc/cppcker/config.json";

  CLI::App app{"A daemonless, Docker-style container runtime", "cppcker"};
  app.formatter(cli::make_help_formatter());  // before the subcommands: they inherit it
  app.set_version_flag("-v,--version", "cppcker version " CPPCKER_VERSION, "Print version information and quit");
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
  const std::string_view word = cli::command_word(app, argc, argv);

  // The command tree in help order. Building all of it costs ~3 ms of allocations and page faults per
  // exec; a known command word builds only its own command (the full tree serves help, errors and the
  // shell completion, which lists everything).
  // start_heap: the commands on the container start path make their heap at once (util/prefault.hpp),
  // before their command allocates. Measured, one that starts a container grows the heap to ~500 kB, exec
  // and ps to ~250 kB. Not the image commands: a fixed mmap threshold would take their large buffers away
  // from glibc's adaptive one.
  using Register = void (*)(CLI::App&, cli::GlobalOptions&);
  struct Command {
    std::string_view name;
    Register add;
    std::size_t start_heap = 0;  // bytes; 0: none
  };
  constexpr std::size_t kStartHeap = 512 * 1024, kExecHeap = 256 * 1024;
  static constexpr Command kCommands[] = {
      {"pull", cli::register_pull},
      {"images", cli::register_images},
      {"rmi", cli::register_rmi},
      {"tag", cli::register_tag},
      {"inspect", cli::register_inspect},
      {"load", cli::register_load},
      {"save", cli::register_save},
      {"run", cli::register_run, kStartHeap},
      {"ps", cli::register_ps, kExecHeap},
      {"rm", cli::register_rm},
      {"stop", cli::register_stop},
      {"kill", cli::register_kill},
      {"logs", cli::register_logs},
      {"exec", cli::register_exec, kExecHeap},
      {"start", cli::register_start, kStartHeap},
      {"restart", cli::register_restart, kStartHeap},
      {"volume", cli::register_volume},
      {"network", cli::register_network},
      {"port", cli::register_port},
      {"version", cli::register_version},
      {"info", cli::register_info},
      {"commit", cli::register_commit},
      {"diff", cli::register_diff},
      {"history", cli::register_history},
      {"import", cli::register_import},
      {"cp", cli::register_cp},
      {"export", cli::register_export},
      {"push", cli::register_push},
      {"login", cli::register_login},
      {"logout", cli::register_logout},
      {"create", cli::register_create, kStartHeap},
      {"rename", cli::register_rename},
      {"wait", cli::register_wait},
      {"top", cli::register_top},
      {"pause", cli::register_pause},
      {"unpause", cli::register_pause},
      {"stats", cli::register_stats},
      {"container", cli::register_container},
      {"image", cli::register_image},
      {"system", cli::register_system},
      {"build", cli::register_build},
      {"builder", cli::register_builder},
      {"completion", cli::register_completion},
  };
  const auto only = std::find_if(std::begin(kCommands), std::end(kCommands), [&](const Command& c) { return c.name == word; });
  if (only != std::end(kCommands) && only->start_heap != 0) prefault_heap(only->start_heap);
  if (only != std::end(kCommands) && word != "completion") {
    only->add(app, global);
  } else {
    Register last = nullptr;
    for (const Command& c : kCommands)
      if (c.add != last) c.add(app, global), last = c.add;  // pause and unpause: one registration
  }

  if (auto status = cli::check_command_words(app, argc, argv)) return *status;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << cli::help_text(cli::deepest_command(app));
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << cli::help_text(cli::deepest_command(app));
    return 0;
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return cli::report_parse_error(app, e, argc, argv);
  }
  if (auto status = cli::check_parsed(app)) return *status;
  global.config_given = config_opt->count() > 0;
  // The state's paths go into mount options and to stages with another working directory: a relative
  // --root (or CPPCKER_ROOT) is made absolute once, here.
  if (!global.root.empty()) global.root = std::filesystem::absolute(global.root).lexically_normal().string();
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
