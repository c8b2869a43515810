// The container record store: records appear whole, leftovers of a killed create/rm are swept, and
// ownership is refused once a record is gone or while someone else holds it.
#include <gtest/gtest.h>
#include <unistd.h>

#include "cppcker/runtime/container.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

using namespace cppcker;

namespace {

struct ContainerStoreTest : ::testing::Test {
  fs::path root = fs::temp_directory_path() / ("cppcker-containers-" + random_hex(6));
  ContainerStore store{root};
  ~ContainerStoreTest() override { remove_tree(root); }

  // What a create or rm killed part-way leaves: a directory under a dot-name, maybe with a record.
  fs::path leftover(const std::string& name) {
    fs::path d = root / "containers" / name;
    make_dirs(d / "upper" / "etc");
    Container ghost;
    ghost.id = std::string(64, 'a');
    ghost.name = "ghost";
    write_file_atomic(d / "container.json", ghost.to_json().dump());
    return d;
  }

  std::vector<std::string> entries() {
    std::vector<std::string> out;
    for (auto& e : fs::directory_iterator(root / "containers"))
      if (e.path().filename() != ".lock") out.push_back(e.path().filename());
    return out;
  }
};

TEST_F(ContainerStoreTest, CreateWritesTheWholeRecordWithIdDependentFields) {
  Container c = store.create({}, "web", [](Container& r) { r.spec.hostname = r.id.substr(0, 12); });
  auto loaded = store.load(c.id);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->name, "web");
  EXPECT_EQ(loaded->spec.hostname, c.id.substr(0, 12));
  EXPECT_EQ(entries(), std::vector<std::string>{c.id});
}

TEST_F(ContainerStoreTest, LeftoversOfKilledCreateAndRemoveAreInvisibleThenSwept) {
  auto creating = leftover(".creating-" + std::string(64, 'a'));
  auto removing = leftover(".removing-" + std::string(64, 'b'));
  EXPECT_TRUE(store.list().empty());
  EXPECT_THROW(store.resolve("ghost"), Error);

  Container c = store.create({}, "");
  EXPECT_FALSE(fs::exists(creating));
  EXPECT_FALSE(fs::exists(removing));
  EXPECT_EQ(entries(), std::vector<std::string>{c.id});

  leftover(".creating-" + std::string(64, 'c'));
  store.remove(c.id);
  EXPECT_TRUE(entries().empty());
}

TEST_F(ContainerStoreTest, OwnershipNeedsAFreeLockAndAnExistingRecord) {
  Container c = store.create({}, "");
  {
    FileLock owner = store.take_ownership(c);
    EXPECT_EQ(c.state.monitor_pid, ::getpid());
    EXPECT_EQ(store.load(c.id)->state.monitor_pid, ::getpid());
    // flock is per open file: a second take in this process is refused like another process's would be.
    EXPECT_FALSE(store.try_owner_lock(c.id));
    try {
      store.take_ownership(c);
      ADD_FAILURE() << "a second owner was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("in use"), std::string::npos) << e.what();
    }
  }
  store.remove(c.id);
  try {
    store.take_ownership(c);
    ADD_FAILURE() << "a removed container was owned";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "No such container: " + c.id);
  }
  EXPECT_TRUE(entries().empty()) << "taking ownership must not recreate the record's directory";
}

TEST_F(ContainerStoreTest, CreateWithAnOwnerWritesTheRecordOnceWithItsOwner) {
  std::optional<FileLock> owner;
  Container c = store.create({}, "owned", {}, &owner);
  ASSERT_TRUE(owner);
  EXPECT_EQ(c.state.monitor_pid, ::getpid());
  EXPECT_NE(c.state.monitor_start, 0u);
  // The first write already names the owner: there is no second one to wait for.
  auto loaded = store.load(c.id);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->state.monitor_pid, ::getpid());
  EXPECT_EQ(loaded->state.monitor_start, c.state.monitor_start);
  // The lock taken in the staging directory is the record's own after the rename.
  EXPECT_FALSE(store.try_owner_lock(c.id));
  owner.reset();
  EXPECT_TRUE(store.try_owner_lock(c.id));
  EXPECT_EQ(entries(), std::vector<std::string>{c.id});

  // Without one, nobody owns the new record.
  Container plain = store.create({}, "plain");
  EXPECT_EQ(store.load(plain.id)->state.monitor_pid, 0);
  EXPECT_TRUE(store.try_owner_lock(plain.id));
}

}  // namespace
