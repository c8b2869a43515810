// cppcker-runc / cppcker oci: runc's command line. Global flags, dispatch, logging, errors -> exit status.
#include <fcntl.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "cppcker/format/template.hpp"
#include "cppcker/ocicli/ocicli.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"

#ifndef CPPCKER_VERSION
#define CPPCKER_VERSION "unknown"
#endif

namespace cppcker::ocicli {

namespace {

Action g_action;

struct LogSink {
  UniqueFd file;  // --log; stderr when not open
  bool json = false;
  bool debug = false;
} g_log;

// logrus's TextFormatter quotes a value unless it is made only of these characters.
bool needs_quoting(const std::string& s) {
  if (s.empty()) return true;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '/' || c == '@' || c == '^' || c == '+'))
      return true;
  return false;
}

// Go's time.RFC3339 in UTC (logrus's default timestamp layout).
std::string rfc3339_seconds() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void write_line(const std::string& line) {
  int fd = g_log.file ? g_log.file.get() : STDERR_FILENO;
  std::string_view rest = line;
  while (!rest.empty()) {
    ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report a failing log
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

// The global flags that take a value (as the next word unless given with "=").
const std::set<std::string> with_value = {"--root", "--log", "--log-format", "--rootless", "--criu"};

// The first word that is neither a global flag nor a global flag's value: the command.
std::optional<std::string> command_word(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") return std::nullopt;
    if (a.size() > 1 && a[0] == '-') {
      std::string name = a.substr(0, a.find('='));
      if (name.rfind("--", 0) != 0) name = "-" + name;  // Go's flags take -root as --root
      if (a.find('=') == std::string::npos && with_value.count(name)) ++i;
      continue;
    }
    return a;
  }
  return std::nullopt;
}

int g_error_status = 1;

// runc prints an error to stderr and also logs it; when the log is stderr, once.
int fatal(const std::string& message) {
  log(Level::error, message);
  if (!log_is_stderr()) std::cerr << message << "\n";
  return g_error_status;
}

// CLI11 takes long flags with two dashes only; Go's flag package (runc's) takes -flag as well. Only the
// words before the command's first argument are flags: what follows exec's container is the process's own.
std::vector<std::string> normalise_arguments(int argc, char** argv) {
  std::vector<std::string> args;
  bool seen_command = false, flags_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool flag = a.size() > 1 && a[0] == '-';
    if (a == "--") flags_done = true;
    if (!flags_done && flag && a[1] != '-' && a.substr(1, a.find('=') - 1).size() > 1) a = "-" + a;
    if (!seen_command && flag && a.find('=') == std::string::npos && with_value.count(a) && i + 1 < argc) {
      args.push_back(a);
      args.push_back(argv[++i]);
      continue;
    }
    if (!flag && !flags_done) {
      if (seen_command) flags_done = true;
      seen_command = true;
    }
    args.push_back(a);
  }
  return args;
}

}  // namespace

void log(Level level, const std::string& message) {
  if (level == Level::debug && !g_log.debug) return;
  static const char* names[] = {"debug", "info", "warning", "error"};
  const char* name = names[static_cast<int>(level)];
  if (g_log.json) {
    nlohmann::ordered_json j = {{"level", name}, {"msg", message}, {"time", rfc3339_seconds()}};
    write_line(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  } else {
    write_line("time=\"" + rfc3339_seconds() + "\" level=" + name +
               " msg=" + (needs_quoting(message) ? format::go_quote(message) : message) + "\n");
  }
}

bool log_is_stderr() { return !g_log.file; }

void set_action(CLI::App* command, Action action) {
  command->callback([action = std::move(action)] { g_action = action; });
}

void check_args(const Globals& g, const std::string& command, std::size_t given, std::size_t n, char kind) {
  const char* words = kind == '=' ? "exactly" : kind == '>' ? "a minimum of" : "a maximum of";
  bool bad = kind == '=' ? given != n : kind == '>' ? given < n : given > n;
  if (bad)
    throw Error(g.program + ": \"" + command + "\" requires " + words + " " + std::to_string(n) + " argument(s)");
}

int main(int argc, char** argv, const std::string& program) {
  Globals g;
  g.program = program;
  if (argc <= 1) {
    std::cerr << "usage: " << program << " [global options] command [command options] [arguments...]\n";
    return 1;
  }
  CLI::App app{"Open Container Initiative runtime (cppcker)", program};
  app.set_version_flag("-v,--version",
                       program + " version " CPPCKER_VERSION "\nspec: " + oci::kRuntimeSpecVersion);
  app.require_subcommand(1);
  // $CPPCKER_RUNC_ROOT replaces the default: a caller that passes --root on some calls only (podman's
  // cleanup runs `delete` without its --runtime-flag) still finds its containers through its environment.
  if (const char* env_root = std::getenv("CPPCKER_RUNC_ROOT"); env_root && *env_root) g.root = env_root;
  app.add_option("--root", g.root, "root directory for storage of container state (default $CPPCKER_RUNC_ROOT, else /run/cppcker-runc)")
      ->capture_default_str();
  app.add_option("--log", g.log, "set the log file to write runc logs to (default is '/dev/stderr')");
  app.add_option("--log-format", g.log_format, "set the log format ('text' (default), or 'json')")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--debug", g.debug, "enable debug logging");
  app.add_flag("--systemd-cgroup", g.systemd_cgroup, "refused: cppcker-runc drives cgroupfs only");
  app.add_option("--rootless", g.rootless, "ignore cgroup permission errors ('true', 'false', or 'auto')")
      ->check(CLI::IsMember({"true", "false", "auto"}));
  std::string criu;
  app.add_option("--criu", criu, "accepted for compatibility; checkpoint/restore is not implemented");

  register_create(app, g);
  register_start(app, g);
  register_state(app, g);
  register_kill(app, g);
  register_delete(app, g);
  register_run(app, g);
  register_exec(app, g);
  register_ps(app, g);
  register_list(app, g);
  register_pause(app, g);
  register_update(app, g);
  register_features(app, g);
  register_spec(app, g);
  register_events(app, g);

  // urfave/cli's answer to a word that is no command (before any flag is looked at).
  if (auto word = command_word(argc, argv)) {
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
      known = known || sub->get_name() == *word;
    if (!known) {
      std::cerr << "No help topic for '" << *word << "'\n";
      return 1;
    }
  }

  std::vector<std::string> args = normalise_arguments(argc, argv);
  std::reverse(args.begin(), args.end());  // CLI11 takes them reversed
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForVersion&) {
    std::cout << program << " version " CPPCKER_VERSION "\nspec: " << oci::kRuntimeSpecVersion << "\n";
    return 0;
  } catch (const CLI::ExtrasError& e) {
    for (const auto& a : app.remaining(true))
      if (a.size() > 1 && a[0] == '-') {
        std::cerr << "flag provided but not defined: -" << a.substr(a.find_first_not_of('-')) << "\n";
        return 1;
      }
    std::cerr << e.what() << "\n";
    return 1;
  } catch (const CLI::ParseError& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }

  // The log is set up before anything can fail, so that containerd and podman find the error there.
  g_log.json = g.log_format == "json";
  g_log.debug = g.debug;
  if (!g.log.empty()) {
    g_log.file.reset(::open(g.log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    if (!g_log.file) {
      std::cerr << "open " << g.log << ": " << std::strerror(errno) << "\n";
      return 1;
    }
  }
  if (g.systemd_cgroup)
    return fatal("--systemd-cgroup is not supported: cppcker-runc manages cgroups through cgroupfs only "
                 "(configure the caller's cgroup manager as cgroupfs)");
  if (g.rootless != "auto")
    log(Level::debug, "--rootless=" + g.rootless + " has no effect: cppcker-runc runs as root and sets up cgroups itself");

  try {
    return g_action ? g_action() : 0;
  } catch (const Error& e) {
    return fatal(e.what());
  } catch (const std::exception& e) {
    return fatal(e.what());
  }
}

void set_error_status(int status) { g_error_status = status; }

}  // namespace cppcker::ocicli
