#pragma once
// Test support for the integration tests: real processes and real sockets, nothing mocked.
#include <sys/types.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cppcker/image/manifest.hpp"
#include "cppcker/registry/config.hpp"

namespace testsupport {

namespace fs = std::filesystem;

// A directory removed (with everything below it) on destruction.
struct TempDir {
  fs::path path;
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs a program with arguments (no shell), waits, captures output. `env` entries are added.
CommandResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});
// Starts a program in the background; stdout/stderr to `log`. Returns its pid.
pid_t spawn(const std::vector<std::string>& argv, const fs::path& log, const std::vector<std::string>& env = {});
// Kills the pid (SIGTERM, then SIGKILL after a grace period) and reaps it.
void stop_process(pid_t pid, int grace_ms = 2000);

// The cppcker binary under test with a private state root.
struct Cppcker {
  fs::path root;
  fs::path config;  // empty: a config path that does not exist (defaults)
  CommandResult operator()(const std::vector<std::string>& args) const;
  std::vector<std::string> argv(const std::vector<std::string>& args) const;
};

int free_port();

// A program running on a pseudo-terminal of its own (the test holds the master), as a user's shell
// would run it: it is the session leader and the terminal is its controlling terminal.
class PtySession {
 public:
  PtySession(const std::vector<std::string>& argv, unsigned short rows, unsigned short cols);
  ~PtySession();  // kills the program if it is still running
  PtySession(const PtySession&) = delete;
  PtySession& operator=(const PtySession&) = delete;
  void send(std::string_view keys);
  void resize(unsigned short rows, unsigned short cols);
  // Reads until `text` has appeared in the output since the last expect (true) or `timeout_ms` passed.
  bool expect(const std::string& text, int timeout_ms = 10000);
  // Waits for the program's end (up to `timeout_ms`, then kills it); returns its exit status.
  int wait(int timeout_ms = 10000);
  const std::string& output() const { return output_; }
  // The terminal's local modes (ICANON, ECHO, ...) as the program left them.
  unsigned local_modes() const;

 private:
  void pump(int timeout_ms);
  int master_ = -1, slave_ = -1;
  pid_t pid_ = -1;
  std::string output_;
  std::size_t seen_ = 0;
};

// A TCP server on 127.0.0.1 that handles each connection on a thread with `handler(fd)`.
class TcpServer {
 public:
  explicit TcpServer(std::function<void(int)> handler);
  ~TcpServer();
  int port() const { return port_; }

 private:
  void loop();
  std::function<void(int)> handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::thread> workers_;
};

// One HTTP/1.1 request read from a socket.
struct HttpMessage {
  std::string method, target, version;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
};
std::optional<HttpMessage> read_request(int fd);
void write_all(int fd, std::string_view data);

// A token server for the registry's token auth: checks Basic credentials and issues RS256 JWTs whose
// x5c header carries the certificate the registry trusts.
class TokenServer {
 public:
  TokenServer(const fs::path& dir, std::string user, std::string password);
  fs::path cert_path() const { return dir_ / "token.crt"; }
  std::string realm() const;
  std::atomic<int> requests{0};
  std::atomic<int> authenticated_requests{0};

 private:
  void handle(int fd);
  std::string sign(const std::string& subject, const std::string& scope);
  fs::path dir_;
  std::string user_, password_;
  std::string cert_der_b64_;
  std::unique_ptr<TcpServer> server_;
};

// Debian's docker-registry on 127.0.0.1 with filesystem storage below `dir`.
class Registry {
 public:
  enum class Auth { none, htpasswd, token };
  Registry(const fs::path& dir, Auth auth = Auth::none, const TokenServer* tokens = nullptr,
           const fs::path& shared_storage = {});
  ~Registry();
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

// An HTTP proxy in front of a registry that can misbehave on purpose.
class FaultProxy {
 public:
  // drop_upload: a PATCH or PUT with a body (a blob upload) has half its body passed on to the registry,
  // then both connections are closed without an answer, as a network failure mid-upload would.
  enum class Fault { none, corrupt_blob, truncate_blob, error_500, drop_once, slow, schema1_manifest, redirect, drop_upload };
  explicit FaultProxy(int upstream_port);
  std::string host() const { return "127.0.0.1:" + std::to_string(server_->port()); }
  // Faults apply to requests whose path contains `match` (e.g. a blob digest), after `skip` matching ones.
  void set(Fault fault, std::string match, int count = 1, int skip = 0);
  // Every request passed through, with the registry's answer (0 when none reached the client).
  struct Logged {
    std::string method, target;
    int status = 0;
    std::size_t body_size = 0;
  };
  std::vector<Logged> log() const {
    std::lock_guard lock(mutex_);
    return log_;
  }
  void clear_log() {
    std::lock_guard lock(mutex_);
    log_.clear();
  }
  // Requests in the log with `method` whose target contains `match`.
  int count(const std::string& method, const std::string& match = "") const;
  // For Fault::redirect: answer 307 with Location `url`.
  void set_redirect(std::string url) {
    std::lock_guard lock(mutex_);
    redirect_url_ = std::move(url);
  }
  std::atomic<int> range_requests{0};
  std::atomic<int> faults_applied{0};

 private:
  void handle(int fd);
  int upstream_port_;
  mutable std::mutex mutex_;
  Fault fault_ = Fault::none;
  std::string match_;
  int skip_ = 0;
  std::vector<Logged> log_;
  std::string redirect_url_;
  int remaining_ = 0;
  std::unique_ptr<TcpServer> server_;
};

// ---- images built by the tests ----

struct Entry {
  enum class Type { file, dir, symlink, hardlink, chardev, fifo } type = Type::file;
  std::string path;
  std::string data;  // file content, or link target
  unsigned mode = 0644;
  unsigned uid = 0, gid = 0;
  unsigned dev_major = 0, dev_minor = 0;
  std::map<std::string, std::string> xattrs;
  long mtime = 1700000000;
};
Entry file(std::string path, std::string data, unsigned mode = 0644, unsigned uid = 0, unsigned gid = 0);
Entry dir(std::string path, unsigned mode = 0755, unsigned uid = 0, unsigned gid = 0);
Entry symlink(std::string path, std::string target);
Entry hardlink(std::string path, std::string target);

std::string make_tar(const std::vector<Entry>& entries);
std::string compress(const std::string& data, cppcker::Compression c);

struct Layer {
  std::string tar;
  cppcker::Compression compression = cppcker::Compression::gzip;
};

struct Blob {
  std::string digest;
  std::string data;
};

struct BuiltImage {
  std::string config, config_digest;
  std::string manifest, manifest_digest, manifest_media_type;
  std::vector<Blob> layers;
  std::vector<std::string> diff_ids;
};
// `oci` chooses OCI or Docker v2 schema 2 media types. `diff_id_override` corrupts the config on purpose.
BuiltImage build_image(const std::vector<Layer>& layers, bool oci, const cppcker::Platform& platform,
                       const std::vector<std::string>& cmd = {"sh"}, const std::string& diff_id_override = "");

// Pushes with cppcker's own registry client (credentials, if any, from `config`).
void push_image(const std::string& registry, const std::string& repo, const std::string& tag, const BuiltImage& image,
                const cppcker::RegistryConfig& config = {});
// Pushes the images and an index (OCI index or Docker manifest list) naming them; returns its digest.
std::string push_index(const std::string& registry, const std::string& repo, const std::string& tag,
                       const std::vector<std::pair<BuiltImage, cppcker::Platform>>& images, bool oci,
                       const cppcker::RegistryConfig& config = {});

// A listing of a tree for byte-for-byte comparison: one line per entry with type, mode, owner, size,
// sha256 or link target, device numbers and the trusted.overlay.opaque xattr.
std::map<std::string, std::string> describe_tree(const fs::path& root);
// The same description computed from the entries a layer was built of.
std::map<std::string, std::string> describe_entries(const std::vector<Entry>& entries);

bool have_command(const std::string& name);

}  // namespace testsupport
