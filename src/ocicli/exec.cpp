// exec: a new process in a running container, from --process FILE or from the arguments over the
// container's own process (runc's newProcess defaults).
#include <sys/syscall.h>
#include <unistd.h>

#include <charconv>

#include "cppcker/ocicli/ocicli.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::ocicli {

namespace {

struct ExecOptions {
  std::string process_file, console_socket, cwd, user, pid_file, process_label, apparmor;
  std::vector<std::string> env, caps;
  std::vector<std::int64_t> additional_gids;
  bool tty = false, detach = false, no_new_privs = false, ignore_paused = false;
  CLI::Option* tty_opt = nullptr;
  CLI::Option* no_new_privs_opt = nullptr;
  unsigned preserve_fds = 0;
};

std::uint32_t parse_id(const std::string& text, const char* what) {
  std::uint32_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    throw Error("parsing " + text + " as int for " + what + " failed: strconv.Atoi: parsing \"" + text + "\": invalid syntax");
  return v;
}

void validate(const oci::Process& p) {
  if (p.cwd.empty()) throw Error("Cwd property must not be empty");
  if (p.cwd.front() != '/') throw Error("cwd property must be an absolute path");
  if (p.args.empty()) throw Error("args must not be empty");
}

oci::Process new_process(const ExecOptions& o, const BundleRecord& record, const std::vector<std::string>& args) {
  if (!o.process_file.empty()) {
    auto text = read_file_if_exists(o.process_file);
    if (!text) throw Error("open " + o.process_file + ": no such file or directory");
    oci::Process p;
    try {
      p = oci::process_from_json(nlohmann::json::parse(*text));
    } catch (const nlohmann::json::exception& e) {
      throw Error("parse " + o.process_file + ": " + e.what());
    }
    validate(p);
    return p;
  }
  oci::Process p = record.spec().process;
  p.args.assign(args.begin() + 1, args.end());
  if (!o.cwd.empty()) p.cwd = o.cwd;
  if (!o.caps.empty()) {
    if (!p.capabilities) p.capabilities.emplace();
    for (const auto& cap : o.caps)
      for (auto* set : {&p.capabilities->bounding, &p.capabilities->inheritable, &p.capabilities->effective,
                        &p.capabilities->permitted, &p.capabilities->ambient})
        set->push_back(cap);
  }
  p.env.insert(p.env.end(), o.env.begin(), o.env.end());
  p.terminal = o.tty_opt->count() > 0 && o.tty;
  p.console_size.reset();
  if (o.no_new_privs_opt->count() > 0) p.no_new_privileges = o.no_new_privs;
  if (!o.user.empty()) {
    auto colon = o.user.find(':');
    if (colon != std::string::npos) p.user.gid = parse_id(o.user.substr(colon + 1), "gid");
    p.user.uid = parse_id(o.user.substr(0, colon), "uid");
    p.user.username.clear();
  }
  for (std::int64_t gid : o.additional_gids) {
    if (gid < 0) throw Error("additional-gids must be a positive number " + std::to_string(gid));
    p.user.additional_gids.push_back(static_cast<std::uint32_t>(gid));
  }
  validate(p);
  return p;
}

}  // namespace

void register_exec(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("exec", "execute new process inside the container");
  auto o = std::make_shared<ExecOptions>();
  cmd->prefix_command();
  cmd->fallthrough(false);
  cmd->add_option("--console-socket", o->console_socket, "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal");
  cmd->add_option("--cwd", o->cwd, "current working directory in the container");
  cmd->add_option("-e,--env", o->env, "set environment variables")->allow_extra_args(false);
  o->tty_opt = cmd->add_flag("-t,--tty", o->tty, "allocate a pseudo-TTY");
  cmd->add_option("-u,--user", o->user, "UID (format: <uid>[:<gid>])");
  cmd->add_option("-g,--additional-gids", o->additional_gids, "additional gids")->allow_extra_args(false);
  cmd->add_option("-p,--process", o->process_file, "path to the process.json");
  cmd->add_flag("-d,--detach", o->detach, "detach from the container's process");
  cmd->add_option("--pid-file", o->pid_file, "specify the file to write the process id to");
  cmd->add_option("--process-label", o->process_label, "set the asm process label for the process commonly used with selinux");
  cmd->add_option("--apparmor", o->apparmor, "set the apparmor profile for the process");
  o->no_new_privs_opt = cmd->add_flag("--no-new-privs", o->no_new_privs, "set the no new privileges value for the process");
  cmd->add_option("-c,--cap", o->caps, "add a capability to the bounding set for the process")->allow_extra_args(false);
  cmd->add_option("--preserve-fds", o->preserve_fds, "Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)");
  cmd->add_flag("--ignore-paused", o->ignore_paused, "allow exec in a paused container");
  set_action(cmd, [&g, o, cmd] {
    set_error_status(255);
    std::vector<std::string> args = cmd->remaining();
    check_args(g, "exec", args.size(), 1, '>');
    if (!o->process_label.empty()) throw Error("--process-label is not supported: cppcker-runc has no SELinux support");
    if (!o->apparmor.empty()) throw Error("--apparmor is not supported: cppcker-runc has no AppArmor support");
    BundleStore store = g.store();
    BundleRecord record = store.get(args.front());
    std::string status = store.status(record);
    if (status == "stopped") throw Error("cannot exec in a stopped container");
    if (status == "paused" && !o->ignore_paused)
      throw Error("cannot exec in a paused container (use --ignore-paused to override)");
    if (status == "creating") throw Error("cannot exec in a container that is being created");
    if (o->process_file.empty() && args.size() == 1) throw Error("process args cannot be empty");
    BundleExec exec;
    exec.process = new_process(*o, record, args);
    if (exec.process.terminal && o->detach && o->console_socket.empty())
      throw Error("cannot allocate tty if runc will detach without setting console socket");
    if (!exec.process.terminal && !o->console_socket.empty())
      throw Error("cannot use console socket if runc will not detach or allocate tty");
    oci::Spec spec = record.spec();
    exec.target = record.pid;
    exec.target_start = record.pid_start;
    exec.seccomp = spec.linux.seccomp;
    exec.seccomp_cache = store.root() / ".seccomp-cache";
    exec.cgroup = record.cgroup;
    exec.console_socket = o->console_socket.empty() ? "" : fs::absolute(o->console_socket).string();
    exec.preserve_fds = o->preserve_fds;
    exec.detach = o->detach;
    std::optional<SignalForwarder> forwarder;
    if (!o->detach) forwarder.emplace();
    return exec_in_bundle_container(exec, [&](pid_t pid) {
      if (!o->pid_file.empty()) write_pid_file(o->pid_file, pid);
      if (forwarder) forwarder->target(UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))));
    });
  });
}

}  // namespace cppcker::ocicli
