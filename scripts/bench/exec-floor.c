// The floor of `cppcker exec CONTAINER COMMAND` in cppcker's design, in C (for scripts/bench-run.sh):
//   exec-floor PID SECCOMP_LEN COMMAND [ARG...]
// What the design requires, at C's cost: a pidfd of the container's first process; a helper forked in
// the host's pid namespace, where the container cannot see it, joins all the namespaces at once (setns on
// the pidfd), confines itself (the capability bounding set down to Docker's default, a seccomp filter of
// SECCOMP_LEN instructions: scripts/bench/long_filter.h) and only then forks the command's process into the
// container's pid namespace, which execs COMMAND; the helper waits for it and exits with its status, this
// program waits for the helper. Left out (a lower bound): reading the container's record and spec, the
// user lookup, the cgroup join, relaying stdio.
#define _GNU_SOURCE
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <linux/capability.h>

#include "long_filter.h"

static void die(const char* what) {
  fprintf(stderr, "exec-floor: %s: %s\n", what, strerror(errno));
  exit(125);
}

static int wait_status(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) die("waitpid");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: exec-floor PID SECCOMP_LEN COMMAND [ARG...]\n");
    return 2;
  }
  const int seccomp_len = atoi(argv[2]);
  if (seccomp_len < 2 || seccomp_len > 4096) {
    fprintf(stderr, "exec-floor: SECCOMP_LEN must be 2..4096\n");
    return 2;
  }
  int pidfd = (int)syscall(SYS_pidfd_open, atoi(argv[1]), 0);
  if (pidfd < 0) die("pidfd_open");
  pid_t helper = fork();
  if (helper < 0) die("fork");
  if (helper == 0) {
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (setns(pidfd, CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWPID) != 0)
      die("setns");
    close(pidfd);
    // Docker's default set: everything else leaves the bounding set.
    const int kept[] = {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_MKNOD, CAP_NET_RAW, CAP_SETGID,
                        CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL,
                        CAP_AUDIT_WRITE};
    for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
      int keep = 0;
      for (size_t i = 0; i < sizeof kept / sizeof kept[0]; ++i) keep |= kept[i] == cap;
      if (!keep && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) die("drop a capability");
    }
    if (setsid() < 0) die("setsid");
    load_long_filter(seccomp_len);
    pid_t inner = fork();
    if (inner < 0) die("fork into the container");
    if (inner == 0) {
      execvp(argv[3], argv + 3);
      die("exec");
    }
    _exit(wait_status(inner));
  }
  close(pidfd);
  return wait_status(helper);
}
