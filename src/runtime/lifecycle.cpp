#include "cppcker/runtime/lifecycle.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include <nlohmann/json.hpp>

#include "cppcker/runtime/networking.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker {

int parse_signal(const std::string& text) {
  static const std::pair<const char*, int> names[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ILL", SIGILL},   {"TRAP", SIGTRAP},
      {"ABRT", SIGABRT}, {"BUS", SIGBUS},     {"FPE", SIGFPE},   {"KILL", SIGKILL}, {"USR1", SIGUSR1},
      {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},   {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM},
      {"CHLD", SIGCHLD}, {"CONT", SIGCONT},   {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
      {"TTOU", SIGTTOU}, {"URG", SIGURG},     {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
      {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"PWR", SIGPWR},   {"SYS", SIGSYS}};
  std::string t = text;
  for (char& ch : t) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (t.rfind("SIG", 0) == 0) t = t.substr(3);
  if (!t.empty() && t.find_first_not_of("0123456789") == std::string::npos) {
    int n = std::stoi(t);
    if (n >= 1 && n <= 64) return n;
  }
  for (const auto& [name, sig] : names)
    if (t == name) return sig;
  throw Error("invalid signal: " + text);
}

bool signal_container(const Container& c, int sig) {
  if (!process_alive(c.state.pid, c.state.pid_start)) return false;
  return ::kill(c.state.pid, sig) == 0;
}

bool wait_until_stopped(const Container& c, std::chrono::milliseconds timeout) {
  // A pidfd becomes readable when its process ends: no polling of /proc. Opened first and checked
  // against the recorded start time after, so that it is known to be ours and not a reused pid.
  std::vector<UniqueFd> running;
  for (auto [pid, start] : {std::pair{c.state.pid, c.state.pid_start}, std::pair{c.state.monitor_pid, c.state.monitor_start}}) {
    if (pid <= 0) continue;
    UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (fd && process_alive(pid, start)) running.push_back(std::move(fd));
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const auto& fd : running) {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{fd.get(), POLLIN, 0};
      int rc = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
      if (rc > 0) break;
      if (rc == 0) return false;
      if (errno != EINTR) throw_errno("wait for the container");
    }
  }
  return true;
}

void stop_container(const ContainerStore& store, const Container& c, int timeout_seconds) {
  (void)store;
  if (!process_alive(c.state.pid, c.state.pid_start)) return;
  signal_container(c, c.spec.stop_signal);
  if (!wait_until_stopped(c, std::chrono::seconds(std::max(timeout_seconds, 0)))) {
    signal_container(c, SIGKILL);
    wait_until_stopped(c, std::chrono::seconds(10));
  }
}

void remove_container(const ContainerStore& store, const NetworkStore& networks, const Container& c, bool force,
                      bool remove_volumes) {
  // Holding the owner lock means nobody runs the container or is starting it. A start may have taken
  // the lock before recording its pid, so a busy lock sends us back to the record until the owner shows.
  Container current = c;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::optional<FileLock> owner;
  for (;;) {
    bool owner_alive = process_alive(current.state.monitor_pid, current.state.monitor_start);
    if (ContainerStore::observed_state(current).status == "running" || owner_alive) {
      if (!force)
        throw Error("You cannot remove a running container " + c.id +
                    ". Stop the container before attempting removal or force remove");
      // The owner first: a container still starting has no pid on record yet, but dies with its owner.
      if (owner_alive) ::kill(current.state.monitor_pid, SIGKILL);
      signal_container(current, SIGKILL);
    }
    if ((owner = store.try_owner_lock(c.id))) break;
    if (std::chrono::steady_clock::now() >= deadline) throw Error("container " + c.id + " did not stop");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    auto reread = store.load(c.id);
    if (!reread) throw Error("No such container: " + c.id);
    current = *reread;
  }
  if (!wait_until_stopped(current, std::chrono::seconds(10))) throw Error("container " + c.id + " did not stop");
  // Normally its owner removed the cgroup; after a crash it may still be there.
  make_cgroup(current.cgroup_paths())->destroy();
  remove_empty_cgroup_parents(current.cgroup_paths(), current.spec.cgroup_owned_tops);
  teardown_network(networks, store, current);
  // Still under the owner lock: a start waiting for it finds no record afterwards.
  store.remove(c.id);
  if (remove_volumes) {
    VolumeStore volumes(store.dir(c.id).parent_path().parent_path());
    for (const auto& m : current.spec.mounts)
      if (m.anonymous && volumes.exists(m.source)) volumes.remove(m.source);
  }
}

std::string status_text(const ContainerState& s) {
  auto since = [](const std::string& t) {
    auto tp = parse_rfc3339(t);
    return tp ? human_duration(now() - *tp) : std::string("?");
  };
  if (s.status == "running") return "Up " + since(s.started);
  if (s.status == "exited") return "Exited (" + std::to_string(s.exit_code) + ") " + since(s.finished) + " ago";
  return "Created";
}

std::string ports_text(const ContainerState& s) {
  std::string out;
  if (s.status != "running" || !s.net) return out;
  for (const auto& p : s.net->ports)
    out += (out.empty() ? "" : ", ") + p.shown_host_ip() + ":" + std::to_string(p.host_port) + "->" + p.container_key();
  return out;
}

LogWriter::LogWriter(const fs::path& path) {
  fd_.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!fd_) throw_errno("open log " + path.string());
}

void LogWriter::write(const std::string& stream, std::string_view data) {
  std::string& pending = pending_[stream == "stderr" ? 1 : 0];
  pending.append(data);
  std::string out;
  std::size_t start = 0, nl;
  while ((nl = pending.find('\n', start)) != std::string::npos) {
    out += nlohmann::json{{"log", pending.substr(start, nl - start + 1)}, {"stream", stream}, {"time", format_rfc3339(now())}}
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
           "\n";
    start = nl + 1;
  }
  pending.erase(0, start);
  if (!out.empty() && ::write(fd_.get(), out.data(), out.size()) < 0) {
    // A full disk must not kill the container: the output is dropped.
  }
}

void LogWriter::flush() {
  for (int i = 0; i < 2; ++i) {
    if (pending_[i].empty()) continue;
    std::string line = nlohmann::json{{"log", pending_[i]}, {"stream", i ? "stderr" : "stdout"}, {"time", format_rfc3339(now())}}
                           .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                       "\n";
    if (::write(fd_.get(), line.data(), line.size()) < 0) {
    }
    pending_[i].clear();
  }
}

void read_logs(const fs::path& path, bool follow, const std::function<bool()>& still_running,
               const std::function<void(const LogLine&)>& sink) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  std::string buffer;
  char chunk[65536];
  for (;;) {
    bool running = follow && still_running();  // asked before reading, so nothing written after is lost
    if (fd) {
      ssize_t n;
      while ((n = ::read(fd.get(), chunk, sizeof chunk)) > 0) buffer.append(chunk, static_cast<std::size_t>(n));
    } else {
      fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    }
    std::size_t start = 0, nl;
    while ((nl = buffer.find('\n', start)) != std::string::npos) {
      auto j = nlohmann::json::parse(buffer.substr(start, nl - start), nullptr, false);
      if (!j.is_discarded()) sink({j.value("stream", "stdout"), j.value("log", ""), j.value("time", "")});
      start = nl + 1;
    }
    buffer.erase(0, start);
    if (!running) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace cppcker
