// commit/diff/import without a container: a fake upper dir over a fake lower built in a temp dir (mknod
// 0/0 and trusted.* xattrs need root, as the whole test binary does), the -c parser, history columns.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include <map>

#include "cppcker/image/commit.hpp"
#include "cppcker/storage/layer_writer.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"
#include "cppcker/util/sha256.hpp"

using namespace cppcker;
using nlohmann::json;

namespace {

struct Scratch {
  fs::path path;
  Scratch() {
    char tmpl[] = "/tmp/cppcker-commit-unit-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~Scratch() { remove_tree(path); }
};

void put(const fs::path& p, const std::string& content, mode_t mode = 0644) {
  make_dirs(p.parent_path());
  write_file_atomic(p, content, mode, Durability::unsynced);
}
void dir(const fs::path& p, mode_t mode = 0755) {
  make_dirs(p);
  ASSERT_EQ(::chmod(p.c_str(), mode), 0);
}
void whiteout(const fs::path& p) { ASSERT_EQ(::mknod(p.c_str(), S_IFCHR | 0, makedev(0, 0)), 0) << p; }

struct TarItem {
  unsigned type = 0;
  mode_t perm = 0;
  std::int64_t size = 0, uid = 0;
  std::string hardlink, symlink, data;
  std::map<std::string, std::string> xattrs;
};

std::vector<std::pair<std::string, TarItem>> read_tar(const std::string& bytes) {
  std::vector<std::pair<std::string, TarItem>> out;
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_memory(a, bytes.data(), bytes.size()), ARCHIVE_OK);
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    TarItem t;
    t.type = archive_entry_filetype(e);
    t.perm = archive_entry_perm(e);
    t.size = archive_entry_size(e);
    t.uid = archive_entry_uid(e);
    if (archive_entry_hardlink(e)) t.hardlink = archive_entry_hardlink(e);
    if (archive_entry_symlink(e)) t.symlink = archive_entry_symlink(e);
    archive_entry_xattr_reset(e);
    const char* name;
    const void* value;
    size_t size;
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
      t.xattrs[name] = std::string(static_cast<const char*>(value), size);
    std::string data(static_cast<std::size_t>(std::max<std::int64_t>(t.size, 0)), '\0');
    if (t.size > 0) archive_read_data(a, data.data(), data.size());
    t.data = data;
    out.emplace_back(archive_entry_pathname(e), t);
  }
  archive_read_free(a);
  return out;
}

std::string tar_of(const UpperLayer& layer, std::uint64_t* entries = nullptr) {
  std::string tar;
  std::uint64_t n = write_layer_tar(layer, [&](std::string_view d) { tar.append(d); });
  if (entries) *entries = n;
  return tar;
}

// A lower with /etc, /old/{a,b}, /gone, /keep; an upper that changes them the way overlayfs records it.
struct FakeContainer {
  Scratch scratch;
  UpperLayer layer;
  FakeContainer() {
    fs::path lower = scratch.path / "lower", upper = scratch.path / "upper";
    dir(lower / "etc");
    put(lower / "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
    dir(lower / "old");
    put(lower / "old/a", "a");
    put(lower / "old/b", "b");
    put(lower / "gone", "gone");
    put(lower / "keep", "keep");
    dir(upper);
    dir(upper / "etc");  // the runtime's placeholders only
    for (const char* f : {"hosts", "hostname", "resolv.conf"}) put(upper / "etc" / f, "");
    whiteout(upper / "gone");
    dir(upper / "old");
    EXPECT_EQ(::setxattr((upper / "old").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
    put(upper / "old/c", "c");
    dir(upper / "newdir", 0750);
    put(upper / "newdir/f", "new file");
    EXPECT_EQ(::setxattr((upper / "newdir/f").c_str(), "user.note", "hello", 5, 0), 0);
    EXPECT_EQ(::setxattr((upper / "newdir/f").c_str(), "trusted.overlay.origin", "x", 1, 0), 0);
    EXPECT_EQ(::link((upper / "newdir/f").c_str(), (upper / "newdir/g").c_str()), 0);
    EXPECT_EQ(::symlink("/etc/passwd", (upper / "newdir/link").c_str()), 0);
    EXPECT_EQ(::mkfifo((upper / "newdir/fifo").c_str(), 0600), 0);
    put(upper / "newdir/suid", "#!/bin/sh\n", 04755);
    EXPECT_EQ(::chmod((upper / "newdir/suid").c_str(), 04755), 0);
    dir(upper / "data");  // a volume's mount point, and what the volume held
    put(upper / "data/inside", "volume content");
    layer.upper = upper;
    layer.lowers = {lower};
    layer.excluded = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"};
    layer.mount_targets = {"/data"};
  }
};

}  // namespace

TEST(LayerChanges, DockerLettersSortedWithExclusions) {
  FakeContainer c;
  std::vector<std::string> lines;
  for (const auto& ch : layer_changes(c.layer)) lines.push_back(std::string(1, change_letter(ch.kind)) + " " + ch.path);
  std::vector<std::string> want = {"A /data",          "D /gone",         "A /newdir",       "A /newdir/f",
                                   "A /newdir/fifo",   "A /newdir/g",     "A /newdir/link",  "A /newdir/suid",
                                   "C /old",           "D /old/a",        "D /old/b",        "A /old/c"};
  EXPECT_EQ(lines, want);
}

TEST(LayerTar, WhiteoutsOpaqueDirsAndExclusions) {
  FakeContainer c;
  std::uint64_t entries = 0;
  auto items = read_tar(tar_of(c.layer, &entries));
  std::vector<std::string> names;
  std::map<std::string, TarItem> by_name;
  for (const auto& [n, t] : items) {
    names.push_back(n);
    by_name[n] = t;
  }
  std::vector<std::string> want = {"data/",       ".wh.gone",    "newdir/",   "newdir/f",           "newdir/fifo",
                                   "newdir/g",    "newdir/link", "newdir/suid", "old/", "old/.wh..wh..opq", "old/c"};
  EXPECT_EQ(names, want);
  EXPECT_EQ(entries, want.size());
  EXPECT_EQ(by_name[".wh.gone"].type, static_cast<unsigned>(AE_IFREG));
  EXPECT_EQ(by_name[".wh.gone"].size, 0);
  EXPECT_EQ(by_name["newdir/"].perm, 0750u);
  EXPECT_EQ(by_name["newdir/f"].data, "new file");
  EXPECT_EQ(by_name["newdir/f"].xattrs.count("user.note"), 1u);
  EXPECT_EQ(by_name["newdir/f"].xattrs["user.note"], "hello");
  for (const auto& [n, t] : items)
    for (const auto& [k, v] : t.xattrs) EXPECT_NE(k.rfind("trusted.overlay.", 0), 0u) << n << " " << k;
  EXPECT_EQ(by_name["newdir/g"].hardlink, "newdir/f");
  EXPECT_EQ(by_name["newdir/link"].symlink, "/etc/passwd");
  EXPECT_EQ(by_name["newdir/fifo"].type, static_cast<unsigned>(AE_IFIFO));
  EXPECT_EQ(by_name["newdir/suid"].perm, 04755u);
}

TEST(LayerTar, SameTreeSameDigest) {
  FakeContainer c;
  std::string first = sha256_digest(tar_of(c.layer));
  EXPECT_EQ(sha256_digest(tar_of(c.layer)), first);
  ASSERT_EQ(::chmod((c.layer.upper / "newdir/f").c_str(), 0600), 0);
  EXPECT_NE(sha256_digest(tar_of(c.layer)), first);
}

TEST(LayerTar, EtcKeptWhenItDiffersFromTheLower) {
  FakeContainer c;
  ASSERT_EQ(::chmod((c.layer.upper / "etc").c_str(), 0700), 0);
  auto items = read_tar(tar_of(c.layer));
  bool etc = false;
  for (const auto& [n, t] : items) {
    etc |= n == "etc/";
    EXPECT_NE(n, "etc/hosts");
  }
  EXPECT_TRUE(etc);
}

TEST(LayerTar, EmptyUpperHasNoEntries) {
  Scratch s;
  dir(s.path / "upper");
  dir(s.path / "lower/etc");
  dir(s.path / "upper/etc");
  put(s.path / "upper/etc/hosts", "");
  UpperLayer layer{s.path / "upper", {s.path / "lower"}, {"/etc/hosts"}, {}, std::nullopt};
  std::uint64_t entries = 99;
  std::string tar = tar_of(layer, &entries);
  EXPECT_EQ(entries, 0u);
  EXPECT_TRUE(read_tar(tar).empty());
  EXPECT_TRUE(layer_changes(layer).empty());
}

TEST(LayerTar, UserNamespaceIdsShiftedBack) {
  Scratch s;
  dir(s.path / "upper");
  dir(s.path / "lower");
  put(s.path / "upper/f", "x");
  ASSERT_EQ(::chown((s.path / "upper/f").c_str(), 100000 + 5, 100000 + 5), 0);
  UpperLayer layer{s.path / "upper", {s.path / "lower"}, {}, {}, IdShift{100000, 100000, 65536}};
  auto items = read_tar(tar_of(layer));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].second.uid, 5);
}

TEST(LayerTar, RedirectedDirectoryIsRefused) {
  Scratch s;
  dir(s.path / "upper/moved");
  dir(s.path / "lower");
  ASSERT_EQ(::setxattr((s.path / "upper/moved").c_str(), "trusted.overlay.redirect", "/orig", 5, 0), 0);
  UpperLayer layer{s.path / "upper", {s.path / "lower"}, {}, {}, std::nullopt};
  try {
    tar_of(layer);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/moved"), std::string::npos) << e.what();
  }
}

TEST(CommitChanges, EachInstruction) {
  json c = apply_changes(json::object(), {"CMD [\"/bin/echo\", \"hi\"]", "ENV A=1 B=\"two words\"", "ENV C 3 4",
                                          "EXPOSE 80 53/udp 8000-8001", "LABEL x=y \"k 2\"=v", "USER nobody",
                                          "VOLUME /data /logs", "WORKDIR /srv", "WORKDIR app", "STOPSIGNAL SIGINT"});
  EXPECT_EQ(c["Cmd"], json({"/bin/echo", "hi"}));
  EXPECT_EQ(c["Env"], json({"A=1", "B=two words", "C=3 4"}));
  EXPECT_EQ(c["ExposedPorts"], json({{"80/tcp", json::object()}, {"53/udp", json::object()},
                                     {"8000/tcp", json::object()}, {"8001/tcp", json::object()}}));
  EXPECT_EQ(c["Labels"], json({{"x", "y"}, {"k 2", "v"}}));
  EXPECT_EQ(c["User"], "nobody");
  EXPECT_EQ(c["Volumes"], json({{"/data", json::object()}, {"/logs", json::object()}}));
  EXPECT_EQ(c["WorkingDir"], "/srv/app");
  EXPECT_EQ(c["StopSignal"], "SIGINT");
  json shell = apply_changes(json::object(), {"cmd echo $HOME", "entrypoint [\"/bin/sh\"]", "VOLUME [\"/v\"]"});
  EXPECT_TRUE(shell["Cmd"].is_array());
  EXPECT_EQ(shell["Entrypoint"], json({"/bin/sh"}));
  EXPECT_EQ(shell["Cmd"], json({"/bin/sh", "-c", "echo $HOME"}));  // CMD came first, so it stays
  EXPECT_EQ(apply_changes(json::object(), {"ENTRYPOINT top"})["Cmd"], json(nullptr));
}

TEST(CommitChanges, BadInstructionsRefused) {
  auto message = [](const std::vector<std::string>& changes) {
    try {
      apply_changes(json::object(), changes);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message({"RUN echo hi"}), "run is not a valid change command");
  EXPECT_EQ(message({"FROM busybox"}), "from is not a valid change command");
  EXPECT_EQ(message({"ENV"}), "ENV requires at least one argument");
  EXPECT_EQ(message({"EXPOSE 80/xyz"}), "invalid proto: xyz");
  EXPECT_EQ(message({"EXPOSE 99999"}), "invalid containerPort: 99999");
  EXPECT_EQ(message({"STOPSIGNAL SIGNOPE"}), "Invalid signal: SIGNOPE");
  EXPECT_EQ(message({"LABEL =x"}), "Syntax error - can't find = in \"=x\". Must be of the form: name=value");
  EXPECT_EQ(message({"ENV A=\"open"}), "ENV: unexpected end of statement while looking for matching \"");
}

TEST(CommitChanges, MergeWithTheContainerConfig) {
  json container = {{"Cmd", {"sh", "-c", "x"}}, {"Entrypoint", nullptr}, {"Env", {"PATH=/bin", "A=old"}},
                    {"Labels", {{"a", "1"}}}, {"WorkingDir", "/w"}, {"User", "1"}, {"ExposedPorts", {{"80/tcp", json::object()}}}};
  json merged = merge_config(apply_changes(json::object(), {"ENV A=new", "LABEL b=2"}), container);
  EXPECT_EQ(merged["Env"], json({"A=new", "PATH=/bin"}));
  EXPECT_EQ(merged["Labels"], json({{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(merged["Cmd"], json({"sh", "-c", "x"}));
  EXPECT_EQ(merged["WorkingDir"], "/w");
  EXPECT_EQ(merged["User"], "1");
  EXPECT_EQ(merged["ExposedPorts"], json({{"80/tcp", json::object()}}));
  // An ENTRYPOINT change drops the container's CMD (Docker's merge).
  json ep = merge_config(apply_changes(json::object(), {"ENTRYPOINT [\"/bin/top\"]"}), container);
  EXPECT_EQ(ep["Entrypoint"], json({"/bin/top"}));
  EXPECT_EQ(ep["Cmd"], json(nullptr));
}

TEST(CommitNames, Normalised) {
  EXPECT_EQ(image_name(""), "");
  EXPECT_EQ(image_name("me/app"), "docker.io/me/app:latest");
  EXPECT_EQ(image_name("localhost:5000/app:v1"), "localhost:5000/app:v1");
  EXPECT_THROW(image_name("Bad/Name"), Error);
  EXPECT_THROW(image_name("app@sha256:" + std::string(64, 'a')), Error);
}

TEST(HistoryColumns, DockerLayout) {
  TimePoint when = *parse_rfc3339("2024-01-01T02:00:00Z");
  HistoryRow top{"sha256:0123456789abcdef0123", "2024-01-01T00:00:00.5Z",
                 "/bin/sh -c #(nop) \tCMD [\"sh\"] and a long tail of words to cut", 1234567, "msg"};
  auto c = history_columns(top, true, true, when);
  EXPECT_EQ(c.id, "0123456789ab");
  EXPECT_EQ(c.created_since, "2 hours ago");
  EXPECT_EQ(c.created_at, "2024-01-01T00:00:00Z");
  EXPECT_EQ(c.created_by, "/bin/sh -c #(nop)  CMD [\"sh\"] and a long tai…");  // 44 + "…"
  EXPECT_EQ(c.size, "1.23MB");
  EXPECT_EQ(c.comment, "msg");
  auto full = history_columns(top, false, false, when);
  EXPECT_EQ(full.id, top.id);
  EXPECT_EQ(full.created_since, "2024-01-01T00:00:00Z");
  EXPECT_EQ(full.size, "1234567");
  EXPECT_EQ(full.created_by.find('\t'), std::string::npos);
  HistoryRow missing{"<missing>", "2024-01-01T00:00:00Z", "", 0, ""};
  EXPECT_EQ(history_columns(missing, true, true, when).id, "<missing>");
  EXPECT_EQ(history_columns(missing, true, true, when).size, "0B");
}
