#pragma once
// The user's registry settings, read from the config file (default /etc/cppcker/config.json):
//   { "registry-mirrors": ["https://mirror.example"],       mirrors for docker.io, tried in order
//     "insecure-registries": ["myhost:5000", "10.0.0.0/8"], plain http allowed, TLS not verified
//     "credentials-file": "/root/.docker/config.json" }      Docker's {"auths": {host: {"auth": b64}}}
// Without "credentials-file", Docker's own file is used: $DOCKER_CONFIG/config.json or ~/.docker/config.json.
// As in Docker, registries on 127.0.0.0/8 and ::1 (and "localhost") are insecure without any setting.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cppcker {

struct Credentials {
  std::string username;
  std::string password;
};

struct RegistryConfig {
  std::vector<std::string> mirrors;
  std::vector<std::string> insecure;  // hosts ("host:port") or CIDRs
  std::filesystem::path credentials_file;

  // Missing file: defaults, unless `required` (an explicit --config). Malformed: Error.
  static RegistryConfig load(const std::filesystem::path& path, bool required);
  static RegistryConfig parse(std::string_view json_text);

  bool is_insecure(std::string_view domain) const;
  // Credentials for a registry domain from the credentials file, if any.
  std::optional<Credentials> credentials_for(std::string_view domain) const;
  // The file credentials are read from and `login` writes: the configured one, else Docker's default.
  std::filesystem::path credentials_path() const;
};

// Docker's key for a registry in the "auths" of config.json: "https://index.docker.io/v1/" for Docker Hub
// (docker.io, index.docker.io, registry-1.docker.io), else "host[:port]" (a scheme and path are dropped).
std::string credentials_key(std::string_view server);
// The registry domain a key names ("docker.io" for Docker Hub's key).
std::string credentials_domain(std::string_view key);

// Sets auths[key] = {"auth": base64(user:password)} in Docker's config.json at `file`, keeping every other
// key; written atomically with mode 0600 (a parent directory it makes gets 0700), under `file`.lock.
void store_credentials(const std::filesystem::path& file, const std::string& key, const Credentials& credentials);
// Removes auths[key] (and the scheme variants Docker also accepts); false when there was none.
bool remove_credentials(const std::filesystem::path& file, const std::string& key);

// Whether `host` (no port, no brackets) is an IP address inside `cidr` ("127.0.0.0/8", "::1/128").
bool ip_in_cidr(std::string_view host, std::string_view cidr);
// "host:port" / "[v6]:port" -> "host" / "v6".
std::string strip_port(std::string_view domain);

std::string base64_encode(std::string_view in);
std::string base64_decode(std::string_view in);  // throws Error on invalid input

}  // namespace cppcker
