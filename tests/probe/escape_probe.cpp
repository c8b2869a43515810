// escape-probe: run inside a container by the integration tests (a static binary copied into the test
// image). Each attempt tries one thing a confined container must not be able to do, in a way that is
// harmless even where it succeeds: it reads, opens for writing without writing, mounts a tmpfs on a
// scratch directory, makes and opens a device node read-only, asks the kernel for something that only
// fails later (an empty module image, an invalid clock), never changes the clock or reboots.
//   escape-probe attempts        one line per attempt: "<name> allowed" or "<name> refused <ERRNO>"
//   escape-probe caps            CapEff, CapPrm, CapBnd, CapInh, CapAmb, NoNewPrivs and Seccomp lines
//   escape-probe fds             the open descriptors, space-separated
//   escape-probe tiocsti         tries to push input into a terminal through every way it has
//   escape-probe watch-exe SECS  watches for host processes (comm "cppcker") in the container and tries
//                                to open their /proc/<pid>/exe, one line per process seen
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <thread>

namespace {

const char* errno_name(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case EROFS: return "EROFS";
    case ENOSYS: return "ENOSYS";
    case EINVAL: return "EINVAL";
    case ENOENT: return "ENOENT";
    case ENXIO: return "ENXIO";
    case ENOTTY: return "ENOTTY";
    case EBUSY: return "EBUSY";
    case ENOEXEC: return "ENOEXEC";
    case EFAULT: return "EFAULT";
    case ETXTBSY: return "ETXTBSY";
    case ESRCH: return "ESRCH";
    case EBADF: return "EBADF";
    case ENODEV: return "ENODEV";
    case ELOOP: return "ELOOP";
    case E2BIG: return "E2BIG";
    default: return strerror(e);
  }
}

// rc < 0 (with errno) is a refusal; anything else means the kernel let it through.
void report(const char* name, long rc) {
  if (rc < 0) std::cout << name << " refused " << errno_name(errno) << "\n";
  else std::cout << name << " allowed\n";
}

long open_for_writing(const char* path) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd >= 0) ::close(fd);
  return fd;
}

// Reading something that is masked gives nothing: an empty file or directory counts as refused.
long read_something(const char* path) {
  struct stat st{};
  if (::stat(path, &st) != 0) return -1;
  if (S_ISDIR(st.st_mode)) {
    DIR* d = ::opendir(path);
    if (!d) return -1;
    long n = 0;
    while (dirent* e = ::readdir(d))
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) ++n;
    ::closedir(d);
    errno = ENOENT;
    return n > 0 ? 0 : -1;
  }
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[64];
  ssize_t n = ::read(fd, buf, sizeof buf);
  int err = errno;
  ::close(fd);
  errno = n == 0 ? ENOENT : err;
  return n > 0 ? 0 : -1;
}

long in_child(int (*fn)()) {
  // Some attempts change the calling process (a new namespace, a personality): do them in a child.
  int p[2];
  if (::pipe(p) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    int rc = fn();
    int err = rc < 0 ? errno : 0;
    if (::write(p[1], &err, sizeof err) < 0) _exit(1);
    _exit(0);
  }
  ::close(p[1]);
  int err = EINVAL;
  if (::read(p[0], &err, sizeof err) != sizeof err) err = EINVAL;
  ::close(p[0]);
  ::waitpid(pid, nullptr, 0);
  errno = err;
  return err ? -1 : 0;
}

void attempts() {
  ::mkdir("/tmp/probe-mnt", 0700);
  long rc = ::mount("tmpfs", "/tmp/probe-mnt", "tmpfs", 0, "size=16k");
  report("mount_tmpfs", rc);
  if (rc == 0) ::umount("/tmp/probe-mnt");
  report("unshare_mount", in_child([] { return ::unshare(CLONE_NEWNS); }));
  report("unshare_user", in_child([] { return ::unshare(CLONE_NEWUSER); }));
  report("unshare_net", in_child([] { return ::unshare(CLONE_NEWNET); }));
  // clone3 with a size the kernel rejects: EINVAL when it gets there, ENOSYS/EPERM when a filter stops it.
  {
    long r = ::syscall(SYS_clone3, nullptr, 0);
    if (r < 0 && errno == EINVAL) r = 0;
    report("clone3", r);
  }
  report("keyctl", ::syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0));
  // A non-dumpable child of the same user: only CAP_SYS_PTRACE may attach.
  {
    int ready[2], done[2];
    (void)!::pipe(ready);
    (void)!::pipe(done);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_DUMPABLE, 0);
      ::close(ready[0]);
      ::close(done[1]);
      (void)!::write(ready[1], "r", 1);  // non-dumpable now: the attach may come
      char c;
      (void)!::read(done[0], &c, 1);
      _exit(0);
    }
    ::close(ready[1]);
    ::close(done[0]);
    char c;
    (void)!::read(ready[0], &c, 1);
    long r = ::ptrace(PTRACE_ATTACH, pid, nullptr, nullptr);
    int err = errno;
    if (r == 0) {
      ::waitpid(pid, nullptr, __WALL);
      ::ptrace(PTRACE_DETACH, pid, nullptr, nullptr);
    }
    ::close(done[1]);
    ::close(ready[0]);
    ::waitpid(pid, nullptr, 0);
    errno = err;
    report("ptrace_nondumpable", r);
  }
  {
    struct {
      file_handle h;
      unsigned char bytes[128];
    } handle{};
    handle.h.handle_bytes = 128;
    int mount_id = 0;
    // On a file bind-mounted from the host's filesystem (the overlay root has no file handles): a handle
    // made up for that filesystem is how "shocker" read any host file.
    int mount_fd = ::open("/etc/hostname", O_RDONLY | O_CLOEXEC);
    long r = ::name_to_handle_at(mount_fd, "", &handle.h, &mount_id, AT_EMPTY_PATH);
    if (r == 0) {
      int fd = ::open_by_handle_at(mount_fd, &handle.h, O_RDONLY);
      r = fd;
      if (fd >= 0) ::close(fd);
    }
    int err = errno;
    if (mount_fd >= 0) ::close(mount_fd);
    errno = err;
    report("open_by_handle_at", r);
  }
  {
    long r = ::syscall(SYS_init_module, "", 0, "");
    if (r < 0 && errno != EPERM) r = 0;  // EINVAL/ENOEXEC/ENOSYS: it reached the module loader
    report("init_module", r);
  }
  report("write_proc_sys", open_for_writing("/proc/sys/vm/drop_caches"));
  report("write_sysrq_trigger", open_for_writing("/proc/sysrq-trigger"));
  report("write_sys", open_for_writing("/sys/kernel/mm/transparent_hugepage/enabled"));
  {
    long r = open_for_writing("/sys/fs/cgroup/cgroup.procs");
    if (r < 0 && errno == ENOENT) r = open_for_writing("/sys/fs/cgroup/pids/cgroup.procs");
    report("write_cgroupfs", r);
  }
  report("read_timer_list", read_something("/proc/timer_list"));
  report("read_sched_debug", read_something("/proc/sched_debug"));
  report("read_kcore", [] {
    int fd = ::open("/proc/kcore", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1L;
    struct stat st{};
    ::fstat(fd, &st);
    ::close(fd);
    errno = ENOENT;
    return S_ISCHR(st.st_mode) ? -1L : 0L;  // masked by /dev/null
  }());
  report("list_sys_firmware", read_something("/sys/firmware"));
  {
    // fuse's node asks for no capability when opened: only the devices cgroup stands in the way.
    ::unlink("/tmp/probe-fuse");
    long r = ::mknod("/tmp/probe-fuse", S_IFCHR | 0600, makedev(10, 229));
    if (r == 0) {
      int fd = ::open("/tmp/probe-fuse", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
      int err = errno;
      r = fd >= 0 || err == ENODEV || err == ENXIO ? 0 : -1;  // past the devices cgroup, whatever the driver says
      if (fd >= 0) ::close(fd);
      ::unlink("/tmp/probe-fuse");
      errno = err;
    }
    report("mknod_open_fuse", r);
  }
  {
    ::unlink("/tmp/probe-loop");
    long r = ::mknod("/tmp/probe-loop", S_IFBLK | 0600, makedev(7, 0));
    if (r == 0) {
      int fd = ::open("/tmp/probe-loop", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
      int err = errno;
      r = fd >= 0 || err == ENXIO ? 0 : -1;  // ENXIO: past the devices cgroup, no such loop device
      if (fd >= 0) ::close(fd);
      ::unlink("/tmp/probe-loop");
      errno = err;
    }
    report("mknod_open_block", r);
  }
  report("dmesg", ::klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, nullptr, 0));
  {
    char name[65] = {0};
    ::gethostname(name, 64);
    report("sethostname", ::sethostname(name, strlen(name)));
  }
  {
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    long r = ::ioctl(s, SIOCGIFMTU, &ifr);
    if (r == 0) r = ::ioctl(s, SIOCSIFMTU, &ifr);  // the same MTU again: needs CAP_NET_ADMIN
    report("net_admin", r);
    ::close(s);
  }
  {
    timespec ts{1, 0};
    long r = ::clock_settime(CLOCK_MONOTONIC, &ts);  // the monotonic clock cannot be set: EINVAL at most
    if (r < 0 && errno == EINVAL) r = 0;
    report("clock_settime", r);
  }
  {
    long r = ::syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, 0x12345678, nullptr);  // no such command
    if (r < 0 && errno == EINVAL) r = 0;
    report("reboot", r);
  }
  report("personality", in_child([] { return ::personality(READ_IMPLIES_EXEC) < 0 ? -1 : 0; }));
  {
    bpf_attr attr{};
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    long fd = ::syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
    if (fd >= 0) ::close(static_cast<int>(fd));
    report("bpf", fd);
  }
  {
    perf_event_attr pe{};
    pe.type = PERF_TYPE_SOFTWARE;
    pe.size = sizeof pe;
    pe.config = PERF_COUNT_SW_TASK_CLOCK;
    pe.disabled = 1;
    pe.exclude_kernel = 1;
    long fd = ::syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0);
    if (fd >= 0) ::close(static_cast<int>(fd));
    report("perf_event_open", fd);
  }
  // AF_VSOCK reaches the hypervisor's host; EAFNOSUPPORT means the kernel was asked (no vsock here).
  for (long family : {40L, 0x100000028L /* upper bits the kernel drops */}) {
    long fd = ::syscall(SYS_socket, family, SOCK_STREAM, 0);
    if (fd < 0 && errno == EAFNOSUPPORT) fd = 0;
    else if (fd >= 0) ::close(static_cast<int>(fd));
    report(family == 40 ? "socket_vsock" : "socket_vsock_high_bits", fd);
  }
  {
    struct {
      unsigned sq_entries, cq_entries, flags, sq_thread_cpu, sq_thread_idle, features, wq_fd, resv[3];
      unsigned long long sq_off[5], cq_off[5];
    } params{};
    long fd = ::syscall(SYS_io_uring_setup, 1, &params);
    if (fd >= 0) ::close(static_cast<int>(fd));
    report("io_uring_setup", fd);
  }
  {
    long fd = ::syscall(SYS_fsopen, "tmpfs", 0);
    if (fd >= 0) ::close(static_cast<int>(fd));
    report("fsopen", fd);
  }
  report("setns_mount", [] {
    int fd = ::open("/proc/1/ns/mnt", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1L;
    long r = in_child([] {
      int f = ::open("/proc/1/ns/mnt", O_RDONLY | O_CLOEXEC);
      return ::setns(f, CLONE_NEWNS);
    });
    ::close(fd);
    return r;
  }());
}

void caps() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Cap", 0) == 0 || line.rfind("NoNewPrivs", 0) == 0 || line.rfind("Seccomp:", 0) == 0)
      std::cout << line << "\n";
}

void fds() {
  std::string out;
  for (int fd = 0; fd < 4096; ++fd)
    if (::fcntl(fd, F_GETFD) >= 0) out += (out.empty() ? "" : " ") + std::to_string(fd);
  std::cout << out << "\n";
}

void tiocsti() {
  char c = 'X';
  for (int fd = 0; fd < 3; ++fd) {
    std::string name = "tiocsti_fd" + std::to_string(fd);
    report(name.c_str(), ::ioctl(fd, TIOCSTI, &c));
  }
  int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (tty >= 0) {
    report("tiocsti_dev_tty", ::ioctl(tty, TIOCSTI, &c));
    ::close(tty);
  } else {
    report("tiocsti_dev_tty", -1);
  }
}

std::string comm_of(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/comm");
  std::string s;
  std::getline(f, s);
  return s;
}

void watch_exe(int seconds) {
  std::set<pid_t> seen;
  const pid_t self = ::getpid();
  std::cout << "watching\n" << std::flush;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    DIR* d = ::opendir("/proc");
    if (!d) return;
    while (dirent* e = ::readdir(d)) {
      pid_t pid = std::atoi(e->d_name);
      if (pid <= 1 || pid == self || seen.count(pid)) continue;
      std::string exe = "/proc/" + std::to_string(pid) + "/exe";
      // Every way in: for writing, by O_PATH (to reopen through /proc/self/fd later), and as a link.
      int w = ::open(exe.c_str(), O_WRONLY | O_CLOEXEC);
      int werr = errno;
      int p = ::open(exe.c_str(), O_PATH | O_CLOEXEC);
      int perr = errno;
      int reopened = -1, rerr = 0;
      if (p >= 0) {
        std::string via = "/proc/self/fd/" + std::to_string(p);
        reopened = ::open(via.c_str(), O_WRONLY | O_CLOEXEC);
        rerr = errno;
      }
      std::string comm = comm_of(pid);
      if (comm != "cppcker") {
        if (w >= 0) ::close(w);
        if (p >= 0) ::close(p);
        if (reopened >= 0) ::close(reopened);
        continue;  // the user's own program: not what this is about
      }
      seen.insert(pid);
      std::cout << "helper " << pid << " write " << (w >= 0 ? "opened" : errno_name(werr)) << " path "
                << (p >= 0 ? "opened" : errno_name(perr)) << " reopen " << (reopened >= 0 ? "opened" : (p >= 0 ? errno_name(rerr) : "-"))
                << "\n"
                << std::flush;
      if (w >= 0) ::close(w);
      if (p >= 0) ::close(p);
      if (reopened >= 0) ::close(reopened);
    }
    ::closedir(d);
  }
  std::cout << "done " << seen.size() << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string what = argc > 1 ? argv[1] : "attempts";
  if (what == "attempts") attempts();
  else if (what == "caps") caps();
  else if (what == "fds") fds();
  else if (what == "tiocsti") tiocsti();
  else if (what == "watch-exe") watch_exe(argc > 2 ? std::atoi(argv[2]) : 10);
  else {
    std::cerr << "escape-probe: unknown mode " << what << "\n";
    return 2;
  }
  return 0;
}
