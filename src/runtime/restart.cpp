#include "cppcker/runtime/restart.hpp"

#include <algorithm>

#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker {

RestartPolicy parse_restart_policy(const std::string& text) {
  RestartPolicy p;
  if (text.empty()) return p;
  auto parts = split(text, ':');
  if (parts.size() > 2) throw Error("invalid restart policy format", 125);
  if (parts.size() == 2) {
    // strconv.Atoi: an optional sign and digits only.
    const std::string& n = parts[1];
    std::size_t digits = !n.empty() && (n[0] == '-' || n[0] == '+') ? 1 : 0;
    if (n.size() == digits || n.find_first_not_of("0123456789", digits) != std::string::npos || n.size() > 10)
      throw Error("maximum retry count must be an integer", 125);
    p.maximum_retry_count = std::stoi(n);
  }
  p.name = parts[0];
  if (p.name == "always" || p.name == "unless-stopped" || p.name == "no") {
    if (p.maximum_retry_count != 0)
      throw Error("maximum retry count cannot be used with restart policy '" + p.name + "'", 125);
  } else if (p.name == "on-failure") {
    if (p.maximum_retry_count < 0) throw Error("maximum retry count cannot be negative", 125);
  } else if (p.name.empty()) {
    p.name = "no";  // Docker's "" means no restart
  } else {
    throw Error("invalid restart policy '" + p.name + "'", 125);
  }
  return p;
}

std::optional<std::chrono::milliseconds> RestartManager::next(int exit_code, bool stopped_by_user,
                                                              std::chrono::nanoseconds ran_for) {
  // The user's stop or kill ends every policy (Docker cancels the restart manager then).
  if (stopped_by_user) return std::nullopt;
  if (ran_for >= std::chrono::seconds(10)) progress_.delay = std::chrono::milliseconds(0);
  progress_.delay = progress_.delay.count() == 0 ? kInitialDelay : std::min(progress_.delay * 2, kMaxDelay);
  bool restart = false;
  if (policy_.name == "always" || policy_.name == "unless-stopped") {
    restart = true;
  } else if (policy_.name == "on-failure") {
    const int max = policy_.maximum_retry_count;
    restart = exit_code != 0 && (max == 0 || progress_.restarts < max);
  }
  if (!restart) return std::nullopt;
  ++progress_.restarts;
  return progress_.delay;
}

std::optional<Container> mark_stopped_by_user(const ContainerStore& store, const std::string& id) {
  auto guard = store.lock();
  auto c = store.load(id);
  if (!c) return std::nullopt;
  if (!c->state.stopped_by_user) {
    c->state.stopped_by_user = true;
    store.save(*c, Durability::unsynced);
  }
  return c;
}

void save_owned(const ContainerStore& store, Container& c, bool own_health) {
  auto guard = store.lock();
  if (auto on_disk = store.load(c.id)) {
    c.state.stopped_by_user = c.state.stopped_by_user || on_disk->state.stopped_by_user;
    if (!own_health) c.state.health = on_disk->state.health;
    // `pause`/`unpause` own the mark while the same process runs; a run that ended is not paused.
    c.state.paused = c.state.status == "running" && on_disk->state.pid == c.state.pid && on_disk->state.paused;
    // `network connect`/`disconnect` own these while the container runs (under its network.lock): the
    // networks asked for always, the endpoints of the run that is on disk too.
    c.spec.extra_networks = on_disk->spec.extra_networks;
    if (c.state.net && on_disk->state.pid == c.state.pid && on_disk->state.status == "running")
      c.state.extra_nets = on_disk->state.extra_nets;
  }
  store.save(c, Durability::unsynced);
}

}  // namespace cppcker
