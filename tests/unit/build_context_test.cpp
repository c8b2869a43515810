#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "cppcker/build/context.hpp"
#include "cppcker/runtime/container_fs.hpp"
#include "cppcker/runtime/copy.hpp"
#include "cppcker/storage/store.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

using namespace cppcker;
using namespace cppcker::build;

namespace {

struct Tmp {
  fs::path path;
  Tmp() {
    char buf[] = "/tmp/bcopy-test-XXXXXX";
    path = ::mkdtemp(buf);
  }
  ~Tmp() { remove_tree(path); }
};

void write(const fs::path& p, const std::string& data, mode_t mode = 0644) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << data;
  ::chmod(p.c_str(), mode);
}

struct stat lstat_of(const fs::path& p) {
  struct stat st{};
  if (::lstat(p.c_str(), &st) != 0) throw_errno("lstat " + p.string());
  return st;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// A context directory and a destination root, both temporary; the destination opened O_PATH as a step's root.
class BuildCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(ctx() );
    fs::create_directories(dst());
    fs::create_directories(scratch());
  }
  fs::path ctx() const { return tmp_.path / "ctx"; }
  fs::path dst() const { return tmp_.path / "dst"; }
  fs::path scratch() const { return tmp_.path / "scratch"; }

  // COPY (or ADD) `sources` `dest` from the context, returning the digest.
  std::string copy(std::vector<std::string> sources, std::string dest, CopySpec spec = {}) {
    BuildContext c = BuildContext::open_directory(ctx());
    spec.sources = std::move(sources);
    spec.dest = std::move(dest);
    PreparedCopy p = PreparedCopy::prepare(SourceRoot{c.root(), &c.ignore()}, spec, scratch());
    UniqueFd root(::open(dst().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    p.apply(root.get());
    return p.digest();
  }
  std::string digest(std::vector<std::string> sources, std::string dest, CopySpec spec = {}) {
    BuildContext c = BuildContext::open_directory(ctx());
    spec.sources = std::move(sources);
    spec.dest = std::move(dest);
    return PreparedCopy::prepare(SourceRoot{c.root(), &c.ignore()}, spec, scratch()).digest();
  }

  Tmp tmp_;
};

}  // namespace

// ---------------------------------------------------------------- the context

TEST_F(BuildCopyTest, OpenDirectoryReadsFilesAndRefusesWhatIsNoDirectory) {
  write(ctx() / "Dockerfile", "FROM scratch\n");
  BuildContext c = BuildContext::open_directory(ctx());
  EXPECT_EQ(c.read("Dockerfile").value_or(""), "FROM scratch\n");
  EXPECT_FALSE(c.read("missing").has_value());
  EXPECT_EQ(error_of([&] { BuildContext::open_directory(tmp_.path / "nope"); }),
            "unable to prepare context: path \"" + (tmp_.path / "nope").string() + "\" not found");
  EXPECT_EQ(error_of([&] { BuildContext::open_directory(ctx() / "Dockerfile"); }),
            "unable to prepare context: context must be a directory: " + (ctx() / "Dockerfile").string());
  // A symlink in the context cannot make read() leave it.
  write(tmp_.path / "outside", "host secret");
  fs::create_symlink(tmp_.path / "outside", ctx() / "escape");
  EXPECT_FALSE(c.read("escape").has_value());
  EXPECT_FALSE(c.read("../outside").has_value());
}

TEST_F(BuildCopyTest, FromTarExtractsTheContextAndRefusesAnythingElse) {
  write(tmp_.path / "src" / "Dockerfile", "FROM scratch\n");
  write(tmp_.path / "src" / "dir" / "f", "x");
  write(tmp_.path / "src" / ".dockerignore", "dir\n");
  {
    UniqueFd host(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    UniqueFd out(::open((tmp_.path / "ctx.tar").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    write_tar(host.get(), (tmp_.path / "src").string(), false, ".", OwnerPolicy{}, out.get());
  }
  UniqueFd in(::open((tmp_.path / "ctx.tar").c_str(), O_RDONLY | O_CLOEXEC));
  BuildContext c = BuildContext::from_tar(in.get(), scratch());
  EXPECT_EQ(c.read("Dockerfile").value_or(""), "FROM scratch\n");
  EXPECT_EQ(c.read("dir/f").value_or(""), "x");
  EXPECT_TRUE(c.ignore().excluded("dir/f"));

  write(tmp_.path / "notatar", std::string(2048, 'z'));
  UniqueFd bad(::open((tmp_.path / "notatar").c_str(), O_RDONLY | O_CLOEXEC));
  fs::create_directories(tmp_.path / "scratch2");
  EXPECT_EQ(error_of([&] { BuildContext::from_tar(bad.get(), tmp_.path / "scratch2"); }).rfind("unable to prepare context: ", 0), 0u);
}

// ---------------------------------------------------------------- Docker's rules

TEST_F(BuildCopyTest, FileToNewNameToTrailingSlashAndToExistingDirectory) {
  write(ctx() / "a.txt", "A", 0640);
  copy({"a.txt"}, "/new");
  EXPECT_EQ(read_file(dst() / "new"), "A");
  copy({"a.txt"}, "/d1/");
  EXPECT_EQ(read_file(dst() / "d1" / "a.txt"), "A");
  fs::create_directories(dst() / "existing");
  copy({"a.txt"}, "/existing");
  EXPECT_EQ(read_file(dst() / "existing" / "a.txt"), "A");
  // A leading "/" and "./" name the context's root; the mode is kept, the owner is root.
  copy({"/a.txt"}, "/x/y/z");
  copy({"./a.txt"}, "/w");
  EXPECT_EQ(read_file(dst() / "x" / "y" / "z"), "A");
  EXPECT_EQ(read_file(dst() / "w"), "A");
  struct stat st = lstat_of(dst() / "x" / "y" / "z");
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_uid, 0u);
  // Missing parents: 0755, root.
  struct stat parent = lstat_of(dst() / "x" / "y");
  EXPECT_TRUE(S_ISDIR(parent.st_mode));
  EXPECT_EQ(parent.st_mode & 07777, 0755u);
  // A second copy replaces the file.
  write(ctx() / "a.txt", "AA");
  copy({"a.txt"}, "/new");
  EXPECT_EQ(read_file(dst() / "new"), "AA");
}

TEST_F(BuildCopyTest, DestinationIsRelativeToWorkdir) {
  write(ctx() / "a", "A");
  CopySpec spec;
  spec.workdir = "/app/sub";
  copy({"a"}, "rel", spec);
  EXPECT_EQ(read_file(dst() / "app" / "sub" / "rel"), "A");
  copy({"a"}, ".", spec);
  EXPECT_EQ(read_file(dst() / "app" / "sub" / "a"), "A");
  copy({"a"}, "../up/", spec);
  EXPECT_EQ(read_file(dst() / "app" / "up" / "a"), "A");
}

TEST_F(BuildCopyTest, DirectorySourceCopiesItsContentsWithModesTimesAndSymlinks) {
  write(ctx() / "dir" / "f", "F", 0600);
  write(ctx() / "dir" / "sub" / "g", "G", 0755);
  ::chmod((ctx() / "dir" / "sub").c_str(), 0750);
  fs::create_symlink("/etc/passwd", ctx() / "dir" / "abs-link");
  fs::create_symlink("sub/g", ctx() / "dir" / "rel-link");
  struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
  ::utimensat(AT_FDCWD, (ctx() / "dir" / "f").c_str(), old, 0);
  ::utimensat(AT_FDCWD, (ctx() / "dir" / "sub").c_str(), old, 0);
  ::utimensat(AT_FDCWD, (ctx() / "dir" / "abs-link").c_str(), old, AT_SYMLINK_NOFOLLOW);
  ::chmod((ctx() / "dir").c_str(), 0700);
  copy({"dir"}, "/target");
  EXPECT_FALSE(fs::exists(dst() / "target" / "dir"));  // the contents, not the directory
  EXPECT_EQ(lstat_of(dst() / "target").st_mode & 07777, 0755u);  // made as a parent, as buildah does
  EXPECT_EQ(read_file(dst() / "target" / "f"), "F");
  EXPECT_EQ(read_file(dst() / "target" / "sub" / "g"), "G");
  EXPECT_EQ(lstat_of(dst() / "target" / "f").st_mode & 07777, 0600u);
  EXPECT_EQ(lstat_of(dst() / "target" / "sub" / "g").st_mode & 07777, 0755u);
  EXPECT_EQ(lstat_of(dst() / "target" / "sub").st_mode & 07777, 0750u);
  EXPECT_EQ(lstat_of(dst() / "target" / "f").st_mtim.tv_sec, 1000000000);
  EXPECT_EQ(lstat_of(dst() / "target" / "sub").st_mtim.tv_sec, 1000000000);
  // Symlinks inside a directory are copied as symlinks, never followed.
  EXPECT_TRUE(S_ISLNK(lstat_of(dst() / "target" / "abs-link").st_mode));
  EXPECT_EQ(fs::read_symlink(dst() / "target" / "abs-link"), "/etc/passwd");
  EXPECT_EQ(lstat_of(dst() / "target" / "abs-link").st_mtim.tv_sec, 1000000000);
  EXPECT_EQ(fs::read_symlink(dst() / "target" / "rel-link"), "sub/g");
  // The root of the context: everything.
  copy({"."}, "/all/");
  EXPECT_EQ(read_file(dst() / "all" / "dir" / "f"), "F");
}

TEST_F(BuildCopyTest, SymlinkGivenAsSourceIsFollowedInsideTheContext) {
  write(ctx() / "real", "R");
  fs::create_symlink("real", ctx() / "link");
  copy({"link"}, "/d/");
  EXPECT_TRUE(S_ISREG(lstat_of(dst() / "d" / "link").st_mode));  // named as the link, content of its target
  EXPECT_EQ(read_file(dst() / "d" / "link"), "R");
  // An absolute link leading out of the context resolves inside it: the host's file is never read.
  write(tmp_.path / "host-secret", "SECRET");
  fs::create_symlink(tmp_.path / "host-secret", ctx() / "evil");
  fs::create_symlink("../../../../../../" + (tmp_.path / "host-secret").string(), ctx() / "evil2");
  EXPECT_EQ(error_of([&] { copy({"evil"}, "/e"); }),
            "COPY failed: file not found in build context or excluded by .dockerignore: stat evil: file does not exist");
  EXPECT_EQ(error_of([&] { copy({"evil2"}, "/e"); }),
            "COPY failed: file not found in build context or excluded by .dockerignore: stat evil2: file does not exist");
  EXPECT_FALSE(fs::exists(dst() / "e"));
}

TEST_F(BuildCopyTest, ExtendedAttributesAreCopiedAndCounted) {
  write(ctx() / "d" / "f", "F");
  const std::string before = digest({"d"}, "/x");
  ASSERT_EQ(::setxattr((ctx() / "d" / "f").c_str(), "user.note", "v1", 2, 0), 0);
  ASSERT_EQ(::setxattr((ctx() / "d").c_str(), "user.dir", "d", 1, 0), 0);
  const std::string with = digest({"d"}, "/x");
  EXPECT_NE(with, before);
  ASSERT_EQ(::setxattr((ctx() / "d" / "f").c_str(), "user.note", "v2", 2, 0), 0);
  EXPECT_NE(digest({"d"}, "/x"), with);
  copy({"d"}, "/x");
  char value[16] = {};
  EXPECT_EQ(::getxattr((dst() / "x" / "f").c_str(), "user.note", value, sizeof value), 2);
  EXPECT_STREQ(value, "v2");
  copy({"d/f"}, "/single");
  EXPECT_EQ(::getxattr((dst() / "single").c_str(), "user.note", value, sizeof value), 2);
}

TEST_F(BuildCopyTest, HardlinksWithinOneCopyStayLinked) {
  write(ctx() / "dir" / "a", "same");
  fs::create_hard_link(ctx() / "dir" / "a", ctx() / "dir" / "b");
  copy({"dir"}, "/h");
  struct stat a = lstat_of(dst() / "h" / "a"), b = lstat_of(dst() / "h" / "b");
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_nlink, 2u);
}

TEST_F(BuildCopyTest, SourcesOutsideOrMissingAreRefusedInDockersWords) {
  write(ctx() / "a", "A");
  write(ctx() / "b", "B");
  EXPECT_EQ(error_of([&] { copy({"../x"}, "/"); }), "forbidden path outside the build context: ../x ()");
  EXPECT_EQ(error_of([&] { copy({"a/../../x"}, "/"); }), "forbidden path outside the build context: a/../../x ()");
  EXPECT_EQ(error_of([&] { copy({"missing"}, "/"); }),
            "COPY failed: file not found in build context or excluded by .dockerignore: stat missing: file does not exist");
  CopySpec add;
  add.add = true;
  EXPECT_EQ(error_of([&] { copy({"nothing*"}, "/", add); }), "ADD failed: no source files were specified");
  EXPECT_EQ(error_of([&] { copy({"a", "b"}, "/dir"); }),
            "When using COPY with more than one source file, the destination must be a directory and end with a /");
  EXPECT_EQ(error_of([&] { copy({"*"}, "/dir"); }),
            "When using COPY with more than one source file, the destination must be a directory and end with a /");
  EXPECT_EQ(error_of([&] { copy({"http://127.0.0.1:1/x"}, "/"); }), "source can't be a URL for COPY");
  // Nothing was written by a refused copy.
  EXPECT_TRUE(fs::is_empty(dst()));
  copy({"a", "b"}, "/dir/");
  EXPECT_EQ(read_file(dst() / "dir" / "b"), "B");
}

TEST_F(BuildCopyTest, WildcardsMatchPerComponentAsGosFilepathMatch) {
  write(ctx() / "a.txt", "1");
  write(ctx() / "b.txt", "2");
  write(ctx() / "c.md", "3");
  write(ctx() / "src" / "x.txt", "4");
  write(ctx() / "src" / "deep" / "y.txt", "5");
  copy({"*.txt"}, "/w/");
  EXPECT_TRUE(fs::exists(dst() / "w" / "a.txt"));
  EXPECT_TRUE(fs::exists(dst() / "w" / "b.txt"));
  EXPECT_FALSE(fs::exists(dst() / "w" / "c.md"));
  EXPECT_FALSE(fs::exists(dst() / "w" / "x.txt"));  // "*" never crosses "/"
  copy({"s?c/*.txt"}, "/v/");
  EXPECT_EQ(read_file(dst() / "v" / "x.txt"), "4");
  EXPECT_FALSE(fs::exists(dst() / "v" / "y.txt"));
  copy({"[ab].txt"}, "/u/");
  EXPECT_TRUE(fs::exists(dst() / "u" / "a.txt"));
  EXPECT_FALSE(fs::exists(dst() / "u" / "c.md"));
  // A single match needs no trailing "/".
  copy({"c.*"}, "/single");
  EXPECT_EQ(read_file(dst() / "single"), "3");
}

TEST_F(BuildCopyTest, DockerignoreHidesFilesAndExceptionsBringThemBack) {
  write(ctx() / ".dockerignore", "secret\n*.log\n!keep.log\nbuild\n!build/out\n");
  write(ctx() / "secret", "S");
  write(ctx() / "x.log", "L");
  write(ctx() / "keep.log", "K");
  write(ctx() / "app" / "main.c", "M");
  write(ctx() / "build" / "tmp", "T");
  write(ctx() / "build" / "out", "O");
  ::chmod((ctx() / "build").c_str(), 0700);
  EXPECT_EQ(error_of([&] { copy({"secret"}, "/s"); }),
            "COPY failed: file not found in build context or excluded by .dockerignore: stat secret: file does not exist");
  copy({"."}, "/all/");
  EXPECT_FALSE(fs::exists(dst() / "all" / "secret"));
  EXPECT_FALSE(fs::exists(dst() / "all" / "x.log"));
  EXPECT_TRUE(fs::exists(dst() / "all" / "keep.log"));
  EXPECT_TRUE(fs::exists(dst() / "all" / "app" / "main.c"));
  EXPECT_TRUE(fs::exists(dst() / "all" / "build" / "out"));  // the exception keeps its directory...
  EXPECT_EQ(lstat_of(dst() / "all" / "build").st_mode & 07777, 0755u);  // ... as a plain parent
  EXPECT_FALSE(fs::exists(dst() / "all" / "build" / "tmp"));
  // An excluded directory named as a source holds what its exceptions bring back.
  copy({"build"}, "/b");
  EXPECT_TRUE(fs::exists(dst() / "b" / "out"));
  EXPECT_FALSE(fs::exists(dst() / "b" / "tmp"));
  copy({"*.log"}, "/logs/");
  EXPECT_FALSE(fs::exists(dst() / "logs" / "x.log"));
  EXPECT_TRUE(fs::exists(dst() / "logs" / "keep.log"));
  // An excluded file's change does not change the digest; a visible one's does.
  const std::string before = digest({"."}, "/");
  write(ctx() / "secret", "S2");
  EXPECT_EQ(digest({"."}, "/"), before);
  write(ctx() / "keep.log", "K2");
  EXPECT_NE(digest({"."}, "/"), before);
}

TEST_F(BuildCopyTest, ChownTakesIdsOrNamesFromTheDestinationAndChmodAppliesToFilesAndDirs) {
  write(ctx() / "f", "F", 0600);
  write(ctx() / "d" / "g", "G", 0600);
  write(dst() / "etc" / "passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n");
  write(dst() / "etc" / "group", "root:x:0:\nstaff:x:50:\n");
  CopySpec spec;
  spec.chown = "app";
  copy({"f"}, "/o1", spec);
  EXPECT_EQ(lstat_of(dst() / "o1").st_uid, 1000u);
  EXPECT_EQ(lstat_of(dst() / "o1").st_gid, 1001u);  // the user's own group
  spec.chown = "app:staff";
  copy({"f"}, "/o2", spec);
  EXPECT_EQ(lstat_of(dst() / "o2").st_gid, 50u);
  spec.chown = "123";
  copy({"f"}, "/o3", spec);
  EXPECT_EQ(lstat_of(dst() / "o3").st_uid, 123u);
  EXPECT_EQ(lstat_of(dst() / "o3").st_gid, 123u);  // an id without a group: the same number
  spec.chown = "123:456";
  copy({"d"}, "/o4", spec);
  EXPECT_EQ(lstat_of(dst() / "o4" / "g").st_uid, 123u);
  EXPECT_EQ(lstat_of(dst() / "o4" / "g").st_gid, 456u);
  // Directories the copy makes take the owner too (Docker's MkdirAllAndChownNew, buildah); existing ones stay.
  spec.chown = "7:8";
  copy({"d"}, "/o1-parent/made/owned", spec);
  for (const char* p : {"o1-parent", "o1-parent/made", "o1-parent/made/owned", "o1-parent/made/owned/g"}) {
    EXPECT_EQ(lstat_of(dst() / p).st_uid, 7u) << p;
    EXPECT_EQ(lstat_of(dst() / p).st_gid, 8u) << p;
  }
  EXPECT_EQ(lstat_of(dst() / "o1-parent").st_mode & 07777, 0755u);
  EXPECT_EQ(lstat_of(dst() / "etc").st_uid, 0u);
  spec.chown = "nobody";
  EXPECT_EQ(error_of([&] { copy({"f"}, "/o5", spec); }), "unable to find user nobody: no matching entries in passwd file");
  spec.chown = "app:nogroup";
  EXPECT_EQ(error_of([&] { copy({"f"}, "/o5", spec); }), "unable to find group nogroup: no matching entries in group file");
  // A fifo planted as /etc/group is no group file, and never blocks the copy.
  fs::remove(dst() / "etc" / "group");
  ASSERT_EQ(::mkfifo((dst() / "etc" / "group").c_str(), 0644), 0);
  spec.chown = "app:staff";
  EXPECT_EQ(error_of([&] { copy({"f"}, "/o6", spec); }), "unable to find group staff: no matching entries in group file");
  CopySpec mode;
  mode.chmod = 0751;
  copy({"d"}, "/m/", mode);
  copy({"f"}, "/m/f", mode);
  EXPECT_EQ(lstat_of(dst() / "m" / "g").st_mode & 07777, 0751u);
  EXPECT_EQ(lstat_of(dst() / "m" / "f").st_mode & 07777, 0751u);
  ::mkdir((ctx() / "d" / "sub").c_str(), 0700);
  copy({"d"}, "/m2/", mode);
  EXPECT_EQ(lstat_of(dst() / "m2" / "sub").st_mode & 07777, 0751u);
}

TEST_F(BuildCopyTest, SymlinksPlantedInTheDestinationStayInsideIt) {
  write(ctx() / "f", "PAYLOAD");
  write(ctx() / "d" / "g", "PAYLOAD");
  fs::create_directories(tmp_.path / "host");
  fs::create_symlink(tmp_.path / "host", dst() / "abs");          // absolute: the host's directory by name
  fs::create_symlink("../../../../../../../" + (tmp_.path / "host").string(), dst() / "rel");
  fs::create_symlink((tmp_.path / "host" / "file").string(), dst() / "target-file");
  copy({"f"}, "/abs/");
  copy({"f"}, "/rel/x/");
  copy({"d"}, "/abs/deeper");
  copy({"f"}, "/target-file");
  EXPECT_TRUE(fs::is_empty(tmp_.path / "host"));
  // Everything landed below the destination root, where the links point when resolved inside it.
  EXPECT_EQ(read_file(dst() / (tmp_.path / "host").relative_path() / "f"), "PAYLOAD");
  EXPECT_EQ(read_file(dst() / (tmp_.path / "host").relative_path() / "x" / "f"), "PAYLOAD");
  EXPECT_EQ(read_file(dst() / (tmp_.path / "host").relative_path() / "deeper" / "g"), "PAYLOAD");
}

TEST_F(BuildCopyTest, DigestIgnoresMtimesAndCoversContentModeOwnerNamesAndFlags) {
  write(ctx() / "d" / "f", "one");
  const std::string base = digest({"d"}, "/x");
  EXPECT_EQ(base.rfind("sha256:", 0), 0u);
  EXPECT_EQ(digest({"d"}, "/x"), base);
  struct timespec t[2] = {{12345, 0}, {12345, 0}};
  ::utimensat(AT_FDCWD, (ctx() / "d" / "f").c_str(), t, 0);
  ::utimensat(AT_FDCWD, (ctx() / "d").c_str(), t, 0);
  EXPECT_EQ(digest({"d"}, "/x"), base);
  write(ctx() / "d" / "f", "two");
  const std::string content = digest({"d"}, "/x");
  EXPECT_NE(content, base);
  ::chmod((ctx() / "d" / "f").c_str(), 0600);
  const std::string mode = digest({"d"}, "/x");
  EXPECT_NE(mode, content);
  ::chown((ctx() / "d" / "f").c_str(), 7, 7);
  const std::string owner = digest({"d"}, "/x");
  EXPECT_NE(owner, mode);
  fs::rename(ctx() / "d" / "f", ctx() / "d" / "g");
  const std::string name = digest({"d"}, "/x");
  EXPECT_NE(name, owner);
  EXPECT_NE(digest({"d"}, "/y"), name);
  CopySpec spec;
  spec.chown = "1";
  EXPECT_NE(digest({"d"}, "/x", spec), name);
  spec = {};
  spec.chmod = 0700;
  EXPECT_NE(digest({"d"}, "/x", spec), name);
  fs::create_symlink("g", ctx() / "d" / "l");
  const std::string link = digest({"d"}, "/x");
  EXPECT_NE(link, name);
  fs::remove(ctx() / "d" / "l");
  fs::create_symlink("h", ctx() / "d" / "l");
  EXPECT_NE(digest({"d"}, "/x"), link);
}

TEST_F(BuildCopyTest, HeredocBecomesAFileNamedAfterIt) {
  CopySpec spec;
  spec.heredocs.push_back(Heredoc{"EOF", "hello\nworld\n", true, false});
  copy({}, "/etc/greeting", spec);
  EXPECT_EQ(read_file(dst() / "etc" / "greeting"), "hello\nworld\n");
  EXPECT_EQ(lstat_of(dst() / "etc" / "greeting").st_mode & 07777, 0644u);
  copy({}, "/dir/", spec);
  EXPECT_EQ(read_file(dst() / "dir" / "EOF"), "hello\nworld\n");
  const std::string one = digest({}, "/dir/", spec);
  spec.heredocs[0].content = "other\n";
  EXPECT_NE(digest({}, "/dir/", spec), one);
}

// ---------------------------------------------------------------- ADD

namespace {

std::string make_tar(const fs::path& tree) {
  int p[2];
  EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd r(p[0]), w(p[1]);
  std::string out;
  std::thread reader([&] { out = read_all(r.get(), "tar"); });
  {
    UniqueFd host(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    OwnerPolicy keep;
    write_tar(host.get(), tree.string(), false, ".", keep, w.get());
    w.reset();
  }
  reader.join();
  return out;
}

std::string gzip(const std::string& data) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string zstd(const std::string& data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3));
  return out;
}

}  // namespace

TEST_F(BuildCopyTest, AddExtractsLocalArchivesOfAnyCompression) {
  write(tmp_.path / "tree" / "top", "T", 0640);
  write(tmp_.path / "tree" / "sub" / "inner", "I");
  ::chown((tmp_.path / "tree" / "top").c_str(), 42, 43);
  ::chown((tmp_.path / "tree").c_str(), 44, 45);  // the archive's "./" entry
  ::chmod((tmp_.path / "tree").c_str(), 0750);
  const std::string tar = make_tar(tmp_.path / "tree");
  write(ctx() / "plain.tar", tar);
  write(ctx() / "a.tar.gz", gzip(tar));
  write(ctx() / "a.tar.zst", zstd(tar));
  write(ctx() / "notes.gz", gzip("just text, no tar"));
  CopySpec add;
  add.add = true;
  copy({"plain.tar"}, "/p", add);
  copy({"a.tar.gz"}, "/g/", add);
  copy({"a.tar.zst"}, "/z", add);
  for (const char* d : {"p", "g", "z"}) {
    EXPECT_EQ(read_file(dst() / d / "top"), "T") << d;
    EXPECT_EQ(read_file(dst() / d / "sub" / "inner"), "I") << d;
    EXPECT_EQ(lstat_of(dst() / d / "top").st_uid, 42u) << d;  // the archive's owners and modes
    EXPECT_EQ(lstat_of(dst() / d / "top").st_mode & 07777, 0640u) << d;
    // The destination directory takes the archive's "./" entry, as buildah extracts it.
    EXPECT_EQ(lstat_of(dst() / d).st_uid, 44u) << d;
    EXPECT_EQ(lstat_of(dst() / d).st_mode & 07777, 0750u) << d;
  }
  // Not an archive: copied as it is. COPY never extracts.
  copy({"notes.gz"}, "/n/", add);
  EXPECT_EQ(read_file(dst() / "n" / "notes.gz"), gzip("just text, no tar"));
  copy({"a.tar.gz"}, "/c/");
  EXPECT_EQ(read_file(dst() / "c" / "a.tar.gz"), gzip(tar));
}

namespace {

// One HTTP response on 127.0.0.1, served once per connection until stopped.
class TinyServer {
 public:
  explicit TinyServer(std::string response) : response_(std::move(response)) {
    fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_.get(), 4), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        UniqueFd c(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!c || stop_) return;
        std::string request;
        char buf[4096];
        while (request.find("\r\n\r\n") == std::string::npos) {
          ssize_t n = ::read(c.get(), buf, sizeof buf);
          if (n <= 0) break;
          request.append(buf, static_cast<std::size_t>(n));
        }
        (void)!::write(c.get(), response_.data(), response_.size());
      }
    });
  }
  ~TinyServer() {
    stop_ = true;
    ::shutdown(fd_.get(), SHUT_RDWR);
    thread_.join();
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

 private:
  std::string response_;
  UniqueFd fd_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string http_ok(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nLast-Modified: Wed, 21 Oct 2015 07:28:00 GMT\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace

TEST_F(BuildCopyTest, AddFetchesUrlsAsFilesAndTheDigestCoversTheirContent) {
  TinyServer one(http_ok("first body"));
  TinyServer two(http_ok("second body"));
  TinyServer missing("HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nConnection: close\r\n\r\ngone");
  CopySpec add;
  add.add = true;
  const std::string d1 = copy({one.url("/files/app.conf?x=1")}, "/etc/", add);
  EXPECT_EQ(read_file(dst() / "etc" / "app.conf"), "first body");
  struct stat st = lstat_of(dst() / "etc" / "app.conf");
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1445412480);  // Last-Modified
  copy({one.url("/files/app.conf")}, "/named", add);
  EXPECT_EQ(read_file(dst() / "named"), "first body");
  const std::string d2 = copy({two.url("/files/app.conf?x=1")}, "/etc/", add);
  EXPECT_EQ(read_file(dst() / "etc" / "app.conf"), "second body");
  EXPECT_NE(d1, d2);
  EXPECT_EQ(digest({one.url("/files/app.conf?x=1")}, "/etc/", add), d1);
  // A fetched archive is stored as it is, never extracted (Docker extracts local archives only).
  write(tmp_.path / "tree" / "inner", "I");
  const std::string tar = gzip(make_tar(tmp_.path / "tree"));
  TinyServer archive(http_ok(tar));
  copy({archive.url("/a.tar.gz")}, "/dl/", add);
  EXPECT_EQ(read_file(dst() / "dl" / "a.tar.gz"), tar);
  EXPECT_FALSE(fs::exists(dst() / "dl" / "inner"));
  const std::string e = error_of([&] { copy({missing.url("/x")}, "/", add); });
  EXPECT_NE(e.find("404"), std::string::npos) << e;
  EXPECT_EQ(error_of([&] { copy({one.url("/")}, "/", add); }), "cannot determine filename from url: " + one.url("/"));
}

// ---------------------------------------------------------------- COPY --from

TEST(OpenImageFs, LayersAreOverlaidReadOnly) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount";
  Tmp tmp;
  ImageStore store(tmp.path / "images");
  auto layer = [&](const std::string& hex_char, const std::string& file, const std::string& data) {
    const std::string chain = "sha256:" + std::string(64, hex_char[0]);
    write(store.layer_diff_dir(chain) / file, data);
    return LayerRecord{chain, chain, chain, "", 0, 0};
  };
  ImageRecord two;
  two.id = "sha256:" + std::string(64, 'e');
  two.layers = {layer("a", "etc/base", "lower"), layer("b", "etc/base", "upper")};
  write(store.layer_diff_dir(two.layers[0].chain_id) / "only-lower", "L");
  ASSERT_EQ(::chown((store.layer_diff_dir(two.layers[1].chain_id) / "etc" / "base").c_str(), 42, 43), 0);
  ImageRecord one;
  one.id = "sha256:" + std::string(64, 'f');
  one.layers = {layer("c", "single", "S")};
  ImageRecord scratch;
  scratch.id = "sha256:" + std::string(64, 'd');
  {
    FileLock lock = store.lock_metadata();
    store.put_image(two);
    store.put_image(one);
    store.put_image(scratch);
  }
  auto read_in = [](int root, const std::string& p) {
    UniqueFd fd(open_in_root(root, p, O_RDONLY));
    return fd ? read_all(fd.get(), p) : std::string("(missing)");
  };
  {
    ImageFs fs2 = open_image_fs(store, two.id);
    EXPECT_EQ(read_in(fs2.root(), "/etc/base"), "upper");
    EXPECT_EQ(read_in(fs2.root(), "/only-lower"), "L");
    UniqueFd w(open_in_root(fs2.root(), "/new", O_WRONLY | O_CREAT, 0644));
    EXPECT_FALSE(w);
    EXPECT_EQ(errno, EROFS);
    // COPY --from reads it as a source root.
    CopySpec spec;
    spec.sources = {"/etc/base"};
    spec.dest = "/got";
    fs::create_directories(tmp.path / "dst");
    UniqueFd dst(::open((tmp.path / "dst").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    PreparedCopy::prepare(SourceRoot{fs2.root(), nullptr}, spec, tmp.path).apply(dst.get());
    EXPECT_EQ(read_file(tmp.path / "dst" / "got"), "upper");
    EXPECT_EQ(lstat_of(tmp.path / "dst" / "got").st_uid, 42u);  // --from keeps the owners, as BuildKit
    EXPECT_EQ(lstat_of(tmp.path / "dst" / "got").st_gid, 43u);
    spec.chown = "5:6";
    PreparedCopy::prepare(SourceRoot{fs2.root(), nullptr}, spec, tmp.path).apply(dst.get());
    EXPECT_EQ(lstat_of(tmp.path / "dst" / "got").st_uid, 5u);
  }
  {
    ImageFs fs1 = open_image_fs(store, one.id);
    EXPECT_EQ(read_in(fs1.root(), "/single"), "S");
    UniqueFd w(open_in_root(fs1.root(), "/new", O_WRONLY | O_CREAT, 0644));
    EXPECT_FALSE(w);
    EXPECT_EQ(errno, EROFS);
  }
  {
    ImageFs empty = open_image_fs(store, scratch.id);
    UniqueFd root(open_in_root(empty.root(), "/", O_RDONLY | O_DIRECTORY));
    ASSERT_TRUE(root);
    EXPECT_TRUE(read_in(empty.root(), "/single") == "(missing)");
  }
  EXPECT_EQ(error_of([&] { open_image_fs(store, "sha256:" + std::string(64, '0')); }),
            "No such image: sha256:" + std::string(64, '0'));
  // Nothing stays mounted on the host.
  EXPECT_EQ(read_file("/proc/self/mountinfo").find(tmp.path.string()), std::string::npos);
}
