#pragma once
// What stop, kill, rm, logs and ps do to a container, kept out of the CLI.
#include <chrono>
#include <functional>
#include <string>

#include "cppcker/runtime/container.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker {

// "TERM", "SIGTERM", "15" -> 15. Throws Error for an unknown signal.
int parse_signal(const std::string& text);

// Sends `sig` to the container's first process if it is still the process we started.
bool signal_container(const Container& c, int sig);
// Waits until neither the container's process nor its monitor is alive, or the timeout passes.
bool wait_until_stopped(const Container& c, std::chrono::milliseconds timeout);
// Docker's stop: the stop signal, then SIGKILL after `timeout`. Returns once the container is down (and
// its monitor gone). Ends the restart policy (state.stopped_by_user) until the next start.
void stop_container(const ContainerStore& store, const Container& c, int timeout_seconds);
// Docker's kill: `sig` to a running container; ends the restart policy as stop does (a container waiting
// to restart gets no signal, it just stays down). Throws Error("container <id> is not running").
void kill_container(const ContainerStore& store, const Container& c, int sig);
// Docker's rm: refuses a running container unless `force` (then kills it), removes its cgroup,
// files and record.
void remove_container(const ContainerStore& store, const NetworkStore& networks, const Container& c, bool force,
                      bool remove_volumes = false);

// Docker's pause/unpause: freezes (thaws) the container's cgroup and records it. Throws Error (exit 1):
// "Container <id> is not running" / "is already paused" / "is not paused".
void pause_container(const ContainerStore& store, const Container& c);
void unpause_container(const ContainerStore& store, const Container& c);
// A paused container that was just signalled must run to act on it (a SIGKILL to a frozen v1 task waits
// for the thaw): thaws its cgroup and clears the mark. Best effort; no-op for one not paused.
void thaw_if_paused(const ContainerStore& store, const Container& c);

// Docker's wait: blocks until the container is not running (a created or exited one returns at once) and
// returns its exit code. Sleeps on the process's pidfd, then reads the record the monitor writes.
int wait_container(const ContainerStore& store, const std::string& id);

// ps STATUS column: "Up 5 minutes", "Up 3 seconds (healthy)", "Up 1 second (health: starting)",
// "Up 2 minutes (Paused)", "Restarting (1) 2 seconds ago", "Exited (0) 3 seconds ago", "Created".
std::string status_text(const ContainerState& s);
// ps PORTS column: "0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp" while attached.
std::string ports_text(const ContainerState& s);

// The json-file log: one {"log","stream","time"} object per line, as Docker writes it (0600: what a
// container prints may be secret). With `max_size` (bytes, -1 = unlimited) the file is rotated when it
// would grow past it: container.log -> container.log.1 -> ... up to `max_file` files in all, as Docker's
// --log-opt max-size/max-file do.
class LogWriter {
 public:
  explicit LogWriter(const fs::path& path, std::int64_t max_size = -1, int max_file = 1);
  void write(const std::string& stream, std::string_view data);  // splits into lines
  void flush();
  static constexpr std::size_t kMaxEntry = 16 * 1024;  // the longest "log" of one entry

 private:
  void append(const std::string& lines);
  void rotate();
  fs::path path_;
  std::int64_t max_size_;
  int max_file_;
  std::int64_t size_ = 0;
  UniqueFd fd_;
  std::string pending_[2];
};
// --log-opt values: max-size ("10m", "1g", Docker's units) and max-file (>= 1). Throws Error (125).
void parse_log_options(const std::vector<std::string>& options, std::int64_t& max_size, int& max_file);

struct LogLine {
  std::string stream, text, time;
};
// `logs --since/--until` values as Docker's CLI reads them: a Go duration before `reference` ("10m",
// "1h30m"), an RFC 3339 time or a shorter form of it ("2024-01-02", "2024-01-02T15:04"; local time
// without a zone), or a Unix timestamp ("1700000000", "1700000000.5"). "0" is the epoch (no limit).
// Throws Error for anything else.
TimePoint parse_log_time(const std::string& value, TimePoint reference);

// Reads the log (the rotated files first, oldest first); `follow` keeps reading, across rotations, until
// `still_running` says no more will come.
void read_logs(const fs::path& path, bool follow, const std::function<bool()>& still_running,
               const std::function<void(const LogLine&)>& sink);

}  // namespace cppcker
