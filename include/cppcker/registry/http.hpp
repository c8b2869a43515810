#pragma once
// A small HTTP layer over libcurl: one request at a time per call, handles reused from a pool so that
// connections (and TLS sessions) are kept between requests. Redirects are followed here, not by curl,
// so that the Authorization header is dropped whenever a redirect leaves the origin.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "cppcker/util/error.hpp"

namespace cppcker {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string authorization;         // sent only to the origin of `url`
  std::string body;                  // for PUT / POST
  // When set, the body (`body_size` bytes) is read from here in pieces instead of from `body`, so that a
  // large upload never sits in memory: fills `buffer` with up to `length` bytes from `offset` and returns
  // how many (0 before the end is an error).
  std::function<std::size_t(std::int64_t offset, char* buffer, std::size_t length)> body_source;
  std::int64_t body_size = 0;
  bool verify_tls = true;
  // When set, the body of a 2xx response is streamed here instead of being collected.
  std::function<void(std::string_view)> sink;
  // Called once with the final status and headers before the first body byte of a 2xx response.
  std::function<void(long, const std::map<std::string, std::string>&)> on_start;
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;                            // collected when no sink, or an error body
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// A failure below HTTP: connection refused or dropped, TLS, timeout. Worth retrying.
class TransportError : public Error {
 public:
  using Error::Error;
};

// "scheme://host:port" of a URL, lowercase; used to decide whether credentials may follow a redirect.
std::string url_origin(std::string_view url);
// Resolves a Location header against the URL it came from.
std::string resolve_url(std::string_view base, std::string_view location);

class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  // Performs the request, following up to 10 redirects. Throws TransportError; the sink's own
  // exceptions pass through unchanged.
  HttpResponse perform(const HttpRequest& request);

 private:
  void* acquire();
  void release(void* handle);
  std::mutex mutex_;
  std::vector<void*> idle_;
};

}  // namespace cppcker
