#pragma once
// A Docker Registry HTTP API v2 / OCI distribution client for one repository: manifests and blobs,
// anonymous or credentialed Bearer tokens and Basic auth from the WWW-Authenticate challenge, mirrors,
// insecure (http) registries, retries with back-off, and resumption of broken blob downloads with Range.
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cppcker/image/manifest.hpp"
#include "cppcker/image/reference.hpp"
#include "cppcker/registry/auth.hpp"
#include "cppcker/registry/config.hpp"
#include "cppcker/registry/http.hpp"

namespace cppcker {

struct RetryPolicy {
  int attempts = 5;
  std::chrono::milliseconds first_delay{250};  // doubled after each failure
};

struct FetchedManifest {
  std::string body;  // the exact bytes, as hashed
  std::string media_type;
  std::string digest;
};

class RegistryClient {
 public:
  // `actions` is the token scope: "pull" or "pull,push".
  RegistryClient(const RegistryConfig& config, const Reference& repository, std::string actions = "pull",
                 RetryPolicy retry = {});

  // GETs a manifest by tag or digest and checks its bytes against the digest asked for (or the one
  // the registry announces).
  FetchedManifest fetch_manifest(const std::string& reference);
  // A small blob (a config), fully verified.
  std::string fetch_blob(const Descriptor& blob);
  // Streams a blob to `sink` in order, exactly once per byte: a broken transfer resumes with Range.
  // The caller verifies size and digest (it sees every byte).
  void stream_blob(const Descriptor& blob, const std::function<void(std::string_view)>& sink);

  // Push side (used by the tests to seed registries).
  bool has_blob(const std::string& digest);
  void upload_blob(const std::string& digest, std::string_view data);
  void put_manifest(const std::string& reference, std::string_view media_type, std::string_view body);

  // The base URL in use, e.g. "http://127.0.0.1:5000".
  std::string endpoint() const;

 private:
  struct Endpoint {
    std::string base;  // scheme://host[:port]
    bool verify_tls;
    bool mirror;
  };
  HttpResponse send(const std::string& method, const std::string& path, std::vector<std::string> headers,
                    std::string body, const std::function<void(HttpRequest&)>& prepare = {});
  // `probing`: a transport failure is thrown at once, so that the next endpoint is tried.
  HttpResponse send_to(const Endpoint& ep, HttpRequest req, const std::function<void(HttpRequest&)>& prepare,
                       bool probing);
  bool authenticate(const HttpResponse& unauthorized, const Endpoint& ep);
  [[noreturn]] void fail(const std::string& what, const HttpResponse& response) const;

  RegistryConfig config_;
  Reference repo_;
  std::string actions_;
  RetryPolicy retry_;
  std::vector<Endpoint> endpoints_;
  std::size_t endpoint_index_ = 0;
  bool endpoint_pinned_ = false;
  std::optional<Credentials> credentials_;
  HttpClient http_;

  std::mutex auth_mutex_;
  std::string authorization_;  // "Bearer x" or "Basic y"
  std::chrono::steady_clock::time_point auth_expires_{};
};

}  // namespace cppcker
