#pragma once
// Health checks (--health-*, the image's Healthcheck): a probe command that the container's monitor runs
// inside the running container, as `exec` does, every interval; the results make State.Health.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "cppcker/runtime/container.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker {

// Go's time.ParseDuration ("30s", "1m30s", "500ms", "1.5h", "-2s"), in nanoseconds. Throws Error with
// Go's wording (time: invalid duration "x").
std::int64_t parse_go_duration(std::string_view text);
// Go's Duration.String(): "1m30s", "500ms", "0s".
std::string format_go_duration(std::int64_t ns);

// The run flags as given (durations already parsed; 0 = not given, as Docker's flags).
struct HealthFlags {
  std::string cmd;
  std::int64_t interval_ns = 0, timeout_ns = 0, start_period_ns = 0;
  int retries = 0;
  bool none = false;  // --no-healthcheck
};
// Docker's CLI checks and daemon merge: the user's settings over the image's Healthcheck (its config JSON
// object, or null), field by field. The result keeps Docker's zeros for "not set" (the defaults apply
// when probing: 30s interval, 30s timeout, no start period, 3 retries); {"NONE"} for --no-healthcheck;
// nullopt when neither says anything. Throws Error (125).
std::optional<HealthConfig> merge_health_config(const HealthFlags& flags, const nlohmann::json& image_healthcheck);
// Whether the container has a probe to run (a test other than NONE).
bool health_enabled(const ContainerSpec& spec);
// The probe's command line: CMD args as they are, CMD-SHELL through /bin/sh -c. Throws Error.
std::vector<std::string> health_probe_argv(const HealthConfig& config);

// The settings in effect (Docker's defaults for zeros).
struct HealthTiming {
  std::chrono::nanoseconds interval, timeout, start_period;
  int retries;
};
HealthTiming health_timing(const HealthConfig& config);

constexpr std::size_t kHealthLogEntries = 5;      // State.Health.Log keeps the last five probes
constexpr std::size_t kHealthOutputMax = 4096;    // of each probe's output, the first 4096 bytes

// Docker's handleProbeResult: the probe goes into the log; exit 0 makes the container healthy, a
// failure counts in the failing streak (not while "starting" within the start period) and `retries`
// of them make it unhealthy. `started`: when the container (this run of it) started.
void apply_probe_result(ContainerHealth& health, const HealthTiming& timing, const HealthProbe& probe, TimePoint started);

// Runs the probe once inside the running container `c` (its process settings, as exec), killing it after
// the timeout (exit code -1, as Docker records a probe that timed out).
HealthProbe run_health_probe(const ContainerStore& containers, const Container& c, const HealthTiming& timing);

// The prober: a process forked from the monitor (so that the monitor itself stays a plain relay loop)
// that probes every interval and records the result in the record under the store lock, for as long as
// the record names this run of the container. It dies with the monitor; the destructor ends it.
class HealthProber {
 public:
  HealthProber() = default;
  // Starts probing `c` (which runs now); does nothing when the container has no health check.
  HealthProber(const ContainerStore& containers, const Container& c);
  ~HealthProber() { stop(); }
  HealthProber(HealthProber&& other) noexcept : pid_(other.pid_) { other.pid_ = -1; }
  HealthProber& operator=(HealthProber&& other) noexcept;
  HealthProber(const HealthProber&) = delete;
  HealthProber& operator=(const HealthProber&) = delete;
  // Kills the prober and its probe, and waits for them.
  void stop();

 private:
  pid_t pid_ = -1;
};

}  // namespace cppcker
