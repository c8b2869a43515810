#include "cppcker/registry/http.hpp"
#include "cppcker/util/text.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <exception>

namespace cppcker {

namespace {

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

struct Transfer {
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  CURL* curl = nullptr;
  bool started = false;
  bool streaming = false;
  std::int64_t uploaded = 0;  // bytes of body_source sent
  std::exception_ptr sink_error;
};

size_t read_callback(char* buffer, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::size_t want = static_cast<std::size_t>(std::min<std::int64_t>(static_cast<std::int64_t>(size * n),
                                                                      t->request->body_size - t->uploaded));
  if (want == 0) return 0;
  try {
    std::size_t got = t->request->body_source(t->uploaded, buffer, want);
    if (got == 0) throw Error(t->request->method + " " + t->request->url + ": the body ended early");
    t->uploaded += static_cast<std::int64_t>(got);
    return got;
  } catch (...) {
    t->sink_error = std::current_exception();
    return CURL_READFUNC_ABORT;
  }
}

size_t header_callback(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (after 100-continue or a redirect): start over
    t->response->headers.clear();
    return size * n;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name = ascii_lower(std::string(line.substr(0, colon)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
    t->response->headers[name] = std::string(value);
  }
  return size * n;
}

size_t write_callback(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view chunk(data, size * n);
  if (!t->started) {
    t->started = true;
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    t->response->status = status;
    t->streaming = status >= 200 && status < 300 && t->request->sink;
    if (t->streaming && t->request->on_start) {
      try {
        t->request->on_start(status, t->response->headers);
      } catch (...) {
        t->sink_error = std::current_exception();
        return 0;
      }
    }
  }
  if (!t->streaming) {
    if (t->response->body.size() < (64u << 20)) t->response->body.append(chunk);
    return chunk.size();
  }
  try {
    t->request->sink(chunk);
  } catch (...) {
    t->sink_error = std::current_exception();
    return 0;  // makes curl abort the transfer
  }
  return chunk.size();
}

}  // namespace

std::string url_origin(std::string_view url) {
  CURLU* u = curl_url();
  std::string origin;
  if (curl_url_set(u, CURLUPART_URL, std::string(url).c_str(), 0) == CURLUE_OK) {
    char *scheme = nullptr, *host = nullptr, *port = nullptr;
    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    curl_url_get(u, CURLUPART_HOST, &host, 0);
    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    origin = ascii_lower(std::string(scheme ? scheme : "") + "://" + (host ? host : "") + ":" + (port ? port : ""));
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
  }
  curl_url_cleanup(u);
  return origin;
}

std::string resolve_url(std::string_view base, std::string_view location) {
  CURLU* u = curl_url();
  std::string out(location);
  if (curl_url_set(u, CURLUPART_URL, std::string(base).c_str(), 0) == CURLUE_OK &&
      curl_url_set(u, CURLUPART_URL, std::string(location).c_str(), 0) == CURLUE_OK) {
    char* full = nullptr;
    if (curl_url_get(u, CURLUPART_URL, &full, 0) == CURLUE_OK) out = full;
    curl_free(full);
  }
  curl_url_cleanup(u);
  return out;
}

HttpClient::HttpClient() { static CurlGlobal global; }

HttpClient::~HttpClient() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* HttpClient::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  CURL* h = curl_easy_init();
  if (!h) throw Error("libcurl: cannot create a handle");
  return h;
}

void HttpClient::release(void* handle) {
  std::lock_guard lock(mutex_);
  idle_.push_back(handle);
}

HttpResponse HttpClient::perform(const HttpRequest& original) {
  HttpRequest req = original;
  const std::string origin = url_origin(original.url);
  for (int redirects = 0;; ++redirects) {
    CURL* curl = static_cast<CURL*>(acquire());
    struct Releaser {
      HttpClient* self;
      CURL* curl;
      ~Releaser() { self->release(curl); }
    } releaser{this, curl};
    curl_easy_reset(curl);

    HttpResponse response;
    Transfer t{&req, &response, curl};
    curl_slist* headers = nullptr;
    for (const auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());
    if (!req.authorization.empty() && url_origin(req.url) == origin)
      headers = curl_slist_append(headers, ("Authorization: " + req.authorization).c_str());
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_guard(headers, curl_slist_free_all);

    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(curl, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);  // a stalled transfer is an error after 60 s
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "cppcker/0.1");
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, header_callback);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_callback);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    if (!req.verify_tls) {
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (req.method == "HEAD") {
      curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (req.body_source) {
      // An upload read as it goes (PUT/PATCH of a blob): curl asks for the bytes, 1 MiB at a time.
      curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
      curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_callback);
      curl_easy_setopt(curl, CURLOPT_READDATA, &t);
      curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body_size));
      curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, 1024L * 1024);
    } else if (req.method != "GET") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }

    CURLcode rc = curl_easy_perform(curl);
    if (t.sink_error) std::rethrow_exception(t.sink_error);
    if (rc != CURLE_OK) {
      std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
      throw TransportError(req.method + " " + req.url + ": " + detail);
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    bool redirect = response.status == 301 || response.status == 302 || response.status == 303 ||
                    response.status == 307 || response.status == 308;
    std::string location = response.header("location");
    if (!redirect || location.empty()) return response;
    if (redirects >= 10) throw Error(req.method + " " + original.url + ": too many redirects");
    req.url = resolve_url(req.url, location);
    if (response.status == 303) {
      req.method = "GET";
      req.body.clear();
    }
  }
}

}  // namespace cppcker
