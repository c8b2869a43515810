// ab-run N ROOT_A BIN_A ROOT_B BIN_B: for scripts/bench-ab.sh. Starts `BIN --root ROOT run --rm --network
// none --cgroup-parent cppcker-ab-{a,b} busybox true` with A, then B, N times over; prints for each binary
// the CPU time of a start (user + system of the whole process tree, from wait4's rusage: the CLI, child-mode
// and the container are all waited for below it) and its wall time, mean and median, in ms.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int by_value(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static void report(const char* name, double* values, int n, const char* what) {
  double sum = 0;
  for (int i = 0; i < n; i++) sum += values[i];
  qsort(values, n, sizeof *values, by_value);
  printf("  %-5s %-4s mean %6.2f ms  median %6.2f ms\n", name, what, sum / n, values[n / 2]);
}

int main(int argc, char** argv) {
  if (argc != 6 || atoi(argv[1]) <= 0) {
    fprintf(stderr, "usage: ab-run N ROOT_A BIN_A ROOT_B BIN_B\n");
    return 2;
  }
  const int n = atoi(argv[1]);
  double* cpu[2] = {calloc(n, sizeof(double)), calloc(n, sizeof(double))};
  double* wall[2] = {calloc(n, sizeof(double)), calloc(n, sizeof(double))};
  for (int i = 0; i < n; i++) {
    for (int k = 0; k < 2; k++) {
      const char* root = argv[2 + 2 * k];
      const char* bin = argv[3 + 2 * k];
      const double start = now_ms();
      pid_t pid = fork();
      if (pid < 0) { perror("fork"); return 1; }
      if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null < 0 || dup2(null, 1) < 0) { perror("/dev/null"); _exit(127); }
        execl(bin, bin, "--root", root, "run", "--rm", "--network", "none", "--cgroup-parent",
              k ? "cppcker-ab-b" : "cppcker-ab-a", "busybox", "true", (char*)NULL);
        perror(bin);
        _exit(127);
      }
      int status;
      struct rusage usage;
      if (wait4(pid, &status, 0, &usage) < 0) { perror("wait4"); return 1; }
      wall[k][i] = now_ms() - start;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "ab-run: %s failed to run a container\n", bin);
        return 1;
      }
      cpu[k][i] = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 +
                  (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
    }
  }
  const char* names[2] = {"A", "B"};
  for (int k = 0; k < 2; k++) {
    report(names[k], cpu[k], n, "CPU");
    report(names[k], wall[k], n, "wall");
  }
  return 0;
}
