// cppcker login: check credentials against a registry and store them (Docker's config.json form).
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/image/reference.hpp"
#include "cppcker/registry/client.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker::cli {

namespace {

std::string trim_newline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// Reads one line from the terminal, without echo for a password.
std::string prompt(const std::string& label, bool secret) {
  std::fprintf(stderr, "%s", label.c_str());
  std::fflush(stderr);
  termios saved{};
  bool restore = secret && ::tcgetattr(STDIN_FILENO, &saved) == 0;
  if (restore) {
    termios quiet = saved;
    quiet.c_lflag &= static_cast<tcflag_t>(~ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (restore) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::fprintf(stderr, "\n");
  }
  return trim_newline(line);
}

}  // namespace

void register_login(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("login", "Log in to a registry");
  auto server = std::make_shared<std::string>();
  auto username = std::make_shared<std::string>();
  auto password = std::make_shared<std::string>();
  auto password_stdin = std::make_shared<bool>(false);
  cmd->add_option("SERVER", *server, "Registry (default: Docker Hub)");
  auto* user_opt = cmd->add_option("-u,--username", *username, "Username");
  auto* pass_opt = cmd->add_option("-p,--password", *password, "Password");
  cmd->add_flag("--password-stdin", *password_stdin, "Take the password from stdin");
  set_action(cmd, [&global, server, username, password, password_stdin, user_opt, pass_opt] {
    // Docker's checks and wording (cli/command/registry/login.go).
    if (pass_opt->count() > 0) {
      std::cerr << "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n";
      if (*password_stdin) throw Error("--password and --password-stdin are mutually exclusive");
    }
    if (*password_stdin) {
      if (user_opt->count() == 0 || username->empty()) throw Error("Must provide --username with --password-stdin");
      *password = trim_newline(read_all(STDIN_FILENO, "stdin"));
    }
    const bool tty = ::isatty(STDIN_FILENO) == 1;
    if (username->empty()) {
      if (!tty) throw Error("Cannot perform an interactive login from a non TTY device");
      *username = prompt("Username: ", false);
      if (username->empty()) throw Error("Username cannot be empty");
    }
    if (password->empty()) {
      if (!tty) throw Error("Cannot perform an interactive login from a non TTY device");
      *password = prompt("Password: ", true);
      if (password->empty()) throw Error("Password Required");
    }

    const std::string key = credentials_key(*server);
    Reference registry;
    registry.domain = credentials_domain(key);
    RegistryConfig config = global.registry_config();
    RegistryClient client(config, registry, "");
    client.set_credentials({*username, *password});
    try {
      client.check_login();
    } catch (const Error& e) {
      std::cout.flush();
      std::cerr << "Error response from daemon: " << e.what() << "\n";
      return 1;
    }
    const auto file = config.credentials_path();
    store_credentials(file, key, {*username, *password});
    std::cerr << "WARNING! Your password will be stored unencrypted in " << file.string() << ".\n";
    std::cout << "Login Succeeded\n";
    return 0;
  });
}

}  // namespace cppcker::cli
