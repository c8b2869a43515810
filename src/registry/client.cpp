#include "cppcker/registry/client.hpp"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <thread>

#include <nlohmann/json.hpp>

#include "cppcker/util/sha256.hpp"

namespace cppcker {

namespace {

std::string url_escape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// The registry's own words from an error body: {"errors":[{"code":"MANIFEST_UNKNOWN","message":"..."}]}.
std::string registry_error(const HttpResponse& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_discarded() && j.contains("errors") && j["errors"].is_array() && !j["errors"].empty()) {
    auto& e = j["errors"][0];
    std::string code = e.value("code", "");
    std::string msg = e.value("message", "");
    for (char& c : code) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (char& c : code) if (c == '_') c = ' ';
    return msg.empty() ? code : (code.empty() || code == msg ? msg : code + ": " + msg);
  }
  return "HTTP " + std::to_string(r.status);
}

std::string error_code(const HttpResponse& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_discarded() && j.contains("errors") && j["errors"].is_array() && !j["errors"].empty())
    return j["errors"][0].value("code", "");
  return "";
}

bool is_loopback(const std::string& domain) {
  std::string host = strip_port(domain);
  return host == "localhost" || ip_in_cidr(host, "127.0.0.0/8") || ip_in_cidr(host, "::1/128");
}

bool retryable_status(long status) { return status == 429 || (status >= 500 && status <= 599); }

}  // namespace

RegistryClient::RegistryClient(const RegistryConfig& config, const Reference& repository, std::string actions,
                               RetryPolicy retry)
    : config_(config), repo_(repository), actions_(std::move(actions)), retry_(retry) {
  if (repo_.domain == "docker.io")
    for (const auto& m : config_.mirrors) endpoints_.push_back({m, true, true});
  credentials_ = config_.credentials_for(repo_.domain);  // read once: workers authenticate concurrently
  std::string host = registry_host(repo_.domain);
  if (is_loopback(repo_.domain)) {
    // Traffic to a loopback registry never leaves this machine: plain http first saves a TLS attempt.
    endpoints_.push_back({"http://" + host, false, false});
    endpoints_.push_back({"https://" + host, false, false});
  } else if (config_.is_insecure(repo_.domain)) {
    // As Docker does for insecure registries: TLS without verification first, then plain http.
    endpoints_.push_back({"https://" + host, false, false});
    endpoints_.push_back({"http://" + host, false, false});
  } else {
    endpoints_.push_back({"https://" + host, true, false});
  }
}

std::string RegistryClient::endpoint() const { return endpoints_[endpoint_index_].base; }

bool RegistryClient::authenticate(const HttpResponse& unauthorized, const Endpoint& ep) {
  auto challenges = parse_www_authenticate(unauthorized.header("www-authenticate"));
  for (const auto& ch : challenges) {
    if (ch.scheme == "bearer") {
      auto realm = ch.params.find("realm");
      if (realm == ch.params.end()) continue;
      std::string url = realm->second;
      std::string sep = url.find('?') == std::string::npos ? "?" : "&";
      if (auto svc = ch.params.find("service"); svc != ch.params.end()) {
        url += sep + "service=" + url_escape(svc->second);
        sep = "&";
      }
      std::vector<std::string> scopes;
      {
        std::lock_guard lock(auth_mutex_);
        scopes = extra_scopes_;
      }
      // Login asks for no scope (as Docker): the token only proves the credentials.
      if (!actions_.empty()) scopes.insert(scopes.begin(), "repository:" + repo_.path + ":" + actions_);
      for (const auto& scope : scopes) {
        url += sep + "scope=" + url_escape(scope);
        sep = "&";
      }
      HttpRequest req;
      req.url = url;
      std::string realm_domain = url_origin(url);
      req.verify_tls = ep.verify_tls;
      if (credentials_)
        req.authorization = "Basic " + base64_encode(credentials_->username + ":" + credentials_->password);
      HttpResponse r;
      try {
        r = http_.perform(req);
      } catch (const TransportError& e) {
        throw Error(std::string("cannot reach the registry's authorization server: ") + e.what());
      }
      if (r.status == 401 || r.status == 403)
        throw AuthenticationError("authentication failed for " + repo_.domain + ": the authorization server refused the credentials");
      if (r.status != 200) throw Error("authorization server answered HTTP " + std::to_string(r.status));
      BearerToken token = parse_token_response(r.body);
      std::lock_guard lock(auth_mutex_);
      authorization_ = "Bearer " + token.token;
      // Refresh a little before the server's deadline.
      auth_expires_ = std::chrono::steady_clock::now() + token.expires_in - std::chrono::seconds(5);
      return true;
    }
    if (ch.scheme == "basic") {
      if (!credentials_) return false;
      std::lock_guard lock(auth_mutex_);
      authorization_ = "Basic " + base64_encode(credentials_->username + ":" + credentials_->password);
      auth_expires_ = std::chrono::steady_clock::time_point::max();
      return true;
    }
  }
  return false;
}

HttpResponse RegistryClient::send_to(const Endpoint& ep, HttpRequest req,
                                     const std::function<void(HttpRequest&)>& prepare, bool probing) {
  bool reauthenticated = false;
  auto delay = retry_.first_delay;
  for (int attempt = 1;; ++attempt) {
    {
      std::lock_guard lock(auth_mutex_);
      if (!authorization_.empty() && std::chrono::steady_clock::now() >= auth_expires_) authorization_.clear();
      req.authorization = authorization_;
    }
    if (prepare) prepare(req);
    HttpResponse r;
    try {
      r = http_.perform(req);
    } catch (const TransportError& e) {
      if (probing || attempt >= retry_.attempts) throw;
      spdlog::debug("{} (attempt {}), retrying in {} ms", e.what(), attempt, delay.count());
      std::this_thread::sleep_for(delay);
      delay *= 2;
      continue;
    }
    if (r.status == 401 && !reauthenticated) {
      reauthenticated = true;
      {
        std::lock_guard lock(auth_mutex_);
        authorization_.clear();
      }
      if (authenticate(r, ep)) {
        --attempt;
        continue;
      }
      return r;
    }
    if (retryable_status(r.status) && attempt < retry_.attempts) {
      spdlog::debug("{} {}: HTTP {} (attempt {}), retrying in {} ms", req.method, req.url, r.status, attempt, delay.count());
      std::this_thread::sleep_for(delay);
      delay *= 2;
      continue;
    }
    return r;
  }
}

HttpResponse RegistryClient::send(const std::string& method, const std::string& path,
                                  std::vector<std::string> headers, std::string body,
                                  const std::function<void(HttpRequest&)>& prepare, bool retry_transport) {
  std::string last_error;
  for (std::size_t i = endpoint_index_; i < endpoints_.size(); ++i) {
    const Endpoint& ep = endpoints_[i];
    HttpRequest req;
    req.method = method;
    req.url = path.rfind("http", 0) == 0 ? path : ep.base + path;
    req.headers = headers;
    req.body = body;
    req.verify_tls = ep.verify_tls;
    try {
      // Until an endpoint has answered, a transport failure means "try the next one" (https before
      // http, a mirror before the registry), not "retry": only the last candidate gets retries.
      bool last = i + 1 == endpoints_.size();
      HttpResponse r = send_to(ep, req, prepare, (!endpoint_pinned_ && !last) || !retry_transport);
      // A mirror that lacks the content hands over to the next endpoint, as in Docker.
      if (ep.mirror && !endpoint_pinned_ && (r.status < 200 || r.status >= 300)) {
        last_error = ep.base + ": " + registry_error(r);
        continue;
      }
      if (!endpoint_pinned_) {
        endpoint_index_ = i;
        endpoint_pinned_ = true;
      }
      return r;
    } catch (const TransportError& e) {
      if (endpoint_pinned_ || (!retry_transport && i + 1 == endpoints_.size())) throw;
      last_error = e.what();
      spdlog::debug("endpoint {} failed: {}", ep.base, e.what());
    }
  }
  throw Error("cannot reach registry " + repo_.domain + ": " + last_error);
}

void RegistryClient::fail(const std::string& what, const HttpResponse& r) const {
  std::string code = error_code(r);
  if (r.status == 401 || r.status == 403 || code == "NAME_UNKNOWN" || code == "UNAUTHORIZED" || code == "DENIED")
    throw Error("pull access denied for " + repo_.familiar_name() +
                ", repository does not exist or may require authentication: " + registry_error(r));
  throw Error(what + ": " + registry_error(r));
}

FetchedManifest RegistryClient::fetch_manifest(const std::string& reference) {
  HttpResponse r = send("GET", "/v2/" + repo_.path + "/manifests/" + reference, {media_type::accept_header()}, "");
  if (r.status == 404 && error_code(r) != "NAME_UNKNOWN") {
    Reference shown = repo_;
    shown.tag = is_valid_digest(reference) ? "" : reference;
    shown.digest = is_valid_digest(reference) ? reference : "";
    throw Error("manifest for " + shown.familiar_string() + " not found: manifest unknown");
  }
  if (r.status != 200) fail("fetch manifest " + reference, r);
  FetchedManifest m;
  m.body = std::move(r.body);
  m.digest = sha256_digest(m.body);
  std::string announced = r.header("docker-content-digest");
  if (is_valid_digest(reference) && m.digest != reference)
    throw Error("manifest digest mismatch: asked for " + reference + ", received content with digest " + m.digest);
  if (!is_valid_digest(reference) && is_valid_digest(announced) && announced != m.digest)
    throw Error("manifest digest mismatch: registry announced " + announced + ", content has digest " + m.digest);
  m.media_type = r.header("content-type");
  return m;
}

std::string RegistryClient::fetch_blob(const Descriptor& blob) {
  std::string data;
  stream_blob(blob, [&](std::string_view chunk) { data.append(chunk); });
  if (static_cast<std::int64_t>(data.size()) != blob.size)
    throw Error("blob " + blob.digest + ": size mismatch: expected " + std::to_string(blob.size) + " bytes, got " +
                std::to_string(data.size()));
  std::string actual = sha256_digest(data);
  if (actual != blob.digest) throw Error("blob " + blob.digest + ": digest mismatch: content has digest " + actual);
  return data;
}

void RegistryClient::stream_blob(const Descriptor& blob, const std::function<void(std::string_view)>& sink) {
  std::int64_t delivered = 0;
  std::int64_t skip = 0;  // bytes to drop when a server ignores Range and starts over
  auto prepare = [&](HttpRequest& req) {
    req.headers.clear();
    if (delivered > 0) req.headers.push_back("Range: bytes=" + std::to_string(delivered) + "-");
    req.on_start = [&](long status, const std::map<std::string, std::string>& headers) {
      skip = 0;
      if (delivered > 0 && status == 200) skip = delivered;
      if (delivered > 0 && status == 206) {
        auto it = headers.find("content-range");
        std::string expect = "bytes " + std::to_string(delivered) + "-";
        if (it == headers.end() || it->second.rfind(expect, 0) != 0)
          throw Error("blob " + blob.digest + ": registry resumed at the wrong offset");
      }
    };
    req.sink = [&](std::string_view chunk) {
      if (skip > 0) {
        auto n = std::min<std::int64_t>(skip, static_cast<std::int64_t>(chunk.size()));
        chunk.remove_prefix(static_cast<std::size_t>(n));
        skip -= n;
      }
      if (chunk.empty()) return;
      delivered += static_cast<std::int64_t>(chunk.size());
      if (blob.size > 0 && delivered > blob.size)
        throw Error("blob " + blob.digest + ": registry sent more than the expected " + std::to_string(blob.size) + " bytes");
      sink(chunk);
    };
  };
  const std::string path = "/v2/" + repo_.path + "/blobs/" + blob.digest;
  auto delay = retry_.first_delay;
  for (int attempt = 1;; ++attempt) {
    try {
      HttpResponse r = send("GET", path, {}, "", prepare);
      if (r.status == 200 || r.status == 206) {
        // A connection closed cleanly before the end: resume like a dropped one.
        if (blob.size > 0 && delivered < blob.size && attempt < retry_.attempts) {
          spdlog::debug("blob {}: got {} of {} bytes, resuming", blob.digest, delivered, blob.size);
          std::this_thread::sleep_for(delay);
          delay *= 2;
          continue;
        }
        return;
      }
      if (r.status == 416 && delivered == blob.size) return;
      if (r.status == 404) throw Error("blob " + blob.digest + " not found in " + repo_.name());
      fail("fetch blob " + blob.digest, r);
    } catch (const TransportError& e) {
      // send() has already retried, each attempt resuming where the previous one stopped.
      throw Error("blob " + blob.digest + ": " + e.what() + " (after " + std::to_string(retry_.attempts) + " attempts)");
    }
  }
}

namespace {
// An upload pass that stopped half way (dropped connection, 5xx, a chunk at the wrong offset): worth
// resuming under the retry policy, unlike a refusal.
class UploadInterrupted : public Error {
 public:
  using Error::Error;
};

std::string with_digest(const std::string& location, const std::string& digest) {
  return location + (location.find('?') == std::string::npos ? "?" : "&") + "digest=" + url_escape(digest);
}
}  // namespace

void RegistryClient::fail_push(const std::string& what, const HttpResponse& r) const {
  std::string code = error_code(r);
  if (code.empty() && r.status == 401) throw Error("unauthorized: authentication required");
  if (code.empty() && r.status == 403) throw Error("denied: requested access to the resource is denied");
  if (r.status == 401 || r.status == 403 || code == "DENIED" || code == "UNAUTHORIZED") throw Error(registry_error(r));
  throw Error(what + ": " + registry_error(r));
}

std::string RegistryClient::upload_url(const HttpResponse& r) const {
  std::string location = r.header("location");
  if (location.empty()) throw Error("registry " + repo_.domain + " started an upload without a Location");
  // Relative ("/v2/x/blobs/uploads/<uuid>?_state=...") or absolute, as the distribution spec allows.
  return resolve_url(endpoint() + "/v2/", location);
}

bool RegistryClient::has_blob(const std::string& digest) {
  HttpResponse r = send("HEAD", "/v2/" + repo_.path + "/blobs/" + digest, {}, "");
  return r.status == 200;
}

RegistryClient::MountResult RegistryClient::mount_blob(const std::string& digest, const std::string& from_path) {
  HttpResponse r = send("POST",
                        "/v2/" + repo_.path + "/blobs/uploads/?mount=" + url_escape(digest) + "&from=" +
                            url_escape(from_path),
                        {"Content-Length: 0"}, "");
  if (r.status == 201) return {true, ""};
  if (r.status == 202) return {false, upload_url(r)};
  spdlog::debug("mount of {} from {} refused: HTTP {}", digest, from_path, r.status);
  return {false, ""};
}

void RegistryClient::upload_pass(const BlobSource& blob, const UploadOptions& options,
                                 const std::function<void(std::int64_t)>& progress, std::string& location,
                                 bool resuming) {
  const std::string start_path = "/v2/" + repo_.path + "/blobs/uploads/";
  const bool chunked = blob.size > static_cast<std::int64_t>(options.chunk_size);
  std::int64_t offset = 0;
  if (!location.empty() && chunked && resuming) {
    // Where did the last pass stop? The registry says with Range: 0-<last byte>; a lost upload is 404.
    HttpResponse status;
    try {
      status = send("GET", location, {}, "", {}, false);
    } catch (const TransportError& e) {
      throw UploadInterrupted(e.what());
    }
    std::string range = status.header("range");
    auto dash = range.find('-');
    if (status.status == 204 && dash != std::string::npos) {
      try {
        offset = std::stoll(range.substr(dash + 1)) + 1;
      } catch (const std::exception&) {
        offset = 0;
      }
      if (offset == 1) offset = 0;  // "0-0" is what a registry says of an empty upload
      if (offset > blob.size) offset = 0, location.clear();
    } else {
      location.clear();
    }
  }
  if (location.empty()) {
    HttpResponse start;
    try {
      start = send("POST", start_path, {"Content-Length: 0"}, "");
    } catch (const TransportError& e) {
      throw UploadInterrupted(e.what());
    }
    if (retryable_status(start.status)) throw UploadInterrupted("start blob upload: " + registry_error(start));
    if (start.status != 202) fail_push("start blob upload", start);
    location = upload_url(start);
    offset = 0;
  }
  // The body of one request: `length` bytes of the blob from `start`, read as curl sends them.
  auto body_from = [&blob](std::int64_t start, std::int64_t length) {
    return [&blob, start, length](HttpRequest& req) {
      req.body_size = length;
      req.body_source = [&blob, start](std::int64_t offset, char* buffer, std::size_t size) {
        return blob.read(start + offset, buffer, size);
      };
    };
  };
  // "Expect:" stops curl from waiting for a 100-continue before each body.
  const std::vector<std::string> octets = {"Content-Type: application/octet-stream", "Expect:"};
  auto check = [&](const HttpResponse& r, long want, const std::string& what) {
    if (r.status == want) return;
    // 416: the registry holds a different amount than we thought; ask it again on the next pass.
    if (retryable_status(r.status) || r.status == 416) throw UploadInterrupted(what + ": " + registry_error(r));
    location.clear();
    fail_push(what, r);
  };
  if (!chunked) {
    HttpResponse put;
    try {
      put = send("PUT", with_digest(location, blob.digest), octets, "", body_from(0, blob.size), false);
    } catch (const TransportError& e) {
      location.clear();  // a monolithic upload restarts: its half is worth nothing
      throw UploadInterrupted(e.what());
    }
    if (put.status != 201) location.clear();
    check(put, 201, "upload blob " + blob.digest);
    if (progress) progress(blob.size);
    return;
  }
  if (progress) progress(offset);
  while (offset < blob.size) {
    auto n = static_cast<std::size_t>(std::min<std::int64_t>(static_cast<std::int64_t>(options.chunk_size), blob.size - offset));
    std::vector<std::string> headers = octets;
    headers.push_back("Content-Range: " + std::to_string(offset) + "-" + std::to_string(offset + static_cast<std::int64_t>(n) - 1));
    HttpResponse r;
    try {
      r = send("PATCH", location, headers, "", body_from(offset, static_cast<std::int64_t>(n)), false);
    } catch (const TransportError& e) {
      throw UploadInterrupted(e.what());
    }
    check(r, 202, "upload blob " + blob.digest);
    location = upload_url(r);
    offset += static_cast<std::int64_t>(n);
    if (progress) progress(offset);
  }
  HttpResponse done;
  try {
    done = send("PUT", with_digest(location, blob.digest), octets, "", {}, false);
  } catch (const TransportError& e) {
    throw UploadInterrupted(e.what());
  }
  check(done, 201, "upload blob " + blob.digest);
}

void RegistryClient::upload_blob(const BlobSource& blob, const UploadOptions& options,
                                 const std::function<void(std::int64_t)>& progress, std::string location) {
  auto delay = retry_.first_delay;
  for (int attempt = 1;; ++attempt) {
    try {
      upload_pass(blob, options, progress, location, attempt > 1);
      return;
    } catch (const UploadInterrupted& e) {
      if (attempt >= retry_.attempts)
        throw Error("upload blob " + blob.digest + ": " + e.what() + " (after " + std::to_string(attempt) + " attempts)");
      spdlog::debug("upload of {} interrupted: {} (attempt {}), resuming in {} ms", blob.digest, e.what(), attempt,
                    delay.count());
    }
    std::this_thread::sleep_for(delay);
    delay *= 2;
    // The last pass may have finished even though its answer was lost.
    if (has_blob(blob.digest)) {
      if (progress) progress(blob.size);
      return;
    }
  }
}

void RegistryClient::upload_blob(const std::string& digest, std::string_view data) {
  HttpResponse start = send("POST", "/v2/" + repo_.path + "/blobs/uploads/", {"Content-Length: 0"}, "");
  if (start.status != 202) fail("start blob upload", start);
  std::string location = resolve_url(endpoint() + "/v2/", start.header("location"));
  location += (location.find('?') == std::string::npos ? "?" : "&") + std::string("digest=") + url_escape(digest);
  HttpResponse put = send("PUT", location, {"Content-Type: application/octet-stream"}, std::string(data));
  if (put.status != 201) fail("upload blob " + digest, put);
}

std::string RegistryClient::put_manifest(const std::string& reference, std::string_view media_type,
                                         std::string_view body) {
  HttpResponse r = send("PUT", "/v2/" + repo_.path + "/manifests/" + reference,
                        {"Content-Type: " + std::string(media_type)}, std::string(body));
  if (r.status != 201) fail_push("put manifest " + reference, r);
  std::string announced = r.header("docker-content-digest");
  return is_valid_digest(announced) ? announced : sha256_digest(body);
}

void RegistryClient::check_login() {
  auto where = [&] { return "Get \"" + endpoint() + "/v2/\": "; };
  HttpResponse r;
  try {
    r = send("GET", "/v2/", {}, "");
  } catch (const AuthenticationError&) {
    throw AuthenticationError(where() + "unauthorized: incorrect username or password");
  } catch (const Error& e) {
    throw Error(where() + e.what());
  }
  if (r.status == 200) return;
  std::string code = error_code(r);
  if (r.status == 401 || r.status == 403)
    throw AuthenticationError(where() + (code.empty() ? std::string("unauthorized: authentication required") : registry_error(r)));
  throw Error(where() + registry_error(r));
}

}  // namespace cppcker
