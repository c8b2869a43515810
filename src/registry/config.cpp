#include "cppcker/registry/config.hpp"

#include <arpa/inet.h>

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

std::optional<Credentials> RegistryConfig::credentials_for(std::string_view domain) const {
  if (credentials_file.empty()) return std::nullopt;
  auto text = read_file_if_exists(credentials_file);
  if (!text) throw Error("credentials file " + credentials_file.string() + " does not exist");
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error("credentials file " + credentials_file.string() + " is not JSON");
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
