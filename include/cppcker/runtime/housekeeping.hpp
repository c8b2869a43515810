#pragma once
// The everyday bookkeeping around containers: what the prune commands pick and remove, `system df`'s
// numbers, `stats`' samples and percentages, and `top`'s rows. The selections are pure functions of
// what the stores hold (unit-tested without root); the rest reads cgroups and /proc and removes through
// the stores' own operations.
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cppcker/image/catalog.hpp"
#include "cppcker/network/network.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/runtime/volume.hpp"
#include "cppcker/storage/store.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker {

// Docker's units.HumanSize (4 significant digits, decimal units): "16.43MB", "0B" (prune, system df).
std::string human_size4(double bytes);
// Docker's units.BytesSize (4 significant digits, binary units): "1.5MiB", "64MiB" (stats' memory).
std::string binary_size(double bytes);


// ---- prune ----
// `container prune --filter`: until=<time> (created before it), and a label predicate.
struct ContainerPruneFilter {
  std::optional<TimePoint> until;
  std::function<bool(const std::map<std::string, std::string>&)> labels;  // empty: every container
};
// The containers `container prune` removes: every one not running (created, exited; not restarting,
// which a policy will start again) that the filter accepts. Uses each record's observed state.
std::vector<std::string> prunable_containers(const std::vector<Container>& containers, const ContainerPruneFilter& filter);

// Volume names the containers mention (running or not): those stay.
std::set<std::string> volumes_in_use(const std::vector<Container>& containers);
// An anonymous volume's name: 64 hex digits, as `run -v /ctr` makes them (Docker's too).
bool anonymous_volume_name(const std::string& name);
// The volumes `volume prune` removes: unused ones, only anonymous ones unless `all` (Docker 23+).
std::vector<std::string> prunable_volumes(const std::vector<std::string>& volumes, const std::set<std::string>& in_use,
                                          bool all);

struct PruneReport {
  std::vector<std::string> deleted;  // container IDs / volume names
  std::uint64_t reclaimed = 0;       // bytes
};
// Removes what prunable_containers picks (each through remove_container, which refuses one that started
// meanwhile: it is skipped). Reclaimed: the writable layers' sizes.
PruneReport prune_containers(const ContainerStore& containers, const NetworkStore& networks,
                             const ContainerPruneFilter& filter);
// Removes what prunable_volumes picks; a volume a container started to use meanwhile is kept.
PruneReport prune_volumes(const ContainerStore& containers, bool all);

// Who uses which image, for rmi and image prune: every container (a stopped one too: it may start again).
ImageUsers image_users(const ContainerStore& containers);

// ---- system df ----
struct DiskUsageLine {
  std::string type;  // "Images", "Containers", "Local Volumes", "Build Cache"
  std::size_t total = 0, active = 0;
  std::uint64_t size = 0, reclaimable = 0;
  bool percent = true;  // Docker shows "(N%)" after the reclaimable size, except for the build cache
};
struct ContainerUsage {
  std::string id;
  bool running = false;
  std::uint64_t size = 0;  // its writable layer
};
struct VolumeUsage {
  std::string name;
  std::size_t links = 0;  // containers that mention it
  std::uint64_t size = 0;
};
// Docker's numbers: images count their layers once however many images share them, active ones are
// those a container uses, reclaimable what only unused images hold; containers are active while running
// (the rest reclaimable); volumes active while a container mentions them.
std::vector<DiskUsageLine> disk_usage(const std::vector<ImageRecord>& images, const std::set<std::string>& used_images,
                                      const std::vector<ContainerUsage>& containers,
                                      const std::vector<VolumeUsage>& volumes);
// "11.63MB (70%)", as Docker's RECLAIMABLE column.
std::string reclaimable_text(const DiskUsageLine& line);

// ---- stats ----
struct StatsSample {
  std::uint64_t cpu_ns = 0;     // the cgroup's CPU time
  std::uint64_t system_ns = 0;  // the host's CPU time, all CPUs (/proc/stat), as Docker's SystemUsage
  unsigned online_cpus = 1;
  std::uint64_t mem_usage = 0, mem_limit = 0;  // usage without the page cache; limit capped at the host's memory
  std::uint64_t net_rx = 0, net_tx = 0;
  std::uint64_t blk_read = 0, blk_write = 0;
  std::uint64_t pids = 0;
};
// One sample of a running container (cgroup files, its network namespace's /proc/<pid>/net/dev).
StatsSample sample_stats(const Container& c);
// Docker's calculateCPUPercentUnix: the cgroup's share of the host's CPU time between two samples,
// times the online CPUs, in percent; 0 when either delta is not positive.
double cpu_percent(const StatsSample& before, const StatsSample& after);
double memory_percent(const StatsSample& s);
// /proc/<pid>/net/dev: the received and sent bytes of every interface but lo.
std::pair<std::uint64_t, std::uint64_t> parse_net_dev(std::string_view text);
// The first line of /proc/stat ("cpu  user nice system ...") as nanoseconds.
std::uint64_t parse_proc_stat_cpu_ns(std::string_view text, long ticks_per_second);

// ---- top ----
struct PsTable {
  std::vector<std::string> titles;
  std::vector<std::vector<std::string>> rows;
};
// Docker's parsePSOutput: the header's titles, and the rows whose PID column names one of `pids` (the
// last column keeps its spaces). Throws Error("Couldn't find PID field in ps output") without one.
PsTable filter_ps_output(std::string_view output, const std::set<pid_t>& pids);
// Runs the host's `ps ARGS...` and returns what it printed (stdout and stderr, as Go's CombinedOutput);
// Error("ps: exit status N: <output>") when it fails.
std::string run_host_ps(const std::vector<std::string>& args);
// The processes in the container's cgroup.
std::set<pid_t> container_pids(const Container& c);

}  // namespace cppcker
