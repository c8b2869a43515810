#include "cppcker/runtime/lifecycle.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <poll.h>
#include <sys/syscall.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "cppcker/runtime/networking.hpp"
#include "cppcker/runtime/health.hpp"
#include "cppcker/runtime/options.hpp"
#include "cppcker/runtime/restart.hpp"
#include "cppcker/security/userns.hpp"
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

namespace {
// A pidfd of the process if it is still the one started at `start` (opened first, then checked, so
// that what it refers to cannot be a reused pid).
UniqueFd verified_pidfd(pid_t pid, std::uint64_t start) {
  if (pid <= 0) return {};
  UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!fd || !process_alive(pid, start)) return {};
  return fd;
}
}  // namespace

bool signal_container(const Container& c, int sig) {
  UniqueFd fd = verified_pidfd(c.state.pid, c.state.pid_start);
  return fd && ::syscall(SYS_pidfd_send_signal, fd.get(), sig, nullptr, 0) == 0;
}

bool wait_until_stopped(const Container& c, std::chrono::milliseconds timeout) {
  // A pidfd becomes readable when its process ends: no polling of /proc. Opened first and checked
  // against the recorded start time after, so that it is known to be ours and not a reused pid.
  std::vector<UniqueFd> running;
  for (auto [pid, start] : {std::pair{c.state.pid, c.state.pid_start}, std::pair{c.state.monitor_pid, c.state.monitor_start}})
    if (UniqueFd fd = verified_pidfd(pid, start)) running.push_back(std::move(fd));
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
  const std::string status = ContainerStore::observed_state(c).status;
  if (status != "running" && status != "restarting") return;
  // The restart policy ends first, so that the exit the stop signal causes is not restarted. A container
  // waiting to restart has no process: its monitor sees the mark and ends, which is waited for below.
  Container current = mark_stopped_by_user(store, c.id).value_or(c);
  signal_container(current, current.spec.stop_signal);
  thaw_if_paused(store, current);  // as Docker: signalled, then resumed so that it can act on it
  if (!wait_until_stopped(current, std::chrono::seconds(std::max(timeout_seconds, 0)))) {
    // A monitor that restarted it meanwhile recorded another process.
    if (auto fresh = store.load(c.id)) current = *fresh;
    signal_container(current, SIGKILL);
    wait_until_stopped(current, std::chrono::seconds(10));
  }
}

void kill_container(const ContainerStore& store, const Container& c, int sig) {
  const std::string status = ContainerStore::observed_state(c).status;
  if (status != "running" && status != "restarting")
    throw Error("container " + c.id + " is not running");
  // As Docker: any signal the user sends ends the restart policy; one waiting to restart gets none.
  Container current = mark_stopped_by_user(store, c.id).value_or(c);
  if (status == "restarting") return;
  if (!signal_container(current, sig))
    throw Error("container " + c.id + " is not running");
  thaw_if_paused(store, current);
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
    const std::string status = ContainerStore::observed_state(current).status;
    if (status == "running" || status == "restarting" || owner_alive) {
      if (!force)
        throw Error("You cannot remove a " + std::string(status == "restarting" ? "restarting" : "running") +
                    " container " + c.id + ". Stop the container before attempting removal or force remove");
      // The owner first: a container still starting has no pid on record yet, but dies with its owner.
      if (UniqueFd monitor = verified_pidfd(current.state.monitor_pid, current.state.monitor_start))
        ::syscall(SYS_pidfd_send_signal, monitor.get(), SIGKILL, nullptr, 0);
      signal_container(current, SIGKILL);
      thaw_if_paused(store, current);  // a frozen task dies only once thawed
    }
    if ((owner = store.try_owner_lock(c.id))) break;
    if (std::chrono::steady_clock::now() >= deadline) throw Error("container " + c.id + " did not stop");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    auto reread = store.load(c.id);
    if (!reread) throw Error("No such container: " + c.id);
    current = *reread;
  }
  if (!wait_until_stopped(current, std::chrono::seconds(10))) throw Error("container " + c.id + " did not stop");
  // Normally its owner removed the cgroup; after a crash it may still be there (and frozen, if it was paused).
  {
    const CgroupPlacement placement = current.cgroup_placement();
    auto cgroup = make_cgroup(placement.paths);
    try {
      if (cgroup->frozen()) cgroup->thaw();
    } catch (const Error&) {
      // No freezer, or the cgroup is gone: nothing is frozen then.
    }
    cgroup->destroy(placement.owned_tops);
  }
  teardown_network(networks, store, current);
  // The address a restart policy kept for it while it was down (its record no longer names it then).
  if (network_mode(current.spec.network) == NetworkMode::bridge) networks.release(current.spec.network, c.id);
  // Still under the owner lock: a start waiting for it finds no record afterwards.
  store.remove(c.id);
  if (current.spec.userns) UsernsAllocator(store.root() / "userns").release(c.id);
  if (remove_volumes) {
    VolumeStore volumes(store.root());
    for (const auto& m : current.spec.mounts)
      if (m.anonymous && volumes.exists(m.source)) volumes.remove(m.source);
  }
}

namespace {
// The record as it is now, under the store lock, checked to be the running container `c` names.
Container running_record(const ContainerStore& store, const Container& c) {
  auto current = store.load(c.id);
  if (!current) throw Error("No such container: " + c.id);
  const ContainerState s = ContainerStore::observed_state(*current);
  if (s.status == "restarting") throw Error("Container " + c.id + " is restarting, wait until the container is running");
  if (s.status != "running") throw Error("Container " + c.id + " is not running");
  return *current;
}
}  // namespace

void pause_container(const ContainerStore& store, const Container& c) {
  // Under the store lock throughout: a concurrent unpause, or the monitor recording the end, waits.
  auto guard = store.lock();
  Container current = running_record(store, c);
  if (current.state.paused) throw Error("Container " + c.id + " is already paused");
  make_cgroup(current.cgroup_paths())->freeze();  // undone by freeze() itself when it fails
  current.state.paused = true;
  store.save(current, Durability::unsynced);  // after a machine crash nothing is frozen any more either
}

void unpause_container(const ContainerStore& store, const Container& c) {
  auto guard = store.lock();
  Container current = running_record(store, c);
  if (!current.state.paused) throw Error("Container " + c.id + " is not paused");
  make_cgroup(current.cgroup_paths())->thaw();
  current.state.paused = false;
  store.save(current, Durability::unsynced);
}

void thaw_if_paused(const ContainerStore& store, const Container& c) {
  auto guard = store.lock();
  auto current = store.load(c.id);
  if (!current || !current->state.paused) return;
  try {
    make_cgroup(current->cgroup_paths())->thaw();
  } catch (const Error&) {
    // The cgroup is gone with the container: nothing is frozen.
  }
  current->state.paused = false;
  store.save(*current, Durability::unsynced);
}

int wait_container(const ContainerStore& store, const std::string& id) {
  auto backoff = std::chrono::milliseconds(5);
  std::optional<int> last_code;
  for (;;) {
    auto c = store.load(id);
    if (!c) {
      // Removed meanwhile (--rm): the end it recorded before going, when we saw it.
      if (last_code) return *last_code;
      throw Error("No such container: " + id);
    }
    const ContainerState s = ContainerStore::observed_state(*c);
    if (s.status != "running") return s.exit_code;  // created, exited, restarting: not running now
    last_code = s.exit_code;
    if (UniqueFd fd = verified_pidfd(s.pid, s.pid_start)) {
      // Asleep until the process ends; a long timeout only so that a record changed by a restart is reread.
      pollfd p{fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 60'000) < 0 && errno != EINTR) throw_errno("wait for container " + id);
      if (p.revents == 0) continue;
      backoff = std::chrono::milliseconds(5);
    }
    // Ended (or starting): its monitor records the end in a moment; reread with a growing pause.
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(200));
  }
}

std::string status_text(const ContainerState& s) {
  auto since = [](const std::string& t) {
    auto tp = parse_rfc3339(t);
    return tp ? human_duration(now() - *tp) : std::string("?");
  };
  if (s.status == "running") {
    if (s.paused) return "Up " + since(s.started) + " (Paused)";  // Docker shows no health while paused
    std::string health;
    if (s.health.status == "starting") health = " (health: starting)";
    else if (!s.health.status.empty()) health = " (" + s.health.status + ")";
    return "Up " + since(s.started) + health;
  }
  if (s.status == "restarting") return "Restarting (" + std::to_string(s.exit_code) + ") " + since(s.finished) + " ago";
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

LogWriter::LogWriter(const fs::path& path, std::int64_t max_size, int max_file)
    : path_(path), max_size_(max_size), max_file_(std::max(max_file, 1)) {
  fd_.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd_) throw_errno("open log " + path.string());
  struct stat st{};
  if (::fstat(fd_.get(), &st) == 0) size_ = st.st_size;
}

void LogWriter::rotate() {
  // container.log.(N-1) -> .N, ..., container.log -> .1; with max-file 1 the log starts over.
  for (int i = max_file_ - 1; i >= 1; --i) {
    fs::path from = i == 1 ? path_ : fs::path(path_.string() + "." + std::to_string(i - 1));
    ::rename(from.c_str(), (path_.string() + "." + std::to_string(i)).c_str());
  }
  UniqueFd fresh(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0600));
  if (fresh) fd_ = std::move(fresh);  // else the old file grows on: better than losing output
  size_ = 0;
}

void LogWriter::append(const std::string& lines) {
  // Line by line against the size limit (one line never splits), in as few writes as the limit allows.
  std::size_t start = 0;
  while (start < lines.size()) {
    std::size_t end = start;
    std::int64_t size = size_;
    while (end < lines.size()) {
      std::size_t nl = lines.find('\n', end);
      std::size_t next = nl == std::string::npos ? lines.size() : nl + 1;
      if (max_size_ > 0 && size > 0 && size + static_cast<std::int64_t>(next - end) > max_size_) break;
      size += static_cast<std::int64_t>(next - end);
      end = next;
    }
    if (end == start) {  // the next line does not fit: a new file for it
      rotate();
      continue;
    }
    if (::write(fd_.get(), lines.data() + start, end - start) < 0) return;  // a full disk must not kill the container
    size_ = size;
    start = end;
  }
}

void LogWriter::write(const std::string& stream, std::string_view data) {
  std::string& pending = pending_[stream == "stderr" ? 1 : 0];
  std::string out;
  auto entry = [&](std::string_view text) {
    out += nlohmann::json{{"log", text}, {"stream", stream}, {"time", format_rfc3339(now())}}
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
           "\n";
  };
  // Whole lines become entries; a line longer than kMaxEntry is cut into entries of that size (as
  // Docker's 16 KiB partial messages), so what a container prints without a newline never piles up here.
  while (!data.empty()) {
    std::size_t nl = data.find('\n');
    std::size_t take = std::min(nl == std::string_view::npos ? data.size() : nl + 1, kMaxEntry - pending.size());
    pending.append(data.substr(0, take));
    data.remove_prefix(take);
    if (pending.back() == '\n' || pending.size() >= kMaxEntry) {
      entry(pending);
      pending.clear();
    }
  }
  append(out);
}

void LogWriter::flush() {
  for (int i = 0; i < 2; ++i) {
    if (pending_[i].empty()) continue;
    append(nlohmann::json{{"log", pending_[i]}, {"stream", i ? "stderr" : "stdout"}, {"time", format_rfc3339(now())}}
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
           "\n");
    pending_[i].clear();
  }
}

void parse_log_options(const std::vector<std::string>& options, std::int64_t& max_size, int& max_file) {
  bool file_given = false;
  for (const auto& o : options) {
    auto eq = o.find('=');
    const std::string key = o.substr(0, eq), value = eq == std::string::npos ? "" : o.substr(eq + 1);
    if (key == "max-size") {
      max_size = parse_memory_size(value, "--log-opt max-size");
      if (max_size <= 0) throw Error("invalid value for log opt max-size: " + value, 125);
    } else if (key == "max-file") {
      try {
        std::size_t pos = 0;
        max_file = std::stoi(value, &pos);
        if (pos != value.size() || max_file < 1) throw std::invalid_argument(value);
      } catch (const std::exception&) {
        throw Error("max-file must be a positive number: " + value, 125);
      }
      file_given = true;
    } else {
      throw Error("unknown log opt '" + key + "' for json-file log driver", 125);
    }
  }
  if (file_given && max_file > 1 && max_size < 0) throw Error("max-file cannot be set without max-size", 125);
}

TimePoint parse_log_time(const std::string& value, TimePoint reference) {
  if (value != "0") {
    try {
      return reference - std::chrono::nanoseconds(parse_go_duration(value));
    } catch (const Error&) {
      // Not a duration: a time.
    }
  }
  const Error unparsable("failed to parse value as time or duration: \"" + value + "\"");
  // Date, then optionally T and hours[:minutes[:seconds[.fraction]]], then optionally Z or +hh:mm/-hh:mm.
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, n = 0;
  if (std::sscanf(value.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3 && n == 10) {
    std::size_t pos = 10;
    long long frac = 0;
    auto two_digits = [&](int& out) {
      if (pos + 2 > value.size() || !std::isdigit(static_cast<unsigned char>(value[pos])) ||
          !std::isdigit(static_cast<unsigned char>(value[pos + 1])))
        throw unparsable;
      out = (value[pos] - '0') * 10 + (value[pos + 1] - '0');
      pos += 2;
    };
    if (pos < value.size() && value[pos] == 'T') {
      ++pos;
      two_digits(h);
      if (pos < value.size() && value[pos] == ':') {
        ++pos;
        two_digits(mi);
        if (pos < value.size() && value[pos] == ':') {
          ++pos;
          two_digits(sec);
          if (pos < value.size() && value[pos] == '.') {
            ++pos;
            int digits = 0;
            while (pos < value.size() && std::isdigit(static_cast<unsigned char>(value[pos]))) {
              if (digits++ < 9) frac = frac * 10 + (value[pos] - '0');
              ++pos;
            }
            if (digits == 0) throw unparsable;
            for (; digits < 9; ++digits) frac *= 10;
          }
        }
      }
    }
    std::optional<long> offset;  // seconds east of UTC; none: local time, as Docker's CLI reads it
    if (pos < value.size() && (value[pos] == 'Z' || value[pos] == 'z')) {
      offset = 0;
      ++pos;
    } else if (pos < value.size() && (value[pos] == '+' || value[pos] == '-')) {
      const long sign = value[pos] == '-' ? -1 : 1;
      ++pos;
      int oh = 0, om = 0;
      two_digits(oh);
      if (pos >= value.size() || value[pos] != ':') throw unparsable;
      ++pos;
      two_digits(om);
      offset = sign * (oh * 3600L + om * 60L);
    }
    if (pos != value.size() || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) throw unparsable;
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    std::time_t t;
    if (offset) {
      t = ::timegm(&tm) - *offset;
    } else {
      tm.tm_isdst = -1;
      t = ::mktime(&tm);
    }
    return TimePoint(std::chrono::seconds(t)) + std::chrono::nanoseconds(frac);
  }
  // A Unix timestamp: seconds[.nanoseconds].
  auto dot = value.find('.');
  std::string secs = value.substr(0, dot), nanos = dot == std::string::npos ? "" : value.substr(dot + 1);
  auto digits_only = [](const std::string& t) { return t.find_first_not_of("0123456789") == std::string::npos; };
  if (secs.empty() || secs.size() > 18 || !digits_only(secs) || !digits_only(nanos) ||
      (dot != std::string::npos && nanos.empty()))
    throw unparsable;
  nanos = nanos.substr(0, 9);
  nanos.append(9 - nanos.size(), '0');
  return TimePoint(std::chrono::seconds(std::stoll(secs))) + std::chrono::nanoseconds(std::stoll(nanos));
}

void read_logs(const fs::path& path, bool follow, const std::function<bool()>& still_running,
               const std::function<void(const LogLine&)>& sink) {
  std::string buffer;
  auto emit = [&](bool final) {
    std::size_t start = 0, nl;
    while ((nl = buffer.find('\n', start)) != std::string::npos) {
      auto j = nlohmann::json::parse(buffer.substr(start, nl - start), nullptr, false);
      if (!j.is_discarded()) sink({j.value("stream", "stdout"), j.value("log", ""), j.value("time", "")});
      start = nl + 1;
    }
    buffer.erase(0, start);
    if (final) buffer.clear();
  };
  // The rotated files, oldest first.
  for (int i = 99; i >= 1; --i) {
    if (auto text = read_file_if_exists(path.string() + "." + std::to_string(i))) {
      buffer += *text;
      emit(true);
    }
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  auto buf = std::make_unique_for_overwrite<char[]>(65536);
  for (;;) {
    bool running = follow && still_running();  // asked before reading, so nothing written after is lost
    if (fd) {
      ssize_t n;
      while ((n = ::read(fd.get(), buf.get(), 65536)) > 0) buffer.append(buf.get(), static_cast<std::size_t>(n));
      // Rotated away under us: finish the old file, go on with the new one.
      struct stat now_st{}, path_st{};
      if (follow && ::fstat(fd.get(), &now_st) == 0 && ::stat(path.c_str(), &path_st) == 0 && now_st.st_ino != path_st.st_ino) {
        emit(true);
        fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        continue;
      }
    } else {
      fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    }
    emit(false);
    if (!running) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace cppcker
