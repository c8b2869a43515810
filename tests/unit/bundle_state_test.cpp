// The state store of the runc-compatible front end: records appear whole and are written atomically, the
// container's lock is held through a create, statuses are derived as runc derives them (a reused pid is
// never the container), listing sweeps what crashed creates and removes left.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>

#include "cppcker/runtime/bundle_state.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

using namespace cppcker;

namespace {

struct BundleStateTest : ::testing::Test {
  fs::path root = fs::temp_directory_path() / ("cppcker-bundles-" + random_hex(6));
  bool frozen = false;
  BundleStore store{root, [this](const BundleRecord&) { return frozen; }};
  ~BundleStateTest() override { remove_tree(root); }

  BundleRecord record(const std::string& id) {
    BundleRecord r;
    r.id = id;
    r.bundle = "/bundles/" + id;
    r.rootfs = "/bundles/" + id + "/rootfs";
    r.created = "2026-12-01T22:51:07.123456789Z";
    r.owner = "root";
    r.annotations = {{"org.example", "yes"}};
    r.cgroup = {{"", "/test/" + id}};
    r.exec_fifo = store.dir(id) / "exec.fifo";
    r.config = {{"ociVersion", "1.0.2"}, {"root", {{"path", "rootfs"}}}};
    return r;
  }

  // This test process stands in for a live container process.
  BundleRecord live(const std::string& id) {
    BundleRecord r = record(id);
    r.pid = ::getpid();
    r.pid_start = process_start_time(r.pid);
    r.create_finished = true;
    return r;
  }

  std::set<std::string> entries() {
    std::set<std::string> out;
    for (auto& e : fs::directory_iterator(root)) out.insert(e.path().filename());
    return out;
  }
};

TEST(BundleStatusTest, DerivedInRuncsOrder) {
  EXPECT_EQ(derive_bundle_status(false, true, true, true), "creating");
  EXPECT_EQ(derive_bundle_status(false, false, false, false), "creating");
  EXPECT_EQ(derive_bundle_status(true, false, true, true), "stopped");
  EXPECT_EQ(derive_bundle_status(true, true, true, true), "paused");
  EXPECT_EQ(derive_bundle_status(true, true, false, true), "created");
  EXPECT_EQ(derive_bundle_status(true, true, false, false), "running");
}

TEST(BundleIdTest, RuncsRule) {
  for (const char* ok : {"abc", "a.b-c+d_e", "..a", "0123", "A_B"}) EXPECT_NO_THROW(validate_bundle_id(ok)) << ok;
  for (const char* bad : {".", "..", "a/b", "a b", "", "x\n", "\xc3\xa4", "a:b"})
    EXPECT_THROW(validate_bundle_id(bad), Error) << bad;
  try {
    validate_bundle_id("../etc");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "invalid id format: ../etc");
  }
}

TEST_F(BundleStateTest, CreateWritesTheWholeRecordPrivately) {
  BundleRecord r = live("web");
  r.create_finished = false;
  { auto lock = store.create(r); }
  auto loaded = store.load("web");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->to_json(), r.to_json());
  EXPECT_EQ(entries(), std::set<std::string>{"web"});
  struct stat st {};
  ASSERT_EQ(::stat((store.dir("web") / "state.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(root.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // Only the record and the lock: no temporary file left beside them.
  std::set<std::string> files;
  for (auto& e : fs::directory_iterator(store.dir("web"))) files.insert(e.path().filename());
  EXPECT_EQ(files, (std::set<std::string>{".lock", "state.json"}));
}

TEST_F(BundleStateTest, SecondCreateOfAnIdIsRefusedAndChangesNothing) {
  BundleRecord r = record("dup");
  { auto lock = store.create(r); }
  BundleRecord other = record("dup");
  other.bundle = "/elsewhere";
  try {
    store.create(other);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "container with id exists: dup");
  }
  EXPECT_EQ(store.get("dup").bundle, "/bundles/dup");
  EXPECT_EQ(entries(), std::set<std::string>{"dup"});
}

TEST_F(BundleStateTest, OfConcurrentCreatesExactlyOneWins) {
  make_dirs(root);
  constexpr int kRacers = 8;
  std::vector<pid_t> pids;
  for (int i = 0; i < kRacers; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      try {
        BundleRecord r = record("race");
        r.owner = std::to_string(i);
        store.create(r);
        ::_exit(0);
      } catch (const Error&) {
        ::_exit(1);
      }
    }
    pids.push_back(pid);
  }
  int winners = 0;
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    winners += WEXITSTATUS(status) == 0;
  }
  EXPECT_EQ(winners, 1);
  EXPECT_EQ(store.list().size(), 1u);
  EXPECT_EQ(entries(), std::set<std::string>{"race"});  // the losers' directories built aside are gone
}

TEST_F(BundleStateTest, CreateHoldsTheContainersLockUntilDropped) {
  auto lock = std::make_optional(store.create(record("held")));
  EXPECT_FALSE(FileLock::try_lock(store.dir("held") / ".lock"));
  lock.reset();
  EXPECT_TRUE(FileLock::try_lock(store.dir("held") / ".lock"));
  EXPECT_NO_THROW(store.lock("held"));
}

TEST_F(BundleStateTest, SaveReplacesTheRecordAtomically) {
  BundleRecord r = live("app");
  { auto lock = store.create(r); }
  // A temporary file of a save that crashed mid-write is never read as the record.
  write_file_atomic(store.dir("app") / "state.json.tmp-dead", "{\"torn", 0600);
  auto lock = store.lock("app");
  r.config["linux"]["resources"] = {{"pids", {{"limit", 10}}}};
  store.save(r);
  EXPECT_EQ(store.get("app").config["linux"]["resources"]["pids"]["limit"], 10);
}

TEST_F(BundleStateTest, StatusFollowsProcessFreezerAndFifo) {
  BundleRecord r = live("s");
  { auto lock = store.create(r); }
  EXPECT_EQ(store.status(r), "running");
  write_file_atomic(r.exec_fifo, "", 0600);  // stands in for the fifo: its presence is what counts
  EXPECT_EQ(store.status(r), "created");
  frozen = true;
  EXPECT_EQ(store.status(r), "paused");
  frozen = false;
  fs::remove(r.exec_fifo);
  EXPECT_EQ(store.status(r), "running");
  oci::State s = store.state(r);
  EXPECT_EQ(s.pid, ::getpid());
  EXPECT_EQ(s.oci_version, "1.0.2");  // the bundle's own version, as runc reports it
  EXPECT_EQ(s.bundle, "/bundles/s");
  EXPECT_EQ(s.annotations, r.annotations);
}

TEST_F(BundleStateTest, ReusedOrEndedPidIsStopped) {
  BundleRecord r = live("gone");
  r.pid_start += 1;  // another process now holds the pid
  EXPECT_EQ(store.status(r), "stopped");
  EXPECT_EQ(store.state(r).pid, 0);

  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  BundleRecord ended = live("ended");
  ended.pid = child;
  ended.pid_start = process_start_time(child);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_EQ(store.status(ended), "stopped");
  ended.pid = 0;
  EXPECT_EQ(store.status(ended), "stopped");
}

TEST_F(BundleStateTest, CrashedCreateIsCreatingAndLockable) {
  BundleRecord r = record("half");  // create_finished false, no pid: the creator died before the process
  { auto lock = store.create(r); }  // the creator's lock goes with it
  EXPECT_EQ(store.status(store.get("half")), "creating");
  auto lock = store.lock("half");
  store.remove("half");
  EXPECT_FALSE(store.load("half"));
  EXPECT_TRUE(entries().empty());
}

TEST_F(BundleStateTest, ListIsSortedAndSweepsOnlyAbandonedLeftovers) {
  for (const char* id : {"b", "a", "c"}) auto lock = store.create(record(id));
  // Abandoned: a create and a remove that died part-way (nobody holds their locks).
  make_dirs(root / ".creating-0001");
  write_file_atomic(root / ".creating-0001" / ".lock", "", 0600);
  make_dirs(root / ".removing-x-0002" / "deep");
  // Alive: a create in progress holds its lock; it stays.
  make_dirs(root / ".creating-0003");
  FileLock busy(root / ".creating-0003" / ".lock");
  // Not a container: no record.
  make_dirs(root / "stray");

  auto list = store.list();
  std::vector<std::string> ids;
  for (const auto& r : list) ids.push_back(r.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(entries(), (std::set<std::string>{"a", "b", "c", ".creating-0003", "stray"}));
}

TEST_F(BundleStateTest, MissingContainerErrorsAsRunc) {
  EXPECT_FALSE(store.load("nope"));
  for (auto f : {+[](BundleStore& s) { s.get("nope"); }, +[](BundleStore& s) { s.lock("nope"); }}) {
    try {
      f(store);
      FAIL();
    } catch (const Error& e) {
      EXPECT_STREQ(e.what(), "container does not exist");
    }
  }
  EXPECT_THROW(store.load("../x"), Error);
  EXPECT_TRUE(store.list().empty());  // no root yet: nothing, and nothing made
  EXPECT_FALSE(fs::exists(root));
}

TEST_F(BundleStateTest, RemoveIsIdempotentAndLeavesNothing) {
  BundleRecord r = record("rm");
  { auto lock = store.create(r); }
  make_dirs(store.dir("rm") / "sub");
  store.remove("rm");
  store.remove("rm");
  EXPECT_TRUE(entries().empty());
}

TEST_F(BundleStateTest, RecordJsonRoundTrips) {
  BundleRecord r = live("rt");
  r.cgroup = {{"", "/a"}, {"memory", "/b/c"}};
  EXPECT_EQ(BundleRecord::from_json(r.to_json()).to_json(), r.to_json());
}

}  // namespace
