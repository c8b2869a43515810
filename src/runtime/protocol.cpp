#include "cppcker/runtime/protocol.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker {

using nlohmann::json;

void stage_failed(const char* stage, const std::string& what) {
  int err = errno;
  throw StageError(stage, what + ": " + std::strerror(err), err);
}

// A message is JSON text, then a NUL, then the raw BPF program (JSON text never holds a NUL byte).
namespace {

std::string with_blob(const json& j, const std::string& blob) {
  std::string out = j.dump(-1, ' ', false, json::error_handler_t::replace);
  if (!blob.empty()) {
    out.push_back('\0');
    out += blob;
  }
  return out;
}

std::pair<json, std::string> split_blob(const std::string& bytes, const char* what) {
  auto nul = bytes.find('\0');
  json j = json::parse(bytes.substr(0, nul), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error(std::string("malformed ") + what + " message", 125);
  return {std::move(j), nul == std::string::npos ? std::string() : bytes.substr(nul + 1)};
}

}  // namespace

std::string encode(const StartRequest& r) {
  json j = {{"type", "start"},
            {"spec", oci::to_json(r.spec)},
            {"init", r.init},
            {"createCwd", r.create_cwd},
            {"stdinNull", r.stdin_null},
            {"loopbackUp", r.loopback_up},
            {"dockerUser", r.docker_user},
            {"usernsFd", r.has_userns_fd},
            {"netnsFd", r.has_netns_fd},
            {"joinedNamespaces", r.joined_namespaces},
            {"fifoFd", r.has_fifo_fd},
            {"bundle", r.bundle},
            {"preserveFds", r.preserve_fds},
            {"noPivot", r.no_pivot},
            {"noNewKeyring", r.no_new_keyring},
            {"runtimeHooks", r.runtime_hooks},
            {"hookState", oci::to_json(r.hook_state)}};
  if (r.overlay)
    j["overlay"] = {{"layersDir", r.overlay->layers_dir}, {"lowers", r.overlay->lowers},
                    {"upper", r.overlay->upper}, {"work", r.overlay->work}};
  return with_blob(j, r.seccomp_program);
}

StartRequest decode_start_request(const std::string& bytes) {
  auto [j, blob] = split_blob(bytes, "start");
  if (j.value("type", "") != "start") throw Error("expected a start message", 125);
  StartRequest r;
  r.spec = oci::spec_from_json(j.at("spec"));
  r.seccomp_program = std::move(blob);
  r.init = j.value("init", false);
  r.create_cwd = j.value("createCwd", false);
  r.stdin_null = j.value("stdinNull", false);
  r.loopback_up = j.value("loopbackUp", false);
  r.docker_user = j.value("dockerUser", false);
  r.has_userns_fd = j.value("usernsFd", false);
  r.has_netns_fd = j.value("netnsFd", false);
  r.joined_namespaces = j.value("joinedNamespaces", std::vector<std::string>{});
  r.has_fifo_fd = j.value("fifoFd", false);
  r.bundle = j.value("bundle", false);
  r.preserve_fds = j.value("preserveFds", 0u);
  r.no_pivot = j.value("noPivot", false);
  r.no_new_keyring = j.value("noNewKeyring", false);
  r.runtime_hooks = j.value("runtimeHooks", false);
  if (j.contains("hookState")) {
    const json& h = j["hookState"];
    r.hook_state.oci_version = h.value("ociVersion", std::string(oci::kRuntimeSpecVersion));
    r.hook_state.id = h.value("id", "");
    r.hook_state.status = h.value("status", "");
    r.hook_state.pid = h.value("pid", 0);
    r.hook_state.bundle = h.value("bundle", "");
    r.hook_state.annotations = h.value("annotations", std::map<std::string, std::string>{});
  }
  if (j.contains("overlay")) {
    const json& o = j["overlay"];
    r.overlay = OverlayRootfs{o.at("layersDir").get<std::string>(), o.at("lowers").get<std::vector<std::string>>(),
                              o.at("upper").get<std::string>(), o.at("work").get<std::string>()};
  }
  return r;
}

std::string encode_go() { return R"({"type":"go"})"; }

bool is_go(const std::string& bytes) { return bytes == encode_go(); }

std::string encode_hooks_done() { return R"({"type":"hooks-done"})"; }

bool is_hooks_done(const std::string& bytes) { return bytes == encode_hooks_done(); }

namespace {
// The wire names of an enum's values, both ways: one table each, read by these two.
template <typename Enum, std::size_t N>
const char* name_of(const std::pair<Enum, const char*> (&table)[N], Enum value, const char* otherwise) {
  for (const auto& [v, name] : table)
    if (v == value) return name;
  return otherwise;
}
template <typename Enum, std::size_t N>
std::optional<Enum> value_of(const std::pair<Enum, const char*> (&table)[N], const std::string& name) {
  for (const auto& [v, n] : table)
    if (name == n) return v;
  return std::nullopt;
}

constexpr std::pair<StageReply::Kind, const char*> kReplyKinds[] = {{StageReply::Kind::error, "error"},
                                                                    {StageReply::Kind::tty, "tty"},
                                                                    {StageReply::Kind::hooks, "hooks"},
                                                                    {StageReply::Kind::created, "created"},
                                                                    {StageReply::Kind::pid, "pid"}};
}  // namespace

std::string encode(const StageReply& r) {
  const char* type = name_of(kReplyKinds, r.kind, "error");
  json j = {{"type", type}, {"stage", r.stage}, {"errno", r.error_number}, {"message", r.message}, {"exitCode", r.exit_code}};
  if (r.pid) j["pid"] = r.pid;
  return with_blob(j, "");
}

StageReply decode_stage_reply(const std::string& bytes) {
  auto [j, blob] = split_blob(bytes, "reply");
  StageReply r;
  auto kind = value_of(kReplyKinds, j.value("type", ""));
  if (!kind) throw Error("malformed reply from the container", 125);
  r.kind = *kind;
  r.pid = j.value("pid", 0);
  r.stage = j.value("stage", "");
  r.error_number = j.value("errno", 0);
  r.message = j.value("message", "");
  r.exit_code = j.value("exitCode", 125);
  return r;
}

namespace {
constexpr std::pair<MonitorRequest::Step, const char*> kMonitorSteps[] = {{MonitorRequest::Step::restart, "restart"},
                                                                         {MonitorRequest::Step::wait, "wait"},
                                                                         {MonitorRequest::Step::ended, "ended"}};
}  // namespace

std::string encode(const MonitorRequest& r) {
  const char* step = name_of(kMonitorSteps, r.step, "restart");
  json j = {{"type", "monitor"},
            {"step", step},
            {"id", r.container_id},
            {"stateRoot", r.state_root},
            {"imageRoot", r.image_root},
            {"networkRoot", r.network_root},
            {"network", r.network.to_json()},
            {"reportFd", r.report_fd},
            {"ownerFd", r.owner_fd},
            {"restarts", r.restart_progress.restarts},
            {"backoffMs", r.restart_progress.delay.count()},
            {"restartInMs", r.restart_in_ms},
            {"pid", r.pid},
            {"ttyFd", r.tty_fd},
            {"outFd", r.out_fd},
            {"errFd", r.err_fd},
            {"heldFds", r.held_fds},
            {"logPath", r.log_path},
            {"logMaxSize", r.log_max_size},
            {"logMaxFile", r.log_max_file}};
  return with_blob(j, "");
}

MonitorRequest decode_monitor_request(const std::string& bytes) {
  auto [j, blob] = split_blob(bytes, "monitor");
  if (j.value("type", "") != "monitor") throw Error("expected a monitor message", 125);
  MonitorRequest r;
  const std::string step = j.value("step", "");
  auto known = value_of(kMonitorSteps, step);
  if (!known) throw Error("malformed monitor message: step \"" + step + "\"", 125);
  r.step = *known;
  try {
    r.container_id = j.at("id").get<std::string>();
    r.state_root = j.at("stateRoot").get<std::string>();
    r.image_root = j.at("imageRoot").get<std::string>();
    r.network_root = j.at("networkRoot").get<std::string>();
    r.network = NetworkConfig::from_json(j.at("network"));
    r.report_fd = j.value("reportFd", -1);
    r.owner_fd = j.value("ownerFd", -1);
    r.restart_progress.restarts = j.value("restarts", 0);
    r.restart_progress.delay = std::chrono::milliseconds(j.value("backoffMs", std::int64_t{0}));
    r.restart_in_ms = j.value("restartInMs", std::int64_t{0});
    r.pid = j.value("pid", 0);
    r.tty_fd = j.value("ttyFd", -1);
    r.out_fd = j.value("outFd", -1);
    r.err_fd = j.value("errFd", -1);
    r.held_fds = j.value("heldFds", std::vector<int>{});
    r.log_path = j.value("logPath", "");
    r.log_max_size = j.value("logMaxSize", std::int64_t{-1});
    r.log_max_file = j.value("logMaxFile", 1);
  } catch (const json::exception& e) {
    throw Error(std::string("malformed monitor message: ") + e.what(), 125);
  }
  return r;
}

UniqueFd message_pipe(const std::string& bytes) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe");
  UniqueFd read_end(p[0]), write_end(p[1]);
  // Written before anyone reads: it must fit in the pipe's buffer, or the write would never return.
  const int capacity = ::fcntl(write_end.get(), F_GETPIPE_SZ);
  if (capacity < 0) throw_errno("F_GETPIPE_SZ");
  if (bytes.size() > static_cast<std::size_t>(capacity))
    throw Error("a stage message of " + std::to_string(bytes.size()) + " bytes does not fit in a pipe", 125);
  write_all(write_end.get(), bytes, "a stage's message pipe");
  return read_end;
}

std::string read_message_pipe(UniqueFd fd) { return read_all(fd.get(), "a stage's message pipe"); }

// ---------------------------------------------------------------- framing

namespace {

void send_datagram(int sock, const void* data, std::size_t size, const std::vector<int>& fds) {
  iovec iov{const_cast<void*>(data), size};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)]{};
  if (fds.size() > kMaxFds) throw Error("too many descriptors for one message", 125);
  if (!fds.empty()) {
    mh.msg_control = control;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(cm), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  while ((n = ::sendmsg(sock, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(size)) throw_errno("send to the container's stage");
}

// One datagram into `buf`; 0 on EOF.
std::size_t receive_datagram(int sock, char* buf, std::size_t size, std::vector<UniqueFd>* passed) {
  iovec iov{buf, size};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)]{};
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n < 0) throw_errno("receive from the container's stage");
  for (cmsghdr* cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
      if (passed) passed->emplace_back(fd);
      else ::close(fd);
    }
  }
  if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) throw Error("a message frame from the container's stage was cut short", 125);
  return static_cast<std::size_t>(n);
}

constexpr std::size_t kHeader = sizeof(std::uint64_t);
constexpr std::uint64_t kMaxMessage = 256ull << 20;

}  // namespace

void send_message(int sock, const std::string& bytes, const std::vector<int>& fds) {
  // First frame: the total length, then as much of the message as fits.
  std::string first(kHeader, '\0');
  const std::uint64_t total = bytes.size();
  std::memcpy(first.data(), &total, kHeader);
  std::size_t sent = std::min(bytes.size(), kFrameSize - kHeader);
  first.append(bytes, 0, sent);
  send_datagram(sock, first.data(), first.size(), fds);
  while (sent < bytes.size()) {
    std::size_t n = std::min(bytes.size() - sent, kFrameSize);
    send_datagram(sock, bytes.data() + sent, n, {});
    sent += n;
  }
}

std::optional<std::string> receive_message(int sock, std::vector<UniqueFd>* passed) {
  auto buf = std::make_unique_for_overwrite<char[]>(kFrameSize);
  std::size_t n = receive_datagram(sock, buf.get(), kFrameSize, passed);
  if (n == 0) return std::nullopt;
  if (n < kHeader) throw Error("malformed message from the container's stage", 125);
  std::uint64_t total;
  std::memcpy(&total, buf.get(), kHeader);
  if (total > kMaxMessage) throw Error("oversized message from the container's stage", 125);
  std::string out(buf.get() + kHeader, n - kHeader);
  while (out.size() < total) {
    std::size_t m = receive_datagram(sock, buf.get(), kFrameSize, nullptr);
    if (m == 0) throw Error("the container's stage went away in the middle of a message", 125);
    out.append(buf.get(), m);
  }
  if (out.size() != total) throw Error("malformed message from the container's stage", 125);
  return out;
}

}  // namespace cppcker
