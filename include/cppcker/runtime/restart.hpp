#pragma once
// Restart policies (--restart), carried out by the container's monitor: there is no daemon, so the
// process that owns a container restarts it in place (same record, same ID, same upper dir).
#include <chrono>
#include <optional>
#include <string>

#include "cppcker/runtime/container.hpp"

namespace cppcker {

// "no", "always", "unless-stopped", "on-failure[:N]", validated with Docker's messages. Throws Error (125).
RestartPolicy parse_restart_policy(const std::string& text);

// Where a restart manager stands: the restarts it allowed and its current back-off. A monitor that re-execs
// itself passes it on (runtime/protocol.hpp's MonitorRequest), and the next part goes on from there.
struct RestartProgress {
  int restarts = 0;
  std::chrono::milliseconds delay{0};
  bool operator==(const RestartProgress&) const = default;
};

// Docker's restart manager: 100 ms before the first restart, doubling up to a minute, back to 100 ms
// once the container ran for 10 s or more. One per monitor.
class RestartManager {
 public:
  explicit RestartManager(RestartPolicy policy, RestartProgress progress = {})
      : policy_(std::move(policy)), progress_(progress) {}
  // After an exit: the delay before the next start, or nullopt when the policy ends here.
  std::optional<std::chrono::milliseconds> next(int exit_code, bool stopped_by_user, std::chrono::nanoseconds ran_for);
  int restarts() const { return progress_.restarts; }
  std::chrono::milliseconds delay() const { return progress_.delay; }
  const RestartProgress& progress() const { return progress_; }
  static constexpr std::chrono::milliseconds kInitialDelay{100};
  static constexpr std::chrono::milliseconds kMaxDelay{60'000};

 private:
  RestartPolicy policy_;
  RestartProgress progress_;
};

// `stop` and `kill` by the user: records that the restart policy ends (under the store lock, so that the
// monitor's own saves cannot lose it). Returns the record as it is now; nullopt if it is gone.
std::optional<Container> mark_stopped_by_user(const ContainerStore& store, const std::string& id);
// The owner's save: under the store lock, the fields others write while it runs (stopped_by_user by
// stop/kill, health by the prober) are taken from the record on disk first, then `c` is written. With
// `own_health` the owner's health state wins (at a start, before any prober runs).
void save_owned(const ContainerStore& store, Container& c, bool own_health = false);

}  // namespace cppcker
