// Processes and sockets for the integration tests.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "cppcker/util/fs.hpp"
#include "test_support.hpp"

namespace testsupport {

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "cppcker-test-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path = tmpl;
}

TempDir::~TempDir() {
  try {
    cppcker::remove_tree(path);
  } catch (...) {
  }
}

static std::string read_fd_from_start(int fd) {
  std::string out;
  ::lseek(fd, 0, SEEK_SET);
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

static void exec_child(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  ::_exit(127);
}

CommandResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  int out = ::memfd_create("stdout", MFD_CLOEXEC);
  int err = ::memfd_create("stderr", MFD_CLOEXEC);
  pid_t pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    exec_child(argv, env);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_fd_from_start(out);
  r.err = read_fd_from_start(err);
  ::close(out);
  ::close(err);
  return r;
}

pid_t spawn(const std::vector<std::string>& argv, const fs::path& log, const std::vector<std::string>& env) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    exec_child(argv, env);
  }
  return pid;
}

void stop_process(pid_t pid, int grace_ms) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return;
    ::usleep(10000);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
}

std::vector<std::string> Cppcker::argv(const std::vector<std::string>& args) const {
  std::vector<std::string> v = {CPPCKER_BINARY, "--root", root.string(), "--config", config.string()};
  v.insert(v.end(), args.begin(), args.end());
  return v;
}

CommandResult Cppcker::operator()(const std::vector<std::string>& args) const { return run(argv(args)); }

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TcpServer::TcpServer(std::function<void(int)> handler) : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 64) != 0)
    throw std::runtime_error("test server: bind/listen failed");
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { loop(); });
}

TcpServer::~TcpServer() {
  stopping_ = true;
  thread_.join();
  ::close(listen_fd_);
  std::lock_guard lock(mutex_);
  for (auto& w : workers_) w.join();
}

void TcpServer::loop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(mutex_);
    workers_.emplace_back([this, fd] {
      try {
        handler_(fd);
      } catch (...) {
      }
      ::close(fd);
    });
  }
}

std::optional<HttpMessage> read_request(int fd) {
  std::string data;
  char buf[8192];
  std::size_t header_end;
  while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return std::nullopt;
    data.append(buf, static_cast<std::size_t>(n));
  }
  HttpMessage m;
  std::string head = data.substr(0, header_end);
  std::size_t line_end = head.find("\r\n");
  std::string request_line = head.substr(0, line_end);
  auto s1 = request_line.find(' ');
  auto s2 = request_line.rfind(' ');
  m.method = request_line.substr(0, s1);
  m.target = request_line.substr(s1 + 1, s2 - s1 - 1);
  m.version = request_line.substr(s2 + 1);
  std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    std::size_t end = head.find("\r\n", pos);
    if (end == std::string::npos) end = head.size();
    std::string line = head.substr(pos, end - pos);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      m.headers[name] = value;
    }
    pos = end + 2;
  }
  m.body = data.substr(header_end + 4);
  std::size_t length = m.headers.count("content-length") ? std::stoul(m.headers["content-length"]) : 0;
  while (m.body.size() < length) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    m.body.append(buf, static_cast<std::size_t>(n));
  }
  return m;
}

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    // send() with MSG_NOSIGNAL so that a vanished peer is an error, not SIGPIPE; pipes need write().
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) n = ::write(fd, data.data(), data.size());
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      throw std::runtime_error("send failed");
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

bool have_command(const std::string& name) {
  return run({"sh", "-c", "command -v " + name}).exit_code == 0;
}

}  // namespace testsupport
