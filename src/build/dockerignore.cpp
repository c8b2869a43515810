// .dockerignore: Go's filepath.Match and Clean, moby/patternmatcher's pattern semantics and the ignorefile
// reader, ported behaviour by behaviour. patternmatcher turns each pattern into a Go regexp; here the same
// pieces ([^/]*, [^/], (.*/)?, .*, classes, literals) are matched directly.
#include "cppcker/build/dockerignore.hpp"

#include <optional>

#include "cppcker/util/error.hpp"

namespace cppcker::build {

namespace {

struct BadPattern {};

// One UTF-8 character at s[i] (an invalid byte is U+FFFD of width 1, as Go decodes it).
std::pair<char32_t, size_t> decode(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return {c, 1};
  size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return {0xFFFD, 1};
  char32_t r = c & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
  for (size_t k = 1; k < n; ++k) {
    unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return {0xFFFD, 1};
    r = (r << 6) | (cc & 0x3F);
  }
  return {r, n};
}

// ---- Go's filepath.Match (the version that reports a malformed pattern even after a mismatch).

// getEsc: one possibly escaped character of a class.
char32_t get_esc(std::string_view& chunk) {
  if (chunk.empty() || chunk[0] == '-' || chunk[0] == ']') throw BadPattern{};
  if (chunk[0] == '\\') {
    chunk.remove_prefix(1);
    if (chunk.empty()) throw BadPattern{};
  }
  auto [r, n] = decode(chunk, 0);
  if (r == 0xFFFD && n == 1 && static_cast<unsigned char>(chunk[0]) >= 0x80) throw BadPattern{};
  chunk.remove_prefix(n);
  if (chunk.empty()) throw BadPattern{};
  return r;
}

// scanChunk: an optional run of stars, then everything up to the next star outside a class.
void scan_chunk(std::string_view& pattern, bool& star, std::string_view& chunk) {
  star = false;
  while (!pattern.empty() && pattern[0] == '*') {
    pattern.remove_prefix(1);
    star = true;
  }
  bool in_range = false;
  size_t i = 0;
  for (; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\') {
      if (i + 1 < pattern.size()) ++i;
    } else if (c == '[') {
      in_range = true;
    } else if (c == ']') {
      in_range = false;
    } else if (c == '*' && !in_range) {
      break;
    }
  }
  chunk = pattern.substr(0, i);
  pattern.remove_prefix(i);
}

// matchChunk: does chunk match the start of s? The rest of s when it does. Keeps parsing the chunk after a
// mismatch so that a malformed one is always reported.
std::optional<std::string_view> match_chunk(std::string_view chunk, std::string_view s) {
  bool failed = false;
  while (!chunk.empty()) {
    if (!failed && s.empty()) failed = true;
    switch (chunk[0]) {
      case '[': {
        char32_t r = 0;
        if (!failed) {
          auto [rr, n] = decode(s, 0);
          r = rr;
          s.remove_prefix(n);
        }
        chunk.remove_prefix(1);
        bool negated = false;
        if (!chunk.empty() && chunk[0] == '^') {
          negated = true;
          chunk.remove_prefix(1);
        }
        bool match = false;
        int nrange = 0;
        for (;;) {
          if (!chunk.empty() && chunk[0] == ']' && nrange > 0) {
            chunk.remove_prefix(1);
            break;
          }
          char32_t lo = get_esc(chunk);
          char32_t hi = lo;
          if (chunk[0] == '-') {
            chunk.remove_prefix(1);
            hi = get_esc(chunk);
          }
          if (lo <= r && r <= hi) match = true;
          ++nrange;
        }
        if (match == negated) failed = true;
        break;
      }
      case '?':
        if (!failed) {
          if (s[0] == '/') failed = true;
          s.remove_prefix(decode(s, 0).second);
        }
        chunk.remove_prefix(1);
        break;
      case '\\':
        chunk.remove_prefix(1);
        if (chunk.empty()) throw BadPattern{};
        [[fallthrough]];
      default:
        if (!failed) {
          if (chunk[0] != s[0]) failed = true;
          s.remove_prefix(1);
        }
        chunk.remove_prefix(1);
    }
  }
  if (failed) return std::nullopt;
  return s;
}

bool go_match(std::string_view pattern, std::string_view name) {
  while (!pattern.empty()) {
    bool star;
    std::string_view chunk;
    scan_chunk(pattern, star, chunk);
    if (star && chunk.empty()) return name.find('/') == std::string_view::npos;  // a trailing * takes the rest
    auto t = match_chunk(chunk, name);
    if (t && (t->empty() || !pattern.empty())) {
      name = *t;
      continue;
    }
    bool matched = false;
    if (star) {
      // Let the star take i+1 bytes, never a "/".
      for (size_t i = 0; i < name.size() && name[i] != '/'; ++i) {
        auto t2 = match_chunk(chunk, name.substr(i + 1));
        if (t2) {
          if (pattern.empty() && !t2->empty()) continue;
          name = *t2;
          matched = true;
          break;
        }
      }
    }
    if (matched) continue;
    // No match: still check that the rest of the pattern is well formed.
    while (!pattern.empty()) {
      scan_chunk(pattern, star, chunk);
      match_chunk(chunk, "");
    }
    return false;
  }
  return name.empty();
}


}  // namespace

std::string clean_path(std::string_view path) {
  if (path.empty()) return ".";
  bool rooted = path[0] == '/';
  size_t n = path.size();
  std::string out;
  size_t r = 0, dotdot = 0;
  if (rooted) {
    out.push_back('/');
    r = dotdot = 1;
  }
  while (r < n) {
    if (path[r] == '/') {
      ++r;
    } else if (path[r] == '.' && (r + 1 == n || path[r + 1] == '/')) {
      ++r;
    } else if (path[r] == '.' && path[r + 1] == '.' && (r + 2 == n || path[r + 2] == '/')) {
      r += 2;
      if (out.size() > dotdot) {
        out.pop_back();
        while (out.size() > dotdot && out.back() != '/') out.pop_back();
        // drop the separator before the removed element too (Go backs up to it)
        if (out.size() > dotdot && out.back() == '/') out.pop_back();
      } else if (!rooted) {
        if (!out.empty()) out.push_back('/');
        out += "..";
        dotdot = out.size();
      }
    } else {
      if ((rooted && out.size() != 1) || (!rooted && !out.empty())) out.push_back('/');
      for (; r < n && path[r] != '/'; ++r) out.push_back(path[r]);
    }
  }
  if (out.empty()) return ".";
  return out;
}

bool path_match(std::string_view pattern, std::string_view name) {
  try {
    return go_match(pattern, name);
  } catch (const BadPattern&) {
    throw Error("syntax error in pattern");
  }
}

namespace {

using Tok = IgnoreMatcher::Token;

// One class "[...]" at p[i] (validated by filepath.Match already), into tok; returns the index after "]".
size_t parse_class(std::string_view p, size_t i, Tok& tok) {
  tok.kind = Tok::kClass;
  std::string_view chunk = p.substr(i + 1);
  if (!chunk.empty() && chunk[0] == '^') {
    tok.negated = true;
    chunk.remove_prefix(1);
  }
  for (int nrange = 0;; ++nrange) {
    if (!chunk.empty() && chunk[0] == ']' && nrange > 0) {
      chunk.remove_prefix(1);
      break;
    }
    char32_t lo = get_esc(chunk);
    char32_t hi = lo;
    if (chunk[0] == '-') {
      chunk.remove_prefix(1);
      hi = get_esc(chunk);
    }
    if (lo > hi) throw BadPattern{};  // Go's regexp rejects an inverted range
    tok.ranges.emplace_back(lo, hi);
  }
  return p.size() - chunk.size();
}

// Anchored match of tokens[ti..] against s[si..] to its end; memo marks (ti, si) pairs known to fail.
bool match_tokens(const std::vector<Tok>& t, size_t ti, std::string_view s, size_t si, std::vector<char>& memo) {
  size_t key = ti * (s.size() + 1) + si;
  if (memo[key]) return false;
  bool ok = false;
  if (ti == t.size()) {
    ok = si == s.size();
  } else {
    const Tok& tok = t[ti];
    switch (tok.kind) {
      case Tok::kLiteral:
        ok = s.substr(si, tok.literal.size()) == tok.literal && match_tokens(t, ti + 1, s, si + tok.literal.size(), memo);
        break;
      case Tok::kAny:
        if (si < s.size() && s[si] != '/') ok = match_tokens(t, ti + 1, s, si + decode(s, si).second, memo);
        break;
      case Tok::kClass:
        if (si < s.size()) {
          auto [r, n] = decode(s, si);
          bool in = false;
          for (auto [lo, hi] : tok.ranges)
            if (lo <= r && r <= hi) in = true;
          if (in != tok.negated) ok = match_tokens(t, ti + 1, s, si + n, memo);
        }
        break;
      case Tok::kStar:  // [^/]*
        for (size_t p = si;; p += decode(s, p).second) {
          if (match_tokens(t, ti + 1, s, p, memo)) {
            ok = true;
            break;
          }
          if (p >= s.size() || s[p] == '/') break;
        }
        break;
      case Tok::kAnyDirs:  // (.*/)?
        if (match_tokens(t, ti + 1, s, si, memo)) {
          ok = true;
          break;
        }
        for (size_t p = si; p < s.size() && s[p] != '\n'; ++p) {
          if (s[p] == '/' && match_tokens(t, ti + 1, s, p + 1, memo)) {
            ok = true;
            break;
          }
        }
        break;
      case Tok::kRest:  // .*
        for (size_t p = si;; ++p) {
          if (match_tokens(t, ti + 1, s, p, memo)) {
            ok = true;
            break;
          }
          if (p >= s.size() || s[p] == '\n') break;
        }
        break;
    }
  }
  if (!ok) memo[key] = 1;
  return ok;
}

std::string context_error(const std::string& what, int line) {
  std::string msg = "error checking context: " + what;
  if (line > 0) msg += " (.dockerignore line " + std::to_string(line) + ")";
  return msg;
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

std::string_view trim_space(std::string_view s) {
  auto sp = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; };
  while (!s.empty() && sp(s.front())) s.remove_prefix(1);
  while (!s.empty() && sp(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

bool IgnoreMatcher::Pattern::match(std::string_view path) const {
  switch (kind) {
    case Kind::kExact:
      return path == text;
    case Kind::kPrefix:  // "dir/**": strip the trailing **
      return path.substr(0, text.size() - 2) == std::string_view(text).substr(0, text.size() - 2) &&
             path.size() >= text.size() - 2;
    case Kind::kSuffix: {  // "**/name": strip the leading **
      std::string_view suffix = std::string_view(text).substr(2);
      if (path.size() >= suffix.size() && path.substr(path.size() - suffix.size()) == suffix) return true;
      return !suffix.empty() && suffix[0] == '/' && path == suffix.substr(1);
    }
    case Kind::kRegexp: {
      if (path.size() < head.size() + tail.size() || path.substr(0, head.size()) != head ||
          path.substr(path.size() - tail.size()) != tail)
        return false;
      thread_local std::vector<char> memo;
      memo.assign((tokens.size() + 1) * (path.size() + 1), 0);
      return match_tokens(tokens, 0, path, 0, memo);
    }
  }
  return false;
}

// One pattern as the ignorefile reader and patternmatcher.New take it; `line` 0 when not from a file.
void IgnoreMatcher::add(std::string raw, int line) {
  // ignorefile.ReadAll: trimmed, "!" kept aside, cleaned, a leading "/" dropped.
  std::string p(trim_space(raw));
  if (p.empty()) return;
  bool invert = p[0] == '!';
  if (invert) p = std::string(trim_space(std::string_view(p).substr(1)));
  if (!p.empty()) {
    p = clean_path(p);
    if (p.size() > 1 && p[0] == '/') p.erase(0, 1);
  }
  if (invert) p = "!" + p;
  patterns_.push_back(p);

  // patternmatcher.New: cleaned again (before the "!" is taken off, as it does), then checked by Match.
  p = clean_path(p);
  Pattern pat;
  if (p[0] == '!') {
    if (p.size() == 1) throw Error(context_error("illegal exclusion pattern: \"!\"", line));
    pat.exclusion = true;
    exceptions_ = true;
    p.erase(0, 1);
  }
  try {
    go_match(p, ".");
  } catch (const BadPattern&) {
    throw Error(context_error("syntax error in pattern " + quoted(p), line));
  }
  pat.text = p;
  for (size_t s = 0;;) {
    size_t e = p.find('/', s);
    pat.parts.push_back(p.substr(s, e == std::string::npos ? std::string::npos : e - s));
    if (e == std::string::npos) break;
    s = e + 1;
  }

  // patternmatcher's compile.
  Kind kind = Kind::kExact;
  std::vector<Token> tokens;
  auto literal = [&](std::string_view text) {
    if (!tokens.empty() && tokens.back().kind == Token::kLiteral) {
      tokens.back().literal += text;
    } else {
      Token t;
      t.literal = std::string(text);
      tokens.push_back(std::move(t));
    }
  };
  auto simple = [&](Token::Kind k) {
    Token t;
    t.kind = k;
    tokens.push_back(std::move(t));
  };
  try {
    for (size_t i = 0, iteration = 0; i < p.size(); ++iteration) {
      char ch = p[i];
      if (ch == '*') {
        ++i;
        if (i < p.size() && p[i] == '*') {
          ++i;
          if (i < p.size() && p[i] == '/') ++i;  // "**/" is "**"
          if (i == p.size()) {
            if (kind == Kind::kExact) {
              kind = Kind::kPrefix;
            } else {
              simple(Token::kRest);
              kind = Kind::kRegexp;
            }
          } else {
            simple(Token::kAnyDirs);
            kind = Kind::kRegexp;
          }
          if (iteration == 0) kind = Kind::kSuffix;
        } else {
          simple(Token::kStar);
          kind = Kind::kRegexp;
        }
      } else if (ch == '?') {
        simple(Token::kAny);
        kind = Kind::kRegexp;
        ++i;
      } else if (ch == '\\') {
        if (i + 1 < p.size()) {
          size_t n = decode(p, i + 1).second;
          literal(std::string_view(p).substr(i + 1, n));
          kind = Kind::kRegexp;
          i += 1 + n;
        } else {
          literal("\\");
          ++i;
        }
      } else if (ch == '[') {
        Token t;
        i = parse_class(p, i, t);
        tokens.push_back(std::move(t));
        kind = Kind::kRegexp;
      } else if (ch == ']') {
        literal("]");
        kind = Kind::kRegexp;
        ++i;
      } else {
        size_t n = decode(p, i).second;
        literal(std::string_view(p).substr(i, n));
        i += n;
      }
    }
  } catch (const BadPattern&) {
    throw Error(context_error("syntax error in pattern " + quoted(p), line));
  }
  pat.kind = kind;
  if (kind == Kind::kRegexp) {
    if (!tokens.empty() && tokens.front().kind == Token::kLiteral) pat.head = tokens.front().literal;
    if (tokens.size() > 1 && tokens.back().kind == Token::kLiteral) pat.tail = tokens.back().literal;
    pat.tokens = std::move(tokens);
  }
  compiled_.push_back(std::move(pat));
}

IgnoreMatcher::IgnoreMatcher(std::vector<std::string> patterns) {
  for (auto& p : patterns) add(std::move(p), 0);
}

IgnoreMatcher IgnoreMatcher::parse(std::string_view text) {
  IgnoreMatcher m;
  int line = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view l = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line == 0 && l.substr(0, 3) == "\xEF\xBB\xBF") l.remove_prefix(3);
    ++line;
    if (!l.empty() && l[0] == '#') continue;  // a comment only when "#" is the very first character
    m.add(std::string(l), line);
  }
  return m;
}

bool IgnoreMatcher::excluded(std::string_view path) const {
  std::string file = clean_path(path);
  if (file == ".") return false;  // the context itself is never excluded
  size_t slash = file.rfind('/');
  std::string parent = slash == std::string::npos ? "." : file.substr(0, slash);
  bool matched = false;
  for (const auto& p : compiled_) {
    // An inclusion can only turn a match on, an exclusion only off.
    if (p.exclusion != matched) continue;
    bool match = p.match(file);
    if (!match && parent != ".") {
      // Or one of the parent directories matches ("dir" excludes "dir/a/b").
      for (size_t e = parent.find('/');; e = parent.find('/', e + 1)) {
        if (p.match(std::string_view(parent).substr(0, e))) {
          match = true;
          break;
        }
        if (e == std::string::npos) break;
      }
    }
    if (match) matched = !p.exclusion;
  }
  return matched;
}

}  // namespace cppcker::build
