#include "cppcker/registry/config.hpp"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>

#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker {

using nlohmann::json;

RegistryConfig RegistryConfig::parse(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error("config is not a JSON object");
  RegistryConfig c;
  auto strings = [&](const char* key, std::vector<std::string>& out) {
    if (!j.contains(key)) return;
    if (!j[key].is_array()) throw Error(std::string("config: \"") + key + "\" must be a list of strings");
    for (auto& v : j[key]) {
      if (!v.is_string()) throw Error(std::string("config: \"") + key + "\" must be a list of strings");
      out.push_back(v.get<std::string>());
    }
  };
  strings("registry-mirrors", c.mirrors);
  strings("insecure-registries", c.insecure);
  for (auto& m : c.mirrors) {
    if (m.rfind("http://", 0) != 0 && m.rfind("https://", 0) != 0)
      throw Error("config: registry mirror \"" + m + "\" must start with http:// or https://");
    while (!m.empty() && m.back() == '/') m.pop_back();
  }
  if (j.contains("credentials-file")) {
    if (!j["credentials-file"].is_string()) throw Error("config: \"credentials-file\" must be a string");
    c.credentials_file = j["credentials-file"].get<std::string>();
  }
  return c;
}

RegistryConfig RegistryConfig::load(const fs::path& path, bool required) {
  auto text = read_file_if_exists(path);
  if (!text) {
    if (required) throw Error("config file " + path.string() + " does not exist");
    return {};
  }
  try {
    return parse(*text);
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
}

std::string strip_port(std::string_view domain) {
  if (!domain.empty() && domain.front() == '[') {
    auto close = domain.find(']');
    return std::string(domain.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
  }
  auto colon = domain.find(':');
  return std::string(domain.substr(0, colon));
}

bool ip_in_cidr(std::string_view host, std::string_view cidr) {
  auto slash = cidr.find('/');
  std::string net(cidr.substr(0, slash));
  std::string h(host);
  unsigned char a[16], n[16];
  int family = h.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  std::size_t len = family == AF_INET6 ? 16 : 4;
  if (inet_pton(family, h.c_str(), a) != 1 || inet_pton(family, net.c_str(), n) != 1) return false;
  int bits = static_cast<int>(len * 8);
  if (slash != std::string_view::npos) {
    try {
      bits = std::stoi(std::string(cidr.substr(slash + 1)));
    } catch (...) {
      return false;
    }
    if (bits < 0 || bits > static_cast<int>(len * 8)) return false;
  }
  for (std::size_t i = 0; i < len && bits > 0; ++i, bits -= 8) {
    unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
    if ((a[i] & mask) != (n[i] & mask)) return false;
  }
  return true;
}

bool RegistryConfig::is_insecure(std::string_view domain) const {
  std::string host = strip_port(domain);
  if (host == "localhost") host = "127.0.0.1";
  if (ip_in_cidr(host, "127.0.0.0/8") || ip_in_cidr(host, "::1/128")) return true;
  for (const auto& entry : insecure) {
    if (entry == domain || entry == host) return true;
    if (entry.find('/') != std::string::npos && ip_in_cidr(host, entry)) return true;
  }
  return false;
}

fs::path RegistryConfig::credentials_path() const {
  if (!credentials_file.empty()) return credentials_file;
  const char* dir = std::getenv("DOCKER_CONFIG");
  if (dir && *dir) return fs::path(dir) / "config.json";
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : "/root") / ".docker/config.json";
}

std::optional<Credentials> RegistryConfig::credentials_for(std::string_view domain) const {
  const fs::path file = credentials_path();
  auto text = read_file_if_exists(file);
  // No file yet (before the first `login`): no credentials, as in Docker.
  if (!text) return std::nullopt;
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error("credentials file " + file.string() + " is not JSON");
  auto auths = j.find("auths");
  if (auths == j.end() || !auths->is_object()) return std::nullopt;
  std::vector<std::string> keys = {std::string(domain), "https://" + std::string(domain), "http://" + std::string(domain)};
  if (domain == "docker.io")
    keys.insert(keys.end(), {"https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io"});
  for (const auto& key : keys) {
    auto it = auths->find(key);
    if (it == auths->end() || !it->is_object()) continue;
    if (it->contains("auth") && (*it)["auth"].is_string()) {
      std::string decoded = base64_decode((*it)["auth"].get<std::string>());
      auto colon = decoded.find(':');
      if (colon == std::string::npos) throw Error("credentials for " + key + ": \"auth\" is not user:password");
      return Credentials{decoded.substr(0, colon), decoded.substr(colon + 1)};
    }
    if (it->contains("username") && it->contains("password"))
      return Credentials{(*it)["username"].get<std::string>(), (*it)["password"].get<std::string>()};
  }
  return std::nullopt;
}

namespace {
constexpr std::string_view kDockerHubKey = "https://index.docker.io/v1/";

bool is_docker_hub(std::string_view host) {
  return host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io";
}

// The config file as JSON (an empty object when missing); a malformed file is refused rather than lost.
json read_credentials_json(const fs::path& file) {
  auto text = read_file_if_exists(file);
  if (!text) return json::object();
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error("credentials file " + file.string() + " is not a JSON object");
  return j;
}

void write_credentials_json(const fs::path& file, const json& j) {
  write_file_atomic(file, j.dump(1, '\t') + "\n", 0600);
}

FileLock lock_credentials(const fs::path& file) {
  fs::path parent = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  std::error_code ec;
  if (!fs::exists(parent, ec)) {
    make_dirs(parent);
    // Credentials live here: only the owner may look (as Docker makes ~/.docker).
    if (::chmod(parent.c_str(), 0700) != 0) throw_errno("chmod " + parent.string());
  }
  fs::path lock = file;
  lock += ".lock";
  return FileLock(lock);
}
}  // namespace

std::string credentials_key(std::string_view server) {
  std::string s(server);
  for (const char* scheme : {"https://", "http://"})
    if (s.rfind(scheme, 0) == 0) s = s.substr(std::string_view(scheme).size());
  auto slash = s.find('/');
  if (slash != std::string::npos) s = s.substr(0, slash);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s.empty() || is_docker_hub(s)) return std::string(kDockerHubKey);
  return s;
}

std::string credentials_domain(std::string_view key) {
  return key == kDockerHubKey ? std::string("docker.io") : credentials_key(key);
}

void store_credentials(const fs::path& file, const std::string& key, const Credentials& credentials) {
  FileLock lock = lock_credentials(file);
  json j = read_credentials_json(file);
  if (!j.contains("auths") || !j["auths"].is_object()) j["auths"] = json::object();
  json& entry = j["auths"][key];
  if (!entry.is_object()) entry = json::object();
  entry["auth"] = base64_encode(credentials.username + ":" + credentials.password);
  // An older username/password pair would shadow nothing (auth is read first) but would keep the old secret.
  entry.erase("username");
  entry.erase("password");
  write_credentials_json(file, j);
}

bool remove_credentials(const fs::path& file, const std::string& key) {
  if (!read_file_if_exists(file)) return false;
  FileLock lock = lock_credentials(file);
  json j = read_credentials_json(file);
  if (!j.contains("auths") || !j["auths"].is_object()) return false;
  bool removed = false;
  for (const std::string& k : {key, "https://" + key, "http://" + key})
    removed = j["auths"].erase(k) > 0 || removed;
  if (removed) write_credentials_json(file, j);
  return removed;
}

static const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view in) {
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kB64[(v >> s) & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string base64_decode(std::string_view in) {
  std::string out;
  unsigned v = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=' || c == '\n' || c == '\r') continue;
    const char* p = std::strchr(kB64, c);
    if (!p || c == '\0') {
      if (c == '-') p = kB64 + 62;
      else if (c == '_') p = kB64 + 63;
      else throw Error("invalid base64 data");
    }
    v = (v << 6) | static_cast<unsigned>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((v >> bits) & 0xff);
    }
  }
  return out;
}

}  // namespace cppcker
