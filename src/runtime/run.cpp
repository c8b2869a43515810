#include "cppcker/runtime/run.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <malloc.h>

#include <thread>

#include <nlohmann/json.hpp>

#include "cppcker/runtime/health.hpp"
#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/runtime/monitor.hpp"
#include "cppcker/runtime/networking.hpp"
#include "cppcker/runtime/process.hpp"
#include "cppcker/runtime/restart.hpp"
#include "cppcker/runtime/stdio.hpp"
#include "cppcker/runtime/tty.hpp"
#include "cppcker/security/userns.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"
#include "cppcker/util/sha256.hpp"
#include "cppcker/util/timing.hpp"

namespace cppcker {

ContainerPaths container_paths(const ContainerStore& containers, const Container& c) {
  fs::path d = containers.dir(c.id);
  return {(d / "merged").string(), (d / "hostname").string(),    (d / "hosts").string(),
          (d / "resolv.conf").string(), (d / "netns").string(), (containers.root() / "volumes").string()};
}

oci::Spec load_spec(const ContainerStore& containers, const Container& c) {
  fs::path file = containers.dir(c.id) / "config.json";
  if (auto text = read_file_if_exists(file)) {
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (!j.is_discarded()) return oci::spec_from_json(j);
  }
  oci::Spec spec = build_spec(c, container_paths(containers, c), read_host_facts(c.spec.privileged));
  // Derivable from the record, so no fsync on the start path: a lost file is built again.
  write_file_atomic(file, oci::to_json(spec).dump(), 0600, Durability::unsynced);
  return spec;
}

namespace {

// hostname, hosts and resolv.conf for the container; its upper/work/merged dirs.
void prepare_container_dir(const NetworkStore& networks, const ContainerStore& containers, const Container& c) {
  fs::path d = containers.dir(c.id);
  for (const char* sub : {"work", "merged"}) make_dirs(d / sub);
  // The upper dir's root is the container's "/": 0755 and, in a user namespace, the container root's.
  fs::path upper = d / "upper";
  if (::mkdir(upper.c_str(), 0755) != 0 && errno != EEXIST) throw_errno("mkdir " + upper.string());
  if (::chmod(upper.c_str(), 0755) != 0) throw_errno("chmod " + upper.string());
  if (c.spec.userns && ::chown(upper.c_str(), c.spec.userns->host_uid, c.spec.userns->host_gid) != 0)
    throw_errno("chown " + upper.string());
  // Derived files, written again at every start: no fsync on the start path. World-readable: the
  // container's users read them (bind-mounted, so the 0700 directory above does not matter).
  constexpr auto rebuilt = Durability::unsynced;
  write_file_atomic(d / "hostname", c.spec.hostname + "\n", 0644, rebuilt);
  std::string hosts;
  switch (network_mode(c.spec.network)) {
    case NetworkMode::host:
      hosts = read_file_if_exists("/etc/hosts").value_or(hosts_file(c, {}));
      break;
    case NetworkMode::container: {
      // The namespace's owner's view, as Docker shares it.
      Container other = containers.resolve(c.spec.network.substr(10));
      hosts = read_file_if_exists(containers.dir(other.id) / "hosts").value_or(hosts_file(c, {}));
      break;
    }
    default:
      hosts = hosts_file(c, network_peers(networks, containers, c));
  }
  write_file_atomic(d / "hosts", hosts, 0644, rebuilt);
  write_file_atomic(d / "resolv.conf", resolv_conf(c.spec), 0644, rebuilt);
}

// Volumes the container names exist before it starts: named and anonymous ones are made, a missing host
// directory of a bind is created (as Docker does).
void prepare_volumes(const ContainerStore& containers, const Container& c) {
  VolumeStore volumes(containers.root());
  for (const auto& m : c.spec.mounts) {
    if (m.type == "volume") volumes.create(m.source);
    if (m.type == "bind") {
      std::error_code ec;
      if (!fs::exists(m.source, ec)) {
        make_dirs(m.source);
        ::chmod(m.source.c_str(), 0755);
      }
    }
  }
}

// Starts the container with the core: the child first, then (while it execs its stage) the network,
// files and volumes, then the spec executed.
ContainerProcess start_container(const ImageStore& images, const ContainerStore& containers, const NetworkStore& networks,
                                 Container& c, const StdioFds& stdio, std::optional<winsize> tty_size) {
  auto record = images.get_image(c.spec.image_id);
  if (!record) throw Error("No such image: " + c.spec.image, 125);
  ContainerProcess proc = ContainerProcess::spawn(container_namespaces(c, container_paths(containers, c)), stdio);
  oci::Spec spec = load_spec(containers, c);  // meanwhile: the child is exec'ing its stage
  if (tty_size) spec.process.console_size = oci::ConsoleSize{tty_size->ws_row, tty_size->ws_col};
  timing_mark("spec");
  prepare_volumes(containers, c);
  NetworkSetup network(networks, containers, c);
  network.begin();
  prepare_container_dir(networks, containers, c);
  timing_mark("files");
  if (network_mode(c.spec.network) == NetworkMode::container) {
    // The other container's namespace, through the descriptor NetworkSetup holds open.
    for (auto& ns : spec.linux.namespaces)
      if (ns.type == "network") ns.path = "/proc/self/fd/" + std::to_string(network.netns());
  }

  LaunchOptions options;
  options.cgroup = c.cgroup_placement();
  OverlayRootfs overlay;
  overlay.layers_dir = (images.root() / "layers").string();
  for (auto it = record->layers.rbegin(); it != record->layers.rend(); ++it)
    overlay.lowers.push_back(digest_hex(it->chain_id) + "/diff");  // relative to layers/: short mount options
  fs::path d = containers.dir(c.id);
  overlay.upper = (d / "upper").string();
  overlay.work = (d / "work").string();
  options.overlay = std::move(overlay);
  options.init = c.spec.init;
  options.create_cwd = true;  // Docker creates a missing working directory for run
  options.loopback_up = network_mode(c.spec.network) == NetworkMode::none;
  options.stdio = stdio;
  options.seccomp_cache = containers.root() / "seccomp";
  // setup-veth has run meanwhile; the command must not start before its network is there.
  options.before_release = [&network] { network.finish(); };
  proc.release(spec, std::move(options));
  proc.hold(network.take_host_ports());  // the published ports stay taken for as long as the container runs
  network.commit();
  c.state.status = "running";
  c.state.pid = proc.pid();
  c.state.pid_start = process_start_time(proc.pid());
  c.state.started = format_rfc3339(now());
  c.state.error.clear();
  if (health_enabled(c.spec)) {
    // Docker keeps the probe log of earlier runs; status and streak start over.
    c.state.health.status = "starting";
    c.state.health.failing_streak = 0;
  } else {
    c.state.health = {};
  }
  save_owned(containers, c, /*own_health=*/true);
  timing_mark("recorded");
  return proc;
}

// An owner's last write (the exit, a start that failed, a policy that ended) names no owner any more: the
// process may live on (the image builder runs its RUN steps in-process), and `rm -f` must not take it for
// an owner to kill. Its owner lock, held until it has cleaned up, still keeps an `rm` waiting meanwhile.
void clear_owner_mark(ContainerState& s) {
  s.monitor_pid = 0;
  s.monitor_start = 0;
}

// The same for a foreground owner that ends by an exception before its last write (a relay that failed,
// an output sink that threw): what the record says of the run is left as it was, for observed_state() to
// read as the end of a crashed owner. Nothing is done once `c` names no owner: its last write cleared the
// mark, or a monitor took the container over.
class OwnerMarkGuard {
 public:
  OwnerMarkGuard(const ContainerStore& store, const Container& c) : store_(store), c_(c) {}
  ~OwnerMarkGuard() {
    if (c_.state.monitor_pid != ::getpid()) return;
    try {
      auto guard = store_.lock();
      auto on_disk = store_.load(c_.id);
      if (!on_disk || on_disk->state.monitor_pid != ::getpid()) return;
      clear_owner_mark(on_disk->state);
      store_.save(*on_disk, Durability::unsynced);
    } catch (...) {
      // The error that ended the run is the one to report; `rm -f` then finds this process alive.
    }
  }
  OwnerMarkGuard(const OwnerMarkGuard&) = delete;
  OwnerMarkGuard& operator=(const OwnerMarkGuard&) = delete;

 private:
  const ContainerStore& store_;
  const Container& c_;
};

struct RunEnd {
  int code = 0;
  std::optional<std::chrono::milliseconds> restart_in;  // the policy's back-off, when it restarts
};

// Records the end (the cgroup is gone with the process): exit code, OOM, finish time; removes the network
// (its address stays the container's when the restart policy brings it back); "restarting" or "exited".
RunEnd finish_container(ContainerProcess::Exit exit, const ContainerStore& containers, const NetworkStore& networks,
                        Container& c, RestartManager& restarts) {
  {
    // A stop or kill recorded before this point ends the policy now; a later one is seen while waiting.
    auto guard = containers.lock();
    if (auto on_disk = containers.load(c.id)) c.state.stopped_by_user |= on_disk->state.stopped_by_user;
  }
  auto started = parse_rfc3339(c.state.started);
  RunEnd end{exit.code, restarts.next(exit.code, c.state.stopped_by_user, started ? now() - *started : std::chrono::nanoseconds(0))};
  try {
    teardown_network(networks, containers, c, /*keep_address=*/end.restart_in.has_value());
  } catch (const Error&) {
    // Left for `rm`, which tears down again; the exit is what must be recorded now.
  }
  timing_mark("network-down");
  c.state.status = end.restart_in ? "restarting" : "exited";
  c.state.exit_code = exit.code;
  c.state.oom_killed = exit.oom_killed;
  c.state.finished = format_rfc3339(now());
  if (end.restart_in) c.state.restart_count = restarts.restarts();
  else clear_owner_mark(c.state);
  save_owned(containers, c);
  timing_mark("exit-recorded");
  return end;
}

// With --rm: the record, its user-namespace range and its anonymous volumes go, as in Docker.
void remove_if_asked(const ContainerStore& containers, const Container& c) {
  if (!c.spec.auto_remove) return;
  containers.remove(c.id);
  timing_mark("record-removed");
  if (c.spec.userns) UsernsAllocator(containers.root() / "userns").release(c.id);
  VolumeStore volumes(containers.root());
  for (const auto& m : c.spec.mounts)
    if (m.anonymous && volumes.exists(m.source)) volumes.remove(m.source);
}

// A start that failed leaves the container "created" with the error, as Docker does; --rm removes it.
void record_start_failure(const ContainerStore& containers, Container& c, const Error& e) {
  clear_owner_mark(c.state);
  if (c.spec.auto_remove) return remove_if_asked(containers, c);
  c.state.status = "created";
  c.state.error = e.what();
  c.state.exit_code = e.exit_code();
  containers.save(c);
}

LogWriter open_log(const ContainerStore& containers, const Container& c) {
  return LogWriter(containers.dir(c.id) / "container.log", c.spec.log_max_size, c.spec.log_max_file);
}

// The monitor: no terminal, no inherited stdio (a caller's $(...) must not wait for it).
void become_monitor() {
  ::setsid();
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  ::dup2(devnull, 0);
  ::dup2(devnull, 1);
  ::dup2(devnull, 2);
  if (devnull > 2) ::close(devnull);
}

// The back-off before a restart, cut short when the user stops or kills the container meanwhile (they
// mark the record; `rm -f` kills this process instead). True: restart now.
bool wait_to_restart(const ContainerStore& containers, Container& c, std::chrono::milliseconds delay) {
  const auto deadline = std::chrono::steady_clock::now() + delay;
  for (;;) {
    auto on_disk = containers.load(c.id);
    if (!on_disk) return false;
    if (on_disk->state.stopped_by_user) {
      c.state.stopped_by_user = true;
      return false;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return true;
    // Short naps: a stop waits for this process to end, so it should not wait long.
    std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(50)));
  }
}

// The policy ends while the container is down (stopped during its back-off, or a restart that failed to
// start): the addresses and host ports kept for the restart are given back, and it is "exited".
void end_policy(const ContainerStore& containers, const NetworkStore& networks, Container& c) {
  try {
    networks.release_everywhere(c.id);
  } catch (const Error&) {
    // `rm` releases them again; the exit is what must be recorded now.
  }
  c.state.status = "exited";
  clear_owner_mark(c.state);
  save_owned(containers, c);
}

// What the next monitor stage needs: the stores, the owner lock it takes over and where the restart policy
// stands.
MonitorRequest monitor_request(MonitorRequest::Step step, const ImageStore& images, const ContainerStore& containers,
                               const NetworkStore& networks, const Container& c, int owner_fd,
                               const RestartManager& restarts) {
  MonitorRequest r;
  r.step = step;
  r.owner_fd = owner_fd;
  r.restart_progress = restarts.progress();
  r.container_id = c.id;
  r.state_root = containers.root().string();
  r.image_root = images.root().string();
  r.network_root = networks.root().string();
  r.network = networks.config();
  return r;
}

// The running container (without a health check) goes to monitor-wait, which holds nothing but its
// streams, its log and the owner lock while it runs, and execs `monitor` again once it has ended. Returns
// only by throwing (the container is then killed with `proc`).
[[noreturn]] void hand_off_to_wait(const ImageStore& images, const ContainerStore& containers, const NetworkStore& networks,
                                   const Container& c, int owner_fd, ContainerProcess& proc, std::optional<StdioPipes>& pipes,
                                   const RestartManager& restarts) {
  MonitorRequest r = monitor_request(MonitorRequest::Step::wait, images, containers, networks, c, owner_fd, restarts);
  r.pid = proc.pid();
  UniqueFd out, err;
  if (c.spec.tty) {
    r.tty_fd = proc.tty_master();
  } else {
    out = pipes->take_out_read();
    err = pipes->take_err_read();
    r.out_fd = out.get();
    r.err_fd = err.get();
  }
  r.held_fds = proc.held();
  r.log_path = (containers.dir(c.id) / "container.log").string();
  r.log_max_size = c.spec.log_max_size;
  r.log_max_file = c.spec.log_max_file;
  exec_monitor_stage("monitor-wait", r);
}

// The process that owns the container: its owner lock, and the stores it was started with.
struct MonitorContext {
  const ImageStore& images;
  const ContainerStore& containers;
  const NetworkStore& networks;
  int owner_fd;
};

// The monitor's work once the container runs: its output to the log until it ends, the end recorded,
// health probes meanwhile, and restarts while the policy asks for them (same record, address, volumes
// and upper dir). Without a health check the running container is handed to monitor-wait (this never
// returns then; the end comes back as `ended` in a new exec of `monitor`). Without `proc` and `ended` it
// starts with a restart. Returns the last exit code.
int keep_running(const MonitorContext& m, Container& c, LogWriter& log, std::optional<ContainerProcess> proc,
                 std::optional<StdioPipes> pipes, RestartManager& restarts,
                 std::optional<ContainerProcess::Exit> ended = std::nullopt) {
  const ImageStore& images = m.images;
  const ContainerStore& containers = m.containers;
  const NetworkStore& networks = m.networks;
  for (;;) {
    if (proc || ended) {
      ContainerProcess::Exit exit;
      if (ended) {
        exit = *ended;
        ended.reset();
      } else {
        if (pipes) pipes->container_started();
        if (!health_enabled(c.spec)) hand_off_to_wait(images, containers, networks, c, m.owner_fd, *proc, pipes, restarts);
        // The prober forks this process: what the start left on the heap need not be copied, nor the
        // start-up's pages stay mapped in both.
        ::malloc_trim(0);
        drop_clean_file_pages();
        HealthProber prober(containers, c);
        if (c.spec.tty) relay_to_log(log, proc->tty_master(), {}, {}, proc->pid(), -1);
        else relay_to_log(log, -1, pipes->take_out_read(), pipes->take_err_read(), proc->pid(), proc->pidfd());
        prober.stop();
        exit = proc->wait();
      }
      proc.reset();
      RunEnd end = finish_container(exit, containers, networks, c, restarts);
      if (!end.restart_in) return end.code;
      if (!wait_to_restart(containers, c, *end.restart_in)) {
        end_policy(containers, networks, c);
        return end.code;
      }
    }
    pipes.reset();
    if (!c.spec.tty) pipes.emplace(/*with_stdin=*/false);
    try {
      proc.emplace(start_container(images, containers, networks, c, pipes ? pipes->container() : StdioFds{}, std::nullopt));
    } catch (const Error& e) {
      // As Docker: a restart that cannot start ends the policy; the container stays as it last ended.
      c.state.error = e.what();
      end_policy(containers, networks, c);
      return c.state.exit_code;
    }
    // A stop that came while it started (its mark was merged in by the save): carried out here, as the
    // stopping process saw no process to signal and waits for this monitor to end.
    if (c.state.stopped_by_user) signal_container(c, c.spec.stop_signal);
  }
}

}  // namespace

int run_foreground(const ImageStore& images, const ContainerStore& containers, const NetworkStore& networks,
                   Container& c, bool attach_stdin, const OutputSink& output, std::optional<FileLock> owned) {
  const bool stdin_attached = c.spec.interactive && attach_stdin;
  // Owner first, so that `rm -f` can always find and stop whoever is (or is about to be) running it.
  FileLock owner = owned ? std::move(*owned) : containers.take_ownership(c);
  OwnerMarkGuard owner_mark(containers, c);  // after the lock: it runs while the lock is still held
  IgnoreSigpipe ignore_sigpipe;
  LogWriter log = open_log(containers, c);  // Docker logs every container, a foreground one too
  // With -t the container gets a terminal of its own, sized as ours; with -i too, our terminal goes raw
  // so that every key (Ctrl-C, Ctrl-D included) reaches the container's terminal, as in Docker. Without
  // -t its streams are pipes that this process relays: it never gets our own descriptors.
  const int size_from = ::isatty(0) ? 0 : 1;
  std::optional<winsize> tty_size = c.spec.tty ? terminal_size(size_from) : std::nullopt;
  std::optional<StdioPipes> pipes;
  if (!c.spec.tty) pipes.emplace(c.spec.interactive);
  std::optional<RawTerminal> raw;
  if (c.spec.tty && stdin_attached) raw.emplace(0);
  std::optional<ContainerProcess> proc;
  try {
    proc.emplace(start_container(images, containers, networks, c, pipes ? pipes->container() : StdioFds{}, tty_size));
  } catch (const Error& e) {
    record_start_failure(containers, c, e);
    throw;
  }
  RestartManager restarts(c.spec.restart);
  RunEnd end;
  {
    SignalForwarder forward(proc->pid(), /*include_winch=*/!c.spec.tty);
    if (!c.spec.tty) pipes->container_started();
    // Probes run in the foreground too; the prober dies with this process.
    HealthProber prober(containers, c);
    if (c.spec.tty) {
      relay_tty(proc->tty_master(), stdin_attached ? 0 : -1, 1, size_from, proc->pid(),
                [&](std::string_view bytes) { log.write("stdout", bytes); });
    } else {
      auto to_caller = output ? output : caller_stdio_sink();
      relay_stdio(stdin_attached ? 0 : -1, pipes->take_in_write(), pipes->take_out_read(), pipes->take_err_read(),
                  proc->pidfd(), [&](int stream, std::string_view bytes) {
                    to_caller(stream, bytes);
                    log.write(stream == 2 ? "stderr" : "stdout", bytes);
                  });
    }
    log.flush();
    prober.stop();
    end = finish_container(proc->wait(), containers, networks, c, restarts);
  }
  raw.reset();
  if (end.restart_in) {
    // As with Docker's client, which stays attached to the first run and returns its exit code while the
    // daemon restarts the container: the policy goes on in a monitor stage exec'd from a fork of this
    // process, which inherits the owner lock (the same open lock, so there is no moment without an
    // owner) and runs detached from now on; the output of its restarts goes to the log. This process
    // returns once the monitor has recorded itself as the owner.
    // Done with before the fork: nothing of the ended run may be cleaned up twice, or after the restart.
    proc.reset();
    pipes.reset();
    MonitorRequest request =
        monitor_request(MonitorRequest::Step::restart, images, containers, networks, c, owner.fd(), restarts);
    request.restart_in_ms = end.restart_in->count();
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) throw_errno("pipe");
    UniqueFd ready_read(ready[0]), ready_write(ready[1]);
    request.report_fd = ready_write.get();
    pid_t monitor = ::fork();
    if (monitor < 0) throw_errno("fork monitor");
    if (monitor == 0) {
      ready_read.reset();
      become_monitor();
      try {
        exec_monitor_stage("monitor", request);
      } catch (...) {
      }
      ::_exit(125);  // the record's observed state tells that nobody restarts it
    }
    ready_write.reset();
    char byte;
    while (::read(ready_read.get(), &byte, 1) < 0 && errno == EINTR) {
    }
    clear_owner_mark(c.state);  // this process is its owner no more: the monitor has recorded itself
    return end.code;
  }
  remove_if_asked(containers, c);
  return end.code;
}

namespace {

// The state a `start` begins with: the user's stop mark, restart count and health start over, but the
// network of a run whose owner crashed stays known until it is torn down.
void fresh_run_state(Container& c) {
  c.state = ContainerState{.created = c.state.created, .net = c.state.net, .extra_nets = c.state.extra_nets};
}

// The monitor's start: reports to `report` (the caller waits on it) and keeps the container. Runs in a
// fork of the caller: the start needs everything the caller has loaded anyway, and an exec here would
// cost every `run -d` a whole exec of cppcker (measured: 12-20 ms); the running container is then kept
// by monitor-wait, a fresh exec.
int monitor_start(const MonitorContext& stores, Container c, UniqueFd report) {
  const ContainerStore& containers = stores.containers;
  std::optional<FileLock> owner;
  std::optional<LogWriter> log;
  std::optional<ContainerProcess> proc;
  std::optional<StdioPipes> pipes;
  try {
    owner.emplace(containers.take_ownership(c));
    log.emplace(open_log(containers, c));
    if (!c.spec.tty) pipes.emplace(/*with_stdin=*/false);
    proc.emplace(start_container(stores.images, containers, stores.networks, c, pipes ? pipes->container() : StdioFds{},
                                 std::nullopt));
  } catch (const Error& e) {
    try {
      if (owner) record_start_failure(containers, c, e);
    } catch (const Error&) {
      // The caller still learns why the start failed; the record keeps its last state.
    }
    const auto* stage = dynamic_cast<const StageError*>(&e);
    std::string msg = encode(stage ? stage->reply() : StageReply{StageReply::Kind::error, "start", 0, e.what(), e.exit_code()});
    if (::write(report.get(), msg.data(), msg.size()) < 0) {
      // The caller is gone; the record says what happened.
    }
    return e.exit_code();
  }
  report.reset();  // EOF: started
  RestartManager restarts(c.spec.restart);
  MonitorContext m{stores.images, containers, stores.networks, owner->fd()};
  int code = keep_running(m, c, *log, std::move(proc), std::move(pipes), restarts);
  remove_if_asked(containers, c);
  return code;
}

}  // namespace

// The caller's half of a detached start: forks the monitor and returns once the container runs (the
// report pipe at EOF); throws the start error it reports otherwise.
void run_detached(const ImageStore& images, const ContainerStore& containers, const NetworkStore& networks,
                  Container& c) {
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw_errno("pipe");
  UniqueFd reader(report[0]), writer(report[1]);
  pid_t monitor = ::fork();
  if (monitor < 0) throw_errno("fork monitor");
  if (monitor == 0) {
    reader.reset();
    become_monitor();
    int code = 125;
    try {
      code = monitor_start(MonitorContext{images, containers, networks, -1}, c, std::move(writer));
    } catch (...) {
      // The record's observed state tells that the monitor is gone.
    }
    ::_exit(code);
  }
  writer.reset();
  std::string reply;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(reader.get(), buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    reply.append(buf, static_cast<std::size_t>(n));
  }
  if (!reply.empty()) {
    ::waitpid(monitor, nullptr, 0);
    StageReply r = decode_stage_reply(reply);
    throw Error(r.message, r.exit_code);
  }
  // The monitor lives on, reparented to init when this process exits.
}

void start_again(const ImageStore& images, const ContainerStore& containers, const NetworkStore& networks, Container& c) {
  fresh_run_state(c);
  c.spec.detach = true;
  run_detached(images, containers, networks, c);
}

int start_again_attached(const ImageStore& images, const ContainerStore& containers, const NetworkStore& networks,
                         Container& c, bool attach_stdin) {
  fresh_run_state(c);
  c.spec.detach = false;
  return run_foreground(images, containers, networks, c, attach_stdin);
}

int monitor_main(int message_fd) {
  MonitorRequest r;
  UniqueFd report, owner_fd;
  try {
    r = decode_monitor_request(read_message_pipe(UniqueFd(message_fd)));
    report = adopt_inherited_fd(r.report_fd);
    owner_fd = adopt_inherited_fd(r.owner_fd);
  } catch (const Error&) {
    return 125;  // nothing to go on (a start's caller reads EOF; the record's observed state says the rest)
  }
  try {
    ImageStore images(r.image_root);
    ContainerStore containers(r.state_root);
    NetworkStore networks(r.network_root, r.network);
    if (r.step != MonitorRequest::Step::restart && r.step != MonitorRequest::Step::ended)
      throw Error("the monitor stage cannot take a wait step", 125);
    // Restart and end: the owner lock came with the exec.
    FileLock owner = FileLock::adopt(std::move(owner_fd));
    MonitorContext m{images, containers, networks, owner.fd()};
    auto loaded = containers.load(r.container_id);
    if (!loaded) {
      // Removed meanwhile (`rm -f` kills this process first, so hardly): nothing to record.
      if (r.step == MonitorRequest::Step::ended) ::waitpid(r.pid, nullptr, 0);
      return 125;
    }
    Container c = std::move(*loaded);
    RestartManager restarts(c.spec.restart, r.restart_progress);
    LogWriter log = open_log(containers, c);
    if (r.step == MonitorRequest::Step::ended) {
      int code = keep_running(m, c, log, std::nullopt, std::nullopt, restarts,
                              ContainerProcess::adopt(r.pid, c.cgroup_placement()).wait());
      remove_if_asked(containers, c);
      return code;
    }
    // A foreground run's restart: this process owns the container from now on.
    c.state.monitor_pid = ::getpid();
    c.state.monitor_start = process_start_time(c.state.monitor_pid);
    save_owned(containers, c);
    report.reset();  // EOF: the foreground run may return
    if (wait_to_restart(containers, c, std::chrono::milliseconds(r.restart_in_ms)))
      return keep_running(m, c, log, std::nullopt, std::nullopt, restarts);
    end_policy(containers, networks, c);
    return c.state.exit_code;
  } catch (...) {
    return 125;
  }
}

}  // namespace cppcker
