#pragma once
// What stop, kill, rm, logs and ps do to a container, kept out of the CLI.
#include <chrono>
#include <functional>
#include <string>

#include "cppcker/runtime/container.hpp"

namespace cppcker {

// "TERM", "SIGTERM", "15" -> 15. Throws Error for an unknown signal.
int parse_signal(const std::string& text);

// Sends `sig` to the container's first process if it is still the process we started.
bool signal_container(const Container& c, int sig);
// Waits until neither the container's process nor its monitor is alive, or the timeout passes.
bool wait_until_stopped(const Container& c, std::chrono::milliseconds timeout);
// Docker's stop: the stop signal, then SIGKILL after `timeout`. Returns once the container is down.
void stop_container(const ContainerStore& store, const Container& c, int timeout_seconds);
// Docker's rm: refuses a running container unless `force` (then kills it), removes its cgroup,
// files and record.
void remove_container(const ContainerStore& store, const NetworkStore& networks, const Container& c, bool force,
                      bool remove_volumes = false);

// ps STATUS column: "Up 5 minutes", "Exited (0) 3 seconds ago", "Created".
std::string status_text(const ContainerState& s);
// ps PORTS column: "0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp" while attached.
std::string ports_text(const ContainerState& s);

// The json-file log: one {"log","stream","time"} object per line, as Docker writes it.
class LogWriter {
 public:
  explicit LogWriter(const fs::path& path);
  void write(const std::string& stream, std::string_view data);  // splits into lines
  void flush();

 private:
  UniqueFd fd_;
  std::string pending_[2];
};

struct LogLine {
  std::string stream, text, time;
};
// Reads the log; `follow` keeps reading until `still_running` says no more will come.
void read_logs(const fs::path& path, bool follow, const std::function<bool()>& still_running,
               const std::function<void(const LogLine&)>& sink);

}  // namespace cppcker
