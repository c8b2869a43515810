#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <exception>
#include <fstream>
#include <thread>

#include "cppcker/runtime/container_fs.hpp"
#include "cppcker/runtime/copy.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

using namespace cppcker;

TEST(CopyPaths, CleanContainerPathKeepsTrailingDotAndSlash) {
  EXPECT_EQ(clean_container_path("/etc/passwd"), "/etc/passwd");
  EXPECT_EQ(clean_container_path("etc//passwd"), "/etc/passwd");
  EXPECT_EQ(clean_container_path("/a/../b/"), "/b/");
  EXPECT_EQ(clean_container_path("/a/."), "/a/.");
  EXPECT_EQ(clean_container_path("/a/./"), "/a/./");  // as Docker's PreserveTrailingDotOrSeparator
  EXPECT_EQ(clean_container_path("/../../x"), "/x");  // ".." stops at the container's root
  EXPECT_EQ(clean_container_path(""), "/.");  // filepath.Base("") is "." in Go: the root's contents
  EXPECT_EQ(clean_container_path("/."), "/.");
}

TEST(CopyPaths, SplitPathDirEntry) {
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(split_path_dir_entry("/etc/passwd"), P("/etc", "passwd"));
  EXPECT_EQ(split_path_dir_entry("/etc/"), P("/", "etc"));
  EXPECT_EQ(split_path_dir_entry("/etc/."), P("/etc", "."));
  EXPECT_EQ(split_path_dir_entry("file"), P(".", "file"));
  EXPECT_EQ(split_path_dir_entry("dir/sub/"), P("dir", "sub"));
  EXPECT_EQ(split_path_dir_entry("/"), P("/", "/"));
  EXPECT_TRUE(asserts_directory("/a/"));
  EXPECT_TRUE(asserts_directory("/a/."));
  EXPECT_FALSE(asserts_directory("/a"));
}

// Docker's table (docs of `docker cp`): what happens for each kind of source and destination.
TEST(CopyPaths, PrepareArchiveCopyFollowsDockersRules) {
  CopyInfo file{"/src/file", true, false, ""};
  CopyInfo dir{"/src/dir", true, true, ""};
  CopyInfo contents{"/src/dir/.", true, true, ""};
  // A file to a missing path: saved under that name.
  CopyPlan p = prepare_archive_copy(file, {"/dst/new", false, false, ""});
  EXPECT_EQ(p.dir, "/dst");
  EXPECT_EQ(p.old_base, "file");
  EXPECT_EQ(p.new_base, "new");
  // ... but not when the path ends with "/": the directory must exist.
  EXPECT_THROW(
      {
        try {
          prepare_archive_copy(file, {"/dst/new/", false, false, ""});
        } catch (const Error& e) {
          EXPECT_STREQ(e.what(), "no such directory");
          throw;
        }
      },
      Error);
  // A file onto an existing file: overwritten (renamed to its name).
  p = prepare_archive_copy(file, {"/dst/existing", true, false, ""});
  EXPECT_EQ(p.dir, "/dst");
  EXPECT_EQ(p.new_base, "existing");
  // A file into an existing directory: kept with its own name.
  p = prepare_archive_copy(file, {"/dst", true, true, ""});
  EXPECT_EQ(p.dir, "/dst");
  EXPECT_TRUE(p.old_base.empty());
  // A directory to a missing path: created with the destination's name.
  p = prepare_archive_copy(dir, {"/dst/new", false, false, ""});
  EXPECT_EQ(p.dir, "/dst");
  EXPECT_EQ(p.old_base, "dir");
  EXPECT_EQ(p.new_base, "new");
  // A directory onto an existing file: refused.
  EXPECT_THROW(prepare_archive_copy(dir, {"/dst/file", true, false, ""}), Error);
  // A directory into an existing directory: as a subdirectory (entries "dir/..." extracted there) ...
  p = prepare_archive_copy(dir, {"/dst", true, true, ""});
  EXPECT_EQ(p.dir, "/dst");
  EXPECT_TRUE(p.old_base.empty());
  // ... and "dir/." copies its contents: the entries are "./..." extracted into the destination.
  p = prepare_archive_copy(contents, {"/dst", true, true, ""});
  EXPECT_EQ(p.dir, "/dst");
  EXPECT_TRUE(p.old_base.empty());
  p = prepare_archive_copy(contents, {"/dst/new", false, false, ""});
  EXPECT_EQ(p.old_base, ".");
  EXPECT_EQ(p.new_base, "new");
  // -L: the entries carry the link's name.
  p = prepare_archive_copy({"/real/target", true, false, "link"}, {"/dst/x", false, false, ""});
  EXPECT_EQ(p.old_base, "link");
  EXPECT_EQ(p.new_base, "x");
}

TEST(CopyPaths, RebaseEntryName) {
  EXPECT_EQ(rebase_entry_name("dir", "dir", "new"), "new");
  EXPECT_EQ(rebase_entry_name("dir/", "dir", "new"), "new");
  EXPECT_EQ(rebase_entry_name("dir/a/b", "dir", "new"), "new/a/b");
  EXPECT_EQ(rebase_entry_name("dirt/a", "dir", "new"), "dirt/a");  // only whole components
  EXPECT_EQ(rebase_entry_name("./a", ".", "new"), "new/a");
  EXPECT_EQ(rebase_entry_name(".", ".", "new"), "new");
  EXPECT_EQ(rebase_entry_name("x/y", "", ""), "x/y");
}

TEST(CopyPaths, SplitCpArg) {
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(split_cp_arg("web:/etc/hosts"), P("web", "/etc/hosts"));
  EXPECT_EQ(split_cp_arg("web:rel"), P("web", "rel"));
  EXPECT_EQ(split_cp_arg("/abs:path"), P("", "/abs:path"));  // an absolute path is always local
  EXPECT_EQ(split_cp_arg("./a:b"), P("", "./a:b"));
  EXPECT_EQ(split_cp_arg("plain"), P("", "plain"));
  EXPECT_EQ(split_cp_arg("-"), P("", "-"));
}

TEST(IdMapping, ShiftsIntoAndOutOfTheRange) {
  IdMap none;
  EXPECT_EQ(none.uid_to_host(5), 5u);
  EXPECT_EQ(none.uid_to_container(5), 5u);
  IdMap mapped{IdRange{100000, 200000, 65536}};
  EXPECT_EQ(mapped.uid_to_host(0), 100000u);
  EXPECT_EQ(mapped.gid_to_host(1000), 201000u);
  EXPECT_EQ(mapped.uid_to_container(100005), 5u);
  EXPECT_EQ(mapped.uid_to_container(0), 65534u);  // a host id outside the range: the overflow id
  EXPECT_THROW(mapped.uid_to_host(70000), Error);
}

namespace {

struct Scratch {
  fs::path path = fs::temp_directory_path() / ("copy-test-" + random_hex(6));
  Scratch() { fs::create_directories(path); }
  ~Scratch() { remove_tree(path); }
};

UniqueFd open_dir(const fs::path& p) { return UniqueFd(::open(p.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)); }

// write_tar of `path` below `root` piped into extract_tar below `dest`.
void copy_tree(const fs::path& root, const std::string& path, const std::string& name, const fs::path& dest,
               const CopyPlan& plan, const OwnerPolicy& extract_owners) {
  std::signal(SIGPIPE, SIG_IGN);  // a writer whose reader gave up gets EPIPE, as cppcker's own pump does
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  UniqueFd r(p[0]), w(p[1]);
  UniqueFd src = open_dir(root), dst = open_dir(dest);
  std::thread writer([&] {
    try {
      write_tar(src.get(), path, false, name, {}, w.get());
    } catch (const Error&) {
      // The reader gave up first (EPIPE): its error is the one the test looks at.
    }
    w.reset();
  });
  std::exception_ptr failed;
  try {
    extract_tar(r.get(), dst.get(), "", plan, extract_owners);
  } catch (...) {
    failed = std::current_exception();
  }
  r.reset();
  writer.join();
  if (failed) std::rethrow_exception(failed);
}

}  // namespace

TEST(TarStreams, RoundTripKeepsTypesModesOwnersTimesAndHardlinks) {
  Scratch s;
  fs::path src = s.path / "src", dst = s.path / "dst";
  fs::create_directories(src / "tree/sub");
  fs::create_directories(dst);
  std::ofstream(src / "tree/file") << "hello";
  ASSERT_EQ(::chmod((src / "tree/file").c_str(), 04751), 0);
  ASSERT_EQ(::link((src / "tree/file").c_str(), (src / "tree/sub/hard").c_str()), 0);
  ASSERT_EQ(::symlink("/etc/shadow", (src / "tree/link").c_str()), 0);
  ASSERT_EQ(::mkfifo((src / "tree/fifo").c_str(), 0600), 0);
  ASSERT_EQ(::lchown((src / "tree/link").c_str(), 123, 456), 0);
  struct timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (src / "tree/file").c_str(), times, 0), 0);
  OwnerPolicy keep{[](std::uint32_t u) { return u; }, [](std::uint32_t g) { return g; }, true};
  copy_tree(src, "/tree", "tree", dst, {}, keep);

  struct stat st{};
  ASSERT_EQ(::stat((dst / "tree/file").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04751u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1000000000);
  EXPECT_EQ(read_file(dst / "tree/file"), "hello");
  struct stat hard{};
  ASSERT_EQ(::stat((dst / "tree/sub/hard").c_str(), &hard), 0);
  EXPECT_EQ(hard.st_ino, st.st_ino) << "the hardlink is kept";
  ASSERT_EQ(::lstat((dst / "tree/link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(st.st_uid, 123u);
  EXPECT_EQ(st.st_gid, 456u);
  EXPECT_EQ(fs::read_symlink(dst / "tree/link"), "/etc/shadow");
  ASSERT_EQ(::lstat((dst / "tree/fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

TEST(TarStreams, RebasedContentsAndFixedOwners) {
  Scratch s;
  fs::path src = s.path / "src", dst = s.path / "dst";
  fs::create_directories(src / "dir/inner");
  fs::create_directories(dst);
  std::ofstream(src / "dir/inner/x") << "x";
  ASSERT_EQ(::chown((src / "dir/inner/x").c_str(), 1000, 1000), 0);
  // `cp dir/. dst/new`: the contents land in a new directory named "new", owned by the fixed owner.
  OwnerPolicy root_owned{[](std::uint32_t) { return 7u; }, [](std::uint32_t) { return 8u; }, true};
  copy_tree(src, "/dir/.", ".", dst, {"", ".", "new"}, root_owned);
  struct stat st{};
  ASSERT_EQ(::stat((dst / "new/inner/x").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 7u);
  EXPECT_EQ(st.st_gid, 8u);
  EXPECT_FALSE(fs::exists(dst / "dir"));
}

TEST(TarStreams, ExtractionNeverLeavesTheRootThroughSymlinks) {
  Scratch s;
  fs::path src = s.path / "src", dst = s.path / "dst", outside = s.path / "outside";
  fs::create_directories(src / "escape");
  fs::create_directories(dst);
  fs::create_directories(outside);
  std::ofstream(src / "escape/marker") << "m";
  // In the destination, "escape" is a link to the outside and to "/": both resolve inside the root.
  ASSERT_EQ(::symlink(outside.c_str(), (dst / "escape").c_str()), 0);
  OwnerPolicy keep{[](std::uint32_t u) { return u; }, [](std::uint32_t g) { return g; }, true};
  // A directory onto an existing non-directory (the link) is refused as Docker refuses it ...
  EXPECT_THROW(copy_tree(src, "/escape", "escape", dst, {}, keep), Error);
  EXPECT_FALSE(fs::exists(outside / "marker"));
  // ... and a file below the link is written through it as the root sees it: inside the root.
  ASSERT_EQ(::unlink((dst / "escape").c_str()), 0);
  ASSERT_EQ(::symlink("/", (dst / "escape").c_str()), 0);
  fs::create_directories(src / "f");
  std::ofstream(src / "f/marker") << "m";
  copy_tree(src, "/f/marker", "marker", dst, {"escape", "marker", "escape/marker"}, keep);
  EXPECT_TRUE(fs::exists(dst / "marker")) << "the link to / resolved to the root";
  EXPECT_FALSE(fs::exists("/marker"));
}

TEST(TarStreams, ExtractionPointMustBeADirectory) {
  Scratch s;
  std::ofstream(s.path / "file") << "x";
  UniqueFd root = open_dir(s.path);
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  UniqueFd r(p[0]), w(p[1]);
  w.reset();
  try {
    extract_tar(r.get(), root.get(), "file", {}, {});
    FAIL() << "extracted below a file";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "extraction point is not a directory");
  }
}
