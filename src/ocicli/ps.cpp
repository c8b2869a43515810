// ps [--format table|json] ID [ps options]: the container's processes (json: their pids; table: the host's
// `ps` output, default -ef, filtered to them), as runc's ps.go.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <sstream>

#include "cppcker/ocicli/ocicli.hpp"
#include "cppcker/util/child.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::ocicli {

namespace {

// Runs `ps args...` and returns what it printed (stdout and stderr, as Go's CombinedOutput).
std::string run_ps(const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe");
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  std::vector<char*> argv;
  std::string name = "ps";
  argv.push_back(name.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) {
    ::dup2(write_end.get(), STDOUT_FILENO);
    ::dup2(write_end.get(), STDERR_FILENO);
    ::execvp("ps", argv.data());
    ::_exit(127);
  }
  OwnedChild child(pid);
  write_end.reset();
  std::string out = read_all(read_end.get(), "ps output");
  int status = child.wait();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw Error("exit status " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) +
                ": " + out);
  return out;
}

std::vector<std::string> fields(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string f; in >> f;) out.push_back(f);
  return out;
}

}  // namespace

void register_ps(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("ps", "ps displays the processes running inside a container");
  auto format = std::make_shared<std::string>("table");
  auto args = std::make_shared<std::vector<std::string>>();
  cmd->add_option("-f,--format", *format, "select one of: table or json");
  cmd->add_option("container-id", *args, "the container's id, then ps's options");
  set_action(cmd, [&g, format, args] {
    check_args(g, "ps", args->size(), 1, '>');
    BundleStore store = g.store();
    BundleRecord record = store.get(args->front());
    std::vector<pid_t> pids = cgroup_pids(record);
    std::sort(pids.begin(), pids.end());
    if (*format == "json") {
      std::cout << nlohmann::json(pids).dump() << "\n";
      return 0;
    }
    if (*format != "table") throw Error("invalid format option");
    std::vector<std::string> ps_args(args->begin() + 1, args->end());
    if (ps_args.empty()) ps_args = {"-ef"};
    std::istringstream lines(run_ps(ps_args));
    std::string header;
    std::getline(lines, header);
    auto head = fields(header);
    auto pid_column = std::find(head.begin(), head.end(), "PID");
    if (pid_column == head.end()) throw Error("couldn't find PID field in ps output");
    std::size_t column = static_cast<std::size_t>(pid_column - head.begin());
    std::cout << header << "\n";
    for (std::string line; std::getline(lines, line);) {
      auto f = fields(line);
      if (f.size() <= column) continue;
      pid_t p = 0;
      try {
        p = std::stoi(f[column]);
      } catch (const std::exception&) {
        throw Error("unexpected pid '" + f[column] + "'");
      }
      if (std::binary_search(pids.begin(), pids.end(), p)) std::cout << line << "\n";
    }
    return 0;
  });
}

}  // namespace cppcker::ocicli
