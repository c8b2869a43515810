// User namespace bookkeeping: --userns parsing, subuid/subgid files, range allocation (fake id files in a
// temp dir; no kernel feature used).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "cppcker/security/userns.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

using namespace cppcker;

namespace {

constexpr std::uint64_t kPool = UsernsAllocator::kDefaultPool;

// A directory with fake id files and a state dir; removed with everything in it.
struct Sandbox {
  fs::path dir = fs::temp_directory_path() / ("cppcker-userns-" + random_hex(6));
  SubidFiles files{dir / "subuid", dir / "subgid"};
  fs::path state = dir / "state";
  Sandbox() { fs::create_directories(dir); }
  ~Sandbox() { remove_tree(dir); }
  // nullopt: the file does not exist.
  void write(const std::optional<std::string>& subuid, const std::optional<std::string>& subgid) const {
    if (subuid) std::ofstream(files.subuid, std::ios::binary) << *subuid;
    if (subgid) std::ofstream(files.subgid, std::ios::binary) << *subgid;
  }
  UsernsAllocator allocator(const std::string& user = "cppcker") const { return UsernsAllocator(state, user, files); }
  // Every name in the directory besides the state dir: what a call left next to the id files.
  std::set<std::string> names() const {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path() != state) out.insert(e.path().filename().string());
    return out;
  }
};

bool disjoint(std::uint64_t a, std::uint64_t an, std::uint64_t b, std::uint64_t bn) {
  return a + an <= b || b + bn <= a;
}

void expect_pairwise_disjoint(const std::vector<IdRange>& ranges) {
  for (std::size_t i = 0; i < ranges.size(); ++i)
    for (std::size_t j = i + 1; j < ranges.size(); ++j) {
      EXPECT_TRUE(disjoint(ranges[i].host_uid, ranges[i].size, ranges[j].host_uid, ranges[j].size)) << i << " " << j;
      EXPECT_TRUE(disjoint(ranges[i].host_gid, ranges[i].size, ranges[j].host_gid, ranges[j].size)) << i << " " << j;
    }
}

const auto always = [](const std::string&) { return true; };

}  // namespace

TEST(UsernsMode, ParsesDockerAndPodmanForms) {
  struct Case {
    std::string text;
    bool enabled;
    std::uint32_t size;
  };
  for (const auto& c : std::vector<Case>{{"", false, 65536},
                                         {"host", false, 65536},
                                         {"auto", true, 65536},
                                         {"auto:size=1", true, 1},
                                         {"auto:size=65536", true, 65536},
                                         {"auto:size=0000100", true, 100},
                                         {"auto:size=2147483648", true, 2147483648u}}) {
    UsernsMode m = parse_userns_mode(c.text);
    EXPECT_EQ(m.enabled, c.enabled) << c.text;
    EXPECT_EQ(m.size, c.size) << c.text;
  }
  for (const char* bad : {"auto:size=0", "auto:size=2147483649", "auto:size=99999999999999999999", "auto:size=",
                          "auto:size=-1", "auto:size=+5", "auto:size=1k", "auto:", "auto:uidmapping=0:1:2", "Auto",
                          "private", "container:x", "keep-id", " auto", "host "}) {
    try {
      parse_userns_mode(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), 125) << bad;
      EXPECT_NE(std::string(e.what()).find("invalid --userns value \"" + std::string(bad) + "\""), std::string::npos)
          << e.what();
    }
  }
}

TEST(SubidFile, ParsesEntriesSkippingCommentsAndMalformedLines) {
  auto entries = parse_subid_file(
      "# comment\n"
      "\n"
      "   \n"
      "alice:100000:65536\n"
      "1000:165536:65536\r\n"  // a numeric name (a uid), CRLF
      "  bob:300000:10  \n"
      "broken\n"
      "two:fields\n"
      "four:1:2:3\n"
      ":1:2\n"
      "neg:-1:5\n"
      "hex:0x10:5\n"
      "big:1:99999999999999999999\n"
      "over:4294967296:1\n"
      "space:1 :2\n"
      "  # indented comment\n"
      "last:400000:1");
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].name, "alice");
  EXPECT_EQ(entries[0].start, 100000u);
  EXPECT_EQ(entries[0].count, 65536u);
  EXPECT_EQ(entries[1].name, "1000");
  EXPECT_EQ(entries[1].start, 165536u);
  EXPECT_EQ(entries[2].name, "bob");
  EXPECT_EQ(entries[2].count, 10u);
  EXPECT_EQ(entries[3].name, "last");
  EXPECT_EQ(entries[3].start, 400000u);
  EXPECT_EQ(entries[3].count, 1u);
  EXPECT_TRUE(parse_subid_file("").empty());
}

TEST(EnsureSubids, AppendsAnEntryOverlappingNothing) {
  struct Case {
    std::string what;
    std::optional<std::string> subuid, subgid;  // nullopt: missing file
    std::uint64_t uid_start, gid_start;
  };
  const std::vector<Case> cases{
      {"no files", std::nullopt, std::nullopt, 131072, 131072},
      {"empty files", "", "", 131072, 131072},
      {"first block taken", "alice:100000:65536\n", "alice:100000:65536\n", 196608, 196608},
      {"entries far above leave the lowest block", "hi:1000000000:65536\n", "", 131072, 131072},
      {"a count of 0 takes nothing", "z:131072:0\n", "z:131072:0\n", 131072, 131072},
      // The same start in both when some start is free in both, even if one file alone had a lower one.
      {"same start in both files", "bob:131072:65536\n", "bob:200000:65536\n", 327680, 327680},
      // 131072 + the pool would cover carol's id: the next 65536 boundary above it.
      {"the pool's end matters too", "carol:67108864:1\n", "", 65536ull * 1025, 65536ull * 1025},
      {"comments and malformed lines kept, missing newline added", "# ids\nbad line\ncarol:100000:65536",
       "#\n\ncarol:100000:65536\n", 196608, 196608},
      {"only the gid side missing: the uid start again", "cppcker:300000:70000000\n", "", 0, 300000},
      {"only the gid side missing, its start taken", "cppcker:131072:67108864\n", "dave:131072:1000\n", 0, 196608},
      {"only the uid side missing", "dave:131072:1000\n", "cppcker:262144:67108864\n", 262144, 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    Sandbox box;
    box.write(c.subuid, c.subgid);
    std::vector<SubidEntry> gids;
    auto uids = box.allocator().ensure_subids(&gids);
    auto check = [&](const fs::path& file, const std::optional<std::string>& before, std::uint64_t start,
                     const std::vector<SubidEntry>& got) {
      std::string text = read_file(file);
      ASSERT_EQ(got.size(), 1u);
      if (start == 0) {  // the user already had an entry: the file is untouched
        EXPECT_EQ(text, before.value_or(""));
        return;
      }
      std::string old = before.value_or("");
      if (!old.empty() && old.back() != '\n') old += '\n';
      EXPECT_EQ(text, old + "cppcker:" + std::to_string(start) + ":" + std::to_string(kPool) + "\n");
      EXPECT_EQ(got[0].start, start);
      EXPECT_EQ(got[0].count, kPool);
      for (const auto& e : parse_subid_file(before.value_or("")))
        EXPECT_TRUE(e.count == 0 || disjoint(e.start, e.count, start, kPool)) << e.name;
      struct stat st{};
      ASSERT_EQ(::stat(file.c_str(), &st), 0);
      if (!before) {
        EXPECT_EQ(st.st_mode & 07777, 0644u);
      }
    };
    check(box.files.subuid, c.subuid, c.uid_start, uids);
    check(box.files.subgid, c.subgid, c.gid_start, gids);
    EXPECT_EQ(box.names(), (std::set<std::string>{"subuid", "subgid"}));  // no lock or temp file left
  }
}

TEST(EnsureSubids, LeavesExistingEntriesAlone) {
  Sandbox box;
  const std::string uid_text = "# keep\ncppcker:500000:65536\ncppcker:700000:10\n";
  const std::string gid_text = "cppcker:600000:65536";  // no final newline: not rewritten either
  box.write(uid_text, gid_text);
  struct stat before{};
  ASSERT_EQ(::stat(box.files.subuid.c_str(), &before), 0);
  std::vector<SubidEntry> gids;
  auto uids = box.allocator().ensure_subids(&gids);
  ASSERT_EQ(uids.size(), 2u);
  EXPECT_EQ(uids[1].start, 700000u);
  ASSERT_EQ(gids.size(), 1u);
  EXPECT_EQ(gids[0].start, 600000u);
  EXPECT_EQ(read_file(box.files.subuid), uid_text);
  EXPECT_EQ(read_file(box.files.subgid), gid_text);
  struct stat after{};
  ASSERT_EQ(::stat(box.files.subuid.c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);  // not even rewritten
}

TEST(EnsureSubids, KeepsTheFilesModeAndOwner) {
  Sandbox box;
  box.write("a:100000:65536\n", "a:100000:65536\n");
  ASSERT_EQ(::chmod(box.files.subuid.c_str(), 0640), 0);
  const bool root = ::geteuid() == 0;
  if (root) {
    ASSERT_EQ(::chown(box.files.subuid.c_str(), 4242, 4343), 0);
  }
  box.allocator().ensure_subids();
  struct stat st{};
  ASSERT_EQ(::stat(box.files.subuid.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_uid, root ? 4242u : ::geteuid());
  EXPECT_EQ(st.st_gid, root ? 4343u : ::getegid());
  ASSERT_EQ(::stat(box.files.subgid.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
}

TEST(EnsureSubids, NumericEntriesOfAKnownUserCount) {
  Sandbox box;
  box.write("0:500000:65536\n", "root:600000:65536\n");  // root is uid 0 everywhere
  std::vector<SubidEntry> gids;
  auto uids = box.allocator("root").ensure_subids(&gids);
  ASSERT_EQ(uids.size(), 1u);
  EXPECT_EQ(uids[0].start, 500000u);
  ASSERT_EQ(gids.size(), 1u);
  EXPECT_EQ(gids[0].start, 600000u);
  EXPECT_EQ(read_file(box.files.subuid), "0:500000:65536\n");
  EXPECT_EQ(read_file(box.files.subgid), "root:600000:65536\n");
}

TEST(EnsureSubids, NoRoomLeavesBothFilesUntouched) {
  Sandbox box;
  box.write("", "all:0:4294967295\n");
  try {
    box.allocator().ensure_subids();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 125);
    EXPECT_NE(std::string(e.what()).find("no room for 67108864 ids for user cppcker in " + box.files.subgid.string()),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(read_file(box.files.subuid), "");
  EXPECT_EQ(read_file(box.files.subgid), "all:0:4294967295\n");
  EXPECT_EQ(box.names(), (std::set<std::string>{"subuid", "subgid"}));
}

TEST(EnsureSubids, HonoursShadowsLockFile) {
  Sandbox box;
  box.write("", "");
  fs::path lock = box.files.subuid.string() + ".lock";
  // Held by a live process (this one): cppcker waits a moment, then gives up without writing anything.
  std::ofstream(lock, std::ios::binary) << std::to_string(::getpid()) << '\0';
  try {
    box.allocator().ensure_subids();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("locked by process " + std::to_string(::getpid())), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(read_file(box.files.subuid), "");
  EXPECT_EQ(read_file(box.files.subgid), "");
  EXPECT_TRUE(fs::exists(lock));  // someone else's lock stays

  // Left by a process that is gone: stale, removed, and the entries are written.
  pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ASSERT_GT(dead, 0);
  ASSERT_EQ(::waitpid(dead, nullptr, 0), dead);
  std::ofstream(lock, std::ios::binary | std::ios::trunc) << std::to_string(dead) << '\0';
  box.allocator().ensure_subids();
  EXPECT_EQ(read_file(box.files.subuid), "cppcker:131072:67108864\n");
  EXPECT_EQ(box.names(), (std::set<std::string>{"subuid", "subgid"}));
}

TEST(UsernsAllocate, DisjointRangesSameAgainAndReuseOfGoneContainers) {
  Sandbox box;
  box.write("cppcker:100000:200000\n", "cppcker:100000:200000\n");
  auto alloc = box.allocator();
  IdRange a = alloc.allocate("a", 65536, always);
  IdRange b = alloc.allocate("b", 65536, always);
  EXPECT_EQ(a, (IdRange{100000, 100000, 65536}));
  EXPECT_EQ(b, (IdRange{165536, 165536, 65536}));
  // The same container gets its range again, also when asking for fewer ids, and even while still_exists
  // does not (yet) know it.
  EXPECT_EQ(alloc.allocate("a", 65536, always), a);
  EXPECT_EQ(alloc.allocate("a", 1000, [](const std::string& id) { return id != "a"; }), a);
  IdRange c = alloc.allocate("c", 65536, [](const std::string& id) { return id != "a"; });
  EXPECT_EQ(c, (IdRange{100000, 100000, 65536}));  // a's container is gone: its range is free again
  EXPECT_EQ(alloc.find("a"), std::nullopt);
  EXPECT_EQ(alloc.find("b"), b);
  EXPECT_EQ(alloc.find("c"), c);

  struct stat st{};
  ASSERT_EQ(::stat((box.state / "allocations.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  alloc.release("b");
  EXPECT_EQ(alloc.find("b"), std::nullopt);
  alloc.release("unknown");
  EXPECT_EQ(alloc.find("c"), c);
}

TEST(UsernsAllocate, ErrorWhenNothingFits) {
  Sandbox box;
  box.write("cppcker:100000:200000\n", "cppcker:100000:200000\n");
  auto alloc = box.allocator();
  alloc.allocate("a", 65536, always);
  alloc.allocate("b", 65536, always);
  alloc.allocate("c", 65536, always);
  try {
    alloc.allocate("d", 65536, always);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 125);
    EXPECT_NE(std::string(e.what()).find("no room for 65536 ids in " + box.files.subuid.string() + " for user cppcker"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(alloc.find("d"), std::nullopt);
  EXPECT_THROW(alloc.allocate("d", 0, always), Error);
  // 3392 ids are left at the end.
  EXPECT_EQ(alloc.allocate("d", 3392, always), (IdRange{296608, 296608, 3392}));
  EXPECT_THROW(alloc.allocate("e", 1, always), Error);
  // Once b's container is gone, its block is the lowest free one.
  EXPECT_EQ(alloc.allocate("e", 65536, [](const std::string& id) { return id != "b"; }),
            (IdRange{165536, 165536, 65536}));
}

TEST(UsernsAllocate, GrowsInPlaceWhenItCanElseMoves) {
  Sandbox box;
  box.write("cppcker:100000:100000\n", "cppcker:100000:100000\n");
  auto alloc = box.allocator();
  EXPECT_EQ(alloc.allocate("a", 1000, always), (IdRange{100000, 100000, 1000}));
  EXPECT_EQ(alloc.allocate("a", 2000, always), (IdRange{100000, 100000, 2000}));
  EXPECT_EQ(alloc.allocate("b", 1000, always), (IdRange{102000, 102000, 1000}));
  EXPECT_EQ(alloc.allocate("a", 3000, always), (IdRange{103000, 103000, 3000}));
  EXPECT_EQ(alloc.find("a"), (IdRange{103000, 103000, 3000}));
}

TEST(UsernsAllocate, DifferentStartsInTheTwoFiles) {
  Sandbox box;
  box.write("cppcker:100000:200000\n", "cppcker:500000:200000\n");
  auto alloc = box.allocator();
  EXPECT_EQ(alloc.allocate("a", 65536, always), (IdRange{100000, 500000, 65536}));
  EXPECT_EQ(alloc.allocate("b", 65536, always), (IdRange{165536, 565536, 65536}));
}

TEST(UsernsAllocate, PicksUidAndGidIndependentlyWhenNoOffsetFitsBoth) {
  Sandbox box;
  box.write("cppcker:100000:1000\n", "cppcker:100000:1000\n");
  // An allocation made when the files said otherwise: its gid block is not at its uid block's offset.
  make_dirs(box.state);
  std::ofstream(box.state / "allocations.json") << R"({"x":{"uid":100000,"gid":100500,"size":500}})";
  auto alloc = box.allocator();
  EXPECT_EQ(alloc.allocate("y", 500, always), (IdRange{100500, 100000, 500}));
  EXPECT_THROW(alloc.allocate("z", 1, always), Error);
}

TEST(UsernsAllocate, AdjacentEntriesFormOneRange) {
  Sandbox box;
  box.write("cppcker:100000:1000\ncppcker:101000:1000\n", "cppcker:101000:1000\ncppcker:100000:1000\n");
  EXPECT_EQ(box.allocator().allocate("a", 2000, always), (IdRange{100000, 100000, 2000}));
}

TEST(UsernsAllocate, CreatesTheRemapEntriesOnFirstUse) {
  Sandbox box;
  auto alloc = box.allocator();
  EXPECT_EQ(alloc.allocate("a", 65536, always), (IdRange{131072, 131072, 65536}));
  EXPECT_EQ(read_file(box.files.subuid), "cppcker:131072:67108864\n");
  EXPECT_EQ(read_file(box.files.subgid), "cppcker:131072:67108864\n");
}

TEST(UsernsAllocate, CorruptStateIsAnError) {
  Sandbox box;
  box.write("cppcker:100000:1000\n", "cppcker:100000:1000\n");
  make_dirs(box.state);
  std::ofstream(box.state / "allocations.json") << R"({"x":{"uid":"no"}})";
  EXPECT_THROW(box.allocator().allocate("y", 1, always), Error);
}

TEST(UsernsAllocate, ConcurrentThreadsNeverShareIds) {
  Sandbox box;  // no files yet: the threads also race to create the remap entries
  constexpr int kThreads = 8, kEach = 4;
  std::vector<IdRange> got(kThreads * kEach);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      auto alloc = box.allocator();  // each thread its own allocator, as separate processes would have
      for (int i = 0; i < kEach; ++i) {
        try {
          got[t * kEach + i] = alloc.allocate("c" + std::to_string(t) + "-" + std::to_string(i), 1000 + t, always);
        } catch (const std::exception&) {
          ++failures;
        }
      }
    });
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  expect_pairwise_disjoint(got);
  auto alloc = box.allocator();
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kEach; ++i)
      EXPECT_EQ(alloc.find("c" + std::to_string(t) + "-" + std::to_string(i)), got[t * kEach + i]);
  EXPECT_EQ(read_file(box.files.subuid), "cppcker:131072:67108864\n");
}

TEST(UsernsAllocate, ConcurrentProcessesNeverShareIds) {
  Sandbox box;
  constexpr int kProcs = 6, kEach = 3;
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  std::vector<pid_t> pids;
  for (int n = 0; n < kProcs; ++n) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(p[0]);
      std::string out;
      try {
        auto alloc = box.allocator();
        for (int i = 0; i < kEach; ++i) {
          std::string id = "p" + std::to_string(n) + "-" + std::to_string(i);
          IdRange r = alloc.allocate(id, 5000, always);
          out += id + " " + std::to_string(r.host_uid) + " " + std::to_string(r.host_gid) + " " +
                 std::to_string(r.size) + "\n";
        }
      } catch (const std::exception& e) {
        out += std::string("error ") + e.what() + "\n";
      }
      // One write of < PIPE_BUF bytes: the children's reports never interleave.
      ::_exit(::write(p[1], out.data(), out.size()) == static_cast<ssize_t>(out.size()) ? 0 : 1);
    }
    ASSERT_GT(pid, 0);
    pids.push_back(pid);
  }
  ::close(p[1]);
  std::string report;
  char buf[4096];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) report.append(buf, static_cast<std::size_t>(n));
  ::close(p[0]);
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  std::istringstream in(report);
  std::vector<IdRange> got;
  auto alloc = box.allocator();
  for (std::string id; in >> id;) {
    ASSERT_NE(id, "error") << report;
    IdRange r;
    in >> r.host_uid >> r.host_gid >> r.size;
    EXPECT_EQ(alloc.find(id), r) << id;
    got.push_back(r);
  }
  EXPECT_EQ(got.size(), static_cast<std::size_t>(kProcs * kEach)) << report;
  expect_pairwise_disjoint(got);
  EXPECT_EQ(read_file(box.files.subuid), "cppcker:131072:67108864\n");
  EXPECT_EQ(read_file(box.files.subgid), "cppcker:131072:67108864\n");
}

TEST(KernelVersion, ReadsUname) {
  KernelVersion v = kernel_version();
  EXPECT_GE(v.major, 3u);
  EXPECT_EQ(kernel_supports_idmapped_overlay(), v.major > 5 || (v.major == 5 && v.minor >= 19));
}
