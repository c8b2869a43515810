// cp and export on the real kernel, checked with GNU tar: running and stopped containers, owners, -L,
// and containers that plant symlinks to "/" and to /etc/shadow (or race one) to make cp reach the host.
#include <sys/stat.h>

#include <fstream>

#include "cppcker/security/userns.hpp"
#include "runtime_fixture.hpp"

namespace {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string command_line(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + shell_quote(a);
  return out;
}

}  // namespace

class CpTest : public RuntimeTest {
 protected:
  // A detached container that runs `script` and then sleeps; returns once the script has run.
  std::string start(const std::string& script, std::vector<std::string> flags = {}) {
    std::vector<std::string> args = {"-d", "--network", "none"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"img", "sh", "-c", script + " && touch /ready && exec sleep 60"});
    auto r = run(args);
    std::string id = trim(r.out);
    EXPECT_EQ(id.size(), 64u) << r.err;
    EXPECT_TRUE(eventually([&] { return cpk_({"exec", id, "test", "-e", "/ready"}).exit_code == 0; }))
        << cpk_({"logs", id}).out << cpk_({"logs", id}).err;
    return id;
  }

  // `cppcker args...` with stdin from `in` (a file) or stdout to `out`, through sh.
  ts::CommandResult cpk_io(const std::vector<std::string>& args, const std::string& in, const std::string& out) {
    std::string cmd = command_line(cpk_.argv(args));
    if (!in.empty()) cmd += " < " + shell_quote(in);
    if (!out.empty()) cmd += " > " + shell_quote(out);
    return ts::run({"sh", "-c", cmd});
  }

  // GNU tar's verbose listing of the archive `cp CONTAINER:PATH -` writes.
  std::string listing_of(const std::string& source, std::vector<std::string> flags = {}) {
    fs::path file = tmp_.path / ("out-" + cppcker::random_hex(4) + ".tar");
    std::vector<std::string> args = {"cp"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {source, "-"});
    auto r = cpk_io(args, "", file.string());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto t = ts::run({"tar", "--numeric-owner", "-tvf", file.string()});
    EXPECT_EQ(t.exit_code, 0) << t.err;
    return t.out;
  }

  std::string tar_file_content(const std::string& source, const std::string& member, std::vector<std::string> flags = {}) {
    fs::path file = tmp_.path / ("out-" + cppcker::random_hex(4) + ".tar");
    std::vector<std::string> args = {"cp"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {source, "-"});
    auto r = cpk_io(args, "", file.string());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ts::run({"tar", "-xOf", file.string(), member}).out;
  }

  std::string in_container(const std::string& id, const std::string& script) {
    auto r = cpk_({"exec", id, "sh", "-c", script});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return trim(r.out);
  }

  bool line_with(const std::string& listing, const std::string& a, const std::string& b = "") {
    std::istringstream in(listing);
    for (std::string line; std::getline(in, line);)
      if (line.find(a) != std::string::npos && line.find(b) != std::string::npos) return true;
    return false;
  }
};

TEST_F(CpTest, OutOfRunningAndStoppedContainersAsGnuTarReadsIt) {
  std::string id = start(
      "mkdir -p /data/sub && echo hello > /data/sub/f && chown 1000:2000 /data/sub/f && chmod 640 /data/sub/f && "
      "ln -s f /data/sub/l && ln /data/sub/f /data/hard && mknod /data/null c 1 3");
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "running" : "stopped");
    std::string list = listing_of(id + ":/data");
    EXPECT_TRUE(line_with(list, "-rw-r----- 1000/2000", "data/hard")) << list;
    EXPECT_TRUE(line_with(list, "data/sub/l -> f")) << list;
    EXPECT_TRUE(line_with(list, "data/hard link to data/sub/f") || line_with(list, "data/sub/f link to data/hard")) << list;
    EXPECT_TRUE(line_with(list, "crw-", "data/null")) << list;
    EXPECT_EQ(tar_file_content(id + ":/data/sub/f", "f"), "hello\n");
    // "dir/." is its contents; a file with a trailing "/" is no directory.
    std::string contents = listing_of(id + ":/data/.");
    EXPECT_TRUE(line_with(contents, "./sub/f")) << contents;
    // To the host: a new name for a directory, into an existing directory, a file onto a file.
    fs::path out = tmp_.path / ("host-" + std::to_string(round));
    fs::create_directories(out);
    auto r = cpk_({"cp", id + ":/data", (out / "copy").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(cppcker::read_file(out / "copy/sub/f"), "hello\n");
    EXPECT_EQ(fs::read_symlink(out / "copy/sub/l"), "f");
    struct stat st{};
    ASSERT_EQ(::stat((out / "copy/sub/f").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, ::getuid()) << "copied out, the files are the caller's";
    EXPECT_EQ(st.st_mode & 0777, 0640u);
    ASSERT_EQ(cpk_({"cp", id + ":/data", out.string()}).exit_code, 0);
    EXPECT_TRUE(fs::exists(out / "data/sub/f"));
    std::ofstream(out / "existing") << "old";
    ASSERT_EQ(cpk_({"cp", id + ":/data/sub/f", (out / "existing").string()}).exit_code, 0);
    EXPECT_EQ(cppcker::read_file(out / "existing"), "hello\n");
    auto bad = cpk_({"cp", id + ":/data/sub/f", (out / "missing/").string()});
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_EQ(bad.err, "Error: no such directory\n");
    auto dir_on_file = cpk_({"cp", id + ":/data", (out / "existing").string()});
    EXPECT_EQ(dir_on_file.exit_code, 1);
    EXPECT_EQ(dir_on_file.err, "Error: cannot copy directory\n");
    if (round == 0) { ASSERT_EQ(cpk_({"stop", "-t", "1", id}).exit_code, 0); }
  }
  EXPECT_EQ(inspect(id)["State"]["Status"], "exited");
}

TEST_F(CpTest, IntoRunningAndStoppedContainersWithAndWithoutArchive) {
  std::string id = start("mkdir -p /dst && echo old > /dst/file");
  fs::path src = tmp_.path / "src";
  fs::create_directories(src / "tree/inner");
  std::ofstream(src / "tree/inner/a") << "aaa";
  ASSERT_EQ(::chown((src / "tree/inner/a").c_str(), 1234, 4321), 0);
  std::ofstream(src / "one") << "one";

  ASSERT_EQ(cpk_({"cp", (src / "tree").string(), id + ":/dst"}).exit_code, 0);
  EXPECT_EQ(in_container(id, "cat /dst/tree/inner/a; stat -c %u:%g /dst/tree/inner/a"), "aaa0:0")
      << "without -a the files are the container root's";
  ASSERT_EQ(cpk_({"cp", "-a", (src / "tree").string(), id + ":/dst/kept"}).exit_code, 0);
  EXPECT_EQ(in_container(id, "stat -c %u:%g /dst/kept/inner/a"), "1234:4321");
  ASSERT_EQ(cpk_({"cp", (src / "tree/.").string(), id + ":/dst/contents"}).exit_code, 0);
  EXPECT_EQ(in_container(id, "cat /dst/contents/inner/a"), "aaa");
  ASSERT_EQ(cpk_({"cp", (src / "one").string(), id + ":/dst/file"}).exit_code, 0);
  EXPECT_EQ(in_container(id, "cat /dst/file"), "one");
  // A tar stream on stdin, into a directory.
  fs::path tar = tmp_.path / "in.tar";
  ASSERT_EQ(ts::run({"tar", "-C", src.string(), "-cf", tar.string(), "one", "tree"}).exit_code, 0);
  auto r = cpk_io({"cp", "-", id + ":/dst/fromtar/"}, tar.string(), "");
  EXPECT_EQ(r.exit_code, 1) << "a stream needs an existing directory";
  EXPECT_EQ(r.err, "Error: destination \"" + id + ":/dst/fromtar/\" must be a directory\n");
  ASSERT_EQ(cpk_io({"cp", "-", id + ":/dst"}, tar.string(), "").exit_code, 0);
  EXPECT_EQ(in_container(id, "cat /dst/one"), "one");

  ASSERT_EQ(cpk_({"stop", "-t", "1", id}).exit_code, 0);
  ASSERT_EQ(cpk_({"cp", (src / "one").string(), id + ":/stopped-copy"}).exit_code, 0);
  ASSERT_EQ(cpk_({"cp", "-a", (src / "tree").string(), id + ":/stopped-tree"}).exit_code, 0);
  std::string list = listing_of(id + ":/stopped-tree");
  EXPECT_TRUE(line_with(list, "1234/4321", "stopped-tree/inner/a")) << list;
  ASSERT_EQ(cpk_({"start", id}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return cpk_({"exec", id, "cat", "/stopped-copy"}).out == "one"; }));
  // A directory onto a file, and a missing parent in the container.
  auto dir_on_file = cpk_({"cp", (src / "tree").string(), id + ":/dst/file"});
  EXPECT_EQ(dir_on_file.exit_code, 1);
  EXPECT_EQ(dir_on_file.err, "Error: cannot copy directory\n");
  auto missing = cpk_({"cp", (src / "one").string(), id + ":/no/such/dir/x"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "Error: No such container:path: " + id + ":/no/such/dir\n");
}

TEST_F(CpTest, FollowLinkCopiesTheTargetAsTheContainerResolvesIt) {
  std::string id = start("mkdir -p /d && echo target > /d/real && ln -s /d/real /d/abs && ln -s real /d/rel");
  std::string plain = listing_of(id + ":/d/abs");
  EXPECT_TRUE(line_with(plain, "abs -> /d/real")) << plain;
  std::string followed = listing_of(id + ":/d/abs", {"-L"});
  EXPECT_TRUE(line_with(followed, "-rw-", " abs")) << "the entry takes the link's name: " << followed;
  EXPECT_EQ(tar_file_content(id + ":/d/rel", "rel", {"-L"}), "target\n");
  fs::path out = tmp_.path / "followed";
  ASSERT_EQ(cpk_({"cp", "-L", id + ":/d/abs", out.string()}).exit_code, 0);
  EXPECT_EQ(cppcker::read_file(out), "target\n");
}

TEST_F(CpTest, PlantedSymlinksNeverReachTheHost) {
  const std::string marker = "cpk-cp-marker-" + cppcker::random_hex(6);
  std::string id = start(
      "echo container-shadow > /etc/shadow && ln -s / /escape && ln -s /etc/shadow /shadowlink && "
      "mkdir -p /a/b && ln -s ../../.. /a/b/up && ln -s /a/b/up/etc /etcup");
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "running" : "stopped");
    const std::string name = marker + "-" + std::to_string(round);
    fs::path host_file = tmp_.path / name;
    std::ofstream(host_file) << "marker";
    // Written through the links: each lands in the container's /tmp, never the host's.
    ASSERT_EQ(cpk_({"cp", host_file.string(), id + ":/escape/tmp/" + name + "-a"}).exit_code, 0);
    ASSERT_EQ(cpk_({"cp", host_file.string(), id + ":/a/b/up/tmp/" + name + "-b"}).exit_code, 0);
    ASSERT_EQ(cpk_({"cp", host_file.string(), id + ":/escape/../../tmp/"}).exit_code, 0);
    for (const char* suffix : {"-a", "-b", ""}) {
      EXPECT_FALSE(fs::exists("/tmp/" + name + suffix)) << "written on the host: /tmp/" << name << suffix;
      EXPECT_TRUE(line_with(listing_of(id + ":/tmp/" + name + suffix), name + suffix)) << name << suffix;
    }
    // Read through them: the container's /etc/shadow, never the host's.
    EXPECT_EQ(tar_file_content(id + ":/shadowlink", "shadowlink", {"-L"}), "container-shadow\n");
    EXPECT_EQ(tar_file_content(id + ":/escape/etc/shadow", "shadow"), "container-shadow\n");
    EXPECT_EQ(tar_file_content(id + ":/etcup/shadow", "shadow"), "container-shadow\n");
    EXPECT_EQ(tar_file_content(id + ":/a/b/up/etc/shadow", "shadow"), "container-shadow\n");
    // A link copied out stays a link: the host file it names is not read.
    fs::path out = tmp_.path / ("link-out-" + std::to_string(round));
    ASSERT_EQ(cpk_({"cp", id + ":/shadowlink", out.string()}).exit_code, 0);
    EXPECT_TRUE(fs::is_symlink(out));
    if (round == 0) { ASSERT_EQ(cpk_({"stop", "-t", "1", id}).exit_code, 0); }
  }
}

TEST_F(CpTest, SymlinkSwapRaceNeverWritesTheHost) {
  const std::string marker = "cpk-race-" + cppcker::random_hex(6);
  // /race flips between a directory (with a tmp/ inside) and a link to "/" as fast as the container can.
  std::string id = start("mkdir -p /race/tmp && { (while :; do rm -rf /race; ln -s / /race; rm -f /race; "
                         "mkdir -p /race/tmp; done) & }");
  fs::path host_file = tmp_.path / marker;
  std::ofstream(host_file) << "race";
  int copied = 0;
  for (int i = 0; i < 200; ++i) {
    auto r = cpk_({"cp", host_file.string(), id + ":/race/tmp/" + marker + "-" + std::to_string(i)});
    copied += r.exit_code == 0;
  }
  EXPECT_GT(copied, 0);
  for (const auto& entry : fs::directory_iterator("/tmp"))
    EXPECT_EQ(entry.path().filename().string().rfind(marker, 0), std::string::npos) << "host written: " << entry.path();
  EXPECT_FALSE(fs::exists("/race"));
  // Those written through the link are in the container's own /tmp (those in /race/tmp the loop removes).
  std::string in_tmp = in_container(id, "ls /tmp");
  EXPECT_EQ(in_tmp.find(marker) == std::string::npos, false) << "no copy went through the link: " << in_tmp;
}

TEST_F(CpTest, ExportWritesTheFlattenedRootfsWithoutVolumes) {
  std::string id = start("echo new > /newfile && rm /etc/group && mkdir -p /vol && echo v > /vol/inside && "
                         "mkdir /opaque && touch /opaque/x",
                         {"-v", "/vol"});
  fs::path out = tmp_.path / "export.tar";
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "running" : "stopped");
    auto r = cpk_({"export", "-o", out.string(), id});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto t = ts::run({"tar", "--numeric-owner", "-tvf", out.string()});
    ASSERT_EQ(t.exit_code, 0) << t.err;
    EXPECT_TRUE(line_with(t.out, " newfile")) << t.out;
    EXPECT_TRUE(line_with(t.out, "-rwxr-xr-x 0/0", " bin/busybox")) << t.out;
    EXPECT_TRUE(line_with(t.out, "bin/sh -> busybox")) << t.out;
    EXPECT_TRUE(line_with(t.out, "drwxr-xr-x 1000/1000", " home/app/")) << t.out;
    EXPECT_TRUE(line_with(t.out, " vol/")) << "the mount point stays: " << t.out;
    EXPECT_FALSE(line_with(t.out, "vol/inside")) << "a volume's contents are not exported";
    EXPECT_FALSE(line_with(t.out, "etc/group")) << "a removed file is not there";
    EXPECT_FALSE(line_with(t.out, ".wh.")) << "no whiteouts";
    EXPECT_FALSE(line_with(t.out, " proc/self")) << "no /proc of the running container";
    // GNU tar extracts it (as `docker import` would take it).
    fs::path x = tmp_.path / ("extract-" + std::to_string(round));
    fs::create_directories(x);
    ASSERT_EQ(ts::run({"tar", "-C", x.string(), "-xf", out.string()}).exit_code, 0);
    EXPECT_EQ(cppcker::read_file(x / "newfile"), "new\n");
    if (round == 0) { ASSERT_EQ(cpk_({"stop", "-t", "1", id}).exit_code, 0); }
  }
  // To stdout as well.
  fs::path piped = tmp_.path / "piped.tar";
  ASSERT_EQ(cpk_io({"export", id}, "", piped.string()).exit_code, 0);
  EXPECT_EQ(ts::run({"tar", "-tf", piped.string()}).out, ts::run({"tar", "-tf", out.string()}).out);
}

TEST_F(CpTest, ExportRefusesATerminalAndLeavesNoPartialFile) {
  std::string id = start("true");
  ts::PtySession session(cpk_.argv({"export", id}), 24, 80);
  EXPECT_TRUE(session.expect("cowardly refusing to save to a terminal. Use the -o flag or redirect"));
  EXPECT_EQ(session.wait(), 1);
  fs::path out = tmp_.path / "never.tar";
  auto r = cpk_({"export", "-o", out.string(), "nosuchcontainer"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: No such container: nosuchcontainer\n");
  EXPECT_FALSE(fs::exists(out));
  for (const auto& entry : fs::directory_iterator(tmp_.path))
    EXPECT_EQ(entry.path().filename().string().find("never.tar"), std::string::npos) << entry.path();
}

TEST_F(CpTest, ErrorsAndExitCodesFollowDocker) {
  std::string id = start("true");
  auto none = cpk_({"cp", "a", "b"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_EQ(none.err, "Error: must specify at least one container source\n");
  auto both = cpk_({"cp", id + ":/a", id + ":/b"});
  EXPECT_EQ(both.exit_code, 1);
  EXPECT_EQ(both.err, "Error: copying between containers is not supported\n");
  auto nosuch = cpk_({"cp", "nosuchcontainer:/etc", "-"});
  EXPECT_EQ(nosuch.exit_code, 1);
  EXPECT_EQ(nosuch.err, "Error: No such container: nosuchcontainer\n");
  auto nopath = cpk_({"cp", id + ":/no/such", "-"});
  EXPECT_EQ(nopath.exit_code, 1);
  EXPECT_EQ(nopath.err, "Error: No such container:path: " + id + ":/no/such\n");
  auto nohost = cpk_({"cp", (tmp_.path / "missing").string(), id + ":/tmp"});
  EXPECT_EQ(nohost.exit_code, 1);
  EXPECT_EQ(nohost.err, "Error: lstat " + (tmp_.path / "missing").string() + ": No such file or directory\n");
  auto args = cpk_({"cp", "x"});
  EXPECT_EQ(args.exit_code, 1);
  EXPECT_EQ(args.err.rfind("\"cppcker cp\" requires exactly 2 arguments.", 0), 0u) << args.err;
  auto stream_to_file = cpk_io({"cp", "-", id + ":/etc/passwd"}, "/dev/null", "");
  EXPECT_EQ(stream_to_file.exit_code, 1);
  EXPECT_EQ(stream_to_file.err, "Error: destination \"" + id + ":/etc/passwd\" must be a directory\n");
}

// A user-namespaced container: the tar carries the container's ids, files copied in are mapped to its range.
class CpUsernsTest : public CpTest {
 protected:
  void SetUp() override {
    for (const char* f : {"/etc/subuid", "/etc/subgid"}) saved_[f] = cppcker::read_file_if_exists(f);
    CpTest::SetUp();
    if (!cppcker::kernel_supports_idmapped_overlay()) GTEST_SKIP() << "this kernel cannot put overlayfs on idmapped layers";
  }
  void TearDown() override {
    CpTest::TearDown();
    for (const auto& [file, content] : saved_) {
      if (content) cppcker::write_file_atomic(file, *content, 0644);
      else ::unlink(file.c_str());
    }
  }
  std::map<std::string, std::optional<std::string>> saved_;
};

TEST_F(CpUsernsTest, OwnersAreTheContainersIds) {
  std::string id = start("mkdir -p /home/app/d && chown 1000:1000 /home/app/d", {"--userns=auto"});
  fs::path src = tmp_.path / "f";
  std::ofstream(src) << "f";
  ASSERT_EQ(::chown(src.c_str(), 7, 8), 0);
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "running" : "stopped");
    std::string list = listing_of(id + ":/home");
    EXPECT_TRUE(line_with(list, "1000/1000", "home/app/d")) << list;
    EXPECT_TRUE(line_with(listing_of(id + ":/bin/busybox"), "0/0", "busybox"));
    ASSERT_EQ(cpk_({"cp", src.string(), id + ":/plain" + std::to_string(round)}).exit_code, 0);
    ASSERT_EQ(cpk_({"cp", "-a", src.string(), id + ":/kept" + std::to_string(round)}).exit_code, 0);
    EXPECT_TRUE(line_with(listing_of(id + ":/plain" + std::to_string(round)), "0/0"));
    EXPECT_TRUE(line_with(listing_of(id + ":/kept" + std::to_string(round)), "7/8"));
    fs::path out = tmp_.path / ("export-" + std::to_string(round) + ".tar");
    ASSERT_EQ(cpk_({"export", "-o", out.string(), id}).exit_code, 0);
    auto t = ts::run({"tar", "--numeric-owner", "-tvf", out.string()});
    EXPECT_TRUE(line_with(t.out, "0/0", " bin/busybox")) << t.out;
    EXPECT_TRUE(line_with(t.out, "1000/1000", " home/app/d")) << t.out;
    if (round == 0) { ASSERT_EQ(cpk_({"stop", "-t", "1", id}).exit_code, 0); }
  }
}

TEST_F(CpTest, CopiesIntoAVolumeLandInTheVolume) {
  const std::string volume = "cpvol" + cppcker::random_hex(3);
  std::string id = start("true", {"-v", volume + ":/vol"});
  fs::path src = tmp_.path / "f";
  std::ofstream(src) << "in volume";
  fs::path data = cpk_.root / "volumes" / volume / "_data";
  ASSERT_EQ(cpk_({"cp", src.string(), id + ":/vol/running"}).exit_code, 0);
  EXPECT_EQ(cppcker::read_file(data / "running"), "in volume");
  ASSERT_EQ(cpk_({"stop", "-t", "1", id}).exit_code, 0);
  ASSERT_EQ(cpk_({"cp", src.string(), id + ":/vol/stopped"}).exit_code, 0);
  EXPECT_EQ(cppcker::read_file(data / "stopped"), "in volume");
  EXPECT_FALSE(fs::exists(cpk_.root / "containers" / id / "upper/vol/stopped")) << "written under the volume's mount point";
  EXPECT_EQ(tar_file_content(id + ":/vol/running", "running"), "in volume");
  ASSERT_EQ(cpk_({"rm", id}).exit_code, 0);
  cpk_({"volume", "rm", volume});
}

TEST_F(CpTest, ReadOnlyRootfsTakesFilesOnlyIntoItsVolumes) {
  // Not start(): its /ready marker cannot be made on a read-only root.
  std::string id = trim(run({"-d", "--network", "none", "--read-only", "-v", "/data", "img", "sleep", "60"}).out);
  ASSERT_EQ(id.size(), 64u);
  ASSERT_TRUE(eventually([&] { return cpk_({"exec", id, "true"}).exit_code == 0; }));
  fs::path src = tmp_.path / "f";
  std::ofstream(src) << "f";
  auto refused = cpk_({"cp", src.string(), id + ":/f"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(refused.err, "Error: container rootfs is marked read-only\n");
  ASSERT_EQ(cpk_({"stop", "-t", "1", id}).exit_code, 0);
  EXPECT_EQ(cpk_({"cp", src.string(), id + ":/f"}).exit_code, 1) << "stopped, it is read-only as well";
  EXPECT_EQ(cpk_({"cp", src.string(), id + ":/data/f"}).exit_code, 0);
  EXPECT_EQ(tar_file_content(id + ":/data/f", "f"), "f");
}
