#pragma once
// The runc-compatible command line (oci-cli/): what podman and containerd call. The `cppcker` binary answers
// it when invoked as `cppcker-runc` and as `cppcker oci ...`. It parses, keeps the state (runtime/
// bundle_state.hpp), drives runtime/bundle.hpp and prints; one register_* per command file.
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cppcker/runtime/bundle.hpp"
#include "cppcker/runtime/bundle_state.hpp"

namespace cppcker::ocicli {

// runc's global flags.
struct Globals {
  std::string program;  // "cppcker-runc" or "cppcker oci": in usage errors
  std::string root = "/run/cppcker-runc";
  std::string log;                  // file; empty: stderr
  std::string log_format = "text";  // text | json (logrus's formats)
  bool debug = false;
  bool systemd_cgroup = false;
  std::string rootless = "auto";

  BundleStore store() const { return BundleStore(root); }
};

// logrus-style log lines (`time="..." level=error msg="..."`, or {"level","msg","time"} with json) to
// --log or stderr. Debug lines only with --debug.
enum class Level { debug, info, warning, error };
void log(Level level, const std::string& message);
// The exit status of the runtime's own failures: 1, but 255 for exec (whose 0-254 are the program's, as runc's).
void set_error_status(int status);
// True when the log goes to stderr (an error is then printed once, as the log line).
bool log_is_stderr();

// A command's work; its return value is the exit status.
using Action = std::function<int()>;
void set_action(CLI::App* command, Action action);
// runc's checkArgs: Error "<program>: \"<cmd>\" requires exactly|a minimum of|a maximum of N argument(s)".
void check_args(const Globals& g, const std::string& command, std::size_t given, std::size_t n, char kind);

// The container's first process, verified against its recorded start time: a pidfd, or an invalid fd when
// the process is gone (or its pid taken by another).
UniqueFd container_pidfd(const BundleRecord& record);
// Sends `sig` through a verified pidfd; Error "container not running" when the process is gone.
void signal_container(const BundleRecord& record, int sig);
// Every process of the container's cgroup (empty when the cgroup is gone).
std::vector<pid_t> cgroup_pids(const BundleRecord& record);
// `delete`'s work (also the end of a foreground `run`): the cgroup, the state directory, poststop hooks.
// The caller holds the container's lock and the process is gone.
void destroy_container(const BundleStore& store, const BundleRecord& record);
// Go's time.ParseDuration for the forms runc users write ("5s", "100ms", "1m30s").
std::chrono::nanoseconds parse_duration(const std::string& text);
// docker/go-units RAMInBytes ("512m", "1g", "1024"); "-1" is -1.
std::int64_t parse_ram(const std::string& text);
// The pid file, written atomically; relative paths are relative to the caller's working directory.
void write_pid_file(const std::string& path, pid_t pid);

// create and run share everything up to the point where the container waits at its exec fifo.
struct CreateOptions {
  std::string id, bundle = ".", console_socket, pid_file;
  bool no_pivot = false, no_new_keyring = false;
  unsigned preserve_fds = 0;
};
void add_create_flags(CLI::App* cmd, CreateOptions& o);
// Loads <bundle>/config.json, writes the record ("creating"), creates the container (its process waits at
// the exec fifo), writes the pid file and marks the record created. On any failure nothing is left. The
// container's lock stays held in the result until the caller drops it.
struct Created {
  BundleContainer container;
  BundleRecord record;
  FileLock lock;
};
Created create_container(const Globals& g, const CreateOptions& o, bool foreground);
// `start`'s work on a locked, loaded record: releases the process from the exec fifo, runs poststart hooks
// (a failure is a warning). Errors as runc's for every status but created.
void start_container(const BundleRecord& record, const std::string& status);

void register_create(CLI::App& app, Globals& g);
void register_start(CLI::App& app, Globals& g);
void register_state(CLI::App& app, Globals& g);
void register_kill(CLI::App& app, Globals& g);
void register_delete(CLI::App& app, Globals& g);
void register_run(CLI::App& app, Globals& g);
void register_exec(CLI::App& app, Globals& g);
void register_ps(CLI::App& app, Globals& g);
void register_list(CLI::App& app, Globals& g);
void register_pause(CLI::App& app, Globals& g);  // pause and resume
void register_update(CLI::App& app, Globals& g);
void register_features(CLI::App& app, Globals& g);
void register_spec(CLI::App& app, Globals& g);
void register_events(CLI::App& app, Globals& g);

// runc's containerState of a record (state, and each entry of list's json).
nlohmann::ordered_json state_json(const BundleStore& store, const BundleRecord& record);

// Foreground run/exec: the signals a caller sends to this process (containerd's shim, a shell's Ctrl-C
// without a terminal) go on to the container's process, as runc forwards them. Restores the previous
// handlers when it goes; one at a time.
class SignalForwarder {
 public:
  SignalForwarder();
  ~SignalForwarder();
  SignalForwarder(const SignalForwarder&) = delete;
  SignalForwarder& operator=(const SignalForwarder&) = delete;
  void target(UniqueFd pidfd);  // the process that gets them from now on

 private:
  UniqueFd pidfd_;
};

// The front end's entry: argv[0] is the program's name as the user typed it (`program` in messages).
int main(int argc, char** argv, const std::string& program);

}  // namespace cppcker::ocicli
