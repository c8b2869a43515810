// cppcker exec: run a command in a running container.
#include "cppcker/cli/commands.hpp"
#include "cppcker/runtime/exec.hpp"
#include "cppcker/runtime/options.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/timing.hpp"

namespace cppcker::cli {

void register_exec(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("exec", "Execute a command in a running container");
  struct Opts {
    std::vector<std::string> env;
    std::string workdir, user;
    bool interactive = false, tty = false, detach = false, privileged = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->prefix_command();
  cmd->fallthrough(false);  // the container and command are ours, not the parent's extras
  cmd->add_option("-e,--env", o->env, "Set environment variables")
      ->allow_extra_args(false);
  cmd->add_option("-w,--workdir", o->workdir, "Working directory inside the container");
  cmd->add_option("-u,--user", o->user, "Username or UID (format: <name|uid>[:<group|gid>])");
  cmd->add_flag("-i,--interactive", o->interactive, "Keep STDIN open");
  cmd->add_flag("-t,--tty", o->tty, "Allocate a pseudo-TTY");
  cmd->add_flag("-d,--detach", o->detach, "Detached mode: run command in the background");
  cmd->add_flag("--privileged", o->privileged, "Give extended privileges to the command");
  set_action(cmd, [&global, o, cmd] {
    std::vector<std::string> rest = cmd->remaining();
    if (rest.size() < 2) throw Error("\"cppcker exec\" requires at least 2 arguments.\nSee 'cppcker exec --help'.", 125);
    if (!o->workdir.empty() && o->workdir.front() != '/')
      throw Error("the working directory '" + o->workdir + "' is invalid, it needs to be an absolute path", 125);
    timing_mark("parsed");
    ContainerStore store(global.root);
    Container c = store.resolve(rest.front());
    timing_mark("exec-record");
    ExecOptions options;
    options.argv.assign(rest.begin() + 1, rest.end());
    options.env = parse_env(o->env);
    options.workdir = o->workdir;
    options.user = o->user;
    options.interactive = o->interactive;
    options.tty = o->tty;
    options.detach = o->detach;
    options.privileged = o->privileged;
    return exec_in_container(store, c, options);
  });
}

}  // namespace cppcker::cli
