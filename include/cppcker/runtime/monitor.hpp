#pragma once
// The detached container's monitor as stages of its own (re-executions of /proc/self/exe), so that what
// keeps an idle container is a fresh, small process and not a copy of the CLI that started it. The
// monitor starts the container in a fork of the CLI (runtime/run.cpp: nothing to load twice), then:
//   cppcker monitor-wait <fd>  while it runs: relays its output to the log, waits for its end, then execs
//                              `monitor` to record it. It touches nothing else;
//   cppcker monitor <fd>       records the end and carries out the restart policy (restarts go back to
//                              monitor-wait), or takes a foreground run's restart over: the whole runtime.
// A container with a health check stays with the process that started it, whose prober (a fork of it)
// runs `exec`.
// <fd> is a pipe holding one MonitorRequest (runtime/protocol.hpp). The pid never changes across these
// execs: the container stays this process's child and the record's monitor_pid/monitor_start stay true.
#include <sys/types.h>

#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/runtime/protocol.hpp"

namespace cppcker {

// Execs the stage ("monitor" or "monitor-wait") with `r`; the descriptors it names are passed on (their
// close-on-exec cleared). Returns only by throwing (SystemError).
[[noreturn]] void exec_monitor_stage(const char* stage, const MonitorRequest& r);

// The stages' entry points; the process exit status is the container's last exit code (125 when the
// monitor itself failed).
int monitor_main(int message_fd);
int monitor_wait_main(int message_fd);

// Unmaps the pages of file mappings this process never wrote to (its binary's and libraries' code and
// read-only data: shared page cache that the start-up touched); what is used later comes back on its
// first touch. For a monitor that has started its container and from then on only waits.
void drop_clean_file_pages();

// A detached container's output to its log until it ends, flushed: with a terminal (`tty_master` >= 0)
// everything comes through it and is logged as stdout; otherwise its stdout and stderr pipes.
// `pidfd` tells the end of a piped container. The one relay of every monitor (forked or monitor-wait).
void relay_to_log(LogWriter& log, int tty_master, UniqueFd out, UniqueFd err, pid_t pid, int pidfd);

// A descriptor inherited across the exec, taken over here: close-on-exec again, so that nothing this
// stage starts (the container's child-mode, the next stage) inherits it unless passed on. -1: none.
UniqueFd adopt_inherited_fd(int fd);

}  // namespace cppcker
