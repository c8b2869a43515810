#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "cppcker/storage/unpack.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

using namespace cppcker;

TEST(CleanLayerPath, RelativeCleanPaths) {
  EXPECT_EQ(clean_layer_path("./etc/passwd"), "etc/passwd");
  EXPECT_EQ(clean_layer_path("/etc//passwd"), "etc/passwd");
  EXPECT_EQ(clean_layer_path("a/./b/../c/"), "a/c");
  EXPECT_EQ(clean_layer_path("./"), "");
  EXPECT_EQ(clean_layer_path("a/.."), "");
}

TEST(CleanLayerPath, EscapesAreRefused) {
  EXPECT_FALSE(clean_layer_path(".."));
  EXPECT_FALSE(clean_layer_path("../etc"));
  EXPECT_FALSE(clean_layer_path("a/../../b"));
  EXPECT_FALSE(clean_layer_path("/../x"));
}

TEST(Whiteouts, Classification) {
  auto file = classify_whiteout("usr/lib/.wh.libfoo.so");
  EXPECT_EQ(file.kind, WhiteoutEntry::Kind::file);
  EXPECT_EQ(file.dir, "usr/lib");
  EXPECT_EQ(file.name, "libfoo.so");
  auto opaque = classify_whiteout("var/cache/.wh..wh..opq");
  EXPECT_EQ(opaque.kind, WhiteoutEntry::Kind::opaque);
  EXPECT_EQ(opaque.dir, "var/cache");
  EXPECT_EQ(classify_whiteout(".wh.top").dir, "");
  EXPECT_EQ(classify_whiteout("a/.wh..wh.plnk").kind, WhiteoutEntry::Kind::meta);
  EXPECT_EQ(classify_whiteout("a/not.wh.x").kind, WhiteoutEntry::Kind::none);
  EXPECT_EQ(classify_whiteout("a/.whx").kind, WhiteoutEntry::Kind::none);
  EXPECT_THROW(classify_whiteout("a/.wh."), Error);
  EXPECT_THROW(classify_whiteout("a/.wh.."), Error);
}

TEST(SymlinkEscapes, LexicalCheckOfRelativeTargets) {
  EXPECT_FALSE(symlink_escapes("bin/sh", "busybox"));
  EXPECT_FALSE(symlink_escapes("usr/lib/x", "../../lib/x"));
  EXPECT_TRUE(symlink_escapes("usr/lib/x", "../../../x"));
  EXPECT_FALSE(symlink_escapes("a", "/etc/passwd"));  // absolute: resolved inside the root later
  EXPECT_TRUE(symlink_escapes("a", ""));
}

namespace {

la_ssize_t append(archive*, void* ctx, const void* buf, size_t len) {
  static_cast<std::string*>(ctx)->append(static_cast<const char*>(buf), len);
  return static_cast<la_ssize_t>(len);
}

struct TarEntry {
  std::string path;
  unsigned type;
  std::string data;
};

std::string tar_of(const std::vector<TarEntry>& entries) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_open(a, &out, nullptr, append, nullptr);
  for (const auto& e : entries) {
    archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.path.c_str());
    archive_entry_set_filetype(ae, e.type);
    archive_entry_set_perm(ae, e.type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_uid(ae, ::getuid());
    archive_entry_set_gid(ae, ::getgid());
    if (e.type == AE_IFLNK) archive_entry_set_symlink(ae, e.data.c_str());
    if (e.type == AE_IFREG) archive_entry_set_size(ae, static_cast<la_int64_t>(e.data.size()));
    archive_write_header(a, ae);
    if (e.type == AE_IFREG) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(ae);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

class StringSource : public ByteSource {
 public:
  explicit StringSource(std::string data, std::size_t chunk = 1000) : data_(std::move(data)), chunk_(chunk) {}
  std::string_view next() override {
    std::string_view v(data_);
    v = v.substr(std::min(pos_, data_.size()), chunk_);
    pos_ += v.size();
    consumed_ += v.size();
    return v;
  }
  std::size_t consumed_ = 0;

 private:
  std::string data_;
  std::size_t chunk_;
  std::size_t pos_ = 0;
};

struct TempTree {
  fs::path path = fs::temp_directory_path() / ("cppcker-unpack-" + random_hex(6));
  TempTree() { fs::create_directories(path); }
  ~TempTree() { remove_tree(path); }
};

}  // namespace

TEST(Unpack, FilesDirectoriesLinksAndReplacement) {
  TempTree t;
  std::string tar = tar_of({{"a/", AE_IFDIR, ""},
                            {"a/f", AE_IFREG, "first"},
                            {"a/f", AE_IFREG, "second"},  // a later entry replaces an earlier one
                            {"a/l", AE_IFLNK, "f"},
                            {"deep/er/file", AE_IFREG, "parents are created"}});
  StringSource src(tar, 7);
  auto stats = unpack_layer(src, t.path);
  EXPECT_EQ(src.consumed_, tar.size());  // read to the very end, padding included
  EXPECT_EQ(read_file(t.path / "a/f"), "second");
  EXPECT_EQ(fs::read_symlink(t.path / "a/l"), "f");
  EXPECT_EQ(read_file(t.path / "deep/er/file"), "parents are created");
  EXPECT_EQ(stats.bytes, 5u + 6u + 19u);
}

TEST(Unpack, ADirectoryReplacesAFileAndViceVersa) {
  TempTree t;
  unpack_layer(*std::make_unique<StringSource>(tar_of({{"x", AE_IFREG, "file"},
                                                       {"x/", AE_IFDIR, ""},
                                                       {"x/in", AE_IFREG, "in"},
                                                       {"y/", AE_IFDIR, ""},
                                                       {"y/child", AE_IFREG, "c"},
                                                       {"y", AE_IFREG, "now a file"}})),
               t.path);
  EXPECT_TRUE(fs::is_directory(t.path / "x"));
  EXPECT_EQ(read_file(t.path / "x/in"), "in");
  EXPECT_EQ(read_file(t.path / "y"), "now a file");
}

TEST(Unpack, EscapingEntriesFailWithTheirName) {
  TempTree t;
  for (auto entries : std::vector<std::vector<TarEntry>>{{{"../out", AE_IFREG, "x"}},
                                                          {{"a/../../out", AE_IFREG, "x"}},
                                                          {{"link", AE_IFLNK, "../../etc"}}}) {
    StringSource src(tar_of(entries));
    try {
      unpack_layer(src, t.path);
      FAIL() << entries[0].path;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("outside the layer"), std::string::npos) << e.what();
    }
  }
  EXPECT_FALSE(fs::exists(t.path.parent_path() / "out"));
}

TEST(Unpack, WritesThroughSymlinksStayInsideTheRoot) {
  TempTree t;
  fs::create_directories(t.path / "root");
  std::string outside = (t.path / "outside").string();
  fs::create_directories(outside);
  // "esc" points at an absolute host path; inside the root that path is created by the layer itself.
  std::string rel_outside = fs::path(outside).relative_path().string();
  StringSource src(tar_of({{rel_outside + "/", AE_IFDIR, ""}, {"esc", AE_IFLNK, outside}, {"esc/file", AE_IFREG, "in"}}));
  unpack_layer(src, t.path / "root");
  EXPECT_TRUE(fs::is_empty(outside));
  EXPECT_EQ(read_file(t.path / "root" / rel_outside / "file"), "in");
}

TEST(Unpack, GarbageIsNotATar) {
  TempTree t;
  StringSource src(std::string(3000, 'z'));
  EXPECT_THROW(unpack_layer(src, t.path), Error);
}
