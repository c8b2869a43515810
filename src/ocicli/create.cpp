// create: the container set up and waiting at its exec fifo (runc's "created").
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

#include "cppcker/ocicli/ocicli.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker::ocicli {

namespace {

nlohmann::json load_config(const fs::path& bundle) {
  fs::path path = bundle / "config.json";
  auto text = read_file_if_exists(path);
  if (!text) throw Error("JSON specification file " + path.string() + " not found");
  try {
    return nlohmann::json::parse(*text);
  } catch (const nlohmann::json::exception& e) {
    throw Error("parse " + path.string() + ": " + e.what());
  }
}

std::string user_name(uid_t uid) {
  if (const passwd* pw = ::getpwuid(uid)) return pw->pw_name;
  return "#" + std::to_string(uid);
}

// systemd socket activation (runc's activation.Files): descriptors 3.. handed to this process pass on to the
// container, which learns of them as its PID 1.
unsigned listen_fds(oci::Process& process) {
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  if (!pid || !fds || std::atoi(pid) != ::getpid()) return 0;
  int n = std::atoi(fds);
  if (n <= 0) return 0;
  process.env.push_back("LISTEN_FDS=" + std::to_string(n));
  process.env.push_back("LISTEN_PID=1");
  return static_cast<unsigned>(n);
}

}  // namespace

Created create_container(const Globals& g, const CreateOptions& o, bool foreground) {
  validate_bundle_id(o.id);
  BundleStore store = g.store();
  if (store.load(o.id)) throw Error("container with id exists: " + o.id);
  fs::path bundle = fs::absolute(o.bundle).lexically_normal();
  nlohmann::json config = load_config(bundle);
  oci::Spec spec = oci::spec_from_json(config);
  if (spec.root.path.empty()) throw Error("root.path must not be empty in " + (bundle / "config.json").string());
  fs::path rootfs = fs::path(spec.root.path).is_absolute() ? fs::path(spec.root.path) : bundle / spec.root.path;
  spec.root.path = rootfs.lexically_normal().string();
  if (spec.process.terminal && o.console_socket.empty() && !foreground)
    throw Error("cannot allocate tty if runc will detach without setting console socket");
  if (!spec.process.terminal && !o.console_socket.empty())
    throw Error("cannot use console socket if runc will not detach or allocate tty");

  BundleRecord record;
  record.id = o.id;
  record.bundle = bundle;
  record.rootfs = spec.root.path;
  record.created = format_rfc3339(now());
  record.owner = user_name(::geteuid());
  record.annotations = spec.annotations;
  record.cgroup = oci_cgroup_paths(spec.linux.cgroups_path, o.id);
  record.exec_fifo = store.dir(o.id) / "exec.fifo";
  record.config = config;

  BundleLaunch launch;
  launch.id = o.id;
  launch.bundle = bundle;
  launch.cgroup = record.cgroup;
  launch.exec_fifo = record.exec_fifo;
  launch.seccomp_cache = store.root() / ".seccomp-cache";
  launch.console_socket = o.console_socket.empty() ? "" : fs::absolute(o.console_socket).string();
  launch.preserve_fds = o.preserve_fds + listen_fds(spec.process);
  launch.no_pivot = o.no_pivot;
  launch.no_new_keyring = o.no_new_keyring;
  launch.foreground = foreground;
  launch.spec = std::move(spec);

  FileLock lock = store.create(record);
  try {
    BundleContainer container = BundleContainer::create(std::move(launch));
    record.pid = container.pid();
    record.pid_start = process_start_time(record.pid);
    if (!o.pid_file.empty()) write_pid_file(o.pid_file, record.pid);
    record.create_finished = true;
    store.save(record);
    log(Level::debug, "created container " + o.id + " (pid " + std::to_string(record.pid) + ")");
    return Created{std::move(container), std::move(record), std::move(lock)};
  } catch (...) {
    // The container object (if made) has killed its process and removed its cgroup on the way here.
    store.remove(o.id);
    throw;
  }
}

void register_create(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("create", "create a container");
  auto o = std::make_shared<CreateOptions>();
  auto args = std::make_shared<std::vector<std::string>>();
  add_create_flags(cmd, *o);
  cmd->add_option("container-id", *args, "the container's id");
  set_action(cmd, [&g, o, args] {
    check_args(g, "create", args->size(), 1, '=');
    o->id = args->front();
    Created created = create_container(g, *o, false);
    // The process lives on: its reaper is this process's parent's subreaper (containerd's shim, conmon).
    created.container.detach();
    return 0;
  });
}

}  // namespace cppcker::ocicli
