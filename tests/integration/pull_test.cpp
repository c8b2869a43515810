// Pull from a real docker-registry and check the stored trees byte for byte.
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstring>

#include "cppcker/image/manifest.hpp"
#include "fixture.hpp"

using cppcker::Compression;
using ts::dir;
using ts::file;

namespace {

std::vector<ts::Entry> rich_layer() {
  ts::Entry setuid = file("bin/tool", std::string(100000, 'x') + "end", 04755);
  ts::Entry fifo;
  fifo.type = ts::Entry::Type::fifo;
  fifo.path = "run/pipe";
  fifo.mode = 0620;
  ts::Entry dev;
  dev.type = ts::Entry::Type::chardev;
  dev.path = "dev/null";
  dev.mode = 0666;
  dev.dev_major = 1;
  dev.dev_minor = 3;
  ts::Entry noted = file("etc/noted", "with xattr");
  noted.xattrs["user.note"] = "hello";
  return {dir("bin"),
          setuid,
          ts::symlink("bin/sh", "tool"),
          ts::hardlink("bin/tool2", "bin/tool"),
          dir("etc"),
          file("etc/hostname", "cppcker\n"),
          noted,
          dir("home", 0755),
          dir("home/user", 0750, 1000, 1000),
          file("home/user/secret", "s3cret", 0600, 1000, 1000),
          dir("run"),
          fifo,
          dir("dev"),
          dev,
          dir("abs"),
          ts::symlink("abs/link", "/etc/hostname")};
}

// Lists the merged view of an overlay of `lowers` (top first), mounted in a private mount namespace
// of a child process, so that nothing is ever mounted on the host.
std::map<std::string, std::string> overlay_view(const std::vector<std::string>& lowers_top_first, const fs::path& where) {
  std::string opts = "lowerdir=";
  for (std::size_t i = 0; i < lowers_top_first.size(); ++i) opts += (i ? ":" : "") + lowers_top_first[i];
  fs::create_directories(where);
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    const char* step = "unshare";
    bool ok = ::unshare(CLONE_NEWNS) == 0;
    if (ok) {
      step = "make / private";
      ok = ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
    }
    if (ok) {
      step = "mount overlay";
      ok = ::mount("overlay", where.c_str(), "overlay", MS_RDONLY, opts.c_str()) == 0;
    }
    if (!ok) {
      std::string msg = std::string(step) + " (" + opts + "): " + std::strerror(errno) + "\n";
      ts::write_all(2, msg);
      ::_exit(2);
    }
    // Never return into the test runner from the child, whatever happens.
    try {
      std::string text;
      for (const auto& [k, v] : ts::describe_tree(where)) text += k + "\t" + v + "\n";
      ts::write_all(fds[1], text);
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "overlay mount failed in the child";
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl - pos);
    auto tab = line.find('\t');
    out[line.substr(0, tab)] = line.substr(tab + 1);
    pos = nl + 1;
  }
  return out;
}

}  // namespace

TEST_F(RegistryTest, PullSingleLayerTreeMatchesByteForByte) {
  auto entries = rich_layer();
  auto image = ts::build_image({{ts::make_tar(entries), Compression::gzip}}, false, host_platform());
  ts::push_image(reg(), repo(), "v1", image);

  auto r = cpk_({"pull", reg() + "/" + repo() + ":v1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Pull complete"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Digest: " + image.manifest_digest), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Status: Downloaded newer image for " + reg() + "/" + repo() + ":v1"), std::string::npos);

  auto dirs = layer_dirs(reg() + "/" + repo() + ":v1");
  ASSERT_EQ(dirs.size(), 1u);
  EXPECT_EQ(ts::describe_tree(dirs[0]), ts::describe_entries(entries));

  auto info = inspect(reg() + "/" + repo() + ":v1");
  EXPECT_EQ(info["Id"], image.config_digest);
  EXPECT_EQ(info["RepoTags"][0], reg() + "/" + repo() + ":v1");
  EXPECT_EQ(info["RepoDigests"][0], reg() + "/" + repo() + "@" + image.manifest_digest);
  EXPECT_EQ(info["RootFS"]["Layers"][0], image.diff_ids[0]);
  EXPECT_EQ(info["Config"]["Cmd"][0], "sh");

  auto again = cpk_({"pull", reg() + "/" + repo() + ":v1"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("Already exists"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("Status: Image is up to date"), std::string::npos) << again.out;
}

TEST_F(RegistryTest, ImagesListsColumnsAsDocker) {
  auto image = ts::build_image({{ts::make_tar({file("a", std::string(1234567, 'a'))}), Compression::gzip}}, false,
                               host_platform());
  ts::push_image(reg(), repo(), "v1", image);
  ASSERT_EQ(cpk_({"pull", "-q", reg() + "/" + repo() + ":v1"}).exit_code, 0);
  auto r = cpk_({"images"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string name = reg() + "/" + repo();
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')).find("REPOSITORY"), 0u);
  EXPECT_NE(r.out.find("TAG"), std::string::npos);
  EXPECT_NE(r.out.find("IMAGE ID"), std::string::npos);
  EXPECT_NE(r.out.find(name), std::string::npos);
  EXPECT_NE(r.out.find(image.config_digest.substr(7, 12)), std::string::npos);
  EXPECT_NE(r.out.find("1.23MB"), std::string::npos) << r.out;  // decimal units
  EXPECT_NE(r.out.find("years ago"), std::string::npos) << r.out;  // created 2024-01-02

  auto q = cpk_({"images", "-q"});
  EXPECT_EQ(q.out, image.config_digest.substr(7, 12) + "\n");
  auto full = cpk_({"images", "-q", "--no-trunc"});
  EXPECT_EQ(full.out, image.config_digest + "\n");
  auto digests = cpk_({"images", "--digests"});
  EXPECT_NE(digests.out.find("DIGEST"), std::string::npos);
  EXPECT_NE(digests.out.find(image.manifest_digest), std::string::npos) << digests.out;
  auto js = cpk_({"images", "--format", "json"});
  auto j = nlohmann::json::parse(js.out.substr(0, js.out.find('\n')));
  EXPECT_EQ(j["Repository"], name);
  EXPECT_EQ(j["Tag"], "v1");
  EXPECT_EQ(j["Size"], "1.23MB");
}

TEST_F(RegistryTest, MultiLayerWhiteoutsStackCorrectlyInOverlayfs) {
  std::vector<ts::Entry> base = {dir("a"), file("a/one", "1"), file("a/two", "2"), file("b", "bee"),
                                 dir("c"), file("c/x", "x"),   file("c/y", "y"),   dir("d"), file("d/keep", "k")};
  std::vector<ts::Entry> top = {dir("a"),    file("a/.wh..wh..opq", ""), file("a/new", "new"), file(".wh.b", ""),
                                dir("c"),    file("c/.wh.x", ""),        dir("d"),             file("d/.wh.gone", ""),
                                file("d/added", "added")};
  auto image = ts::build_image({{ts::make_tar(base), Compression::gzip}, {ts::make_tar(top), Compression::gzip}}, true,
                               host_platform());
  ts::push_image(reg(), repo(), "latest", image);
  auto r = cpk_({"pull", reg() + "/" + repo()});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto dirs = layer_dirs(reg() + "/" + repo());
  ASSERT_EQ(dirs.size(), 2u);
  EXPECT_EQ(ts::describe_tree(dirs[0]), ts::describe_entries(base));
  auto upper = ts::describe_tree(dirs[1]);
  EXPECT_EQ(upper, ts::describe_entries(top));
  EXPECT_NE(upper["a"].find("opaque"), std::string::npos);
  EXPECT_EQ(upper["b"], "chardev 0000 0:0 0,0");

  // The real kernel's overlayfs over the extracted layers gives the image's intended tree.
  auto merged = overlay_view({dirs[1], dirs[0]}, tmp_.path / "merged");
  EXPECT_EQ(merged.count("a/one"), 0u);
  EXPECT_EQ(merged.count("a/two"), 0u);
  EXPECT_EQ(merged.count("a/new"), 1u);
  EXPECT_EQ(merged.count("b"), 0u);
  EXPECT_EQ(merged.count("c/x"), 0u);
  EXPECT_EQ(merged.count("c/y"), 1u);
  EXPECT_EQ(merged.count("d/keep"), 1u);
  EXPECT_EQ(merged.count("d/gone"), 0u);
  EXPECT_EQ(merged.count("d/added"), 1u);
}

TEST_F(RegistryTest, GzipZstdAndUncompressedLayers) {
  std::vector<std::vector<ts::Entry>> layers = {{dir("g"), file("g/data", std::string(300000, 'g'))},
                                                {dir("z"), file("z/data", std::string(300000, 'z'))},
                                                {dir("n"), file("n/data", std::string(3000, 'n'))}};
  auto image = ts::build_image({{ts::make_tar(layers[0]), Compression::gzip},
                                {ts::make_tar(layers[1]), Compression::zstd},
                                {ts::make_tar(layers[2]), Compression::none}},
                               true, host_platform());
  ts::push_image(reg(), repo(), "latest", image);
  auto r = cpk_({"pull", reg() + "/" + repo()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto dirs = layer_dirs(reg() + "/" + repo());
  ASSERT_EQ(dirs.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ts::describe_tree(dirs[i]), ts::describe_entries(layers[i])) << "layer " << i;
}

class PlatformTest : public RegistryTest, public ::testing::WithParamInterface<bool> {};

TEST_P(PlatformTest, IndexEntryIsChosenByPlatform) {
  bool oci = GetParam();
  cppcker::Platform other = host_platform().architecture == "arm64" ? cppcker::Platform{"linux", "amd64", ""}
                                                                    : cppcker::Platform{"linux", "arm64", "v8"};
  auto mine = ts::build_image({{ts::make_tar({file("which", "host")}), Compression::gzip}}, oci, host_platform());
  auto theirs = ts::build_image({{ts::make_tar({file("which", "other")}), Compression::gzip}}, oci, other);
  std::string index_digest = ts::push_index(reg(), repo(), "multi", {{theirs, other}, {mine, host_platform()}}, oci);

  auto r = cpk_({"pull", reg() + "/" + repo() + ":multi"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Digest: " + index_digest), std::string::npos) << r.out;
  EXPECT_EQ(inspect(reg() + "/" + repo() + ":multi")["Id"], mine.config_digest);

  auto o = cpk_({"pull", "--platform", other.string(), reg() + "/" + repo() + ":multi"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  auto info = inspect(reg() + "/" + repo() + ":multi");
  EXPECT_EQ(info["Id"], theirs.config_digest);
  EXPECT_EQ(info["Architecture"], other.architecture);

  auto none = cpk_({"pull", "--platform", "linux/s390x", reg() + "/" + repo() + ":multi"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("no matching manifest for linux/s390x"), std::string::npos) << none.err;

  auto bad = cpk_({"pull", "--platform", "linux//", reg() + "/" + repo() + ":multi"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("invalid platform"), std::string::npos) << bad.err;
}

INSTANTIATE_TEST_SUITE_P(OciIndexAndDockerManifestList, PlatformTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "OciIndex" : "DockerManifestList"; });

TEST_F(RegistryTest, PullByDigestVerifiesAndRecordsDigest) {
  auto image = ts::build_image({{ts::make_tar({file("f", "digest")}), Compression::gzip}}, true, host_platform());
  ts::push_image(reg(), repo(), "t", image);
  auto r = cpk_({"pull", reg() + "/" + repo() + "@" + image.manifest_digest});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto list = cpk_({"images", "--digests"});
  EXPECT_NE(list.out.find("<none>"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find(image.manifest_digest), std::string::npos) << list.out;
  std::string wrong = "sha256:" + std::string(64, 'a');
  auto missing = cpk_({"pull", reg() + "/" + repo() + "@" + wrong});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("not found"), std::string::npos) << missing.err;
}

TEST_F(RegistryTest, MalformedReferencesAreRefusedBeforeAnyNetworkUse) {
  for (std::string bad : {"UPPER/case", "name:", "name@sha256:abc", "a//b", ":tag", "_under/score", "host:99999999/x"}) {
    auto r = cpk_({"pull", bad});
    EXPECT_EQ(r.exit_code, 1) << bad;
    EXPECT_NE(r.err.find("invalid reference format"), std::string::npos) << bad << ": " << r.err;
    EXPECT_EQ(r.out, "") << bad;
  }
}

TEST_F(RegistryTest, UnknownTagAndRepository) {
  auto image = ts::build_image({{ts::make_tar({file("f", "x")}), Compression::gzip}}, true, host_platform());
  ts::push_image(reg(), repo(), "exists", image);
  auto tag = cpk_({"pull", reg() + "/" + repo() + ":nope"});
  EXPECT_EQ(tag.exit_code, 1);
  EXPECT_NE(tag.err.find("manifest for " + reg() + "/" + repo() + ":nope not found"), std::string::npos) << tag.err;
  auto name = cpk_({"pull", reg() + "/" + repo("-repo-never-pushed")});
  EXPECT_EQ(name.exit_code, 1);
  // docker-registry answers MANIFEST_UNKNOWN for a repository it never saw (Docker Hub: 401, "pull access denied").
  EXPECT_NE(name.err.find("repo-never-pushed:latest not found"), std::string::npos) << name.err;
  EXPECT_TRUE(committed_layers().empty());
}
