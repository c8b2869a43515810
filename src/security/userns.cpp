#include "cppcker/security/userns.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "cppcker/util/error.hpp"

namespace cppcker {

namespace {

using nlohmann::json;

// Host ids run from 0 to 2^32-2: (uid_t)-1 means "no id" to every syscall, so no range may reach it.
constexpr std::uint64_t kIdEnd = 0xffffffffull;
// New remap-user entries start on a 65536 boundary at or above 100000 (131072), as useradd's default
// SUB_UID_MIN leaves the ids below 100000 to the host.
constexpr std::uint64_t kSubidAlign = 65536;
constexpr std::uint64_t kSubidFloor = 100000;
constexpr std::uint64_t kMaxUsernsSize = 1ull << 31;

struct Interval {
  std::uint64_t begin = 0, end = 0;  // [begin, end)
  std::uint64_t size() const { return end - begin; }
};

bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Whether an entry's name means `user`: its name, or its uid when the name is numeric (shadow's tools
// accept either). The passwd database is asked only when a numeric name turns up: this runs on the start
// path, and NSS may load modules (libnss_systemd) and probe userdb directories on every lookup.
class UserMatcher {
 public:
  explicit UserMatcher(std::string user) : user_(std::move(user)) {}
  bool operator()(const std::string& name) {
    if (name == user_) return true;
    if (name.find_first_not_of("0123456789") != std::string::npos) return false;
    if (!uid_) {
      passwd pw{}, *found = nullptr;
      char buf[4096];
      uid_ = ::getpwnam_r(user_.c_str(), &pw, buf, sizeof buf, &found) == 0 && found
                 ? std::to_string(found->pw_uid)
                 : std::string();
    }
    return !uid_->empty() && name == *uid_;
  }

 private:
  std::string user_;
  std::optional<std::string> uid_;  // "" when the passwd database does not know the user
};

std::vector<SubidEntry> entries_of(const std::vector<SubidEntry>& all, UserMatcher& is_user) {
  std::vector<SubidEntry> out;
  for (const auto& e : all)
    if (e.count > 0 && is_user(e.name)) out.push_back(e);
  return out;
}

bool overlaps(std::uint64_t a, std::uint64_t a_count, std::uint64_t b, std::uint64_t b_count) {
  return a < b + b_count && b < a + a_count;
}

// The first entry of `all` that [start, start+count) overlaps.
const SubidEntry* first_overlap(const std::vector<SubidEntry>& all, std::uint64_t start, std::uint64_t count) {
  for (const auto& e : all)
    if (e.count > 0 && overlaps(start, count, e.start, e.count)) return &e;
  return nullptr;
}

std::uint64_t round_up(std::uint64_t v, std::uint64_t to) { return (v + to - 1) / to * to; }

// The lowest aligned start >= 100000 whose `count` ids overlap nothing in any of `files`.
std::optional<std::uint64_t> lowest_free_start(const std::vector<const std::vector<SubidEntry>*>& files,
                                               std::uint64_t count) {
  std::uint64_t start = round_up(kSubidFloor, kSubidAlign);
  while (start + count <= kIdEnd) {
    const SubidEntry* hit = nullptr;
    for (const auto* f : files)
      if ((hit = first_overlap(*f, start, count))) break;
    if (!hit) return start;
    start = std::max(start + kSubidAlign, round_up(hit->start + hit->count, kSubidAlign));
  }
  return std::nullopt;
}

// The user's entries as sorted, merged intervals below kIdEnd: adjacent or overlapping lines (an admin
// adding a second range) form one usable range.
std::vector<Interval> merged(const std::vector<SubidEntry>& entries) {
  std::vector<Interval> v;
  for (const auto& e : entries) {
    std::uint64_t end = std::min(e.start + e.count, kIdEnd);
    if (e.start < end) v.push_back({e.start, end});
  }
  std::sort(v.begin(), v.end(), [](const Interval& a, const Interval& b) { return a.begin < b.begin; });
  std::vector<Interval> out;
  for (const auto& i : v) {
    if (!out.empty() && i.begin <= out.back().end)
      out.back().end = std::max(out.back().end, i.end);
    else
      out.push_back(i);
  }
  return out;
}

// `ranges` minus `busy` (both sorted by begin; busy may overlap itself).
std::vector<Interval> subtract(const std::vector<Interval>& ranges, std::vector<Interval> busy) {
  std::sort(busy.begin(), busy.end(), [](const Interval& a, const Interval& b) { return a.begin < b.begin; });
  std::vector<Interval> out;
  for (const auto& r : ranges) {
    std::uint64_t cursor = r.begin;
    for (const auto& b : busy) {
      if (b.end <= cursor) continue;
      if (b.begin >= r.end) break;
      if (b.begin > cursor) out.push_back({cursor, b.begin});
      cursor = std::max(cursor, b.end);
      if (cursor >= r.end) break;
    }
    if (cursor < r.end) out.push_back({cursor, r.end});
  }
  return out;
}

bool inside(const std::vector<Interval>& ranges, std::uint64_t start, std::uint64_t count) {
  for (const auto& r : ranges)
    if (start >= r.begin && start + count <= r.end) return true;
  return false;
}

bool clashes(const std::vector<Interval>& busy, std::uint64_t start, std::uint64_t count) {
  for (const auto& b : busy)
    if (overlaps(start, count, b.begin, b.size())) return true;
  return false;
}

std::optional<std::uint64_t> first_fit(const std::vector<Interval>& free, std::uint64_t size) {
  for (const auto& f : free)
    if (f.size() >= size) return f.begin;
  return std::nullopt;
}

// The lowest uid block with a gid block at the same offset in some pair of (uid range, gid range), so that
// a container's uid and gid numbers stay alike when the files are alike.
std::optional<IdRange> paired_fit(const std::vector<Interval>& uid_ranges, const std::vector<Interval>& free_uids,
                                  const std::vector<Interval>& gid_ranges, const std::vector<Interval>& free_gids,
                                  std::uint64_t size) {
  std::optional<IdRange> best;
  for (const auto& ur : uid_ranges) {
    for (const auto& gr : gid_ranges) {
      // Free offsets inside each range, then the offsets free in both.
      auto offsets = [](const std::vector<Interval>& free, const Interval& r) {
        std::vector<Interval> out;
        for (const auto& f : free)
          if (f.begin >= r.begin && f.end <= r.end) out.push_back({f.begin - r.begin, f.end - r.begin});
        return out;
      };
      auto fu = offsets(free_uids, ur), fg = offsets(free_gids, gr);
      for (std::size_t i = 0, j = 0; i < fu.size() && j < fg.size();) {
        std::uint64_t lo = std::max(fu[i].begin, fg[j].begin), hi = std::min(fu[i].end, fg[j].end);
        if (hi > lo && hi - lo >= size) {
          IdRange r{static_cast<std::uint32_t>(ur.begin + lo), static_cast<std::uint32_t>(gr.begin + lo),
                    static_cast<std::uint32_t>(size)};
          if (!best || r.host_uid < best->host_uid || (r.host_uid == best->host_uid && r.host_gid < best->host_gid))
            best = r;
          break;
        }
        (fu[i].end < fg[j].end ? i : j)++;
      }
    }
  }
  return best;
}

// shadow's own lock on an id file (commonio_lock_nowait in useradd/usermod): `<file>.<pid>` holding the
// pid, hard-linked to `<file>.lock`; a lock whose pid is gone is stale. Taken while cppcker rewrites the
// file so that a concurrent useradd/usermod fails cleanly instead of one of the two updates being lost.
class ShadowLock {
 public:
  explicit ShadowLock(const fs::path& file) : lock_(file.string() + ".lock") {
    const std::string pid = std::to_string(::getpid());
    const std::string tmp = file.string() + "." + pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    for (bool stale_removed = false;;) {
      {
        UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        if (!fd) throw_errno("create " + tmp);
        if (::write(fd.get(), pid.c_str(), pid.size() + 1) != static_cast<ssize_t>(pid.size() + 1)) {
          int err = errno;
          ::unlink(tmp.c_str());
          throw SystemError("write " + tmp, err);
        }
      }
      int rc = ::link(tmp.c_str(), lock_.c_str());
      int err = errno;
      ::unlink(tmp.c_str());
      if (rc == 0) return;
      if (err != EEXIST) throw SystemError("lock " + file.string() + ": link " + lock_, err);
      auto holder = read_file_if_exists(lock_);
      if (!holder) continue;  // released between link and read
      std::uint64_t other = 0;
      std::string digits = holder->substr(0, holder->find_first_of(std::string("\0\n", 2)));
      if (!parse_u64(digits, other) || other == 0 || other > 0x7fffffff)
        throw Error("cannot lock " + file.string() + ": " + lock_ + " holds no valid pid");
      if (::kill(static_cast<pid_t>(other), 0) != 0 && errno == ESRCH && !stale_removed) {
        ::unlink(lock_.c_str());
        stale_removed = true;
        continue;
      }
      if (std::chrono::steady_clock::now() >= deadline)
        throw Error("cannot lock " + file.string() + ": locked by process " + digits + " (" + lock_ + ")");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      stale_removed = false;
    }
  }
  ~ShadowLock() { ::unlink(lock_.c_str()); }
  ShadowLock(const ShadowLock&) = delete;
  ShadowLock& operator=(const ShadowLock&) = delete;

 private:
  std::string lock_;
};

// Replaces `path` with `data` through a temp file and rename, keeping the old file's mode and owner
// (write_file_atomic gives the new file a fixed mode and the caller as owner).
void replace_keeping_attributes(const fs::path& path, std::string_view data) {
  struct stat st{};
  bool existed = ::stat(path.c_str(), &st) == 0;
  if (!existed && errno != ENOENT) throw_errno("stat " + path.string());
  fs::path tmp = path;
  tmp += ".tmp-" + random_hex(6);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) throw_errno("create " + tmp.string());
  try {
    for (std::string_view rest = data; !rest.empty();) {
      ssize_t n = ::write(fd.get(), rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_errno("write " + tmp.string());
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
    if (existed && ::fchown(fd.get(), st.st_uid, st.st_gid) != 0) throw_errno("chown " + tmp.string());
    if (::fchmod(fd.get(), existed ? (st.st_mode & 07777) : 0644) != 0) throw_errno("chmod " + tmp.string());
    if (::fsync(fd.get()) != 0) throw_errno("fsync " + tmp.string());
    fd.reset();
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw_errno("rename " + tmp.string() + " to " + path.string());
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  sync_dir(path.parent_path().empty() ? fs::path(".") : path.parent_path());
}

std::string read_or_empty(const fs::path& path) { return read_file_if_exists(path).value_or(""); }

std::string append_line(std::string text, const std::string& line) {
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text + line + "\n";
}

struct Allocations {
  std::map<std::string, IdRange> by_id;
};

IdRange range_from_json(const json& j) {
  IdRange r;
  r.host_uid = j.at("uid").get<std::uint32_t>();
  r.host_gid = j.at("gid").get<std::uint32_t>();
  r.size = j.at("size").get<std::uint32_t>();
  return r;
}

Allocations read_allocations(const fs::path& path) {
  Allocations a;
  auto text = read_file_if_exists(path);
  if (!text) return a;
  json j = json::parse(*text, nullptr, false);
  try {
    if (!j.is_object()) throw Error("");
    for (const auto& [id, r] : j.items()) a.by_id[id] = range_from_json(r);
  } catch (const std::exception&) {
    throw Error("corrupt user namespace allocations " + path.string());
  }
  return a;
}

// A new or changed range is synced: the container's upper layer holds files owned by it, so losing it in a
// machine crash could hand it to another container. A removal is not: a lost one only leaves an entry
// that the next allocation drops (its container is gone).
void write_allocations(const fs::path& path, const Allocations& a, Durability durability) {
  json j = json::object();
  for (const auto& [id, r] : a.by_id) j[id] = {{"uid", r.host_uid}, {"gid", r.host_gid}, {"size", r.size}};
  write_file_atomic(path, j.dump(), 0600, durability);
}

std::string describe_at(int dirfd, const std::string& path) {
  if (dirfd == AT_FDCWD || (!path.empty() && path.front() == '/')) return path;
  std::error_code ec;
  fs::path dir = fs::read_symlink("/proc/self/fd/" + std::to_string(dirfd), ec);
  std::string base = ec ? "fd " + std::to_string(dirfd) : dir.string();
  return path.empty() ? base : base + "/" + path;
}

// The child that holds the new user namespace until the parent has written its maps and opened it.
// Runs on a small stack in the parent's memory (CLONE_VM), so it makes raw system calls only.
struct HolderArgs {
  int read_fd, write_fd;
};
int hold_namespace(void* arg) {
  auto* a = static_cast<HolderArgs*>(arg);
  ::syscall(SYS_close, a->write_fd);
  char c;
  ::syscall(SYS_read, a->read_fd, &c, 1);  // returns at EOF: when the parent closes its end, or dies
  return 0;
}

void write_map(pid_t pid, const char* which, std::uint32_t host, std::uint32_t size) {
  std::string path = "/proc/" + std::to_string(pid) + "/" + which;
  std::string line = "0 " + std::to_string(host) + " " + std::to_string(size);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) throw_errno("open " + path);
  // One write: the kernel takes a map in a single write only.
  if (::write(fd.get(), (line + "\n").data(), line.size() + 1) != static_cast<ssize_t>(line.size() + 1))
    throw_errno("write \"" + line + "\" to " + path);
}

}  // namespace

UsernsMode parse_userns_mode(const std::string& text) {
  UsernsMode m;
  if (text.empty() || text == "host") return m;
  if (text == "auto") {
    m.enabled = true;
    return m;
  }
  const std::string prefix = "auto:size=";
  if (!text.starts_with(prefix))
    throw Error("invalid --userns value \"" + text + "\": expected host, auto or auto:size=N", 125);
  std::uint64_t n = 0;
  if (!parse_u64(std::string_view(text).substr(prefix.size()), n) || n < 1 || n > kMaxUsernsSize)
    throw Error("invalid --userns value \"" + text + "\": size must be a number from 1 to " +
                    std::to_string(kMaxUsernsSize),
                125);
  m.enabled = true;
  m.size = static_cast<std::uint32_t>(n);
  return m;
}

std::vector<SubidEntry> parse_subid_file(const std::string& text) {
  std::vector<SubidEntry> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line = trim(std::string_view(text).substr(pos, nl == std::string::npos ? nl : nl - pos));
    pos = nl == std::string::npos ? text.size() : nl + 1;
    if (line.empty() || line.front() == '#') continue;
    std::size_t a = line.find(':'), b = a == std::string_view::npos ? a : line.find(':', a + 1);
    if (b == std::string_view::npos || line.find(':', b + 1) != std::string_view::npos) continue;
    SubidEntry e;
    e.name = std::string(line.substr(0, a));
    if (e.name.empty() || !parse_u64(line.substr(a + 1, b - a - 1), e.start) ||
        !parse_u64(line.substr(b + 1), e.count) || e.start > kIdEnd || e.count > kIdEnd)
      continue;
    out.push_back(std::move(e));
  }
  return out;
}

UsernsAllocator::UsernsAllocator(fs::path state_dir, std::string user, SubidFiles files)
    : state_dir_(std::move(state_dir)), user_(std::move(user)), files_(std::move(files)) {}

namespace {

FileLock lock_state(const fs::path& state_dir) {
  make_dirs(state_dir);
  return FileLock(state_dir / ".lock");
}

struct UserRanges {
  std::vector<SubidEntry> uids, gids;
};

std::string entry_line(const SubidEntry& e) {
  return e.name + ":" + std::to_string(e.start) + ":" + std::to_string(e.count);
}

// ensure_subids with the state lock held.
UserRanges ensure_subids_locked(const std::string& user, const SubidFiles& files) {
  UserMatcher names(user);
  UserRanges r;
  r.uids = entries_of(parse_subid_file(read_or_empty(files.subuid)), names);
  r.gids = entries_of(parse_subid_file(read_or_empty(files.subgid)), names);
  if (!r.uids.empty() && !r.gids.empty()) return r;

  // Read again under shadow's locks: useradd may have added lines since.
  ShadowLock uid_lock(files.subuid), gid_lock(files.subgid);
  std::string uid_text = read_or_empty(files.subuid), gid_text = read_or_empty(files.subgid);
  auto all_uids = parse_subid_file(uid_text), all_gids = parse_subid_file(gid_text);
  r.uids = entries_of(all_uids, names);
  r.gids = entries_of(all_gids, names);
  if (!r.uids.empty() && !r.gids.empty()) return r;

  constexpr std::uint64_t pool = UsernsAllocator::kDefaultPool;
  auto place = [&](const std::vector<SubidEntry>& all, const std::vector<SubidEntry>& mirror,
                   const fs::path& file) -> std::uint64_t {
    for (const auto& m : mirror)  // the start the other file gives the user, when it is free here
      if (m.start + pool <= kIdEnd && !first_overlap(all, m.start, pool)) return m.start;
    auto start = lowest_free_start({&all}, pool);
    if (!start)
      throw Error("no room for " + std::to_string(pool) + " ids for user " + user + " in " + file.string(), 125);
    return *start;
  };
  std::uint64_t uid_start = 0, gid_start = 0;
  if (r.uids.empty() && r.gids.empty()) {
    auto both = lowest_free_start({&all_uids, &all_gids}, pool);
    uid_start = both ? *both : place(all_uids, {}, files.subuid);
    gid_start = both ? *both : place(all_gids, {}, files.subgid);
  } else if (r.uids.empty()) {
    uid_start = place(all_uids, r.gids, files.subuid);
  } else {
    gid_start = place(all_gids, r.uids, files.subgid);
  }
  // subgid first: a crash in between leaves the uid side missing, which the next call completes.
  if (r.gids.empty()) {
    SubidEntry e{user, gid_start, pool};
    replace_keeping_attributes(files.subgid, append_line(gid_text, entry_line(e)));
    r.gids.push_back(e);
  }
  if (r.uids.empty()) {
    SubidEntry e{user, uid_start, pool};
    replace_keeping_attributes(files.subuid, append_line(uid_text, entry_line(e)));
    r.uids.push_back(e);
  }
  return r;
}

}  // namespace

std::vector<SubidEntry> UsernsAllocator::ensure_subids(std::vector<SubidEntry>* gid_ranges) const {
  auto guard = lock_state(state_dir_);
  UserRanges r = ensure_subids_locked(user_, files_);
  if (gid_ranges) *gid_ranges = std::move(r.gids);
  return std::move(r.uids);
}

IdRange UsernsAllocator::allocate(const std::string& id, std::uint32_t size,
                                  const std::function<bool(const std::string&)>& still_exists) const {
  if (size < 1 || size > kMaxUsernsSize)
    throw Error("invalid user namespace size " + std::to_string(size) + ": must be from 1 to " +
                    std::to_string(kMaxUsernsSize),
                125);
  auto guard = lock_state(state_dir_);
  UserRanges ranges = ensure_subids_locked(user_, files_);
  const auto uid_ranges = merged(ranges.uids), gid_ranges = merged(ranges.gids);

  const fs::path path = state_dir_ / "allocations.json";
  const Allocations before = read_allocations(path);
  Allocations kept;
  std::optional<IdRange> mine;
  std::vector<Interval> busy_uids, busy_gids;
  std::uint64_t held = 0;
  for (const auto& [other, r] : before.by_id) {
    if (other == id) {
      mine = r;
      continue;
    }
    if (!still_exists(other)) continue;
    kept.by_id[other] = r;
    busy_uids.push_back({r.host_uid, std::uint64_t(r.host_uid) + r.size});
    busy_gids.push_back({r.host_gid, std::uint64_t(r.host_gid) + r.size});
    held += r.size;
  }
  auto fits = [&](const IdRange& r) {
    return inside(uid_ranges, r.host_uid, r.size) && inside(gid_ranges, r.host_gid, r.size) &&
           !clashes(busy_uids, r.host_uid, r.size) && !clashes(busy_gids, r.host_gid, r.size);
  };

  std::optional<IdRange> chosen;
  // The container's own range again (its upper layer's files carry those ids), grown in place if needed.
  if (mine && mine->size >= size && fits(*mine)) chosen = mine;
  if (!chosen && mine && fits({mine->host_uid, mine->host_gid, size}))
    chosen = IdRange{mine->host_uid, mine->host_gid, size};
  if (!chosen) {
    auto free_uids = subtract(uid_ranges, busy_uids), free_gids = subtract(gid_ranges, busy_gids);
    chosen = paired_fit(uid_ranges, free_uids, gid_ranges, free_gids, size);
    if (!chosen) {
      auto u = first_fit(free_uids, size), g = first_fit(free_gids, size);
      auto no_room = [&](const fs::path& file, const std::vector<Interval>& ranges_of_user) {
        std::uint64_t total = 0;
        for (const auto& i : ranges_of_user) total += i.size();
        return Error("no room for " + std::to_string(size) + " ids in " + file.string() + " for user " + user_ + ": " +
                         std::to_string(kept.by_id.size()) + " other containers hold " + std::to_string(held) +
                         " of its " + std::to_string(total) + " ids",
                     125);
      };
      if (!u) throw no_room(files_.subuid, uid_ranges);
      if (!g) throw no_room(files_.subgid, gid_ranges);
      chosen = IdRange{static_cast<std::uint32_t>(*u), static_cast<std::uint32_t>(*g), size};
    }
  }
  kept.by_id[id] = *chosen;
  if (kept.by_id != before.by_id)
    write_allocations(path, kept, mine == chosen ? Durability::unsynced : Durability::synced);
  return *chosen;
}

std::optional<IdRange> UsernsAllocator::find(const std::string& id) const {
  // Written by rename, so a reader without the lock sees a whole file.
  auto a = read_allocations(state_dir_ / "allocations.json");
  auto it = a.by_id.find(id);
  if (it == a.by_id.end()) return std::nullopt;
  return it->second;
}

void UsernsAllocator::release(const std::string& id) const {
  if (!fs::exists(state_dir_ / "allocations.json")) return;
  auto guard = lock_state(state_dir_);
  const fs::path path = state_dir_ / "allocations.json";
  Allocations a = read_allocations(path);
  if (a.by_id.erase(id) > 0) write_allocations(path, a, Durability::unsynced);
}

UniqueFd make_user_namespace(const IdRange& range) {
  if (range.size == 0) throw Error("user namespace with no ids", 125);
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("create a user namespace: pipe");
  UniqueFd read_end(p[0]), write_end(p[1]);
  HolderArgs args{p[0], p[1]};

  // The child runs in this process's memory on this stack buffer: every signal stays blocked in it, so
  // no handler of the parent's ever runs on it (the parent's mask is restored right after the clone).
  alignas(64) char stack[8192];
  sigset_t all, saved;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &saved);
  int pidfd_raw = -1;
  pid_t pid = ::clone(hold_namespace, stack + sizeof stack, CLONE_VM | CLONE_NEWUSER | CLONE_PIDFD | SIGCHLD, &args,
                      &pidfd_raw);
  int clone_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (pid < 0) throw SystemError("create a user namespace: clone(CLONE_NEWUSER)", clone_errno);
  UniqueFd pidfd(pidfd_raw);

  // Whatever happens below, the child sees EOF and is reaped before `stack` goes out of scope.
  struct Reaper {
    UniqueFd& write_end;
    UniqueFd& pidfd;
    ~Reaper() {
      write_end.reset();
      siginfo_t info{};
      while (::waitid(P_PIDFD, pidfd.get(), &info, WEXITED) != 0 && errno == EINTR) {
      }
    }
  } reaper{write_end, pidfd};

  write_map(pid, "uid_map", range.host_uid, range.size);
  write_map(pid, "gid_map", range.host_gid, range.size);
  std::string ns_path = "/proc/" + std::to_string(pid) + "/ns/user";
  UniqueFd ns(::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) throw_errno("open " + ns_path);
  // Alive now means alive throughout: the pid named our child at every /proc access above.
  pollfd pfd{pidfd.get(), POLLIN, 0};
  if (::poll(&pfd, 1, 0) > 0)
    throw Error("create a user namespace: its holder process " + std::to_string(pid) + " exited early");
  return ns;
}

UniqueFd idmapped_mount(int dirfd, const std::string& path, int userns_fd, bool recursive, bool readonly) {
  unsigned open_flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0u) |
                        (path.empty() ? AT_EMPTY_PATH : 0u);
  UniqueFd tree(::open_tree(dirfd, path.c_str(), open_flags));
  if (!tree) throw_errno("open_tree " + describe_at(dirfd, path));
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_IDMAP | (readonly ? MOUNT_ATTR_RDONLY : 0);
  attr.userns_fd = static_cast<std::uint64_t>(userns_fd);
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr) != 0)
    throw_errno("idmapped mount of " + describe_at(dirfd, path) + " (mount_setattr MOUNT_ATTR_IDMAP)");
  return tree;
}

KernelVersion kernel_version() {
  static const KernelVersion version = [] {
    utsname u{};
    if (::uname(&u) != 0) throw_errno("uname");
    KernelVersion v;
    std::string_view rel = u.release;
    auto dot = rel.find('.');
    auto end = rel.find_first_not_of("0123456789", dot == std::string_view::npos ? rel.size() : dot + 1);
    std::uint64_t major = 0, minor = 0;
    if (dot == std::string_view::npos || !parse_u64(rel.substr(0, dot), major) ||
        !parse_u64(rel.substr(dot + 1, (end == std::string_view::npos ? rel.size() : end) - dot - 1), minor))
      throw Error(std::string("cannot read the kernel version from \"") + u.release + "\"");
    v.major = static_cast<unsigned>(major);
    v.minor = static_cast<unsigned>(minor);
    return v;
  }();
  return version;
}

bool kernel_supports_idmapped_overlay() {
  KernelVersion v = kernel_version();
  return v.major > 5 || (v.major == 5 && v.minor >= 19);
}

}  // namespace cppcker
