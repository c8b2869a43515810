// What several oci-cli commands share: the verified pidfd, signals, the cgroup's processes, the end of a
// container, pid files and the value syntaxes runc takes (Go durations, docker/go-units sizes).
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <iterator>
#include <regex>
#include <thread>

#include "cppcker/ocicli/ocicli.hpp"
#include "cppcker/runtime/bundle.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::ocicli {

UniqueFd container_pidfd(const BundleRecord& record) {
  if (record.pid <= 0) return {};
  // Opened first, then checked: what the pidfd refers to cannot be a process that took a reused pid.
  UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, record.pid, 0)));
  if (!fd || !process_alive(record.pid, record.pid_start)) return {};
  return fd;
}

void signal_container(const BundleRecord& record, int sig) {
  UniqueFd fd = container_pidfd(record);
  if (!fd) throw Error("container not running");
  if (::syscall(SYS_pidfd_send_signal, fd.get(), sig, nullptr, 0) != 0) {
    if (errno == ESRCH) throw Error("container not running");
    throw_errno("signal container " + record.id);
  }
}

std::vector<pid_t> cgroup_pids(const BundleRecord& record) {
  if (record.cgroup.empty()) return {};
  try {
    return make_cgroup(record.cgroup)->processes();
  } catch (const Error&) {
    return {};  // the cgroup is gone with the container
  }
}

void destroy_container(const BundleStore& store, const BundleRecord& record) {
  // The cgroup first (it kills what is left in it), then the record, then the poststop hooks: runc's order.
  if (!record.cgroup.empty()) make_cgroup(record.cgroup)->destroy({});
  store.remove(record.id);
  oci::Spec spec;
  try {
    spec = record.spec();
  } catch (const Error& e) {
    log(Level::warning, "poststop hooks not run: " + std::string(e.what()));
    return;
  }
  if (spec.hooks.poststop.empty()) return;
  oci::State state;
  state.id = record.id;
  state.status = "stopped";
  state.bundle = record.bundle.string();
  state.annotations = record.annotations;
  try {
    run_hooks(spec.hooks.poststop, "poststop", state);
  } catch (const Error& e) {
    log(Level::warning, e.what());
  }
}

std::chrono::nanoseconds parse_duration(const std::string& text) {
  static const std::regex part(R"(([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h))");
  if (text == "0") return std::chrono::nanoseconds(0);
  double total = 0;
  std::size_t at = 0;
  for (std::sregex_iterator it(text.begin(), text.end(), part), end; it != end; ++it) {
    if (static_cast<std::size_t>(it->position()) != at) throw Error("time: invalid duration \"" + text + "\"");
    double n = std::stod((*it)[1]);
    std::string unit = (*it)[2];
    double scale = unit == "ns" ? 1 : unit == "us" || unit == "µs" ? 1e3 : unit == "ms" ? 1e6 : unit == "s" ? 1e9
                 : unit == "m" ? 60e9 : 3600e9;
    total += n * scale;
    at += it->length();
  }
  if (at == 0 || at != text.size()) throw Error("time: invalid duration \"" + text + "\"");
  return std::chrono::nanoseconds(static_cast<std::int64_t>(total));
}

std::int64_t parse_ram(const std::string& text) {
  if (text == "-1") return -1;
  static const std::regex re(R"(^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$)");
  std::smatch m;
  if (!std::regex_match(text, m, re)) throw Error("invalid size: '" + text + "'");
  double n = std::stod(m[1]);
  std::string unit = m[3];
  static const std::string units = "kmgtp";
  if (!unit.empty())
    for (std::size_t power = units.find(static_cast<char>(std::tolower(unit[0]))) + 1; power > 0; --power) n *= 1024;
  return static_cast<std::int64_t>(n);
}

void write_pid_file(const std::string& path, pid_t pid) {
  // runc writes the number alone, atomically (a reader never sees an empty file).
  write_file_atomic(fs::absolute(path), std::to_string(pid), 0644);
}

namespace {
constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
std::atomic<int> g_forward_to{-1};
struct sigaction g_saved[std::size(kForwarded)];

void forward_signal(int sig) {
  int saved = errno;
  int fd = g_forward_to.load();
  if (fd >= 0) ::syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0);
  errno = saved;
}
}  // namespace

SignalForwarder::SignalForwarder() {
  struct sigaction sa {};
  sa.sa_handler = forward_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (std::size_t i = 0; i < std::size(kForwarded); ++i) ::sigaction(kForwarded[i], &sa, &g_saved[i]);
}

SignalForwarder::~SignalForwarder() {
  for (std::size_t i = 0; i < std::size(kForwarded); ++i) ::sigaction(kForwarded[i], &g_saved[i], nullptr);
  g_forward_to.store(-1);
}

void SignalForwarder::target(UniqueFd pidfd) {
  pidfd_ = std::move(pidfd);
  g_forward_to.store(pidfd_.get());
}

void add_create_flags(CLI::App* cmd, CreateOptions& o) {
  cmd->add_option("-b,--bundle", o.bundle, "path to the root of the bundle directory, defaults to the current directory");
  cmd->add_option("--console-socket", o.console_socket,
                  "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal");
  cmd->add_option("--pid-file", o.pid_file, "specify the file to write the process id to");
  cmd->add_flag("--no-pivot", o.no_pivot, "do not use pivot root to jail process inside rootfs");
  cmd->add_flag("--no-new-keyring", o.no_new_keyring, "do not create a new session keyring for the container");
  cmd->add_option("--preserve-fds", o.preserve_fds, "Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)");
}

}  // namespace cppcker::ocicli
