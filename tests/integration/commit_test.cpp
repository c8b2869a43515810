// commit, diff, history and import on the real kernel: a container's changes become an image that runs,
// that skopeo and umoci read with OCI whiteouts, and that GNU tar lists; import reads what GNU tar writes.
#include <sys/stat.h>
#include <sys/xattr.h>

#include "runtime_fixture.hpp"

namespace {

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// Files below `dir` whose name carries the store's temporary marker.
std::vector<std::string> temporaries(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); ++it) {
    std::string name = it->path().filename();
    if (name.find(".tmp-") != std::string::npos) out.push_back(it->path());
    if (it->is_directory() && !it->is_symlink() && name.find(".tmp-") != std::string::npos) it.disable_recursion_pending();
  }
  return out;
}

}  // namespace

class CommitTest : public RuntimeTest {
 protected:
  std::string image_count() const { return std::to_string(lines_of(cpk_({"images", "-q", "--no-trunc"}).out).size()); }
  // The newest layer blob of an image, as GNU tar lists it (gzip).
  std::string top_layer_listing(const std::string& image) {
    auto j = inspect(image);
    std::string id = j.value("Id", "");
    auto record = nlohmann::json::parse(cppcker::read_file(cpk_.root / "images" / (id.substr(7) + ".json")));
    std::string digest = record["layers"].back()["digest"];
    auto r = ts::run({"tar", "-tvzf", (cpk_.root / "blobs/sha256" / digest.substr(7)).string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }
};

TEST_F(CommitTest, RoundTripKeepsExactlyTheChanges) {
  auto r = run({"--name", "changer", "-v", "vol:/data", "img",
                "sh", "-c",
                "echo new > /added && echo changed >> /etc/passwd && rm /etc/group && mkdir -p /newdir/sub && "
                "echo x > /newdir/sub/f && rm -r /home/app && echo v > /data/vfile && ln /added /hardlink && "
                "ln -s /added /symlink && mkfifo /fifo && cp /bin/busybox /suid && chmod 4755 /suid"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto diff = cpk_({"diff", "changer"});
  ASSERT_EQ(diff.exit_code, 0) << diff.err;
  for (const char* l : {"A /added", "C /etc", "C /etc/passwd", "D /etc/group", "A /newdir", "A /newdir/sub",
                        "A /newdir/sub/f", "C /home", "D /home/app", "A /hardlink", "A /symlink", "A /fifo", "A /suid"})
    EXPECT_TRUE(has_line(diff.out, l)) << l << " missing from:\n" << diff.out;
  EXPECT_EQ(diff.out.find("/etc/hosts"), std::string::npos) << diff.out;
  EXPECT_EQ(diff.out.find("/data/vfile"), std::string::npos) << diff.out;
  auto sorted = lines_of(diff.out);
  EXPECT_TRUE(std::is_sorted(sorted.begin(), sorted.end(), [](const std::string& a, const std::string& b) {
    return a.substr(2) < b.substr(2);
  })) << diff.out;

  // An xattr on a changed file (busybox has no setfattr: set from the host, on the upper dir).
  std::string id = inspect("changer").value("Id", "");
  fs::path added_upper = cpk_.root / "containers" / id / "upper/added";
  ASSERT_EQ(::setxattr(added_upper.c_str(), "user.origin", "commit-test", 11, 0), 0) << added_upper;

  auto c = cpk_({"commit", "-a", "Tester <t@example.com>", "-m", "first commit", "changer", "committed:v1"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_TRUE(std::regex_match(c.out, std::regex("sha256:[0-9a-f]{64}\n"))) << c.out;
  EXPECT_EQ(inspect("committed:v1").value("Id", ""), trim(c.out));

  auto check = run({"--rm", "committed:v1", "sh", "-c",
                    "cat /added; tail -n1 /etc/passwd; test -e /etc/group || echo nogroup; "
                    "test -e /home/app || echo noapp; test -d /home && echo home; test -d /data && echo datadir; "
                    "ls -A /data | wc -l; stat -c %a /suid; stat -c %h /added; readlink /symlink; "
                    "test -p /fifo && echo fifo; cat /newdir/sub/f"});
  ASSERT_EQ(check.exit_code, 0) << check.err;
  EXPECT_EQ(check.out, "new\nchanged\nnogroup\nnoapp\nhome\ndatadir\n0\n4755\n2\n/added\nfifo\nx\n");

  // The layer as a registry would get it: OCI whiteouts, no init files, no volume content.
  std::string listing = top_layer_listing("committed:v1");
  EXPECT_NE(listing.find("etc/.wh.group"), std::string::npos) << listing;
  EXPECT_NE(listing.find("home/.wh.app"), std::string::npos) << listing;
  EXPECT_EQ(listing.find("etc/hosts"), std::string::npos) << listing;
  EXPECT_EQ(listing.find("etc/resolv.conf"), std::string::npos) << listing;
  EXPECT_EQ(listing.find("vfile"), std::string::npos) << listing;
  EXPECT_NE(listing.find("data/"), std::string::npos) << listing;
  EXPECT_NE(listing.find("hardlink link to added"), std::string::npos) << listing;

  // history: the new entry on top, the base's below it.
  auto h = cpk_({"history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Comment}}", "committed:v1"});
  ASSERT_EQ(h.exit_code, 0) << h.err;
  auto rows = lines_of(h.out);
  ASSERT_EQ(rows.size(), 2u) << h.out;
  EXPECT_EQ(rows[0].substr(0, 71), trim(c.out)) << h.out;
  EXPECT_NE(rows[0].find("|sh -c echo new > /added"), std::string::npos) << h.out;
  EXPECT_NE(rows[0].find("|first commit"), std::string::npos) << h.out;
  EXPECT_EQ(rows[1].rfind("<missing>|", 0), 0u) << h.out;
  auto table = cpk_({"history", "committed:v1"});
  EXPECT_EQ(lines_of(table.out).at(0).substr(0, 16), "IMAGE          C") << table.out;
  EXPECT_NE(table.out.find("…"), std::string::npos) << table.out;
  auto quiet = cpk_({"history", "-q", "committed:v1"});
  EXPECT_EQ(quiet.out, trim(c.out).substr(7, 12) + "\n<missing>\n");
  auto j = inspect("committed:v1");
  EXPECT_EQ(j.value("Author", ""), "Tester <t@example.com>");
  EXPECT_EQ(j["RootFS"]["Layers"].size(), 2u);

  // skopeo and umoci read the saved image; umoci applies the whiteouts as OCI says.
  fs::path archive = tmp_.path / "committed.tar";
  ASSERT_EQ(cpk_({"save", "-o", archive.string(), "committed:v1"}).exit_code, 0);
  auto si = ts::run({"skopeo", "inspect", "oci-archive:" + archive.string()});
  ASSERT_EQ(si.exit_code, 0) << si.err;
  auto sj = nlohmann::json::parse(si.out);
  EXPECT_EQ(sj["Layers"].size(), 2u) << si.out;
  fs::path layout = tmp_.path / "layout";
  auto cp = ts::run({"skopeo", "copy", "oci-archive:" + archive.string(), "oci:" + layout.string() + ":v1"});
  ASSERT_EQ(cp.exit_code, 0) << cp.err;
  fs::path bundle = tmp_.path / "bundle";
  auto un = ts::run({"umoci", "unpack", "--image", layout.string() + ":v1", bundle.string()});
  ASSERT_EQ(un.exit_code, 0) << un.err;
  EXPECT_EQ(cppcker::read_file(bundle / "rootfs/added"), "new\n");
  EXPECT_FALSE(fs::exists(bundle / "rootfs/etc/group"));
  EXPECT_FALSE(fs::exists(bundle / "rootfs/home/app"));
  EXPECT_TRUE(fs::exists(bundle / "rootfs/etc/passwd"));
  EXPECT_TRUE(fs::is_directory(bundle / "rootfs/data"));
  EXPECT_FALSE(fs::exists(bundle / "rootfs/data/vfile"));
  char value[64] = {0};
  EXPECT_EQ(::getxattr((bundle / "rootfs/added").c_str(), "user.origin", value, sizeof value - 1), 11);
  EXPECT_STREQ(value, "commit-test");
  struct stat st{};
  ASSERT_EQ(::stat((bundle / "rootfs/suid").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
}

TEST_F(CommitTest, ChangesAreAppliedToTheConfig) {
  ASSERT_EQ(run({"--name", "cfg", "-e", "KEEP=1", "img", "sh", "-c", "echo hi > /greeting"}).exit_code, 0);
  auto c = cpk_({"commit", "-c", "ENV FOO=bar", "-c", "CMD [\"cat\", \"/greeting\"]", "-c", "LABEL stage=test",
                 "-c", "EXPOSE 8080", "-c", "WORKDIR /srv", "-c", "USER app", "cfg", "withcfg"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  auto cfg = inspect("withcfg:latest")["Config"];
  auto env = cfg["Env"].dump();
  EXPECT_NE(env.find("FOO=bar"), std::string::npos) << env;
  EXPECT_NE(env.find("KEEP=1"), std::string::npos) << env;
  EXPECT_EQ(env.find("HOSTNAME="), std::string::npos) << env;
  EXPECT_EQ(cfg["Cmd"], nlohmann::json({"cat", "/greeting"}));
  EXPECT_EQ(cfg["Labels"]["stage"], "test");
  EXPECT_TRUE(cfg["ExposedPorts"].contains("8080/tcp")) << cfg.dump();
  EXPECT_EQ(cfg["WorkingDir"], "/srv");
  EXPECT_EQ(cfg["User"], "app");
  auto r = run({"--rm", "withcfg"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hi\n");
}

TEST_F(CommitTest, RunningContainerIsFrozenOnlyWhileRead) {
  auto r = run({"-d", "--name", "live", "img", "sh", "-c", "echo up > /up; exec sleep 1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string id = trim(r.out);
  ASSERT_TRUE(eventually([&] { return cpk_({"diff", "live"}).out.find("A /up") != std::string::npos; }));
  auto c = cpk_({"commit", "live", "live:paused"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  auto c2 = cpk_({"commit", "--pause=false", "live", "live:unpaused"});
  ASSERT_EQ(c2.exit_code, 0) << c2.err;
  EXPECT_EQ(inspect("live")["State"].value("Status", ""), "running");
  fs::path freezer = container_cgroup("freezer", id);
  if (fs::exists(freezer / "freezer.state")) { EXPECT_EQ(trim(cppcker::read_file(freezer / "freezer.state")), "THAWED"); }
  fs::path unified = container_cgroup("", id);
  if (fs::exists(unified / "cgroup.freeze")) { EXPECT_EQ(trim(cppcker::read_file(unified / "cgroup.freeze")), "0"); }
  auto e = cpk_({"exec", "live", "cat", "/up"});
  EXPECT_EQ(e.out, "up\n") << e.err;
  auto check = run({"--rm", "live:paused", "cat", "/up"});
  EXPECT_EQ(check.out, "up\n") << check.err;
}

TEST_F(CommitTest, EmptyDiffMakesAnImageWithoutALayer) {
  ASSERT_EQ(run({"--name", "idle", "img", "true"}).exit_code, 0);
  auto d = cpk_({"diff", "idle"});
  EXPECT_EQ(d.exit_code, 0) << d.err;
  EXPECT_EQ(d.out, "") << d.out;
  auto c = cpk_({"commit", "idle", "same"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  auto j = inspect("same");
  EXPECT_EQ(j["RootFS"]["Layers"], inspect("img")["RootFS"]["Layers"]);
  EXPECT_NE(j.value("Id", ""), inspect("img").value("Id", ""));
  auto h = cpk_({"history", "--format", "{{.Size}}|{{.CreatedBy}}", "same"});
  EXPECT_EQ(lines_of(h.out).at(0), "0B|true") << h.out;
  ASSERT_EQ(run({"--rm", "same", "true"}).exit_code, 0);
}

TEST_F(CommitTest, ErrorsLeaveNothingNamed) {
  std::string before = image_count();
  auto r = cpk_({"commit", "nosuch", "x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error response from daemon: No such container: nosuch\n");
  ASSERT_EQ(run({"--name", "e1", "img", "sh", "-c", "echo x > /x"}).exit_code, 0);
  auto bad = cpk_({"commit", "-c", "RUN echo hi", "e1", "bad"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.err, "Error response from daemon: run is not a valid change command\n");
  auto name = cpk_({"commit", "e1", "Bad/Name"});
  EXPECT_EQ(name.exit_code, 1);
  EXPECT_NE(name.err.find("invalid reference format"), std::string::npos) << name.err;
  EXPECT_EQ(lines_of(name.err).size(), 1u) << name.err;
  EXPECT_EQ(image_count(), before);
  EXPECT_TRUE(temporaries(cpk_.root).empty());
  auto d = cpk_({"diff", "nosuch"});
  EXPECT_EQ(d.exit_code, 1);
  EXPECT_EQ(d.err, "Error: No such container: nosuch\n");
  auto h = cpk_({"history", "nosuch"});
  EXPECT_EQ(h.exit_code, 1);
  EXPECT_EQ(h.err, "Error: No such image: nosuch\n");
  auto usage = cpk_({"commit"});
  EXPECT_EQ(usage.exit_code, 1);
  EXPECT_NE(usage.err.find("\"cppcker commit\" requires at least 1 and at most 2 arguments."), std::string::npos)
      << usage.err;
}

TEST_F(CommitTest, NonAsciiNamesSurviveImportTheContainerAndExport) {
  // Layers name files in UTF-8. libarchive translates names through the locale when it writes a pax
  // header, which fails in the C locale ("Can't translate pathname"); cppcker sets C.UTF-8 where it loads
  // the library.
  fs::path tree = tmp_.path / "tree";
  fs::create_directories(tree / "bin");
  fs::copy_file("/bin/busybox", tree / "bin/busybox");
  fs::create_symlink("busybox", tree / "bin/cat");
  const std::string name = "caf\xc3\xa9-\xc3\xbc-\xe6\x97\xa5.txt";  // café-ü-日.txt
  std::ofstream(tree / name) << "bonjour\n";
  fs::path pax = tmp_.path / "pax.tar";
  ASSERT_EQ(ts::run({"tar", "--format=pax", "-cf", pax.string(), "-C", tree.string(), "."}).exit_code, 0);
  ASSERT_NE(cppcker::read_file(pax).find("path=./" + name + "\n"), std::string::npos);  // a pax record
  auto imported = cpk_({"import", pax.string(), "imp:utf8"});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  auto r = run({"--name", "utf8names", "imp:utf8", "/bin/cat", "/" + name});
  EXPECT_EQ(r.out, "bonjour\n") << r.err;
  EXPECT_EQ(r.exit_code, 0);
  fs::path exported = tmp_.path / "exported.tar";
  auto e = cpk_({"export", "-o", exported.string(), "utf8names"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(cppcker::read_file(exported).find("path=" + name + "\n"), std::string::npos);
  EXPECT_EQ(cpk_({"rm", "utf8names"}).exit_code, 0);
}

TEST_F(CommitTest, ImportReadsGnuTarPlainGzippedAndStdin) {
  fs::path tree = tmp_.path / "tree";
  fs::create_directories(tree / "bin");
  fs::copy_file("/bin/busybox", tree / "bin/busybox");
  fs::create_symlink("busybox", tree / "bin/sh");
  fs::create_symlink("busybox", tree / "bin/cat");
  std::ofstream(tree / "hello") << "imported\n";
  fs::path plain = tmp_.path / "rootfs.tar", gz = tmp_.path / "rootfs.tar.gz";
  ASSERT_EQ(ts::run({"tar", "-cf", plain.string(), "-C", tree.string(), "."}).exit_code, 0);
  ASSERT_EQ(ts::run({"tar", "-czf", gz.string(), "-C", tree.string(), "."}).exit_code, 0);

  auto a = cpk_({"import", "-c", "CMD [\"cat\", \"/hello\"]", "-m", "from gnu tar", plain.string(), "imp:plain"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_TRUE(std::regex_match(a.out, std::regex("sha256:[0-9a-f]{64}\n"))) << a.out;
  auto r = run({"--rm", "imp:plain"});
  EXPECT_EQ(r.out, "imported\n") << r.err;
  auto h = cpk_({"history", "--format", "{{.Comment}}", "imp:plain"});
  EXPECT_EQ(h.out, "from gnu tar\n");

  auto b = cpk_({"import", gz.string(), "imp:gz"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(inspect("imp:gz")["RootFS"]["Layers"], inspect("imp:plain")["RootFS"]["Layers"]);
  EXPECT_EQ(cpk_({"history", "--format", "{{.Comment}}", "imp:gz"}).out, "Imported from " + gz.string() + "\n");

  auto c = ts::run({"sh", "-c", "\"$@\" < " + plain.string(), "sh", CPPCKER_BINARY, "--root", cpk_.root.string(),
                    "import", "-", "imp:stdin"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(inspect("imp:stdin")["RootFS"]["Layers"], inspect("imp:plain")["RootFS"]["Layers"]);
  auto run_stdin = run({"--rm", "imp:stdin", "/bin/cat", "/hello"});
  EXPECT_EQ(run_stdin.out, "imported\n") << run_stdin.err;

  // A file that is no tar: one line, exit 1, nothing stored.
  std::string before = image_count();
  fs::path text = tmp_.path / "notes.txt";
  std::ofstream(text) << std::string(4096, 'n') << "\n";
  auto bad = cpk_({"import", text.string(), "imp:bad"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(lines_of(bad.err).size(), 1u) << bad.err;
  EXPECT_EQ(bad.err.rfind("Error: ", 0), 0u) << bad.err;
  EXPECT_EQ(image_count(), before);
  EXPECT_TRUE(temporaries(cpk_.root).empty());
  auto missing = cpk_({"import", (tmp_.path / "nope.tar").string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("No such file or directory"), std::string::npos) << missing.err;
}
