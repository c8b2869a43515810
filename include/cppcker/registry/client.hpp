#pragma once
// A Docker Registry HTTP API v2 / OCI distribution client for one repository: manifests and blobs,
// anonymous or credentialed Bearer tokens and Basic auth from the WWW-Authenticate challenge, mirrors,
// insecure (http) registries, retries with back-off, and resumption of broken blob downloads with Range.
// The push side: HEAD checks, cross-repository mounts, monolithic and chunked uploads that resume after a
// dropped connection, manifests by tag; and the credential check behind `login`.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
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

// The registry refused the credentials (token server or Basic): worded by the caller.
class AuthenticationError : public Error {
 public:
  using Error::Error;
};

// A blob to upload, read in pieces so that a large layer never sits in memory whole.
struct BlobSource {
  std::string digest;
  std::int64_t size = 0;
  // pread-like: fills `buffer` with up to `length` bytes from `offset`, returns how many.
  std::function<std::size_t(std::int64_t offset, char* buffer, std::size_t length)> read;
};

struct UploadOptions {
  // Blobs up to this size go in one PUT; larger ones as PATCH chunks of this size, then PUT ?digest=.
  std::size_t chunk_size = 32u << 20;
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

  // Push side. `has_blob` is a HEAD in this repository.
  bool has_blob(const std::string& digest);
  // Asks the registry to mount `digest` from repository `from_path` of the same registry: mounted (201),
  // or not, with the upload the registry started instead (202) or none (refused: the caller uploads).
  struct MountResult {
    bool mounted = false;
    std::string upload_location;  // when not mounted: a started upload to use, or empty
  };
  MountResult mount_blob(const std::string& digest, const std::string& from_path);
  // Uploads a blob: one PUT for small blobs, PATCH chunks with Content-Range for larger ones. A dropped
  // connection or a failed chunk asks the registry how much it has (GET on the upload URL, `Range:`) and
  // continues from there, or starts the upload over when the registry lost it; up to the retry policy's
  // attempts. `progress` gets the bytes the registry has confirmed. `location`: an upload already started.
  void upload_blob(const BlobSource& blob, const UploadOptions& options,
                   const std::function<void(std::int64_t)>& progress, std::string location = "");
  // Seeds registries in tests: the whole blob in one PUT.
  void upload_blob(const std::string& digest, std::string_view data);
  // PUTs a manifest; returns the digest the registry announced (or the body's own).
  std::string put_manifest(const std::string& reference, std::string_view media_type, std::string_view body);

  // Proves the credentials: GET /v2/, answering a Basic or Bearer challenge (no scope, as Docker's login).
  // Throws AuthenticationError when refused, Error for anything else; the text starts with `Get "<url>": `.
  void check_login();
  // Credentials to use instead of those of the credentials file (login checks new ones).
  void set_credentials(Credentials credentials) { credentials_ = std::move(credentials); }
  // Another scope to ask the token server for, e.g. "repository:team/base:pull" for a mount source.
  // Not while requests are in flight on other threads.
  void add_scope(const std::string& scope) {
    std::lock_guard lock(auth_mutex_);
    for (const auto& s : extra_scopes_)
      if (s == scope) return;
    extra_scopes_.push_back(scope);
  }

  // The base URL in use, e.g. "http://127.0.0.1:5000".
  std::string endpoint() const;

 private:
  struct Endpoint {
    std::string base;  // scheme://host[:port]
    bool verify_tls;
    bool mirror;
  };
  // `retry_transport`: false for requests whose partial effect the caller must examine first (upload
  // chunks): a transport failure is then thrown at once.
  HttpResponse send(const std::string& method, const std::string& path, std::vector<std::string> headers,
                    std::string body, const std::function<void(HttpRequest&)>& prepare = {},
                    bool retry_transport = true);
  // `probing`: a transport failure is thrown at once, so that the next endpoint is tried.
  HttpResponse send_to(const Endpoint& ep, HttpRequest req, const std::function<void(HttpRequest&)>& prepare,
                       bool probing);
  bool authenticate(const HttpResponse& unauthorized, const Endpoint& ep);
  [[noreturn]] void fail(const std::string& what, const HttpResponse& response) const;
  // Push errors in Docker's words: "denied: requested access to the resource is denied".
  [[noreturn]] void fail_push(const std::string& what, const HttpResponse& response) const;
  std::string upload_url(const HttpResponse& response) const;
  // One pass of an upload from `location` ("" starts one; `resuming`: ask the registry where it stands);
  // returns normally when the blob is complete.
  void upload_pass(const BlobSource& blob, const UploadOptions& options,
                   const std::function<void(std::int64_t)>& progress, std::string& location, bool resuming);

  RegistryConfig config_;
  Reference repo_;
  std::string actions_;
  RetryPolicy retry_;
  std::vector<Endpoint> endpoints_;
  std::size_t endpoint_index_ = 0;
  bool endpoint_pinned_ = false;
  std::optional<Credentials> credentials_;
  std::vector<std::string> extra_scopes_;
  HttpClient http_;

  std::mutex auth_mutex_;
  std::string authorization_;  // "Bearer x" or "Basic y"
  std::chrono::steady_clock::time_point auth_expires_{};
};

}  // namespace cppcker
