// A seccomp filter of LEN instructions, for the design floors (minimal-run.c, exec-floor.c): the syscall
// number against values no syscall has, each followed by a return of EPERM, as a compiled profile compares
// and returns; the last instruction allows. What its loading costs (copy, check, JIT) grows with its length,
// which is what matters here: cppcker's default profile compiles to 1253 instructions.
#ifndef CPPCKER_BENCH_LONG_FILTER_H
#define CPPCKER_BENCH_LONG_FILTER_H
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void load_long_filter(int len) {
  struct sock_filter* f = calloc(len, sizeof *f);
  if (!f) {
    perror("calloc");
    exit(1);
  }
  int n = 0;
  f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  while (n + 2 < len) {
    f[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 100000 + n, 0, 1);
    ++n;
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
  }
  while (n < len) f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  struct sock_fprog prog = {.len = (unsigned short)len, .filter = f};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
    fprintf(stderr, "seccomp: %s\n", strerror(errno));
    exit(1);
  }
  free(f);
}

#endif
