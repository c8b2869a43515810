#include "cppcker/security/seccomp.hpp"

#include <fcntl.h>
#include <linux/filter.h>
#include <seccomp.h>  // compile_seccomp only; the functions are lazy forwarders (src/util/lazy_libraries.cpp)
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "cppcker/util/error.hpp"
#include "cppcker/util/fd.hpp"

namespace cppcker {

namespace detail {
// The text of src/security/seccomp_default.json, compiled in (CMake generates its definition).
extern const char kDefaultSeccompProfile[];
}  // namespace detail

const std::string& default_seccomp_profile() {
  static const std::string text(detail::kDefaultSeccompProfile);
  return text;
}

namespace {

using nlohmann::json;

[[noreturn]] void invalid(std::string_view where, std::string_view why) {
  std::string message = "invalid seccomp profile: ";
  if (!where.empty()) message.append(where).append(": ");
  message.append(why);
  throw Error(message, 125);
}

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

// ---------------------------------------------------------------- vocabulary

struct Arch {
  std::string_view name;    // as the OCI spec and libseccomp's constants spell it
  std::string_view docker;  // as Docker's includes/excludes "arches" spell it (libseccomp-golang's names)
  std::uint32_t token;
};
constexpr Arch kArches[] = {
    {"SCMP_ARCH_X86", "x86", SCMP_ARCH_X86},
    {"SCMP_ARCH_X86_64", "amd64", SCMP_ARCH_X86_64},
    {"SCMP_ARCH_X32", "x32", SCMP_ARCH_X32},
    {"SCMP_ARCH_ARM", "arm", SCMP_ARCH_ARM},
    {"SCMP_ARCH_AARCH64", "arm64", SCMP_ARCH_AARCH64},
    {"SCMP_ARCH_MIPS", "mips", SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64", "mips64", SCMP_ARCH_MIPS64},
    {"SCMP_ARCH_MIPS64N32", "mips64n32", SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL", "mipsel", SCMP_ARCH_MIPSEL},
    {"SCMP_ARCH_MIPSEL64", "mipsel64", SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32", "mipsel64n32", SCMP_ARCH_MIPSEL64N32},
    {"SCMP_ARCH_PPC", "ppc", SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64", "ppc64", SCMP_ARCH_PPC64},
    {"SCMP_ARCH_PPC64LE", "ppc64le", SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_S390", "s390", SCMP_ARCH_S390},
    {"SCMP_ARCH_S390X", "s390x", SCMP_ARCH_S390X},
    {"SCMP_ARCH_PARISC", "parisc", SCMP_ARCH_PARISC},
    {"SCMP_ARCH_PARISC64", "parisc64", SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_RISCV64", "riscv64", SCMP_ARCH_RISCV64},
};

const Arch* find_arch(std::string_view name) {
  for (const auto& a : kArches)
    if (a.name == name) return &a;
  return nullptr;
}

constexpr std::string_view kActions[] = {"SCMP_ACT_KILL",  "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS",
                                         "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",       "SCMP_ACT_TRACE",
                                         "SCMP_ACT_ALLOW", "SCMP_ACT_LOG"};

// Refuses what cannot be honoured; `where` names the field.
void check_action(std::string_view action, const std::string& where) {
  if (action == "SCMP_ACT_NOTIFY")
    invalid(where, "SCMP_ACT_NOTIFY is not supported (cppcker has no seccomp notification agent)");
  if (std::find(std::begin(kActions), std::end(kActions), action) == std::end(kActions))
    invalid(where, "unknown action " + in_quotes(action));
}

constexpr std::pair<std::string_view, scmp_compare> kOperators[] = {{"SCMP_CMP_NE", SCMP_CMP_NE},
                                                                    {"SCMP_CMP_LT", SCMP_CMP_LT},
                                                                    {"SCMP_CMP_LE", SCMP_CMP_LE},
                                                                    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
                                                                    {"SCMP_CMP_GE", SCMP_CMP_GE},
                                                                    {"SCMP_CMP_GT", SCMP_CMP_GT},
                                                                    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};

std::optional<scmp_compare> find_operator(std::string_view op) {
  for (const auto& [name, value] : kOperators)
    if (name == op) return value;
  return std::nullopt;
}

constexpr unsigned kMaxSyscallArgs = 6;
constexpr std::uint32_t kMaxErrno = 0xffff;  // SECCOMP_RET_DATA

// The filter flags cppcker passes to seccomp(2); TSYNC is not needed (one thread) and NEW_LISTENER needs
// an agent, so neither is accepted.
constexpr std::pair<std::string_view, unsigned> kFilterFlags[] = {
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG}, {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW}};

// 0 for a name not in kFilterFlags.
unsigned filter_flag(std::string_view flag) {
  for (const auto& [name, bit] : kFilterFlags)
    if (name == flag) return bit;
  return 0;
}

void check_flags(const std::vector<std::string>& flags) {
  for (const auto& f : flags)
    if (!filter_flag(f)) invalid("flags", "unsupported flag " + in_quotes(f));
}

void check_errno(std::optional<std::uint32_t> value, const std::string& where) {
  if (value && *value > kMaxErrno) invalid(where, std::to_string(*value) + " is out of range (0 to 65535)");
}

void check_arg(const oci::SeccompArg& arg, const std::string& where) {
  if (arg.index >= kMaxSyscallArgs) invalid(where, "index " + std::to_string(arg.index) + " is out of range (0 to 5)");
  if (!find_operator(arg.op)) invalid(where, "unknown operator " + in_quotes(arg.op));
}

// ---------------------------------------------------------------- reading Docker's JSON

std::string path_of(std::string_view where, std::string_view key) {
  std::string out(where);
  if (!out.empty()) out += '.';
  return out.append(key);
}

// The profile's JSON as the flat list of nlohmann's SAX events: its lexer without its document tree,
// whose building and freeing cost as much again (this runs at every container start).
struct Token {
  enum Kind : unsigned char {
    null,
    boolean,
    integer,
    unsigned_integer,
    floating,
    string,
    key,
    begin_object,
    end_object,
    begin_array,
    end_array
  };
  Kind kind;
  std::uint64_t number = 0;
  std::string text;  // of a string or a key
};

class Tape final : public nlohmann::json_sax<json> {
 public:
  std::vector<Token> tokens;
  std::string error;

  bool null() override { return push(Token::null); }
  bool boolean(bool) override { return push(Token::boolean); }
  bool number_integer(number_integer_t) override { return push(Token::integer); }
  bool number_unsigned(number_unsigned_t value) override {
    tokens.push_back({Token::unsigned_integer, value, {}});
    return true;
  }
  bool number_float(number_float_t, const string_t&) override { return push(Token::floating); }
  // Copied, not moved: the lexer reuses its buffer's capacity for the next token.
  bool string(string_t& value) override {
    tokens.push_back({Token::string, 0, value});
    return true;
  }
  bool binary(binary_t&) override { return push(Token::null); }  // never produced from JSON text
  bool start_object(std::size_t) override { return push(Token::begin_object); }
  bool key(string_t& value) override {
    tokens.push_back({Token::key, 0, value});
    return true;
  }
  bool end_object() override { return push(Token::end_object); }
  bool start_array(std::size_t) override { return push(Token::begin_array); }
  bool end_array() override { return push(Token::end_array); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    error = e.what();
    return false;
  }

 private:
  bool push(Token::Kind kind) {
    tokens.push_back({kind, 0, {}});
    return true;
  }
};

// Reads the tape front to back in the profile's shape. An absent field and a null one are the same, as in
// Docker's Go structs; `where` names the enclosing value in errors.
class Reader {
 public:
  explicit Reader(std::vector<Token>& tokens) : tokens_(tokens) {}

  // Calls fn(key) for each member; fn reads the member's value.
  template <typename F>
  void object(std::string_view where, std::initializer_list<std::string_view> known, F&& fn) {
    if (next().kind != Token::begin_object) invalid(where, "must be an object");
    while (peek().kind == Token::key) {
      std::string key = std::move(next().text);
      if (std::find(known.begin(), known.end(), key) == known.end()) invalid(where, "unknown field " + in_quotes(key));
      fn(key);
    }
    next();  // end_object
  }
  // Calls fn(index) for each element; fn reads the element.
  template <typename F>
  void array(std::string_view where, F&& fn) {
    if (take_null()) return;
    if (next().kind != Token::begin_array) invalid(where, "must be an array");
    for (std::size_t i = 0; peek().kind != Token::end_array; ++i) fn(i);
    next();
  }
  bool is_null() const { return peek().kind == Token::null; }
  bool take_null() {
    if (!is_null()) return false;
    ++position_;
    return true;
  }
  std::string string(std::string_view where, std::string_view key) {
    if (take_null()) return {};
    Token& t = next();
    if (t.kind != Token::string) invalid(path_of(where, key), "must be a string");
    return std::move(t.text);
  }
  std::vector<std::string> strings(std::string_view where, std::string_view key) {
    std::vector<std::string> out;
    if (take_null()) return out;
    if (next().kind != Token::begin_array) invalid(path_of(where, key), "must be an array of strings");
    while (peek().kind == Token::string) out.push_back(std::move(next().text));
    if (next().kind != Token::end_array) invalid(path_of(where, key), "must be an array of strings");
    return out;
  }
  std::optional<std::uint64_t> unsigned_number(std::string_view where, std::string_view key) {
    if (take_null()) return std::nullopt;
    const Token& t = next();
    if (t.kind != Token::unsigned_integer) invalid(path_of(where, key), "must be a non-negative integer");
    return t.number;
  }
  std::optional<std::uint32_t> errno_number(std::string_view where, std::string_view key) {
    auto v = unsigned_number(where, key);
    if (v && *v > kMaxErrno) invalid(path_of(where, key), std::to_string(*v) + " is out of range (0 to 65535)");
    return v ? std::optional<std::uint32_t>(static_cast<std::uint32_t>(*v)) : std::nullopt;
  }

 private:
  const Token& peek() const { return tokens_[position_]; }
  Token& next() { return tokens_[position_++]; }

  std::vector<Token>& tokens_;
  std::size_t position_ = 0;
};

struct KernelVersion {
  unsigned major = 0, minor = 0;
};

// "<major>.<minor>", as Docker's minKernel; anything after the minor number ("4.8.0") is ignored, as there.
KernelVersion parse_kernel_version(const std::string& text, const std::string& where) {
  KernelVersion v;
  const char* end = text.data() + text.size();
  auto r = std::from_chars(text.data(), end, v.major);
  if (r.ec == std::errc() && r.ptr != end && *r.ptr == '.')
    r = std::from_chars(r.ptr + 1, end, v.minor);
  else
    r.ec = std::errc::invalid_argument;
  if (r.ec != std::errc() || (r.ptr != end && *r.ptr != '.' && *r.ptr != '-'))
    invalid(where, "invalid kernel version " + in_quotes(text) + ", expected \"<major>.<minor>\"");
  return v;
}

// A rule's includes or excludes.
struct Condition {
  std::vector<std::string> caps, arches;
  std::optional<KernelVersion> min_kernel;
};

Condition read_condition(Reader& in, const std::string& where) {
  Condition c;
  if (in.take_null()) return c;
  in.object(where, {"caps", "arches", "minKernel"}, [&](const std::string& key) {
    if (key == "caps") {
      c.caps = in.strings(where, key);
    } else if (key == "arches") {
      c.arches = in.strings(where, key);
    } else {
      const std::string version = in.string(where, key);
      c.min_kernel.reset();
      if (!version.empty()) c.min_kernel = parse_kernel_version(version, path_of(where, key));
    }
  });
  return c;
}

// A rule as the profile states it.
struct Rule {
  oci::SeccompSyscall call;
  Condition includes, excludes;
};

std::vector<oci::SeccompArg> read_args(Reader& in, const std::string& where) {
  std::vector<oci::SeccompArg> args;
  in.array(path_of(where, "args"), [&](std::size_t k) {
    const std::string at = where + ".args[" + std::to_string(k) + "]";
    oci::SeccompArg& arg = args.emplace_back();
    in.object(at, {"index", "value", "valueTwo", "op"}, [&](const std::string& field) {
      if (field == "index") {
        auto index = in.unsigned_number(at, field);
        if (index && *index >= kMaxSyscallArgs)
          invalid(at, "index " + std::to_string(*index) + " is out of range (0 to 5)");
        arg.index = static_cast<unsigned>(index.value_or(0));
      } else if (field == "value") {
        arg.value = in.unsigned_number(at, field).value_or(0);
      } else if (field == "valueTwo") {
        arg.value_two = in.unsigned_number(at, field).value_or(0);
      } else {
        arg.op = in.string(at, field);
      }
    });
    check_arg(arg, at);
  });
  return args;
}

Rule read_rule(Reader& in, const std::string& where) {
  Rule rule;
  std::string name;
  in.object(where, {"names", "name", "action", "errnoRet", "args", "comment", "includes", "excludes"},
            [&](const std::string& key) {
              if (key == "names") {
                rule.call.names = in.strings(where, key);
              } else if (key == "name") {
                name = in.string(where, key);
              } else if (key == "action") {
                rule.call.action = in.string(where, key);
              } else if (key == "errnoRet") {
                rule.call.errno_ret = in.errno_number(where, key);
              } else if (key == "comment") {
                in.string(where, key);
              } else if (key == "includes") {
                rule.includes = read_condition(in, path_of(where, key));
              } else if (key == "excludes") {
                rule.excludes = read_condition(in, path_of(where, key));
              } else {
                rule.call.args = read_args(in, where);
              }
            });
  if (!name.empty() && !rule.call.names.empty()) invalid(where, "both \"name\" and \"names\" are given; use \"names\"");
  if (!name.empty()) rule.call.names.push_back(std::move(name));
  if (rule.call.names.empty()) invalid(where, "no system call names");
  for (const auto& n : rule.call.names)
    if (n.empty()) invalid(path_of(where, "names"), "empty system call name");
  if (rule.call.action.empty()) invalid(path_of(where, "action"), "is required");
  check_action(rule.call.action, where);
  return rule;
}

// A whole profile as it states it; everything is checked, also what does not apply on this machine, so
// that a mistake shows on every machine.
struct Profile {
  std::string default_action;
  std::optional<std::uint32_t> default_errno_ret;
  std::vector<std::string> architectures, flags;
  std::vector<std::pair<std::string, std::vector<std::string>>> arch_map;
  bool has_arch_map = false;
  std::vector<Rule> rules;
};

Profile read_profile(std::string_view text) {
  Tape tape;
  tape.tokens.reserve(text.size() / 12);
  if (!json::sax_parse(text, &tape)) {
    // nlohmann's text starts with its own tag, "[json.exception.parse_error.101] ".
    std::string_view why = tape.error;
    if (auto tag = why.find("] "); why.starts_with("[json.exception") && tag != std::string_view::npos)
      why.remove_prefix(tag + 2);
    invalid("", why.empty() ? "not JSON" : why);
  }
  Reader in(tape.tokens);
  Profile p;
  std::string listener;
  in.object("",
            {"defaultAction", "defaultErrnoRet", "architectures", "archMap", "syscalls", "flags", "listenerPath",
             "listenerMetadata"},
            [&](const std::string& key) {
              if (key == "defaultAction") {
                p.default_action = in.string("", key);
              } else if (key == "defaultErrnoRet") {
                p.default_errno_ret = in.errno_number("", key);
              } else if (key == "architectures") {
                p.architectures = in.strings("", key);
                for (const auto& a : p.architectures)
                  if (!find_arch(a)) invalid(key, "unknown architecture " + in_quotes(a));
              } else if (key == "flags") {
                p.flags = in.strings("", key);
              } else if (key == "listenerPath" || key == "listenerMetadata") {
                listener += in.string("", key);
              } else if (key == "archMap") {
                p.has_arch_map = !in.is_null();
                p.arch_map.clear();
                in.array(key, [&](std::size_t i) {
                  const std::string where = "archMap[" + std::to_string(i) + "]";
                  auto& [arch, subs] = p.arch_map.emplace_back();
                  in.object(where, {"architecture", "subArchitectures"}, [&](const std::string& field) {
                    if (field == "architecture") {
                      arch = in.string(where, field);
                    } else {
                      subs = in.strings(where, field);
                    }
                  });
                  if (!find_arch(arch)) invalid(where, "unknown architecture " + in_quotes(arch));
                  for (const auto& s : subs)
                    if (!find_arch(s)) invalid(where, "unknown architecture " + in_quotes(s));
                });
              } else {
                p.rules.clear();
                in.array(key, [&](std::size_t i) {
                  p.rules.push_back(read_rule(in, "syscalls[" + std::to_string(i) + "]"));
                });
              }
            });
  if (!listener.empty()) invalid("listenerPath", "seccomp notification agents are not supported");
  if (p.default_action.empty()) invalid("defaultAction", "is required");
  check_action(p.default_action, "defaultAction");
  check_flags(p.flags);
  if (p.has_arch_map && !p.architectures.empty())
    invalid("", "both \"architectures\" and \"archMap\" are given; use one of them");
  return p;
}

bool contains(const std::vector<std::string>& list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

bool any_in(const std::vector<std::string>& list, const std::vector<std::string_view>& candidates) {
  return std::any_of(candidates.begin(), candidates.end(), [&](std::string_view c) { return contains(list, c); });
}

bool kernel_at_least(const SeccompContext& ctx, KernelVersion v) {
  return ctx.kernel_major != v.major ? ctx.kernel_major > v.major : ctx.kernel_minor >= v.minor;
}

// ---------------------------------------------------------------- libseccomp

struct FilterRelease {
  void operator()(void* filter) const { ::seccomp_release(filter); }
};
using FilterPtr = std::unique_ptr<void, FilterRelease>;

std::uint32_t action_value(const std::string& action, std::optional<std::uint32_t> errno_ret,
                           const std::string& where) {
  check_action(action, where);
  check_errno(errno_ret, where + ".errnoRet");
  if (action == "SCMP_ACT_KILL" || action == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (action == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (action == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (action == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(errno_ret.value_or(EPERM));
  if (action == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(errno_ret.value_or(EPERM));
  if (action == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  return SCMP_ACT_ALLOW;
}

// Writes the filter's BPF into a memfd (libseccomp 2.5 has no export to memory) and reads it back.
std::string export_program(void* filter) {
  UniqueFd fd(::memfd_create("cppcker-seccomp", MFD_CLOEXEC));
  if (!fd) throw_errno("seccomp: memfd_create");
  if (int rc = ::seccomp_export_bpf(filter, fd.get()); rc < 0) throw SystemError("seccomp: export the filter", -rc);
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) throw_errno("seccomp: fstat the exported filter");
  std::string program(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < program.size()) {
    ssize_t n = ::pread(fd.get(), program.data() + done, program.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("seccomp: read the exported filter");
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  program.resize(done);
  if (program.empty() || program.size() % sizeof(sock_filter) != 0)
    throw Error("seccomp: libseccomp exported a malformed program (" + std::to_string(program.size()) + " bytes)", 125);
  return program;
}

// ---------------------------------------------------------------- the cache

// Fast and good enough to name a cache file and to notice a damaged one (the content is compared anyway).
std::uint64_t fast_hash(std::string_view s) {
  constexpr std::uint64_t k = 0x9e3779b97f4a7c15ULL;
  std::uint64_t h = 0x243f6a8885a308d3ULL ^ (s.size() * k);
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * k;
    h ^= h >> 32;
  }
  std::uint64_t tail = 0;
  std::memcpy(&tail, s.data() + i, s.size() - i);
  h = (h ^ tail) * k;
  h ^= h >> 29;
  h *= k;
  return h ^ (h >> 32);
}

std::string hex64(std::uint64_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) out[static_cast<std::size_t>(i)] = digits[v & 0xf];
  return out;
}

// A cache file: this header line, then the profile's text, then the program.
//   cppcker-seccomp 1 <text bytes> <program bytes> <hash of the program>\n
// The version changes whenever compile_seccomp would compile the same text differently.
constexpr std::string_view kCacheMagic = "cppcker-seccomp 2 ";

std::string cache_entry(std::string_view text, std::string_view program) {
  std::string out(kCacheMagic);
  out += std::to_string(text.size()) + " " + std::to_string(program.size()) + " " + hex64(fast_hash(program)) + "\n";
  out.append(text).append(program);
  return out;
}

// The program stored for exactly `text`, or nothing when the file is missing, for another text, from
// another version or damaged.
std::optional<std::string> cached_program(const fs::path& path, std::string_view text) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    if (errno == ENOENT) return std::nullopt;
    throw_errno("open " + path.string());
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) throw_errno("stat " + path.string());
  const std::size_t max_size = kCacheMagic.size() + 64 + text.size() + BPF_MAXINSNS * sizeof(sock_filter);
  if (!S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) > max_size) return std::nullopt;
  std::string data(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::read(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("read " + path.string());
    if (n == 0) return std::nullopt;  // shrank while read: not the file it was
    done += static_cast<std::size_t>(n);
  }

  std::string_view rest(data);
  if (!rest.starts_with(kCacheMagic)) return std::nullopt;
  rest.remove_prefix(kCacheMagic.size());
  std::size_t text_size = 0, program_size = 0;
  std::uint64_t program_hash = 0;
  const char* p = rest.data();
  const char* end = rest.data() + rest.size();
  auto number = [&](auto& out, int base, char separator) {
    auto [next, ec] = std::from_chars(p, end, out, base);
    if (ec != std::errc() || next == end || *next != separator) return false;
    p = next + 1;
    return true;
  };
  if (!number(text_size, 10, ' ') || !number(program_size, 10, ' ') || !number(program_hash, 16, '\n'))
    return std::nullopt;
  rest.remove_prefix(static_cast<std::size_t>(p - rest.data()));
  if (text_size != text.size() || rest.size() != text_size + program_size || program_size == 0 ||
      program_size % sizeof(sock_filter) != 0 || rest.substr(0, text_size) != text)
    return std::nullopt;
  std::string_view program = rest.substr(text_size);
  if (fast_hash(program) != program_hash) return std::nullopt;
  return std::string(program);
}

// The cache holds what the container start runs: its directory is root's alone.
void make_private_dir(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return;
  if (errno != ENOENT) throw_errno("create directory " + dir.string());
  make_dirs(dir.parent_path());
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) throw_errno("create directory " + dir.string());
}

}  // namespace

// ---------------------------------------------------------------- the interface

SeccompContext host_seccomp_context(std::vector<std::string> capabilities) {
  SeccompContext ctx;
  ctx.capabilities = std::move(capabilities);
  // The architecture this binary was built for, as Docker takes Go's: its system calls are the ones made.
#if defined(__x86_64__) && defined(__ILP32__)
  ctx.architecture = "SCMP_ARCH_X32";
#elif defined(__x86_64__)
  ctx.architecture = "SCMP_ARCH_X86_64";
#elif defined(__i386__)
  ctx.architecture = "SCMP_ARCH_X86";
#elif defined(__aarch64__)
  ctx.architecture = "SCMP_ARCH_AARCH64";
#elif defined(__arm__)
  ctx.architecture = "SCMP_ARCH_ARM";
#elif defined(__mips__) && defined(_ABI64) && _MIPS_SIM == _ABI64
  ctx.architecture = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? "SCMP_ARCH_MIPSEL64" : "SCMP_ARCH_MIPS64";
#elif defined(__mips__) && defined(_ABIN32) && _MIPS_SIM == _ABIN32
  ctx.architecture = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? "SCMP_ARCH_MIPSEL64N32" : "SCMP_ARCH_MIPS64N32";
#elif defined(__mips__)
  ctx.architecture = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? "SCMP_ARCH_MIPSEL" : "SCMP_ARCH_MIPS";
#elif defined(__powerpc64__)
  ctx.architecture = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? "SCMP_ARCH_PPC64LE" : "SCMP_ARCH_PPC64";
#elif defined(__powerpc__)
  ctx.architecture = "SCMP_ARCH_PPC";
#elif defined(__s390x__)
  ctx.architecture = "SCMP_ARCH_S390X";
#elif defined(__s390__)
  ctx.architecture = "SCMP_ARCH_S390";
#elif defined(__riscv) && __riscv_xlen == 64
  ctx.architecture = "SCMP_ARCH_RISCV64";
#endif
  struct utsname u{};
  if (::uname(&u) == 0) {
    const char* end = u.release + std::strlen(u.release);
    auto [p, ec] = std::from_chars(u.release, end, ctx.kernel_major);
    if (ec == std::errc() && p != end && *p == '.') std::from_chars(p + 1, end, ctx.kernel_minor);
  }
  return ctx;
}

oci::Seccomp resolve_docker_profile(std::string_view profile_json, const SeccompContext& ctx) {
  Profile profile = read_profile(profile_json);
  oci::Seccomp out;
  out.default_action = std::move(profile.default_action);
  out.default_errno_ret = profile.default_errno_ret;
  out.flags = std::move(profile.flags);
  if (!profile.has_arch_map) out.architectures = std::move(profile.architectures);
  for (auto& [arch, subs] : profile.arch_map) {
    if (arch != ctx.architecture) continue;
    out.architectures.push_back(std::move(arch));
    out.architectures.insert(out.architectures.end(), subs.begin(), subs.end());
    break;
  }

  // Docker compares the arches of includes/excludes with its own names ("amd64", "x86", ...): here those
  // of the native architecture and of the others the filter covers.
  std::vector<std::string_view> arches;
  if (const Arch* a = find_arch(ctx.architecture)) arches.push_back(a->docker);
  for (const auto& name : out.architectures)
    if (const Arch* a = find_arch(name); a && std::find(arches.begin(), arches.end(), a->docker) == arches.end())
      arches.push_back(a->docker);

  const auto& caps = ctx.capabilities;
  auto held = [&](const std::string& cap) { return contains(caps, cap); };
  for (auto& rule : profile.rules) {
    // Docker's rules: every included capability held, the architecture included, the kernel recent
    // enough; no excluded capability held, architecture covered or kernel version reached.
    const Condition& in = rule.includes;
    const Condition& ex = rule.excludes;
    const bool applies = std::all_of(in.caps.begin(), in.caps.end(), held) &&
                         (in.arches.empty() || any_in(in.arches, arches)) &&
                         (!in.min_kernel || kernel_at_least(ctx, *in.min_kernel)) &&
                         std::none_of(ex.caps.begin(), ex.caps.end(), held) && !any_in(ex.arches, arches) &&
                         !(ex.min_kernel && kernel_at_least(ctx, *ex.min_kernel));
    if (applies) out.syscalls.push_back(std::move(rule.call));
  }
  return out;
}

std::string compile_seccomp(const oci::Seccomp& seccomp) {
  check_flags(seccomp.flags);
  const std::uint32_t default_action = action_value(seccomp.default_action, seccomp.default_errno_ret, "defaultAction");
  FilterPtr filter(::seccomp_init(default_action));
  if (!filter) throw Error("seccomp: libseccomp cannot create a filter for " + seccomp.default_action, 125);
  // The runtime sets no_new_privs itself when the spec asks; the program is only exported, never loaded
  // by libseccomp, so TSYNC (off by default) never comes into it.
  if (int rc = ::seccomp_attr_set(filter.get(), SCMP_FLTATR_CTL_NNP, 0); rc < 0)
    throw SystemError("seccomp: set the no_new_privs attribute", -rc);
  // A binary tree of syscall numbers instead of a linear list: every system call the container makes
  // runs through the filter, and the kernel emulates it for every syscall number when it is installed.
  if (int rc = ::seccomp_attr_set(filter.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2); rc < 0)
    throw SystemError("seccomp: ask for the binary-tree filter", -rc);
  for (const auto& name : seccomp.architectures) {
    const Arch* arch = find_arch(name);
    if (!arch) invalid("architectures", "unknown architecture " + in_quotes(name));
    if (int rc = ::seccomp_arch_add(filter.get(), arch->token); rc < 0 && rc != -EEXIST)
      throw SystemError("seccomp: add architecture " + name, -rc);
  }

  std::vector<scmp_arg_cmp> conditions;
  for (std::size_t i = 0; i < seccomp.syscalls.size(); ++i) {
    const auto& call = seccomp.syscalls[i];
    const std::string where = "syscalls[" + std::to_string(i) + "]";
    if (call.names.empty()) invalid(where, "no system call names");
    const std::uint32_t action = action_value(call.action, call.errno_ret, where);
    // libseccomp refuses a rule that repeats the default action; it would change nothing (runc skips it too).
    if (action == default_action) continue;

    conditions.clear();
    std::array<unsigned, kMaxSyscallArgs> per_index{};
    for (std::size_t k = 0; k < call.args.size(); ++k) {
      const auto& arg = call.args[k];
      check_arg(arg, where + ".args[" + std::to_string(k) + "]");
      conditions.push_back({arg.index, *find_operator(arg.op), arg.value, arg.value_two});
      ++per_index[arg.index];
    }
    // runc's reading: conditions on distinct arguments must all hold; several on one argument are
    // alternatives (one rule each), as in Docker's personality rules.
    const bool alternatives = std::any_of(per_index.begin(), per_index.end(), [](unsigned n) { return n > 1; });

    for (const auto& name : call.names) {
      const int nr = ::seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;  // unknown to this libseccomp on every architecture: skipped, as runc does
      auto add = [&](unsigned count, const scmp_arg_cmp* conds) {
        if (int rc = ::seccomp_rule_add_array(filter.get(), action, nr, count, conds); rc < 0)
          invalid(where, "cannot add a rule for " + name + ": " + std::strerror(-rc));
      };
      if (!alternatives) {
        add(static_cast<unsigned>(conditions.size()), conditions.data());
      } else {
        for (const auto& c : conditions) add(1, &c);
      }
    }
  }
  return export_program(filter.get());
}

std::string seccomp_program(const oci::Seccomp& seccomp, const fs::path& cache_dir) {
  const std::string text = oci::to_json(seccomp).dump();
  const fs::path path = cache_dir / (hex64(fast_hash(text)) + ".bpf");
  if (auto program = cached_program(path, text)) return std::move(*program);
  std::string program = compile_seccomp(seccomp);
  make_private_dir(cache_dir);
  // Concurrent starts may both compile and write: each renames a whole file of its own into place.
  write_file_atomic(path, cache_entry(text, program), 0600);
  return program;
}

void install_seccomp_program(std::string_view program, const std::vector<std::string>& flags) {
  const std::size_t count = program.size() / sizeof(sock_filter);
  if (count == 0 || count > BPF_MAXINSNS || program.size() % sizeof(sock_filter) != 0)
    throw Error("seccomp: malformed program (" + std::to_string(program.size()) + " bytes)", 125);
  unsigned bits = 0;
  for (const auto& f : flags) {
    const unsigned bit = filter_flag(f);
    if (!bit) throw Error("seccomp: unsupported flag " + f, 125);
    bits |= bit;
  }
  // The kernel reads the instructions in place; copy them only when the bytes are not aligned for that.
  std::vector<sock_filter> aligned;
  const sock_filter* insns = reinterpret_cast<const sock_filter*>(program.data());
  if (reinterpret_cast<std::uintptr_t>(program.data()) % alignof(sock_filter) != 0) {
    aligned.resize(count);
    std::memcpy(aligned.data(), program.data(), program.size());
    insns = aligned.data();
  }
  sock_fprog prog{static_cast<unsigned short>(count), const_cast<sock_filter*>(insns)};
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, bits, &prog) == 0) return;
  // Kernels before 3.17 have only the prctl, which takes no flags.
  if (errno == ENOSYS && bits == 0 && ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0) return;
  throw_errno("seccomp(SECCOMP_SET_MODE_FILTER)");
}

// ---------------------------------------------------------------- what this build accepts

namespace {
template <typename Range, typename Name>
std::vector<std::string> sorted_names(const Range& range, Name name) {
  std::vector<std::string> out;
  for (const auto& entry : range) out.emplace_back(name(entry));
  std::sort(out.begin(), out.end());
  return out;
}
}  // namespace

std::vector<std::string> known_seccomp_actions() {
  return sorted_names(kActions, [](std::string_view a) { return a; });
}

std::vector<std::string> known_seccomp_operators() {
  return sorted_names(kOperators, [](const auto& op) { return op.first; });
}

std::vector<std::string> known_seccomp_architectures() {
  return sorted_names(kArches, [](const Arch& a) { return a.name; });
}

std::vector<std::string> known_seccomp_flags() {
  return sorted_names(kFilterFlags, [](const auto& f) { return f.first; });
}

std::vector<std::string> supported_seccomp_flags() {
  std::vector<std::string> out;
  for (const auto& [name, bit] : kFilterFlags) {
    // libseccomp's probe: the kernel checks the flags before it reads the (here null) program, so EFAULT
    // means the flag is known and EINVAL that it is not; nothing is ever installed.
    if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, bit, nullptr) != 0 && errno == EFAULT) out.emplace_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace cppcker
