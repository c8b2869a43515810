// What prune picks, system df's arithmetic, stats' percentages and parsers, top's row filtering, and
// rename's checks: the logic of the everyday commands, without root or a kernel.
#include <gtest/gtest.h>
#include <unistd.h>

#include "cppcker/image/catalog.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/runtime/housekeeping.hpp"
#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

using namespace cppcker;

namespace {

// A container in the given state; "running" ones are this test process (alive, so observed running).
Container container(const std::string& id, const std::string& status, const std::string& created = "2024-01-02T00:00:00Z") {
  Container c;
  c.id = id;
  c.name = "n" + id;
  c.state.status = status;
  c.state.created = created;
  if (status == "running" || status == "restarting") {
    c.state.pid = c.state.monitor_pid = ::getpid();
    c.state.pid_start = c.state.monitor_start = process_start_time(::getpid());
  }
  return c;
}

ImageRecord image(const std::string& id, const std::vector<std::pair<std::string, std::uint64_t>>& layers) {
  ImageRecord r;
  r.id = id;
  for (const auto& [chain, size] : layers) r.layers.push_back({chain, chain, chain, "", 0, size});
  return r;
}

}  // namespace

TEST(Housekeeping, ContainerPruneTakesEveryStoppedOneAndNoRunningOrRestartingOne) {
  std::vector<Container> cs = {container("a", "running"), container("b", "exited"), container("c", "created"),
                               container("d", "restarting")};
  // A "running" record whose processes are gone is observed exited: prunable.
  Container dead = container("e", "running");
  dead.state.pid = dead.state.monitor_pid = 1;
  dead.state.pid_start = dead.state.monitor_start = 12345;  // not init's start time
  cs.push_back(dead);
  EXPECT_EQ(prunable_containers(cs, {}), (std::vector<std::string>{"b", "c", "e"}));
}

TEST(Housekeeping, ContainerPruneFiltersByCreationTimeAndLabels) {
  Container old_one = container("old", "exited", "2024-01-01T00:00:00Z");
  Container new_one = container("new", "exited", "2024-03-01T00:00:00Z");
  new_one.spec.labels = {{"keep", "no"}};
  ContainerPruneFilter until;
  until.until = parse_rfc3339("2024-02-01T00:00:00Z");
  EXPECT_EQ(prunable_containers({old_one, new_one}, until), std::vector<std::string>{"old"});
  ContainerPruneFilter labelled;
  labelled.labels = [](const std::map<std::string, std::string>& l) { return l.count("keep") > 0; };
  EXPECT_EQ(prunable_containers({old_one, new_one}, labelled), std::vector<std::string>{"new"});
}

TEST(Housekeeping, VolumePruneTakesUnusedAnonymousVolumesAndWithAllNamedOnesToo) {
  const std::string anon_used(64, 'a'), anon_free(64, 'b');
  Container stopped = container("s", "exited");
  MountSpec m;
  m.type = "volume";
  m.source = anon_used;
  stopped.spec.mounts.push_back(m);
  m.source = "data";
  Container running = container("r", "running");
  running.spec.mounts.push_back(m);
  MountSpec bind;
  bind.type = "bind";
  bind.source = "named-but-bind";  // a bind's source is a host path, not a volume
  running.spec.mounts.push_back(bind);
  const auto used = volumes_in_use({stopped, running});
  EXPECT_EQ(used, (std::set<std::string>{anon_used, "data"}));
  const std::vector<std::string> all = {anon_used, anon_free, "data", "named-but-bind", "spare"};
  EXPECT_EQ(prunable_volumes(all, used, false), std::vector<std::string>{anon_free});
  EXPECT_EQ(prunable_volumes(all, used, true), (std::vector<std::string>{anon_free, "named-but-bind", "spare"}));
  EXPECT_TRUE(anonymous_volume_name(anon_free));
  EXPECT_FALSE(anonymous_volume_name(std::string(64, 'g')));
  EXPECT_FALSE(anonymous_volume_name("abc"));
}

TEST(Housekeeping, ImagePruneTakesDanglingUnusedImagesAndWithAllEveryUnusedOne) {
  const std::string tagged = "sha256:" + std::string(64, '1'), dangling = "sha256:" + std::string(64, '2'),
                    digest_only = "sha256:" + std::string(64, '3'), used_dangling = "sha256:" + std::string(64, '4'),
                    used_tagged = "sha256:" + std::string(64, '5');
  std::vector<ImageRecord> images = {image(tagged, {}), image(dangling, {}), image(digest_only, {}),
                                     image(used_dangling, {}), image(used_tagged, {})};
  std::map<std::string, std::string> refs = {
      {"docker.io/library/busybox:latest", tagged},
      {"docker.io/library/alpine@sha256:" + std::string(64, 'f'), digest_only},
      {"docker.io/library/web:1", used_tagged}};
  const std::set<std::string> used = {used_dangling, used_tagged};
  EXPECT_EQ(prunable_images(images, refs, used, false), (std::vector<std::string>{dangling, digest_only}));
  EXPECT_EQ(prunable_images(images, refs, used, true), (std::vector<std::string>{tagged, dangling, digest_only}));
}

TEST(Housekeeping, DiskUsageCountsSharedLayersOnceAndReclaimsWhatOnlyUnusedImagesHold) {
  // base (100) is shared by both images; app adds 50 and is used by a container, tool adds 30.
  std::vector<ImageRecord> images = {image("app", {{"base", 100}, {"app", 50}}), image("tool", {{"base", 100}, {"tool", 30}})};
  std::vector<ContainerUsage> containers = {{"r", true, 7}, {"s", false, 5}};
  std::vector<VolumeUsage> volumes = {{"v1", 1, 10}, {"v2", 0, 30}};
  auto lines = disk_usage(images, {"app"}, containers, volumes);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].type, "Images");
  EXPECT_EQ(lines[0].total, 2u);
  EXPECT_EQ(lines[0].active, 1u);
  EXPECT_EQ(lines[0].size, 180u);
  EXPECT_EQ(lines[0].reclaimable, 30u);  // only "tool" is unused, and base stays for "app"
  EXPECT_EQ(reclaimable_text(lines[0]), "30B (16%)");
  EXPECT_EQ(lines[1].type, "Containers");
  EXPECT_EQ(lines[1].active, 1u);
  EXPECT_EQ(lines[1].size, 12u);
  EXPECT_EQ(lines[1].reclaimable, 5u);
  EXPECT_EQ(lines[2].type, "Local Volumes");
  EXPECT_EQ(lines[2].total, 2u);
  EXPECT_EQ(lines[2].active, 1u);
  EXPECT_EQ(lines[2].size, 40u);
  EXPECT_EQ(lines[2].reclaimable, 30u);
  EXPECT_EQ(reclaimable_text(lines[2]), "30B (75%)");
  EXPECT_EQ(lines[3].type, "Build Cache");
  EXPECT_EQ(reclaimable_text(lines[3]), "0B");
  DiskUsageLine empty{"Containers"};
  EXPECT_EQ(reclaimable_text(empty), "0B");  // no percentage of nothing
}

TEST(Housekeeping, SizesAreWrittenAsDockersUnitsPackage) {
  EXPECT_EQ(human_size4(0), "0B");
  EXPECT_EQ(human_size4(16430000), "16.43MB");
  EXPECT_EQ(human_size4(999), "999B");
  EXPECT_EQ(human_size4(1000), "1kB");
  EXPECT_EQ(binary_size(64.0 * 1024 * 1024), "64MiB");
  EXPECT_EQ(binary_size(1.5 * 1024 * 1024), "1.5MiB");
  EXPECT_EQ(binary_size(512), "512B");
}

TEST(Housekeeping, CpuPercentIsTheCgroupsShareOfHostTimeTimesOnlineCpus) {
  StatsSample a, b;
  a.cpu_ns = 1'000'000'000;
  a.system_ns = 100'000'000'000;
  b.cpu_ns = 1'500'000'000;      // 0.5 s of CPU
  b.system_ns = 102'000'000'000;  // 2 s of host CPU time: one second on each of 2 CPUs
  b.online_cpus = 2;
  EXPECT_DOUBLE_EQ(cpu_percent(a, b), 50.0);
  EXPECT_DOUBLE_EQ(cpu_percent(b, a), 0.0);  // counters that went backwards: no figure
  StatsSample idle = b;
  EXPECT_DOUBLE_EQ(cpu_percent(b, idle), 0.0);
  StatsSample m;
  m.mem_usage = 16 * 1024 * 1024;
  m.mem_limit = 64 * 1024 * 1024;
  EXPECT_DOUBLE_EQ(memory_percent(m), 25.0);
  m.mem_limit = 0;
  EXPECT_DOUBLE_EQ(memory_percent(m), 0.0);
}

TEST(Housekeeping, NetDevSumsEveryInterfaceButLoopback) {
  const char* text =
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
      "    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n"
      "  eth0:    1500      10    0    0    0     0          0         0      648       8    0    0    0     0       0          0\n"
      "  eth1:     500       5    0    0    0     0          0         0       52       1    0    0    0     0       0          0\n";
  auto [rx, tx] = parse_net_dev(text);
  EXPECT_EQ(rx, 2000u);
  EXPECT_EQ(tx, 700u);
  EXPECT_EQ(parse_proc_stat_cpu_ns("cpu  10 1 4 85 0 0 0 0 0 0\ncpu0 5 0 2 40\n", 100), 100u * 10'000'000u);
  EXPECT_THROW(parse_proc_stat_cpu_ns("intr 5\n", 100), Error);
}

TEST(Housekeeping, TopKeepsTheContainersRowsAndJoinsTheCommandsWords) {
  const char* ps =
      "UID          PID    PPID  C STIME TTY          TIME CMD\n"
      "root           1       0  0 10:00 ?        00:00:01 /sbin/init splash\n"
      "root        4242    4200  0 10:01 ?        00:00:00 sh -c sleep 100\n"
      "root        4243    4242  0 10:01 ?        00:00:00 sleep 100\n"
      "root       42420       1  0 10:01 ?        00:00:00 other\n";
  PsTable t = filter_ps_output(ps, {4242, 4243});
  EXPECT_EQ(t.titles, (std::vector<std::string>{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0][1], "4242");
  EXPECT_EQ(t.rows[0].back(), "sh -c sleep 100");
  EXPECT_EQ(t.rows[0].size(), t.titles.size());
  EXPECT_EQ(t.rows[1].back(), "sleep 100");
  EXPECT_THROW(filter_ps_output("USER COMMAND\nroot init\n", {1}), Error);
  EXPECT_THROW(filter_ps_output("PID CMD\nabc x\n", {1}), Error);
}

TEST(Housekeeping, RenameChecksTheNameAndKeepsItUnique) {
  fs::path root = fs::temp_directory_path() / ("cppcker-rename-" + random_hex(6));
  {
    ContainerStore store(root);
    Container a = store.create({}, "alpha");
    Container b = store.create({}, "beta");
    store.rename(a.id, "gamma");
    EXPECT_EQ(store.load(a.id)->name, "gamma");
    EXPECT_EQ(store.resolve("gamma").id, a.id);
    EXPECT_THROW(store.resolve("alpha"), Error);
    try {
      store.rename(a.id, "beta");
      ADD_FAILURE() << "a name in use was taken";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("Conflict. The container name \"/beta\" is already in use by container \"" + b.id + "\""),
                std::string::npos)
          << e.what();
      EXPECT_EQ(e.exit_code(), 1);
    }
    EXPECT_THROW(store.rename(a.id, "bad name!"), Error);
    EXPECT_THROW(store.rename(a.id, "gamma"), Error);  // Docker: the same name as its current one
    EXPECT_THROW(store.rename(a.id, ""), Error);
    EXPECT_EQ(store.load(a.id)->name, "gamma");
    EXPECT_EQ(store.load(b.id)->name, "beta");
  }
  remove_tree(root);
}

TEST(Housekeeping, PausedShowsInTheStatusAndNotAfterTheEnd) {
  ContainerState s;
  s.status = "running";
  s.started = format_rfc3339(now());
  s.paused = true;
  EXPECT_NE(status_text(s).find("(Paused)"), std::string::npos) << status_text(s);
  Container c = container("p", "running");
  c.state.paused = true;
  EXPECT_TRUE(ContainerStore::observed_state(c).paused);
  c.state.status = "exited";
  EXPECT_FALSE(ContainerStore::observed_state(c).paused);
  // The record keeps it.
  c.state.status = "running";
  EXPECT_TRUE(Container::from_json(c.to_json()).state.paused);
}
