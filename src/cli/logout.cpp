// cppcker logout: forget a registry's stored credentials.
#include <iostream>

#include "cppcker/cli/commands.hpp"

namespace cppcker::cli {

void register_logout(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("logout", "Log out from a registry");
  auto server = std::make_shared<std::string>();
  cmd->add_option("SERVER", *server, "Registry (default: Docker Hub)");
  set_action(cmd, [&global, server] {
    const std::string key = credentials_key(*server);
    RegistryConfig config = global.registry_config();
    // Docker names the server as given, or Docker Hub's key.
    const std::string shown = server->empty() ? key : *server;
    if (!remove_credentials(config.credentials_path(), key)) {
      std::cout << "Not logged in to " << shown << "\n";
      return 0;
    }
    std::cout << "Removing login credentials for " << shown << "\n";
    return 0;
  });
}

}  // namespace cppcker::cli
