// `cppcker build` against an independent builder: every Dockerfile under tests/build/<case>/ is built by
// cppcker and by Debian's `buildah bud` from the same context and the same base image (busybox, pushed to
// the suite's own docker-registry on 127.0.0.1), and the two images must have the same root filesystem
// (paths, types, modes, owners, contents, symlink targets; mtimes not compared) and the same config where
// Docker's semantics define it. Where buildah 1.28 departs from Docker, the case is written around it (each
// such place is said in the Dockerfile), never the comparison.
#include <sys/mount.h>

#include <algorithm>
#include <regex>

#include "runtime_fixture.hpp"

namespace {

const fs::path kCases = CPPCKER_BUILD_CASES_DIR;

// One build of one case. `dir` is below tests/build; `file` is the Dockerfile's name in it (-f when not
// "Dockerfile"); `buildah_file` replaces it for buildah where buildah 1.28 lacks a feature (heredocs).
struct BuildCase {
  std::string dir;
  std::string tag;
  std::vector<std::string> build_args = {};
  std::string target = "";
  std::string file = "Dockerfile";
  std::string buildah_file = "";
};

using Tree = std::map<std::string, std::string>;

// What a RUN step's container, not the Dockerfile, puts into the root filesystem: buildah (chroot isolation)
// leaves empty files where it bind-mounted /etc/hosts, /etc/hostname and /etc/resolv.conf, and an empty
// /run; cppcker's `create` (used to export its image) may leave mount points for them and for /dev, /proc,
// /sys, /dev/shm. An entry on this list is dropped from both trees when either side has it as such a
// placeholder (an empty file or a directory with nothing below it); with content on both sides it is compared.
const std::vector<std::string> kMountPoints = {"etc/hosts", "etc/hostname", "etc/resolv.conf", "run",
                                               "dev",       "dev/shm",      "dev/pts",         "dev/mqueue",
                                               "proc",      "sys",          "dev/console"};

bool is_placeholder(const Tree& tree, const std::string& path) {
  auto it = tree.find(path);
  if (it == tree.end()) return false;
  if (it->second.rfind("file ", 0) == 0)  // "file MODE OWNER links=N sha256:..." of the empty string
    return it->second.find(cppcker::sha256_digest("")) != std::string::npos;
  if (it->second.rfind("dir ", 0) == 0) {
    auto next = tree.upper_bound(path);
    return next == tree.end() || next->first.rfind(path + "/", 0) != 0;
  }
  return false;
}

void normalise(Tree& a, Tree& b) {
  // Both trees come from fresh extractions, so modification times say when the test ran, not what the
  // builder did (Docker does not define them for COPY either: BuildKit keeps them, the classic builder too,
  // buildah keeps them; RUN output has the time of the run).
  static const std::regex mtime(" mtime=[0-9-]+");
  for (Tree* t : {&a, &b})
    for (auto& [path, line] : *t) line = std::regex_replace(line, mtime, "");
  // Deepest first, so that /dev whose only entries were /dev/pts and /dev/shm is a placeholder in its turn.
  std::vector<std::string> points = kMountPoints;
  std::sort(points.begin(), points.end(), [](const auto& x, const auto& y) { return x.size() > y.size(); });
  for (const auto& p : points) {
    if (!is_placeholder(a, p) && !is_placeholder(b, p)) continue;
    // Only the mount point itself: a placeholder directory has nothing below it on the side that has it.
    a.erase(p);
    b.erase(p);
  }
}

// The differing entries, one line each, for a readable failure.
std::string tree_diff(const Tree& buildah, const Tree& cppcker) {
  std::ostringstream out;
  for (const auto& [path, line] : buildah) {
    auto it = cppcker.find(path);
    if (it == cppcker.end())
      out << "  only buildah: /" << path << ": " << line << "\n";
    else if (it->second != line)
      out << "  differs: /" << path << ":\n      buildah: " << line << "\n      cppcker: " << it->second << "\n";
  }
  for (const auto& [path, line] : cppcker)
    if (!buildah.count(path)) out << "  only cppcker: /" << path << ": " << line << "\n";
  return out.str();
}

// The config fields Docker's semantics define, in a form both builders agree on for the same meaning:
// an empty list or map is the same as none (buildah writes [] / {} where Docker writes null), buildah's own
// "io.buildah.version" label is its signature rather than part of the Dockerfile, and a Healthcheck's zero
// durations are "inherit the default" either way (Docker omits them, buildah too, written out they are 0).
nlohmann::json comparable_config(const nlohmann::json& config) {
  static const std::vector<std::string> keys = {"Env",     "Cmd",        "Entrypoint", "WorkingDir",  "User",
                                                "ExposedPorts", "Volumes", "Labels",     "StopSignal", "Healthcheck",
                                                "OnBuild", "Shell"};
  nlohmann::json out = nlohmann::json::object();
  for (const auto& k : keys) {
    nlohmann::json v = config.is_object() && config.contains(k) ? config[k] : nlohmann::json();
    if (k == "Labels" && v.is_object()) v.erase("io.buildah.version");
    if (k == "Healthcheck" && v.is_object()) {
      for (const char* d : {"Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"})
        if (v.contains(d) && v[d].is_number() && v[d].get<long long>() == 0) v.erase(d);
    }
    if ((v.is_array() || v.is_object()) && v.empty()) v = nullptr;
    if (v.is_string() && v.get<std::string>().empty()) v = nullptr;
    out[k] = v;
  }
  return out;
}

}  // namespace

class BuildBuildahTest : public RuntimeTest {
 protected:
  // A failure here is reported by every test of the suite (SetUp), not lost in gtest's suite set-up.
  static void SetUpTestSuite() {
    try {
      set_up_suite();
    } catch (const std::exception& e) {
      suite_error_ = e.what();
    }
  }
  void SetUp() override {
    RuntimeTest::SetUp();
    ASSERT_TRUE(suite_error_.empty()) << suite_error_;
  }
  static void set_up_suite() {
    if (!ts::have_command("buildah") || !ts::have_command("podman"))
      throw std::runtime_error("buildah and podman are needed (scripts/install-deps.sh installs them)");
    suite_dir_ = std::make_unique<ts::TempDir>();
    fs::create_directories(suite_dir_->path / "registry");
    registry_ = std::make_unique<ts::Registry>(suite_dir_->path / "registry");
    // Both builders start from this image, pulled from the same registry: busybox with a user "app".
    auto image = ts::build_image({ts::Layer{busybox_layer()}}, false, cppcker::Platform::host());
    // With a history entry for its layer, as every real image has: buildah 1.28 fails to commit a stage
    // whose base (an earlier stage) came from an image without one ("history lists 2 non-empty layers,
    // but we have 3 layers on disk").
    auto config = nlohmann::json::parse(image.config);
    config["history"] = {{{"created", config["created"]}, {"created_by", "busybox-static from Debian"}}};
    image.config = config.dump();
    image.config_digest = cppcker::sha256_digest(image.config);
    auto manifest = nlohmann::json::parse(image.manifest);
    manifest["config"]["digest"] = image.config_digest;
    manifest["config"]["size"] = image.config.size();
    image.manifest = manifest.dump();
    image.manifest_digest = cppcker::sha256_digest(image.manifest);
    ts::push_image(registry_->host(), "busybox", "latest", image);
    // buildah's private world: its storage, its registries.conf (no search registries, so a short name
    // resolves only to a local image, never to a network lookup; the test's registry marked insecure), an
    // empty auth file, and its temporary files, all below the suite's directory.
    fs::path b = suite_dir_->path / "buildah";
    fs::create_directories(b / "tmp");
    std::ofstream(b / "registries.conf") << "unqualified-search-registries = []\n[[registry]]\nlocation = \""
                                         << registry_->host() << "\"\ninsecure = true\n";
    std::ofstream(b / "auth.json") << "{}";
  }

  static void TearDownTestSuite() {
    if (suite_dir_) {
      buildah({"rm", "--all"});
      buildah({"rmi", "--all", "--force"});
      std::string mounts = cppcker::read_file("/proc/self/mountinfo");
      std::string root = (suite_dir_->path / "buildah").string();
      // vfs storage mounts nothing, but a failed RUN under chroot isolation could leave its bind mounts.
      std::istringstream lines(mounts);
      for (std::string line; std::getline(lines, line);) {
        std::istringstream fields(line);
        std::string f;
        for (int i = 0; i < 5 && fields >> f; ++i) {}
        if (f.rfind(root, 0) == 0) ::umount2(f.c_str(), MNT_DETACH);
      }
    }
    registry_.reset();
    suite_dir_.reset();
  }

  static fs::path buildah_dir() { return suite_dir_->path / "buildah"; }
  static std::vector<std::string> storage_flags() {
    return {"--root", (buildah_dir() / "root").string(), "--runroot", (buildah_dir() / "runroot").string(),
            "--storage-driver", "vfs"};
  }
  static std::vector<std::string> buildah_env() {
    return {"BUILDAH_ISOLATION=chroot", "CONTAINERS_REGISTRIES_CONF=" + (buildah_dir() / "registries.conf").string(),
            "REGISTRY_AUTH_FILE=" + (buildah_dir() / "auth.json").string(), "TMPDIR=" + (buildah_dir() / "tmp").string(),
            "BUILDAH_LAYERS=false"};
  }
  static ts::CommandResult buildah(std::vector<std::string> args) {
    auto flags = storage_flags();
    args.insert(args.begin(), flags.begin(), flags.end());
    args.insert(args.begin(), "buildah");
    return ts::run(args, buildah_env());
  }
  // podman reads buildah's storage: `image mount` gives an image's root filesystem without running its
  // ONBUILD triggers (`buildah from` would run them).
  static ts::CommandResult podman(std::vector<std::string> args) {
    auto flags = storage_flags();
    args.insert(args.begin(), flags.begin(), flags.end());
    std::vector<std::string> head = {"podman", "--events-backend", "none", "--tmpdir",
                                     (buildah_dir() / "podman-tmp").string(), "--cgroup-manager", "cgroupfs"};
    args.insert(args.begin(), head.begin(), head.end());
    return ts::run(args, buildah_env());
  }

  // The case's directory copied into the test's own directory (owners and modes kept), with the files the
  // test makes rather than commits.
  fs::path context(const std::string& dir) {
    fs::path ctx = tmp_.path / ("ctx-" + cppcker::random_hex(4));
    auto r = ts::run({"cp", "-a", (kCases / dir).string(), ctx.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    if (dir == "add-tar") {
      // A gzip tar with owners, modes, a nested directory and a symlink: ADD must unpack it as it is.
      std::string tar = ts::make_tar({ts::dir("top"), ts::dir("top/sub", 0750, 1000, 2000),
                                      ts::file("top/sub/x", "x\n", 0644, 1000, 1000), ts::file("top/y", "y\n", 0600),
                                      ts::symlink("top/lnk", "sub/x"), ts::file("top/exec", "#!/bin/sh\n", 0755)});
      std::ofstream(ctx / "archive.tar.gz", std::ios::binary) << ts::compress(tar, cppcker::Compression::gzip);
    }
    return ctx;
  }

  std::vector<std::string> common_flags(const BuildCase& c) const {
    std::vector<std::string> common = {"--build-arg", "REGISTRY=" + registry_->host()};
    for (const auto& a : c.build_args) common.insert(common.end(), {"--build-arg", a});
    if (!c.target.empty()) common.insert(common.end(), {"--target", c.target});
    return common;
  }

  void build_buildah(const BuildCase& c, const fs::path& ctx) {
    // --format docker: the OCI config has no Healthcheck, OnBuild or Shell, Docker's format has them all.
    std::vector<std::string> b = {"bud", "--isolation", "chroot", "--tls-verify=false", "--format", "docker",
                                  "--layers=false", "-t", c.tag};
    auto common = common_flags(c);
    b.insert(b.end(), common.begin(), common.end());
    const std::string bfile = c.buildah_file.empty() ? c.file : c.buildah_file;
    if (bfile != "Dockerfile") b.insert(b.end(), {"-f", (ctx / bfile).string()});
    b.push_back(ctx.string());
    auto rb = buildah(b);
    ASSERT_EQ(rb.exit_code, 0) << "buildah bud failed for " << c.dir << ":\n" << rb.out << rb.err;
  }

  void build_cppcker(const BuildCase& c, const fs::path& ctx) {
    // No network for RUN: no case needs one, and buildah's chroot isolation shares the host's anyway.
    std::vector<std::string> k = {"build", "--cgroup-parent", parent_, "--network", "none", "-t", c.tag};
    auto common = common_flags(c);
    k.insert(k.end(), common.begin(), common.end());
    if (c.file != "Dockerfile") k.insert(k.end(), {"-f", (ctx / c.file).string()});
    k.push_back(ctx.string());
    auto rk = cpk_(k);
    ASSERT_EQ(rk.exit_code, 0) << "cppcker build failed for " << c.dir << ":\n" << rk.out << rk.err;
  }

  Tree buildah_tree(const std::string& tag) {
    auto m = podman({"image", "mount", tag});
    EXPECT_EQ(m.exit_code, 0) << m.err;
    std::string dir = m.out;
    while (!dir.empty() && dir.back() == '\n') dir.pop_back();
    Tree t = dir.empty() ? Tree{} : ts::describe_tree(dir);
    auto u = podman({"image", "unmount", tag});
    EXPECT_EQ(u.exit_code, 0) << u.err;
    return t;
  }

  // cppcker's image as a container would see it, through `create` + `export`, unpacked by GNU tar.
  Tree cppcker_tree(const std::string& tag) {
    auto c = cpk_({"create", "--cgroup-parent", parent_, tag, "true"});
    EXPECT_EQ(c.exit_code, 0) << c.err;
    std::string id = trim(c.out);
    fs::path out = tmp_.path / ("export-" + cppcker::random_hex(4));
    fs::create_directories(out / "tree");
    auto e = cpk_({"export", "-o", (out / "rootfs.tar").string(), id});
    EXPECT_EQ(e.exit_code, 0) << e.err;
    auto x = ts::run({"tar", "-x", "--numeric-owner", "-p", "-f", (out / "rootfs.tar").string(), "-C",
                      (out / "tree").string()});
    EXPECT_EQ(x.exit_code, 0) << x.err;
    auto r = cpk_({"rm", id});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ts::describe_tree(out / "tree");
  }

  nlohmann::json buildah_config(const std::string& tag) {
    auto r = buildah({"inspect", "--type", "image", tag});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_object() && j.contains("Docker") ? j["Docker"]["config"] : nlohmann::json();
  }
  nlohmann::json cppcker_config(const std::string& tag) {
    auto r = cpk_({"inspect", "--type", "image", tag});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_array() && !j.empty() ? j[0]["Config"] : nlohmann::json();
  }

  void compare(const std::string& tag) {
    Tree b = buildah_tree(tag), k = cppcker_tree(tag);
    ASSERT_FALSE(b.empty());
    ASSERT_FALSE(k.empty());
    normalise(b, k);
    EXPECT_TRUE(b == k) << "root filesystems of " << tag << " differ:\n" << tree_diff(b, k);
    auto bc = comparable_config(buildah_config(tag)), kc = comparable_config(cppcker_config(tag));
    for (auto it = bc.begin(); it != bc.end(); ++it)
      EXPECT_EQ(it.value(), kc[it.key()]) << "config " << it.key() << " of " << tag << " differs";
  }

  void check(const BuildCase& c) {
    fs::path ctx = context(c.dir);
    build_buildah(c, ctx);
    if (HasFatalFailure()) return;
    build_cppcker(c, ctx);
    if (HasFatalFailure()) return;
    compare(c.tag);
  }

  static inline std::string suite_error_;
  static inline std::unique_ptr<ts::TempDir> suite_dir_;
  static inline std::unique_ptr<ts::Registry> registry_;
};

TEST_F(BuildBuildahTest, MultiStageCopyFrom) { check({"multistage", "multistage"}); }
TEST_F(BuildBuildahTest, TargetStage) { check({.dir = "target", .tag = "target", .target = "middle"}); }
TEST_F(BuildBuildahTest, ArgScoping) {
  check({.dir = "arg-scoping", .tag = "arg-scoping", .build_args = {"OVERRIDDEN=cli", "FROMCLI=yes"}});
}
TEST_F(BuildBuildahTest, EnvSubstitution) { check({"env-subst", "env-subst"}); }
TEST_F(BuildBuildahTest, DockerignoreExceptions) { check({"dockerignore", "dockerignore"}); }
TEST_F(BuildBuildahTest, AddLocalTar) { check({"add-tar", "add-tar"}); }
TEST_F(BuildBuildahTest, Heredocs) {
  check({.dir = "heredoc", .tag = "heredoc", .buildah_file = "Dockerfile.buildah"});
}
TEST_F(BuildBuildahTest, UserWorkdirChown) { check({"user-workdir-chown", "user-workdir-chown"}); }
TEST_F(BuildBuildahTest, Onbuild) {
  // The base keeps its triggers (compared as OnBuild); the child runs them in its own context.
  check({"onbuild/base", "onbuild-base"});
  check({"onbuild/child", "onbuild-child"});
}
TEST_F(BuildBuildahTest, Shell) { check({"shell", "shell"}); }
TEST_F(BuildBuildahTest, MetadataInstructions) { check({"metadata", "metadata"}); }
TEST_F(BuildBuildahTest, HealthcheckNone) { check({"healthcheck-none", "healthcheck-none"}); }
TEST_F(BuildBuildahTest, EntrypointExecResetsCmd) { check({"cmd-exec", "cmd-exec"}); }
TEST_F(BuildBuildahTest, CmdEntrypointShellForms) { check({"cmd-shell", "cmd-shell"}); }
TEST_F(BuildBuildahTest, EntrypointWithCmdArguments) { check({"cmd-both", "cmd-both"}); }
TEST_F(BuildBuildahTest, WorkdirCreation) { check({"workdir", "workdir"}); }
TEST_F(BuildBuildahTest, WhiteoutsOfLowerFiles) { check({"whiteouts", "whiteouts"}); }
TEST_F(BuildBuildahTest, CopyDirectoriesAndWildcards) { check({"copy-files", "copy-files"}); }
TEST_F(BuildBuildahTest, Symlinks) { check({"symlinks", "symlinks"}); }
TEST_F(BuildBuildahTest, Chmod) { check({"chmod", "chmod"}); }
TEST_F(BuildBuildahTest, DockerfileNameAndEscapeDirective) {
  check({.dir = "custom-file", .tag = "custom-file", .file = "build.Dockerfile"});
}

// The comparison itself must be able to fail: two different images of one builder differ, and a file
// that only one side has is reported. (Without this, a broken tree reader returning the same empty or
// constant map for both sides would pass every case above.)
TEST_F(BuildBuildahTest, ComparisonDetectsDifferences) {
  build_buildah({"whiteouts", "cmp-whiteouts"}, context("whiteouts"));
  build_buildah({"workdir", "cmp-workdir"}, context("workdir"));
  ASSERT_FALSE(HasFatalFailure());
  Tree a = buildah_tree("cmp-whiteouts"), b = buildah_tree("cmp-workdir");
  normalise(a, b);
  EXPECT_FALSE(a == b);
  auto diff = tree_diff(a, b);
  EXPECT_NE(diff.find("only buildah: /d/keep"), std::string::npos) << diff;
  EXPECT_NE(diff.find("only cppcker: /a/b/d/here"), std::string::npos) << diff;
  EXPECT_NE(comparable_config(buildah_config("cmp-whiteouts")), comparable_config(buildah_config("cmp-workdir")));
}
