// The floor for `cppcker run --rm --network none busybox true`: the same kernel steps and nothing else.
// Per run: cgroup directories (v1: memory, cpu, pids; v2: one), a fresh upper/work dir, clone into new
// pid/mount/uts/ipc/net namespaces, the child joins its cgroup before it goes on, makes / private, mounts
// the overlay and /proc, pivot_root, detaches the old root, execs the command; the parent waits and
// removes the cgroups and the upper/work dirs.
//   minimal-run LOWERDIR STATEDIR CGROUP_PARENT RUNS [COMMAND...]
// CGROUP_PARENT is relative to this process's own cgroup in each hierarchy. Prints nothing; exits 0.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>

static void die(const char* what) {
  fprintf(stderr, "minimal-run: %s: %s\n", what, strerror(errno));
  exit(1);
}

static char cgroup_dirs[4][4096];
static int ncgroups;

// This process's cgroup in the hierarchy that has `controller` ("" for the v2 line).
static void own_cgroup(const char* controller, char* out, size_t size) {
  FILE* f = fopen("/proc/self/cgroup", "r");
  char line[4096];
  out[0] = 0;
  while (f && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char* c1 = strchr(line, ':');
    char* c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c2 = 0;
    const char* list = c1 + 1;
    int match = controller[0] ? 0 : list[0] == 0;
    if (controller[0]) {
      char copy[256];
      snprintf(copy, sizeof copy, "%s", list);
      for (char* t = strtok(copy, ","); t; t = strtok(NULL, ",")) match |= strcmp(t, controller) == 0;
    }
    if (match) snprintf(out, size, "%s", strcmp(c2 + 1, "/") == 0 ? "" : c2 + 1);
  }
  if (f) fclose(f);
}

static void make_cgroups(const char* parent, int run) {
  struct statfs st;
  ncgroups = 0;
  if (statfs("/sys/fs/cgroup", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC) {
    char own[2048];
    own_cgroup("", own, sizeof own);
    snprintf(cgroup_dirs[ncgroups++], 4096, "/sys/fs/cgroup%s/%s/run%d", own, parent, run);
  } else {
    const char* controllers[] = {"memory", "cpu", "pids"};
    for (int i = 0; i < 3; ++i) {
      char own[2048];
      own_cgroup(controllers[i], own, sizeof own);
      snprintf(cgroup_dirs[ncgroups++], 4096, "/sys/fs/cgroup/%s%s/%s/run%d", controllers[i], own, parent, run);
    }
  }
  for (int i = 0; i < ncgroups; ++i) {
    char up[4096];
    memcpy(up, cgroup_dirs[i], sizeof up);
    *strrchr(up, '/') = 0;
    if (mkdir(up, 0755) != 0 && errno != EEXIST) die("mkdir cgroup parent");
    if (mkdir(cgroup_dirs[i], 0755) != 0) die("mkdir cgroup");
  }
}

static void join_cgroups(pid_t pid) {
  for (int i = 0; i < ncgroups; ++i) {
    char path[4200], buf[32];
    snprintf(path, sizeof path, "%s/cgroup.procs", cgroup_dirs[i]);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    int n = snprintf(buf, sizeof buf, "%d", pid);
    if (fd < 0 || write(fd, buf, n) != n) die("join cgroup");
    close(fd);
  }
}

static void remove_cgroups(void) {
  for (int i = 0; i < ncgroups; ++i)
    while (rmdir(cgroup_dirs[i]) != 0 && errno == EBUSY) usleep(100);
}

static void remove_parents(void) {
  for (int i = 0; i < ncgroups; ++i) {
    *strrchr(cgroup_dirs[i], '/') = 0;
    rmdir(cgroup_dirs[i]);
  }
}

int main(int argc, char** argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: minimal-run LOWERDIR STATEDIR CGROUP_PARENT RUNS [COMMAND...]\n");
    return 2;
  }
  const char* lower = argv[1];
  const char* state = argv[2];
  const char* parent = argv[3];
  int runs = atoi(argv[4]);
  char* default_cmd[] = {"/bin/true", NULL};
  char** cmd = argc > 5 ? argv + 5 : default_cmd;

  for (int run = 0; run < runs; ++run) {
    char dir[4096], upper[4200], work[4200], merged[4200], opts[16384];
    snprintf(dir, sizeof dir, "%s/run%d", state, run);
    snprintf(upper, sizeof upper, "%s/upper", dir);
    snprintf(work, sizeof work, "%s/work", dir);
    snprintf(merged, sizeof merged, "%s/merged", dir);
    if (mkdir(dir, 0700) || mkdir(upper, 0755) || mkdir(work, 0700) || mkdir(merged, 0755)) die("mkdir state");
    snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
    make_cgroups(parent, run);

    int sync_pipe[2];
    if (pipe2(sync_pipe, O_CLOEXEC) != 0) die("pipe");
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | SIGCHLD,
                               NULL, NULL, NULL, 0);
    if (pid < 0) die("clone");
    if (pid == 0) {
      char go;
      close(sync_pipe[1]);
      if (read(sync_pipe[0], &go, 1) != 1) _exit(125);  // in its cgroup now
      if (unshare(CLONE_NEWCGROUP) != 0) die("unshare cgroup");
      if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("make / private");
      if (mount("overlay", merged, "overlay", 0, opts) != 0) die("mount overlay");
      char proc[4300];
      snprintf(proc, sizeof proc, "%s/proc", merged);
      mkdir(proc, 0555);
      if (mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) die("mount proc");
      if (chdir(merged) != 0) die("chdir");
      if (syscall(SYS_pivot_root, ".", ".") != 0) die("pivot_root");
      if (umount2(".", MNT_DETACH) != 0) die("umount old root");
      if (chdir("/") != 0) die("chdir /");
      sethostname("minimal", 7);
      execv(cmd[0], cmd);
      die("exec");
    }
    close(sync_pipe[0]);
    join_cgroups(pid);
    if (write(sync_pipe[1], "g", 1) != 1) die("sync");
    close(sync_pipe[1]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    remove_cgroups();
    char rm[4300];
    snprintf(rm, sizeof rm, "%s/work/work", dir);
    rmdir(rm);
    rmdir(work);
    rmdir(merged);
    // The upper dir holds what the container wrote (here: only the /proc mount point).
    snprintf(rm, sizeof rm, "%s/proc", upper);
    rmdir(rm);
    rmdir(upper);
    if (rmdir(dir) != 0) die("remove state");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "minimal-run: the command failed (status %d)\n", status);
      return 1;
    }
  }
  remove_parents();
  return 0;
}
