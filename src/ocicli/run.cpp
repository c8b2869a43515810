// run: create + start; in the foreground it waits for the end, relays the terminal and deletes the container.
#include <unistd.h>

#include <optional>

#include "cppcker/ocicli/ocicli.hpp"
#include "cppcker/runtime/tty.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::ocicli {

void register_run(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("run", "create and run a container");
  auto o = std::make_shared<CreateOptions>();
  auto args = std::make_shared<std::vector<std::string>>();
  auto detach = std::make_shared<bool>(false);
  auto keep = std::make_shared<bool>(false);
  add_create_flags(cmd, *o);
  cmd->add_flag("-d,--detach", *detach, "detach from the container's process");
  cmd->add_flag("--keep", *keep, "do not delete the container after it exits");
  cmd->add_option("container-id", *args, "the container's id");
  set_action(cmd, [&g, o, args, detach, keep] {
    check_args(g, "run", args->size(), 1, '=');
    o->id = args->front();
    BundleStore store = g.store();
    std::optional<Created> c(create_container(g, *o, !*detach));
    try {
      start_container(c->record, "created");
    } catch (...) {
      CgroupPaths cgroup = c->record.cgroup;
      c.reset();  // kills the process
      make_cgroup(cgroup)->destroy({});
      store.remove(o->id);
      throw;
    }
    if (*detach) {
      c->container.detach();
      return 0;
    }
    SignalForwarder forwarder;
    forwarder.target(UniqueFd(::dup(c->container.pidfd())));
    { FileLock released(std::move(c->lock)); }  // delete and kill may act while the program runs
    if (c->container.tty_master() >= 0) {
      bool interactive = ::isatty(STDIN_FILENO);
      std::optional<RawTerminal> raw;
      if (interactive) raw.emplace(STDIN_FILENO);
      relay_tty(c->container.tty_master(), STDIN_FILENO, STDOUT_FILENO, interactive ? STDIN_FILENO : -1,
                c->container.pid());
    }
    int status = c->container.wait().code;
    if (*keep) return status;
    try {
      FileLock lock = store.lock(o->id);
      destroy_container(store, store.get(o->id));
    } catch (const Error& e) {
      log(Level::debug, "delete after run: " + std::string(e.what()));  // deleted meanwhile by someone else
    }
    return status;
  });
}

}  // namespace cppcker::ocicli
