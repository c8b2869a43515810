// A real docker-registry, a JWT token server for it, and a fault-injecting proxy.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "cppcker/registry/config.hpp"
#include "cppcker/util/fs.hpp"
#include "test_support.hpp"

namespace testsupport {

namespace {

std::string base64url(std::string_view data) {
  std::string s = cppcker::base64_encode(data);
  for (char& c : s) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

std::string query_param(const std::string& target, const std::string& key) {
  auto q = target.find('?');
  if (q == std::string::npos) return "";
  std::string query = target.substr(q + 1);
  std::size_t pos = 0;
  while (pos <= query.size()) {
    auto amp = query.find('&', pos);
    std::string pair = query.substr(pos, amp - pos);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == key) {
      std::string v = eq == std::string::npos ? "" : pair.substr(eq + 1), out;
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '%' && i + 2 < v.size()) {
          out += static_cast<char>(std::stoi(v.substr(i + 1, 2), nullptr, 16));
          i += 2;
        } else {
          out += v[i] == '+' ? ' ' : v[i];
        }
      }
      return out;
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return "";
}

int connect_port(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

// ---- token server ----

TokenServer::TokenServer(const fs::path& dir, std::string user, std::string password)
    : dir_(dir), user_(std::move(user)), password_(std::move(password)) {
  auto r = run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", (dir_ / "token.key").string(),
                "-out", (dir_ / "token.crt").string(), "-days", "2", "-subj", "/CN=cppcker-test-token"});
  if (r.exit_code != 0) throw std::runtime_error("openssl req failed: " + r.err);
  FILE* f = std::fopen((dir_ / "token.crt").c_str(), "r");
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  cert_der_b64_ = cppcker::base64_encode(std::string_view(reinterpret_cast<char*>(der), static_cast<std::size_t>(len)));
  OPENSSL_free(der);
  X509_free(cert);
  server_ = std::make_unique<TcpServer>([this](int fd) { handle(fd); });
}

std::string TokenServer::realm() const { return "http://127.0.0.1:" + std::to_string(server_->port()) + "/token"; }

std::string TokenServer::sign(const std::string& subject, const std::string& scope) {
  using nlohmann::json;
  json access = json::array();
  // scope = repository:<name>:<actions>
  auto first = scope.find(':');
  auto last = scope.rfind(':');
  if (!subject.empty() && first != std::string::npos && last != first) {
    json actions = json::array();
    std::string list = scope.substr(last + 1);
    std::size_t pos = 0;
    while (pos <= list.size()) {
      auto comma = list.find(',', pos);
      actions.push_back(list.substr(pos, comma - pos));
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    access.push_back({{"type", scope.substr(0, first)}, {"name", scope.substr(first + 1, last - first - 1)},
                      {"actions", actions}});
  }
  long now = static_cast<long>(std::time(nullptr));
  json header = {{"typ", "JWT"}, {"alg", "RS256"}, {"x5c", {cert_der_b64_}}};
  json claims = {{"iss", "cppcker-test-issuer"}, {"sub", subject}, {"aud", "cppcker-test-registry"},
                 {"exp", now + 600},             {"nbf", now - 60}, {"iat", now},
                 {"jti", cppcker::random_hex(8)}, {"access", access}};
  std::string signing_input = base64url(header.dump()) + "." + base64url(claims.dump());
  FILE* f = std::fopen((dir_ / "token.key").c_str(), "r");
  EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSignUpdate(ctx, signing_input.data(), signing_input.size());
  size_t sig_len = 0;
  EVP_DigestSignFinal(ctx, nullptr, &sig_len);
  std::string sig(sig_len, '\0');
  EVP_DigestSignFinal(ctx, reinterpret_cast<unsigned char*>(sig.data()), &sig_len);
  sig.resize(sig_len);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return signing_input + "." + base64url(sig);
}

void TokenServer::handle(int fd) {
  auto req = read_request(fd);
  if (!req) return;
  ++requests;
  std::string subject;
  if (auto it = req->headers.find("authorization"); it != req->headers.end()) {
    if (it->second.rfind("Basic ", 0) != 0 || cppcker::base64_decode(it->second.substr(6)) != user_ + ":" + password_) {
      write_all(fd, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    subject = user_;
    ++authenticated_requests;
  }
  // Anonymous callers get a token with no access, as public token servers do for private repositories.
  std::string token = sign(subject, query_param(req->target, "scope"));
  std::string body = nlohmann::json{{"token", token}, {"expires_in", 300}}.dump();
  write_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\nConnection: close\r\n\r\n" + body);
}

// ---- registry ----

Registry::Registry(const fs::path& dir, Auth auth, const TokenServer* tokens, const fs::path& shared_storage) {
  port_ = free_port();
  fs::path storage = shared_storage.empty() ? dir / "storage" : shared_storage;
  std::ofstream cfg(dir / "registry.yml");
  cfg << "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: "
      << storage.string() << "\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:" << port_ << "\n";
  if (auth == Auth::htpasswd) {
    auto r = run({"htpasswd", "-Bbn", "tester", "secret"});
    if (r.exit_code != 0) throw std::runtime_error("htpasswd failed (apache2-utils missing?): " + r.err);
    std::ofstream(dir / "htpasswd") << r.out;
    cfg << "auth:\n  htpasswd:\n    realm: cppcker-test\n    path: " << (dir / "htpasswd").string() << "\n";
  } else if (auth == Auth::token) {
    cfg << "auth:\n  token:\n    realm: " << tokens->realm() << "\n    service: cppcker-test-registry\n"
        << "    issuer: cppcker-test-issuer\n    rootcertbundle: " << tokens->cert_path().string() << "\n";
  }
  cfg.close();
  pid_ = spawn({"docker-registry", "serve", (dir / "registry.yml").string()}, dir / "registry.log");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = connect_port(port_);
    if (fd >= 0) {
      ::close(fd);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop_process(pid_);
  throw std::runtime_error("docker-registry did not start; log: " + cppcker::read_file(dir / "registry.log"));
}

Registry::~Registry() { stop_process(pid_); }

// ---- fault proxy ----

FaultProxy::FaultProxy(int upstream_port) : upstream_port_(upstream_port) {
  server_ = std::make_unique<TcpServer>([this](int fd) { handle(fd); });
}

void FaultProxy::set(Fault fault, std::string match, int count, int skip) {
  std::lock_guard lock(mutex_);
  fault_ = fault;
  match_ = std::move(match);
  remaining_ = count;
  skip_ = skip;
}

int FaultProxy::count(const std::string& method, const std::string& match) const {
  std::lock_guard lock(mutex_);
  int n = 0;
  for (const auto& l : log_)
    if (l.method == method && l.target.find(match) != std::string::npos) ++n;
  return n;
}

void FaultProxy::handle(int client) {
  auto req = read_request(client);
  if (!req) return;
  if (req->headers.count("range")) ++range_requests;
  Fault fault = Fault::none;
  {
    std::lock_guard lock(mutex_);
    // Download faults apply to GETs; drop_upload to requests that carry a blob's bytes.
    bool applies = fault_ == Fault::drop_upload ? (req->method == "PATCH" || req->method == "PUT") && !req->body.empty()
                                                : req->method == "GET";
    if (fault_ != Fault::none && remaining_ > 0 && req->target.find(match_) != std::string::npos && applies) {
      if (skip_ > 0) {
        --skip_;
      } else {
        fault = fault_;
        --remaining_;
        ++faults_applied;
      }
    }
  }
  std::size_t log_index;
  {
    std::lock_guard lock(mutex_);
    log_index = log_.size();
    log_.push_back({req->method, req->target, 0, req->body.size()});
  }
  auto answered = [&](const std::string& head) {
    int status = 0;
    if (head.size() > 12) status = std::atoi(head.substr(9, 3).c_str());
    std::lock_guard lock(mutex_);
    log_[log_index].status = status;
  };
  if (fault == Fault::error_500) {
    write_all(client, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return;
  }
  if (fault == Fault::redirect) {
    std::string url;
    {
      std::lock_guard lock(mutex_);
      url = redirect_url_;
    }
    write_all(client, "HTTP/1.1 307 Temporary Redirect\r\nLocation: " + url + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return;
  }
  if (fault == Fault::schema1_manifest) {
    std::string body = R"({"schemaVersion":1,"name":"x","tag":"latest","architecture":"amd64","fsLayers":[],"history":[]})";
    write_all(client, "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.distribution.manifest.v1+prettyjws\r\n"
                      "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    return;
  }
  int up = connect_port(upstream_port_);
  if (up < 0) return;
  std::string out = req->method + " " + req->target + " HTTP/1.1\r\n";
  for (const auto& [k, v] : req->headers)
    if (k != "connection") out += k + ": " + v + "\r\n";
  if (fault == Fault::drop_upload) {
    // The registry gets the head and half the body, then the connection breaks; the client gets nothing.
    out += "connection: close\r\n\r\n" + req->body.substr(0, req->body.size() / 2);
    try {
      write_all(up, out);
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ::shutdown(up, SHUT_RDWR);
    ::close(up);
    ::shutdown(client, SHUT_RDWR);
    return;
  }
  out += "connection: close\r\n\r\n" + req->body;
  write_all(up, out);
  std::string response;
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(up, buf, sizeof buf, 0)) > 0) response.append(buf, static_cast<std::size_t>(n));
  ::close(up);
  auto split = response.find("\r\n\r\n");
  if (split == std::string::npos) return;
  std::string head = response.substr(0, split + 4);
  std::string body = response.substr(split + 4);
  answered(head);
  bool ok = (head.rfind("HTTP/1.1 200", 0) == 0 || head.rfind("HTTP/1.1 206", 0) == 0) && !body.empty();
  auto set_length = [&](std::size_t len) {
    auto pos = head.find("Content-Length: ");
    if (pos == std::string::npos) return;
    auto end = head.find("\r\n", pos);
    head.replace(pos, end - pos, "Content-Length: " + std::to_string(len));
  };
  try {
    if (ok && fault == Fault::corrupt_blob) {
      body[body.size() / 2] = static_cast<char>(body[body.size() / 2] ^ 0x5a);
    } else if (ok && fault == Fault::truncate_blob) {
      body.resize(body.size() / 2);
      set_length(body.size());
    } else if (ok && fault == Fault::drop_once) {
      write_all(client, head + body.substr(0, body.size() / 2));
      return;  // closing the connection mid-body
    } else if (ok && fault == Fault::slow) {
      write_all(client, head);
      for (std::size_t off = 0; off < body.size(); off += 16384) {
        write_all(client, std::string_view(body).substr(off, 16384));
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      return;
    }
    write_all(client, head + body);
  } catch (const std::exception&) {
    // The client went away; nothing to do.
  }
}

}  // namespace testsupport
