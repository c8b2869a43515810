// The floor for `cppcker run --rm --network none busybox true`: the same kernel steps and nothing else.
// Per run: cgroup directories (v1: memory, cpu, pids; v2: one), a fresh upper/work dir, clone into new
// pid/mount/uts/ipc/net namespaces, the child joins its cgroup before it goes on, makes / private, mounts
// the overlay and /proc, pivot_root, detaches the old root, execs the command; the parent waits and
// removes the cgroups and the upper/work dirs.
//   minimal-run LOWERDIR STATEDIR CGROUP_PARENT RUNS [COMMAND...]
// CGROUP_PARENT is relative to this process's own cgroup in each hierarchy. Prints nothing; exits 0.
// With MINIMAL_BRIDGE=<existing bridge> and MINIMAL_NET=<a.b.c.d/len>,<gateway> it also does what a bridged
// start needs, over raw netlink: a veth pair (host end up on the bridge, peer created as eth0 in the
// child's network namespace); the child gives eth0 its address, brings it and lo up and adds the
// default route. The veth goes with the namespace when the child ends.
// With MINIMAL_SHAPE=1 it is the floor of cppcker's design instead: the same steps at C's cost, plus what
// that design requires and a bare C program does not:
//   - the child re-executes this program (/proc/self/exe, as cppcker's child-mode stage) and goes on there;
//   - it makes the filesystem a Docker container has beyond its root and /proc: /dev (a tmpfs with its
//     nodes and links), /dev/pts, /dev/shm, /dev/mqueue, /sys read-only with each cgroup hierarchy the
//     container is in, the host's /etc/hostname, hosts and resolv.conf bound in (no files written: a lower
//     bound); after pivot_root, Docker's read-only and masked paths;
//   - it loads a seccomp filter as long as cppcker's default profile compiles to (MINIMAL_SECCOMP_LEN
//     instructions, default 1253: never matching, so everything is allowed) just before the exec;
//   - the parent writes the container's record atomically and durably (temp file, fsync, rename) before
//     the clone, and removes it at the end (once: no rewrites for "running" or the exit);
//   - with a bridge, the veth is made by a re-execution of this program (setup-veth) started beside an
//     empty one (setup-netns, which does nothing here: a lower bound), both at once, while the child's own
//     re-execution runs: the best overlap the design allows.
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
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <ftw.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include "long_filter.h"
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>

static void die(const char* what) {
  fprintf(stderr, "minimal-run: %s: %s\n", what, strerror(errno));
  exit(1);
}

// ---- raw rtnetlink: one request, one ack
union nlreq {
  struct nlmsghdr h;
  char buf[1024];
};
static struct rtattr* add_attr(struct nlmsghdr* h, int type, const void* data, int len) {
  struct rtattr* a = (struct rtattr*)((char*)h + NLMSG_ALIGN(h->nlmsg_len));
  a->rta_type = type;
  a->rta_len = RTA_LENGTH(len);
  if (len) {
    if (data) memcpy(RTA_DATA(a), data, len);
    else memset(RTA_DATA(a), 0, len);
  }
  h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
  return a;
}
static void end_nest(struct nlmsghdr* h, struct rtattr* nest) { nest->rta_len = (char*)h + h->nlmsg_len - (char*)nest; }
static void nl_talk(int fd, struct nlmsghdr* h, const char* what) {
  h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  if (send(fd, h, h->nlmsg_len, 0) < 0) die(what);
  char reply[4096];
  ssize_t n = recv(fd, reply, sizeof reply, 0);
  struct nlmsghdr* r = (struct nlmsghdr*)reply;
  if (n < 0 || r->nlmsg_type != NLMSG_ERROR) die(what);
  int err = ((struct nlmsgerr*)NLMSG_DATA(r))->error;
  if (err) {
    errno = -err;
    die(what);
  }
}
static int nl_open(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) die("netlink socket");
  return fd;
}
static void link_up(int fd, int index) {
  union nlreq req = {.h = {.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)), .nlmsg_type = RTM_NEWLINK}};
  struct ifinfomsg* ifi = NLMSG_DATA(&req.h);
  ifi->ifi_index = index;
  ifi->ifi_flags = ifi->ifi_change = IFF_UP;
  nl_talk(fd, &req.h, "link up");
}
// Host side: veth <name> on <bridge>, its peer eth0 straight into the namespace of <pid>.
static void make_veth(const char* name, const char* bridge, pid_t pid) {
  int fd = nl_open();
  union nlreq req = {.h = {.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)), .nlmsg_type = RTM_NEWLINK,
                            .nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL}};
  struct ifinfomsg* ifi = NLMSG_DATA(&req.h);
  ifi->ifi_flags = ifi->ifi_change = IFF_UP;
  add_attr(&req.h, IFLA_IFNAME, name, strlen(name) + 1);
  int master = if_nametoindex(bridge);
  if (!master) die("bridge");
  add_attr(&req.h, IFLA_MASTER, &master, sizeof master);
  struct rtattr* info = add_attr(&req.h, IFLA_LINKINFO, NULL, 0);
  add_attr(&req.h, IFLA_INFO_KIND, "veth", 4);
  struct rtattr* data = add_attr(&req.h, IFLA_INFO_DATA, NULL, 0);
  struct rtattr* peer = add_attr(&req.h, VETH_INFO_PEER, NULL, sizeof(struct ifinfomsg));
  add_attr(&req.h, IFLA_IFNAME, "eth0", 5);
  uint32_t ns_pid = (uint32_t)pid;
  add_attr(&req.h, IFLA_NET_NS_PID, &ns_pid, sizeof ns_pid);
  end_nest(&req.h, peer);
  end_nest(&req.h, data);
  end_nest(&req.h, info);
  nl_talk(fd, &req.h, "create veth");
  close(fd);
}
// Container side: address on eth0, eth0 and lo up, default route.
static void configure_eth0(const char* cidr, const char* gateway) {
  int fd = nl_open();
  int eth0 = if_nametoindex("eth0"), lo = if_nametoindex("lo");
  char addr[64];
  snprintf(addr, sizeof addr, "%s", cidr);
  char* slash = strchr(addr, '/');
  *slash = 0;
  struct in_addr a, gw;
  inet_pton(AF_INET, addr, &a);
  inet_pton(AF_INET, gateway, &gw);
  union nlreq req = {.h = {.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg)), .nlmsg_type = RTM_NEWADDR,
                            .nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL}};
  struct ifaddrmsg* ifa = NLMSG_DATA(&req.h);
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = atoi(slash + 1);
  ifa->ifa_index = eth0;
  add_attr(&req.h, IFA_LOCAL, &a, 4);
  add_attr(&req.h, IFA_ADDRESS, &a, 4);
  nl_talk(fd, &req.h, "add address");
  link_up(fd, eth0);
  link_up(fd, lo);
  union nlreq route = {.h = {.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg)), .nlmsg_type = RTM_NEWROUTE,
                              .nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL}};
  struct rtmsg* rt = NLMSG_DATA(&route.h);
  rt->rtm_family = AF_INET;
  rt->rtm_table = RT_TABLE_MAIN;
  rt->rtm_protocol = RTPROT_BOOT;
  rt->rtm_scope = RT_SCOPE_UNIVERSE;
  rt->rtm_type = RTN_UNICAST;
  add_attr(&route.h, RTA_GATEWAY, &gw, 4);
  add_attr(&route.h, RTA_OIF, &eth0, sizeof eth0);
  nl_talk(fd, &route.h, "add route");
  close(fd);
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

static void mount_at(const char* source, const char* target, const char* type, unsigned long flags, const char* data) {
  mkdir(target, 0755);  // most are there already
  if (mount(source, target, type, flags, data) != 0) {
    fprintf(stderr, "minimal-run: mount %s: %s\n", target, strerror(errno));
    exit(1);
  }
}

// Docker's container filesystem beyond the root and /proc, made from inside the new root (the working
// directory), before pivot_root: what cppcker's child-mode stage makes (src/runtime/rootfs.cpp).
static void docker_filesystem(void) {
  const unsigned long nse = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  mount_at("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
  const struct { const char* name; unsigned major, minor; } nodes[] = {
      {"dev/null", 1, 3}, {"dev/zero", 1, 5}, {"dev/full", 1, 7}, {"dev/random", 1, 8}, {"dev/urandom", 1, 9}, {"dev/tty", 5, 0}};
  for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; ++i)
    if (mknod(nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)) != 0) die("mknod");
  const char* links[][2] = {{"pts/ptmx", "dev/ptmx"}, {"/proc/self/fd", "dev/fd"}, {"/proc/self/fd/0", "dev/stdin"},
                            {"/proc/self/fd/1", "dev/stdout"}, {"/proc/self/fd/2", "dev/stderr"}};
  for (size_t i = 0; i < sizeof links / sizeof links[0]; ++i)
    if (symlink(links[i][0], links[i][1]) != 0) die("symlink");
  mount_at("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  mount_at("shm", "dev/shm", "tmpfs", nse, "mode=1777,size=67108864");
  mount_at("mqueue", "dev/mqueue", "mqueue", nse, NULL);
  mount_at("sysfs", "sys", "sysfs", MS_RDONLY | nse, NULL);
  // Each hierarchy the container is in, read-only (cpuset: cppcker puts a container there only with --cpuset-cpus).
  mount_at("tmpfs", "sys/fs/cgroup", "tmpfs", nse | MS_RELATIME, "mode=755");
  FILE* f = fopen("/proc/self/cgroup", "re");
  char line[1024];
  int v1 = 0;
  while (f && fgets(line, sizeof line, f)) {
    char* c1 = strchr(line, ':');
    char* c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c2 = 0;
    const char* controllers = c1 + 1;
    char dir[300], data[300];
    if (!*controllers) continue;
    if (strcmp(controllers, "cpuset") == 0) continue;
    const int named = strncmp(controllers, "name=", 5) == 0;
    snprintf(dir, sizeof dir, "sys/fs/cgroup/%s", named ? controllers + 5 : controllers);
    snprintf(data, sizeof data, "%s%s", named ? "none," : "", controllers);
    mount_at("cgroup", dir, "cgroup", MS_RDONLY | nse | MS_RELATIME, data);
    v1 = 1;
  }
  if (f) fclose(f);
  // The cgroup2 tree: beside the v1 hierarchies as "unified" (a hybrid host), else all of it.
  mount_at("cgroup2", v1 ? "sys/fs/cgroup/unified" : "sys/fs/cgroup", "cgroup2", MS_RDONLY | nse | MS_RELATIME, NULL);
  if (v1 && mount(NULL, "sys/fs/cgroup", NULL, MS_REMOUNT | MS_RDONLY | nse | MS_RELATIME, NULL) != 0) die("remount /sys/fs/cgroup");
  const char* etc[] = {"hostname", "hosts", "resolv.conf"};
  for (size_t i = 0; i < 3; ++i) {
    char host[64], target[64];
    snprintf(host, sizeof host, "/etc/%s", etc[i]);
    snprintf(target, sizeof target, "etc/%s", etc[i]);
    int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);  // the mount point
    if (fd < 0) die("create a mount point in /etc");
    close(fd);
    if (mount(host, target, NULL, MS_BIND | MS_REC, NULL) != 0) die("bind an /etc file");
  }
}

// Docker's read-only and masked paths, inside the new root.
static void docker_paths(void) {
  const char* readonly[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  for (size_t i = 0; i < sizeof readonly / sizeof readonly[0]; ++i) {
    if (mount(readonly[i], readonly[i], NULL, MS_BIND | MS_REC, NULL) != 0) continue;  // not on this kernel
    if (mount(readonly[i], readonly[i], NULL, MS_BIND | MS_REC | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
      die("remount read-only");
  }
  const char* masked[] = {"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                          "/sys/devices/virtual/powercap"};
  for (size_t i = 0; i < sizeof masked / sizeof masked[0]; ++i) {
    struct stat st;
    if (stat(masked[i], &st) != 0) continue;
    int failed = S_ISDIR(st.st_mode) ? mount("tmpfs", masked[i], "tmpfs", MS_RDONLY, NULL)
                                     : mount("/dev/null", masked[i], NULL, MS_BIND, NULL);
    if (failed) die("mask a path");
  }
}

static int remove_entry(const char* path, const struct stat* st, int type, struct FTW* ftw) {
  (void)st, (void)type, (void)ftw;
  return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

// The child's part after its go: network, mounts, pivot_root, (seccomp), exec. Never returns.
// With `docker_fs`, the rest of a Docker container's filesystem too (docker_filesystem, docker_paths).
static void child_body(int sync_fd, const char* merged, const char* opts, const char* net, const char* gateway,
                       char** cmd, int seccomp_len, int docker_fs) {
  char go;
  if (read(sync_fd, &go, 1) != 1) _exit(125);  // in its cgroup now (and its veth is there)
  close(sync_fd);
  if (gateway) configure_eth0(net, gateway);
  if (unshare(CLONE_NEWCGROUP) != 0) die("unshare cgroup");
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("make / private");
  if (mount("overlay", merged, "overlay", 0, opts) != 0) die("mount overlay");
  char proc[4300];
  snprintf(proc, sizeof proc, "%s/proc", merged);
  mkdir(proc, 0555);
  if (mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) die("mount proc");
  if (chdir(merged) != 0) die("chdir");
  if (docker_fs) docker_filesystem();
  if (syscall(SYS_pivot_root, ".", ".") != 0) die("pivot_root");
  if (umount2(".", MNT_DETACH) != 0) die("umount old root");
  if (chdir("/") != 0) die("chdir /");
  if (docker_fs) docker_paths();
  sethostname("minimal", 7);
  if (seccomp_len > 0) load_long_filter(seccomp_len);
  execv(cmd[0], cmd);
  die("exec");
}

// A re-execution of this program (the design's stages): fork, exec /proc/self/exe with ARGS; its pid.
static pid_t spawn_stage(char* const* args) {
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    execv("/proc/self/exe", args);
    _exit(127);
  }
  return pid;
}

static void wait_ok(pid_t pid, const char* what) {
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) die(what);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "minimal-run: %s failed (status %d)\n", what, status);
    exit(1);
  }
}

int main(int argc, char** argv) {
  // The re-executed stages (MINIMAL_SHAPE=1).
  if (argc >= 8 && strcmp(argv[1], "--child") == 0)
    child_body(atoi(argv[2]), argv[3], argv[4], argv[5], strcmp(argv[6], "-") ? argv[6] : NULL, argv + 8, atoi(argv[7]), 1);
  if (argc == 5 && strcmp(argv[1], "--veth") == 0) {
    make_veth(argv[2], argv[3], (pid_t)atoi(argv[4]));
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "--netns") == 0) return 0;
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
  const char* bridge = getenv("MINIMAL_BRIDGE");
  char net[128] = "", *gateway = NULL;
  if (bridge && getenv("MINIMAL_NET")) {
    snprintf(net, sizeof net, "%s", getenv("MINIMAL_NET"));
    gateway = strchr(net, ',');
    if (gateway) *gateway++ = 0;
  }
  const int shape = getenv("MINIMAL_SHAPE") && strcmp(getenv("MINIMAL_SHAPE"), "1") == 0;
  const int seccomp_len = !shape ? 0 : getenv("MINIMAL_SECCOMP_LEN") ? atoi(getenv("MINIMAL_SECCOMP_LEN")) : 1253;
  if (shape && (seccomp_len < 2 || seccomp_len > 4096)) {
    fprintf(stderr, "minimal-run: MINIMAL_SECCOMP_LEN must be 2..4096\n");
    return 2;
  }
  // A record the size of a container's (container.json, ~2.6 kB).
  static char record[2600];
  memset(record, 'x', sizeof record);

  for (int run = 0; run < runs; ++run) {
    char dir[4096], upper[4200], work[4200], merged[4200], opts[16384];
    snprintf(dir, sizeof dir, "%s/run%d", state, run);
    snprintf(upper, sizeof upper, "%s/upper", dir);
    snprintf(work, sizeof work, "%s/work", dir);
    snprintf(merged, sizeof merged, "%s/merged", dir);
    if (mkdir(dir, 0700) || mkdir(upper, 0755) || mkdir(work, 0700) || mkdir(merged, 0755)) die("mkdir state");
    snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
    make_cgroups(parent, run);
    char record_path[4300];
    snprintf(record_path, sizeof record_path, "%s/record.json", dir);
    if (shape) {
      char tmp[4400];
      snprintf(tmp, sizeof tmp, "%s.tmp", record_path);
      int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0 || write(fd, record, sizeof record) != (ssize_t)sizeof record || fsync(fd) != 0 || close(fd) != 0)
        die("write the record");
      if (rename(tmp, record_path) != 0) die("rename the record");
    }

    int sync_pipe[2];
    if (pipe2(sync_pipe, O_CLOEXEC) != 0) die("pipe");
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | SIGCHLD,
                               NULL, NULL, NULL, 0);
    if (pid < 0) die("clone");
    if (pid == 0) {
      close(sync_pipe[1]);
      if (shape) {
        // The child-mode stage: the rest of the child's work in a fresh exec of this program.
        if (fcntl(sync_pipe[0], F_SETFD, 0) != 0) die("fcntl");
        char fd_arg[16], len_arg[16];
        snprintf(fd_arg, sizeof fd_arg, "%d", sync_pipe[0]);
        snprintf(len_arg, sizeof len_arg, "%d", seccomp_len);
        char* args[64] = {"minimal-run", "--child", fd_arg, merged, opts, gateway ? net : "-", gateway ? gateway : "-", len_arg};
        int n = 8;
        for (char** c = cmd; *c && n < 63; ++c) args[n++] = *c;
        args[n] = NULL;
        execv("/proc/self/exe", args);
        die("exec /proc/self/exe");
      }
      child_body(sync_pipe[0], merged, opts, net, gateway, cmd, 0, 0);
    }
    close(sync_pipe[0]);
    char veth[IFNAMSIZ];
    snprintf(veth, sizeof veth, "vm%d.%d", (int)getpid(), run % 1000);  // unique: the last one may still be dying
    pid_t veth_stage = 0, netns_stage = 0;
    if (gateway && shape) {
      char pid_arg[16];
      snprintf(pid_arg, sizeof pid_arg, "%d", (int)pid);
      char* veth_args[] = {"minimal-run", "--veth", veth, (char*)bridge, pid_arg, NULL};
      char* netns_args[] = {"minimal-run", "--netns", NULL};
      netns_stage = spawn_stage(netns_args);
      veth_stage = spawn_stage(veth_args);
    }
    join_cgroups(pid);
    if (gateway && !shape) make_veth(veth, bridge, pid);
    if (netns_stage) wait_ok(netns_stage, "the setup-netns stage");
    if (veth_stage) wait_ok(veth_stage, "the setup-veth stage");
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
    // The upper dir holds what the container wrote (here: only the /proc mount point; with MINIMAL_SHAPE,
    // the mount points of /etc's files too).
    if (shape) {
      if (nftw(upper, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) die("remove the upper dir");
    } else {
      snprintf(rm, sizeof rm, "%s/proc", upper);
      rmdir(rm);
      rmdir(upper);
    }
    if (shape && unlink(record_path) != 0) die("remove the record");
    if (rmdir(dir) != 0) die("remove state");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "minimal-run: the command failed (status %d)\n", status);
      remove_parents();
      return 1;
    }
  }
  remove_parents();
  return 0;
}
