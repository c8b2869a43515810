// --userns=auto on the real kernel: container root is an unprivileged host id range from /etc/subuid and
// /etc/subgid, the image is seen through idmapped mounts (never copied or chowned).
#include <sys/stat.h>

#include "cppcker/security/userns.hpp"
#include "runtime_fixture.hpp"

class UsernsTest : public RuntimeTest {
 protected:
  void SetUp() override {
    // cppcker adds its remap user's ranges on first use; the machine gets its own files back afterwards.
    for (const char* f : {"/etc/subuid", "/etc/subgid"}) saved_[f] = cppcker::read_file_if_exists(f);
    RuntimeTest::SetUp();
    if (!cppcker::kernel_supports_idmapped_overlay()) GTEST_SKIP() << "this kernel cannot put overlayfs on idmapped layers";
  }
  void TearDown() override {
    RuntimeTest::TearDown();
    for (const auto& [file, content] : saved_) {
      if (content) cppcker::write_file_atomic(file, *content, 0644);
      else ::unlink(file.c_str());
    }
  }
  // The host uid a container id maps to, from the container's config.json.
  std::uint32_t host_uid(const std::string& id) {
    auto spec = nlohmann::json::parse(cppcker::read_file(cpk_.root / "containers" / id / "config.json"));
    return spec["linux"]["uidMappings"][0]["hostID"].get<std::uint32_t>();
  }
  std::map<std::string, std::optional<std::string>> saved_;
};

TEST_F(UsernsTest, ContainerRootIsAnUnprivilegedHostRange) {
  const std::uint64_t layers_before = cppcker::tree_size(cpk_.root / "layers");
  std::string id = trim(run({"-d", "--userns=auto", "--network", "none", "img", "sh", "-c",
                             "cat /proc/self/uid_map; id -u; stat -c %u /bin/busybox; touch /tmp/made-by-root; "
                             "mkdir -p /home/app/x && chown app /home/app/x; echo done; sleep 60"})
                            .out);
  ASSERT_EQ(id.size(), 64u) << id;
  ASSERT_TRUE(eventually([&] { return cpk_({"logs", id}).out.find("done") != std::string::npos; })) << cpk_({"logs", id}).err;
  const std::uint32_t start = host_uid(id);
  EXPECT_GE(start, 100000u);
  std::istringstream out(cpk_({"logs", id}).out);
  std::string inside, outside, size, uid, busybox_owner;
  out >> inside >> outside >> size >> uid >> busybox_owner;
  EXPECT_EQ(inside, "0");
  EXPECT_EQ(outside, std::to_string(start));
  EXPECT_EQ(size, "65536");
  EXPECT_EQ(uid, "0") << "not root inside";
  EXPECT_EQ(busybox_owner, "0") << "the image's files are not root's inside";
  // On the host: what container root made belongs to the range's first id, app's to first + 1000.
  struct stat st{};
  fs::path upper = cpk_.root / "containers" / id / "upper";
  ASSERT_EQ(::stat((upper / "tmp/made-by-root").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, start);
  ASSERT_EQ(::stat((upper / "home/app/x").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, start + 1000);
  // The container's first process runs as that host id, and the image was neither copied nor chowned.
  pid_t pid = inspect(id)["State"]["Pid"].get<pid_t>();
  ASSERT_EQ(::stat(("/proc/" + std::to_string(pid)).c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, start);
  EXPECT_EQ(cppcker::tree_size(cpk_.root / "layers"), layers_before);
  for (const auto& e : fs::recursive_directory_iterator(cpk_.root / "layers")) {
    if (e.is_symlink()) continue;
    ASSERT_EQ(::lstat(e.path().c_str(), &st), 0);
    EXPECT_LT(st.st_uid, 100000u) << e.path() << " was chowned";
  }
  // exec joins the user namespace too.
  auto exec = cpk_({"exec", id, "sh", "-c", "id -u; cat /proc/self/uid_map"});
  EXPECT_EQ(exec.exit_code, 0) << exec.err;
  EXPECT_EQ(exec.out.substr(0, 2), "0\n");
  EXPECT_NE(exec.out.find(std::to_string(start)), std::string::npos);
  // The remap user's ranges were added to the host's files.
  EXPECT_NE(cppcker::read_file("/etc/subuid").find("cppcker:"), std::string::npos);
  EXPECT_NE(cppcker::read_file("/etc/subgid").find("cppcker:"), std::string::npos);
}

TEST_F(UsernsTest, TwoContainersGetDisjointRangesAndVolumesAreIdmapped) {
  fs::path host_dir = tmp_.path / "shared";
  fs::create_directories(host_dir);
  fs::permissions(host_dir, fs::perms(0755));
  std::ofstream(host_dir / "owned-by-root") << "secret";
  fs::permissions(host_dir / "owned-by-root", fs::perms(0600));
  std::string a = trim(run({"-d", "--userns=auto", "--network", "none", "-v", host_dir.string() + ":/plain",
                            "-v", host_dir.string() + ":/mapped:idmap", "-v", "named:/data", "img", "sleep", "60"})
                           .out);
  std::string b = trim(run({"-d", "--userns=auto:size=1000", "--network", "none", "img", "sleep", "60"}).out);
  ASSERT_EQ(a.size(), 64u) << a;
  ASSERT_EQ(b.size(), 64u) << b;
  const std::uint32_t sa = host_uid(a), sb = host_uid(b);
  EXPECT_TRUE(sa + 65536 <= sb || sb + 1000 <= sa) << sa << " and " << sb << " overlap";
  // A host directory bound as it is: container root is no one there (the host's root-only file stays
  // unreadable, nothing can be made in it), so --userns=auto means what it says on binds too.
  auto plain = cpk_({"exec", a, "sh", "-c", "cat /plain/owned-by-root; touch /plain/from-container"});
  EXPECT_NE(plain.exit_code, 0);
  EXPECT_EQ(plain.out, "");
  EXPECT_FALSE(fs::exists(host_dir / "from-container"));
  // Asked for (:idmap), the host's ids are seen through the mapping: root-owned is root's inside, and what
  // container root writes there is the host's root's (the bind keeps its owners).
  auto r = cpk_({"exec", a, "sh", "-c", "stat -c %u /mapped/owned-by-root; touch /mapped/from-container"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "0\n");
  struct stat st{};
  ASSERT_EQ(::stat((host_dir / "from-container").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  // A volume of cppcker's own is always seen through the mapping (it lies in the 0700 state root).
  auto v = cpk_({"exec", a, "sh", "-c", "touch /data/made && stat -c %u /data/made"});
  EXPECT_EQ(v.out, "0\n") << v.err;
  ASSERT_EQ(::stat((cpk_.root / "volumes/named/_data/made").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  // Removing a container frees its range for the next one.
  cpk_({"rm", "-f", b});
  std::string c = trim(run({"-d", "--userns=auto:size=1000", "--network", "none", "img", "sleep", "60"}).out);
  ASSERT_EQ(c.size(), 64u);
  EXPECT_EQ(host_uid(c), sb);
}

TEST_F(UsernsTest, ConfigDefaultRemapsEveryContainer) {
  auto config = nlohmann::json::parse(cppcker::read_file(cpk_.config));
  config["userns-remap"] = "default";
  std::ofstream(cpk_.config) << config.dump();
  auto r = run({"--rm", "--network", "none", "img", "sh", "-c", "cat /proc/self/uid_map"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("65536"), std::string::npos) << r.out;
  auto host = run({"--rm", "--network", "none", "--userns=host", "img", "sh", "-c", "cat /proc/self/uid_map"});
  EXPECT_NE(host.out.find("4294967295"), std::string::npos) << host.out;
}
