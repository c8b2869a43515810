// cppcker-init: the container's PID 1 with `run --init`. It is embedded in cppcker and started from a
// sealed memfd, so /proc/1/exe leads to no host file the container could rewrite. It closes everything it
// inherited, runs the command as its child, passes signals on to it, reaps every orphan the kernel hands
// to PID 1, and exits with the command's status (128+N for signal N, which PID 1 cannot die of itself).
//   cppcker-init PROGRAM ARGV0 [ARG...]
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char* a, const char* b, const char* c) {
  const char* parts[] = {a, b, c};
  for (const char* s : parts)
    if (s && ::write(2, s, strlen(s)) < 0) return;
}

int main(int argc, char** argv, char** envp) {
  if (argc < 3) {
    say("cppcker-init: usage: cppcker-init PROGRAM ARGV0 [ARG...]\n", nullptr, nullptr);
    return 125;
  }
  ::syscall(SYS_close_range, 3u, ~0u, 0u);
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t child = ::fork();
  if (child < 0) {
    say("cppcker-init: fork: ", strerror(errno), "\n");
    return 125;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, nullptr);
    ::execve(argv[1], argv + 2, envp);
    int err = errno;
    say("cppcker-init: exec ", argv[1], ": ");
    say(strerror(err), "\n", nullptr);
    _exit(err == ENOENT ? 127 : 126);
  }
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&all, &info);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      ::kill(child, sig);
      continue;
    }
    int status = 0;
    pid_t reaped;
    while ((reaped = ::waitpid(-1, &status, WNOHANG)) > 0)
      if (reaped == child) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
}
