#include "cppcker/runtime/run.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/runtime/process.hpp"
#include "cppcker/runtime/tty.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker {

namespace {

// A start that failed leaves the container "created" with the error, as Docker does; --rm removes it.
void record_start_failure(const ContainerStore& containers, Container& c, const Error& e) {
  if (c.spec.auto_remove) {
    containers.remove(c.id);
    return;
  }
  c.state.status = "created";
  c.state.error = e.what();
  c.state.exit_code = e.exit_code();
  containers.save(c);
}

void finish(const ContainerStore& containers, const Container& c) {
  if (!c.spec.auto_remove) return;
  containers.remove(c.id);
  VolumeStore volumes(containers.dir(c.id).parent_path().parent_path());
  for (const auto& m : c.spec.mounts)  // --rm takes the container's anonymous volumes with it, as in Docker
    if (m.anonymous && volumes.exists(m.source)) volumes.remove(m.source);
}

}  // namespace

int run_foreground(const ImageStore& images, const ContainerStore& containers, const NetworkStore& networks,
                   Container& c) {
  // Owner first, so that `rm -f` can always find and stop whoever is (or is about to be) running it.
  FileLock owner = containers.take_ownership(c);
  // Without -i the container's stdin is /dev/null, as in Docker.
  UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  StdioFds stdio;
  if (!c.spec.interactive) stdio.in = devnull.get();
  // With -t the container gets a terminal of its own, sized as ours; with -i too, our terminal goes raw
  // so that every key (Ctrl-C, Ctrl-D included) reaches the container's terminal, as in Docker.
  const int size_from = ::isatty(0) ? 0 : 1;
  stdio.tty = c.spec.tty;
  if (c.spec.tty) stdio.tty_size = terminal_size(size_from);
  std::optional<RawTerminal> raw;
  if (c.spec.tty && c.spec.interactive) raw.emplace(0);
  std::optional<ContainerProcess> proc;
  try {
    proc.emplace(ContainerProcess::start(images, containers, networks, c, stdio));
  } catch (const Error& e) {
    record_start_failure(containers, c, e);
    throw;
  }
  int code;
  {
    SignalForwarder forward(proc->pid(), /*include_winch=*/!c.spec.tty);
    if (c.spec.tty) relay_tty(proc->tty_master(), c.spec.interactive ? 0 : -1, 1, size_from, proc->pid());
    code = proc->wait(containers, networks, c);
  }
  raw.reset();
  finish(containers, c);
  return code;
}

void run_detached(const ImageStore& images, const ContainerStore& containers, const NetworkStore& networks,
                  Container& c) {
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw_errno("pipe");
  pid_t monitor = ::fork();
  if (monitor < 0) throw_errno("fork monitor");
  if (monitor == 0) {
    // The monitor: no terminal, no inherited stdio (a caller's $(...) must not wait for it).
    ::close(report[0]);
    ::setsid();
    ::signal(SIGHUP, SIG_IGN);
    ::signal(SIGINT, SIG_IGN);
    ::signal(SIGPIPE, SIG_IGN);
    int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    int code = 0;
    try {
      int out[2], err[2];
      if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) throw_errno("pipe");
      std::optional<FileLock> owner;
      std::optional<LogWriter> log;
      std::optional<ContainerProcess> proc;
      try {
        owner.emplace(containers.take_ownership(c));
        log.emplace(containers.dir(c.id) / "container.log");
        proc.emplace(ContainerProcess::start(images, containers, networks, c, {devnull, out[1], err[1], c.spec.tty, {}}));
      } catch (const Error& e) {
        try {
          if (owner) record_start_failure(containers, c, e);
        } catch (const Error&) {
          // The caller still learns why the start failed; the record keeps its last state.
        }
        std::string msg = nlohmann::json{{"code", e.exit_code()}, {"error", e.what()}}.dump();
        if (::write(report[1], msg.data(), msg.size()) < 0) {
        }
        ::_exit(e.exit_code());
      }
      ::close(out[1]);
      ::close(err[1]);
      ::close(report[1]);  // EOF: started
      // With -t everything the container writes comes through its terminal, logged as stdout.
      if (c.spec.tty) {
        ::close(out[0]);
        ::close(err[0]);
        out[0] = ::fcntl(proc->tty_master(), F_DUPFD_CLOEXEC, 3);  // closed below at its end, as the pipes are
        err[0] = -1;
      }
      pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
      int open_streams = c.spec.tty ? 1 : 2;
      char buf[65536];
      while (open_streams > 0) {
        if (::poll(fds, 2, -1) < 0) {
          if (errno == EINTR) continue;
          break;
        }
        for (int i = 0; i < 2; ++i) {
          if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
          ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
          if (n > 0) {
            log->write(i ? "stderr" : "stdout", std::string_view(buf, static_cast<std::size_t>(n)));
          } else if (n == 0 || errno != EINTR) {
            ::close(fds[i].fd);
            fds[i].fd = -1;
            --open_streams;
          }
        }
      }
      log->flush();
      code = proc->wait(containers, networks, c);
      finish(containers, c);
    } catch (...) {
      ::_exit(125);
    }
    ::_exit(code);
  }
  ::close(report[1]);
  UniqueFd reader(report[0]);
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
    auto j = nlohmann::json::parse(reply, nullptr, false);
    throw Error(j.is_discarded() ? "container start failed" : j.value("error", "container start failed"),
                j.is_discarded() ? 125 : j.value("code", 125));
  }
  // The monitor lives on, reparented to init when this process exits.
}

}  // namespace cppcker
