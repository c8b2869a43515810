// Two clocks for scripts/bench-run.sh, both fork + exec + wait with nothing else around them:
//   stage-clock exec N CMD [ARG...]   runs CMD N times (its output to /dev/null); prints the median wall
//                                     time of one run in us (e.g. one exec of a program that returns at once).
//   stage-clock mark FILE CMD [ARG...] appends "launch <ns>" to FILE, runs CMD once with
//                                     CPPCKER_TIMING=FILE, appends "reaped <ns>"; exits with its status.
// Times are CLOCK_MONOTONIC, the clock cppcker's own marks use (src/util/timing.cpp).
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int run(char** argv, int quiet) {
  pid_t pid = fork();
  if (pid < 0) { perror("fork"); exit(1); }
  if (pid == 0) {
    if (quiet) {  // what it prints is not ours to print: this program's output is the time
      int null = open("/dev/null", O_WRONLY);
      if (null < 0 || dup2(null, 1) < 0) { perror("/dev/null"); _exit(127); }
      close(null);
    }
    execvp(argv[0], argv);
    perror(argv[0]);
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {}
  return status;
}

static void mark(const char* file, const char* label) {
  char line[64];
  int n = snprintf(line, sizeof line, "%s %lld\n", label, now_ns());
  int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || write(fd, line, (size_t)n) != n) { perror(file); exit(1); }
  close(fd);
}

static int by_value(const void* a, const void* b) {
  long long x = *(const long long*)a, y = *(const long long*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  if (argc >= 4 && strcmp(argv[1], "exec") == 0) {
    int n = atoi(argv[2]);
    if (n < 1) n = 1;
    long long* t = calloc((size_t)n, sizeof *t);
    for (int i = 0; i < n; i++) {
      long long start = now_ns();
      run(argv + 3, 1);
      t[i] = now_ns() - start;
    }
    qsort(t, (size_t)n, sizeof *t, by_value);
    printf("%lld\n", t[n / 2] / 1000);
    return 0;
  }
  if (argc >= 4 && strcmp(argv[1], "mark") == 0) {
    setenv("CPPCKER_TIMING", argv[2], 1);
    mark(argv[2], "launch");
    int status = run(argv + 3, 0);
    mark(argv[2], "reaped");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  fprintf(stderr, "usage: stage-clock exec N CMD [ARG...] | stage-clock mark FILE CMD [ARG...]\n");
  return 2;
}
