// Layer sharing, tags, rmi, save/load round trips, concurrency and crashes against the real store.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include "cppcker/util/fs.hpp"
#include "fixture.hpp"

using cppcker::Compression;
using ts::dir;
using ts::file;

namespace {
std::vector<ts::Entry> base_entries() {
  return {dir("usr"), dir("usr/lib"), file("usr/lib/base.so", std::string(50000, 'b')), file("etc-release", "base\n")};
}
}  // namespace

TEST_F(RegistryTest, SharedLayersAreStoredOnceAndRemovedWithTheLastImage) {
  std::string base_tar = ts::make_tar(base_entries());
  auto one = ts::build_image({{base_tar, Compression::gzip}, {ts::make_tar({file("one", "1")}), Compression::gzip}}, true,
                             host_platform());
  auto two = ts::build_image({{base_tar, Compression::gzip}, {ts::make_tar({file("two", "2")}), Compression::gzip}}, true,
                             host_platform());
  ts::push_image(reg(), repo("-one"), "latest", one);
  ts::push_image(reg(), repo("-two"), "latest", two);
  ASSERT_EQ(cpk_({"pull", reg() + "/" + repo("-one")}).exit_code, 0);
  auto second = cpk_({"pull", reg() + "/" + repo("-two")});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.out.find("Already exists"), std::string::npos) << second.out;
  EXPECT_EQ(committed_layers().size(), 3u);  // base once, plus one top layer each
  EXPECT_EQ(layer_dirs(reg() + "/" + repo("-one"))[0], layer_dirs(reg() + "/" + repo("-two"))[0]);

  auto rm1 = cpk_({"rmi", reg() + "/" + repo("-one")});
  ASSERT_EQ(rm1.exit_code, 0) << rm1.err;
  EXPECT_NE(rm1.out.find("Untagged: " + reg() + "/" + repo("-one") + ":latest"), std::string::npos) << rm1.out;
  EXPECT_NE(rm1.out.find("Deleted: " + one.config_digest), std::string::npos) << rm1.out;
  EXPECT_EQ(committed_layers().size(), 2u);
  auto dirs = layer_dirs(reg() + "/" + repo("-two"));
  EXPECT_EQ(ts::describe_tree(dirs[0]), ts::describe_entries(base_entries()));

  ASSERT_EQ(cpk_({"rmi", reg() + "/" + repo("-two")}).exit_code, 0);
  EXPECT_TRUE(committed_layers().empty());
  std::size_t blobs = 0;
  for (auto& e : std::filesystem::directory_iterator(cpk_.root / "blobs/sha256")) blobs += e.is_regular_file();
  EXPECT_EQ(blobs, 0u);
  EXPECT_EQ(cpk_({"images", "-q"}).out, "");
}

TEST_F(RegistryTest, TagAndRmiFollowDockerRules) {
  auto image = ts::build_image({{ts::make_tar({file("f", "tags")}), Compression::gzip}}, true, host_platform());
  ts::push_image(reg(), repo(), "latest", image);
  std::string name = reg() + "/" + repo();
  ASSERT_EQ(cpk_({"pull", name}).exit_code, 0);
  ASSERT_EQ(cpk_({"tag", name, "mine:v1"}).exit_code, 0);
  ASSERT_EQ(cpk_({"tag", image.config_digest.substr(7, 10), "mine:v2"}).exit_code, 0);
  auto bad_tag = cpk_({"tag", name, "Bad:Name"});
  EXPECT_NE(bad_tag.exit_code, 0);
  EXPECT_NE(cpk_({"tag", "nosuch:image", "x:y"}).err.find("No such image: nosuch:image"), std::string::npos);

  // By tag: only that name goes while others remain.
  auto untag = cpk_({"rmi", "mine:v1"});
  ASSERT_EQ(untag.exit_code, 0) << untag.err;
  EXPECT_EQ(untag.out, "Untagged: mine:v1\n");
  // By ID while two repositories name it: refused without -f.
  auto conflict = cpk_({"rmi", image.config_digest.substr(7, 12)});
  EXPECT_EQ(conflict.exit_code, 1);
  EXPECT_NE(conflict.err.find("must be forced"), std::string::npos) << conflict.err;
  auto forced = cpk_({"rmi", "-f", image.config_digest.substr(7, 12)});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_NE(forced.out.find("Untagged: mine:v2"), std::string::npos);
  EXPECT_NE(forced.out.find("Untagged: " + name + ":latest"), std::string::npos);
  EXPECT_NE(forced.out.find("Deleted: " + image.config_digest), std::string::npos);
  EXPECT_EQ(cpk_({"images", "-q"}).out, "");

  auto missing = cpk_({"rmi", "nosuch", "alsonot"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("No such image: nosuch"), std::string::npos);
  EXPECT_NE(missing.err.find("No such image: alsonot"), std::string::npos);
  auto inspect_missing = cpk_({"inspect", "nosuch"});
  EXPECT_EQ(inspect_missing.exit_code, 1);
  EXPECT_NE(inspect_missing.err.find("No such object: nosuch"), std::string::npos);
}

TEST_F(RegistryTest, SaveAndLoadRoundTripKeepsIdsTagsAndTrees) {
  auto entries = base_entries();
  auto image = ts::build_image({{ts::make_tar(entries), Compression::gzip}, {ts::make_tar({file("top", "t")}), Compression::zstd}},
                               true, host_platform());
  ts::push_image(reg(), repo(), "latest", image);
  std::string name = reg() + "/" + repo();
  ASSERT_EQ(cpk_({"pull", name}).exit_code, 0);
  ASSERT_EQ(cpk_({"tag", name, "saved:1"}).exit_code, 0);
  auto before = ts::describe_tree(layer_dirs("saved:1")[0]);

  fs::path archive = tmp_.path / "out.tar";
  auto save = cpk_({"save", "-o", archive.string(), "saved:1", name});
  ASSERT_EQ(save.exit_code, 0) << save.err;
  auto listing = ts::run({"tar", "-tf", archive.string()});
  for (const char* member : {"index.json", "manifest.json", "oci-layout"})
    EXPECT_NE(listing.out.find(member), std::string::npos) << member;

  ASSERT_EQ(cpk_({"rmi", "-f", image.config_digest}).exit_code, 0);
  EXPECT_TRUE(committed_layers().empty());
  auto load = cpk_({"load", "-i", archive.string()});
  ASSERT_EQ(load.exit_code, 0) << load.err;
  EXPECT_NE(load.out.find("Loaded image: saved:1"), std::string::npos) << load.out;
  EXPECT_NE(load.out.find("Loaded image: " + name + ":latest"), std::string::npos) << load.out;
  auto info = inspect("saved:1");
  EXPECT_EQ(info["Id"], image.config_digest);
  EXPECT_EQ(ts::describe_tree(layer_dirs("saved:1")[0]), before);

  // A second store loads the same archive from stdin, by the shell's redirection.
  ts::Cppcker other{tmp_.path / "root2", cpk_.config};
  std::string cmd;
  for (const auto& a : other.argv({"load"})) cmd += "'" + a + "' ";
  auto piped = ts::run({"sh", "-c", cmd + "< '" + archive.string() + "'"});
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_NE(piped.out.find("Loaded image: saved:1"), std::string::npos);

  // Saving by ID alone gives an untagged image on load.
  fs::path by_id = tmp_.path / "byid.tar";
  ASSERT_EQ(cpk_({"save", "-o", by_id.string(), image.config_digest.substr(7, 12)}).exit_code, 0);
  ts::Cppcker third{tmp_.path / "root3", cpk_.config};
  auto untagged = third({"load", "-i", by_id.string()});
  ASSERT_EQ(untagged.exit_code, 0) << untagged.err;
  EXPECT_EQ(untagged.out, "Loaded image ID: " + image.config_digest + "\n");
}

TEST_F(RegistryTest, LoadsArchivesWrittenBySkopeo) {
  if (!ts::have_command("skopeo")) GTEST_FAIL() << "skopeo is required (installed by scripts/install-deps.sh)";
  auto entries = base_entries();
  auto image = ts::build_image({{ts::make_tar(entries), Compression::gzip}}, false, host_platform());
  ts::push_image(reg(), repo(), "latest", image);
  std::string src = "docker://" + reg() + "/" + repo() + ":latest";
  fs::path docker_archive = tmp_.path / "skopeo.tar";
  fs::path oci_dir = tmp_.path / "oci";
  auto c1 = ts::run({"skopeo", "copy", "--src-tls-verify=false", src, "docker-archive:" + docker_archive.string() + ":from/skopeo:tar"});
  ASSERT_EQ(c1.exit_code, 0) << c1.err;
  auto c2 = ts::run({"skopeo", "copy", "--src-tls-verify=false", src, "oci:" + oci_dir.string() + ":latest"});
  ASSERT_EQ(c2.exit_code, 0) << c2.err;

  auto l1 = cpk_({"load", "-i", docker_archive.string()});
  ASSERT_EQ(l1.exit_code, 0) << l1.err;
  EXPECT_NE(l1.out.find("Loaded image: from/skopeo:tar"), std::string::npos) << l1.out;
  EXPECT_EQ(inspect("from/skopeo:tar")["Id"], image.config_digest);
  EXPECT_EQ(ts::describe_tree(layer_dirs("from/skopeo:tar")[0]), ts::describe_entries(entries));

  ts::Cppcker other{tmp_.path / "root2", cpk_.config};
  auto l2 = other({"load", "-i", oci_dir.string()});
  ASSERT_EQ(l2.exit_code, 0) << l2.err;
  // skopeo rewrites the config for OCI; the ID is the digest of the config its layout names.
  auto index = nlohmann::json::parse(cppcker::read_file(oci_dir / "index.json"));
  std::string manifest_digest = index["manifests"][0]["digest"];
  auto manifest = nlohmann::json::parse(cppcker::read_file(oci_dir / "blobs/sha256" / manifest_digest.substr(7)));
  std::string oci_id = manifest["config"]["digest"];
  EXPECT_EQ(l2.out, "Loaded image ID: " + oci_id + "\n");  // a bare tag ("latest") names no repository
  EXPECT_EQ(ts::describe_tree(ts::Cppcker{other}.root / "layers" / std::string(image.diff_ids[0]).substr(7) / "diff"),
            ts::describe_entries(entries));
}

TEST_F(RegistryTest, LoadRejectsBrokenArchives) {
  fs::path junk = tmp_.path / "junk.tar";
  std::ofstream(junk) << "this is not a tar archive at all";
  auto r1 = cpk_({"load", "-i", junk.string()});
  EXPECT_EQ(r1.exit_code, 1);
  EXPECT_NE(r1.err.find("invalid image archive"), std::string::npos) << r1.err;

  fs::path empty = tmp_.path / "empty.tar";
  ASSERT_EQ(ts::run({"tar", "-cf", empty.string(), "-T", "/dev/null"}).exit_code, 0);
  auto r2 = cpk_({"load", "-i", empty.string()});
  EXPECT_EQ(r2.exit_code, 1);
  EXPECT_NE(r2.err.find("neither manifest.json nor index.json"), std::string::npos) << r2.err;

  // manifest.json pointing outside the archive through a symlink is resolved inside it, and fails.
  fs::path evil = tmp_.path / "evil";
  fs::create_directories(evil);
  std::ofstream(evil / "manifest.json") << R"([{"Config":"cfg.json","RepoTags":["evil:1"],"Layers":["../../../../etc/passwd"]}])";
  std::filesystem::create_symlink("/etc/hostname", evil / "cfg.json");
  auto r3 = cpk_({"load", "-i", evil.string()});
  EXPECT_EQ(r3.exit_code, 1) << r3.out;
  EXPECT_EQ(cpk_({"images", "-q"}).out, "");
}

TEST_F(RegistryTest, ConcurrentPullsOfOneImageStoreItOnce) {
  std::vector<ts::Entry> entries = {dir("data")};
  for (int i = 0; i < 200; ++i) entries.push_back(file("data/f" + std::to_string(i), std::string(5000 + i, 'c')));
  auto image = ts::build_image({{ts::make_tar(base_entries()), Compression::gzip}, {ts::make_tar(entries), Compression::gzip}},
                               true, host_platform());
  ts::push_image(reg(), repo(), "latest", image);
  std::vector<pid_t> pids;
  for (int i = 0; i < 4; ++i)
    pids.push_back(ts::spawn(cpk_.argv({"pull", "-q", reg() + "/" + repo()}), tmp_.path / ("pull" + std::to_string(i) + ".log")));
  for (pid_t p : pids) {
    int status = 0;
    ::waitpid(p, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(committed_layers().size(), 2u);
  EXPECT_EQ(cpk_({"images", "-q"}).out, image.config_digest.substr(7, 12) + "\n");
  EXPECT_EQ(ts::describe_tree(layer_dirs(reg() + "/" + repo())[1]), ts::describe_entries(entries));
}

TEST_F(RegistryTest, KillDuringPullLeavesNoHalfImageAndThePullFinishesLater) {
  ts::FaultProxy proxy(registry_->port());
  std::string big = cppcker::random_hex(1 << 20);  // incompressible enough: ~1 MB of gzip, 3+ s through the slow proxy
  std::vector<ts::Entry> entries = {file("big", big)};
  auto image = ts::build_image({{ts::make_tar(base_entries()), Compression::gzip}, {ts::make_tar(entries), Compression::gzip}},
                               true, host_platform());
  ts::push_image(reg(), repo(), "latest", image);
  proxy.set(ts::FaultProxy::Fault::slow, image.layers[1].digest, 1);
  std::string name = proxy.host() + "/" + repo();
  pid_t pid = ts::spawn(cpk_.argv({"pull", name}), tmp_.path / "pull.log");
  // Wait until the slow layer is being written, then kill -9.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  bool writing = false;
  while (!writing && std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(cpk_.root / "layers", ec))
      writing |= e.path().filename().string().find(".tmp-") != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(writing);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);

  EXPECT_EQ(cpk_({"images", "-q"}).out, "");  // no half image is visible
  auto again = cpk_({"pull", name});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(ts::describe_tree(layer_dirs(name)[1]), ts::describe_entries(entries));
  ASSERT_EQ(cpk_({"rmi", name}).exit_code, 0);
  // After rmi's GC not even the killed pull's temporaries remain.
  std::vector<std::string> left;
  for (auto& e : std::filesystem::recursive_directory_iterator(cpk_.root))
    if (e.is_regular_file() || e.is_directory()) left.push_back(e.path().lexically_relative(cpk_.root).string());
  for (const auto& p : left) EXPECT_EQ(p.find(".tmp-"), std::string::npos) << p;
  EXPECT_TRUE(committed_layers().empty());
}
