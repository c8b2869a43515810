// Word expansion as BuildKit's frontend/dockerfile/shell lexer (lex.go) does it: same quoting, escapes,
// modifiers and error texts, ported behaviour by behaviour.
#include "cppcker/build/shell_lex.hpp"

#include <optional>
#include <utility>

#include "cppcker/util/error.hpp"

namespace cppcker::build {

namespace {

constexpr int kEof = -1;

bool is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }
bool is_digit(int c) { return c >= '0' && c <= '9'; }
bool is_name_char(int c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_special_param(int c) {
  switch (c) {
    case '@': case '*': case '#': case '?': case '-': case '$': case '!': case '0':
      return true;
    default:
      return false;
  }
}

size_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 1;
}

// Go's %q for the messages that quote the source word.
std::string go_quote(std::string_view s) {
  std::string out = "\"";
  static const char* hex = "0123456789abcdef";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

// A failure inside the lexer; wrapped once at the top with the source word, as lex.go does.
struct LexFailure {
  std::string message;
};

[[noreturn]] void fail(std::string message) { throw LexFailure{std::move(message)}; }

// ---- shell patterns of ${X#p} ${X%p} ${X/p/r}: "*", "?" and literals (lex.go's convertShellPatternToRegex,
// matched here directly with the same leftmost-first priorities as Go's regexp).
struct PatternToken {
  enum Kind { kStar, kAny, kLiteral } kind;
  std::string literal;
};

std::vector<PatternToken> compile_shell_pattern(std::string_view pattern) {
  std::vector<PatternToken> tokens;
  size_t i = 0;
  while (i < pattern.size()) {
    char c = pattern[i];
    size_t n = utf8_len(static_cast<unsigned char>(c));
    if (c == '*') {
      tokens.push_back({PatternToken::kStar, {}});
      ++i;
    } else if (c == '?') {
      tokens.push_back({PatternToken::kAny, {}});
      ++i;
    } else if (c == '\\') {
      // "}" and "/" are escaped only so the ${} parser does not stop on them: the escape is not part of it.
      if (i + 1 < pattern.size() && (pattern[i + 1] == '}' || pattern[i + 1] == '/')) {
        ++i;
        continue;
      }
      if (i + 1 >= pattern.size()) fail("invalid pattern (" + std::string(pattern) + ") in substitution: invalid escape '\\'");
      char e = pattern[i + 1];
      if (e != '*' && e != '?' && e != '\\') {
        size_t en = utf8_len(static_cast<unsigned char>(e));
        fail("invalid pattern (" + std::string(pattern) + ") in substitution: invalid escape '\\" +
             std::string(pattern.substr(i + 1, en)) + "'");
      }
      tokens.push_back({PatternToken::kLiteral, std::string(1, e)});
      i += 2;
    } else {
      tokens.push_back({PatternToken::kLiteral, std::string(pattern.substr(i, n))});
      i += n;
    }
  }
  return tokens;
}

// End of the first match (by priority: greedy stars try the longest first, lazy the shortest) of
// tokens[ti..] at s[si..], anchored there. Like Go's ".", "*" and "?" never match a newline.
std::optional<size_t> match_here(const std::vector<PatternToken>& t, size_t ti, std::string_view s, size_t si,
                                 bool greedy) {
  if (ti == t.size()) return si;
  const PatternToken& tok = t[ti];
  switch (tok.kind) {
    case PatternToken::kLiteral:
      if (s.substr(si).substr(0, tok.literal.size()) != tok.literal) return std::nullopt;
      return match_here(t, ti + 1, s, si + tok.literal.size(), greedy);
    case PatternToken::kAny:
      if (si >= s.size() || s[si] == '\n') return std::nullopt;
      return match_here(t, ti + 1, s, si + utf8_len(static_cast<unsigned char>(s[si])), greedy);
    case PatternToken::kStar: {
      std::vector<size_t> ends{si};
      for (size_t p = si; p < s.size() && s[p] != '\n';) {
        p += utf8_len(static_cast<unsigned char>(s[p]));
        ends.push_back(std::min(p, s.size()));
      }
      if (greedy) {
        for (auto it = ends.rbegin(); it != ends.rend(); ++it)
          if (auto r = match_here(t, ti + 1, s, *it, greedy)) return r;
      } else {
        for (size_t e : ends)
          if (auto r = match_here(t, ti + 1, s, e, greedy)) return r;
      }
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::vector<std::string> runes(std::string_view s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    size_t n = std::min(utf8_len(static_cast<unsigned char>(s[i])), s.size() - i);
    out.emplace_back(s.substr(i, n));
    i += n;
  }
  return out;
}

std::string reverse_string(std::string_view s) {
  auto r = runes(s);
  std::string out;
  for (auto it = r.rbegin(); it != r.rend(); ++it) out += *it;
  return out;
}

// Reversed, but "\x" stays "\x" (lex.go's reversePattern).
std::string reverse_pattern(std::string_view pattern) {
  auto r = runes(pattern);
  std::vector<std::string> out(r.size());
  size_t last = r.size() == 0 ? 0 : r.size() - 1;
  for (size_t i = 0; i < r.size();) {
    size_t o = last - i;
    if (r[i] == "\\" && i != last) {
      out[o - 1] = r[i];
      out[o] = r[i + 1];
      i += 2;
    } else {
      out[o] = r[i];
      ++i;
    }
  }
  std::string s;
  for (auto& x : out) s += x;
  return s;
}

std::string trim_prefix(std::string_view pattern, const std::string& value, bool greedy) {
  auto tokens = compile_shell_pattern(pattern);
  if (auto end = match_here(tokens, 0, value, 0, greedy)) return value.substr(*end);
  return value;
}

std::string trim_suffix(std::string_view pattern, const std::string& value, bool greedy) {
  // Shortest/longest rightmost match = the same prefix match on both reversed (as lex.go).
  return reverse_string(trim_prefix(reverse_pattern(pattern), reverse_string(value), greedy));
}

// ${X/p/r} and ${X//p/r}: Go's regexp Find / ReplaceAll with a greedy unanchored pattern; the replacement is
// taken literally.
std::string replace_pattern(std::string_view pattern, const std::string& value, const std::string& replacement,
                            bool all) {
  auto tokens = compile_shell_pattern(pattern);
  auto find_from = [&](size_t from) -> std::optional<std::pair<size_t, size_t>> {
    for (size_t start = from; start <= value.size();) {
      if (auto end = match_here(tokens, 0, value, start, true)) return std::make_pair(start, *end);
      if (start == value.size()) break;
      start += utf8_len(static_cast<unsigned char>(value[start]));
    }
    return std::nullopt;
  };
  if (!all) {
    auto m = find_from(0);
    if (!m) return value;
    return value.substr(0, m->first) + replacement + value.substr(m->second);
  }
  std::string out;
  size_t last_end = 0, search = 0;
  while (search <= value.size()) {
    auto m = find_from(search);
    if (!m) break;
    out.append(value, last_end, m->first - last_end);
    // No replacement for an empty match right after a previous match (Go's replaceAll).
    if (m->second > last_end || m->first == 0) out += replacement;
    last_end = m->second;
    size_t width = search < value.size() ? utf8_len(static_cast<unsigned char>(value[search])) : 0;
    if (search + width > m->second) {
      search += width;
    } else if (search + 1 > m->second) {
      search++;
    } else {
      search = m->second;
    }
  }
  out.append(value, std::min(last_end, value.size()), std::string::npos);
  return out;
}

// ---- the lexer proper
struct Words {
  std::string buf;
  std::vector<std::string> words;
  bool in_word = false;

  void add_char(char c) {
    if (is_space(static_cast<unsigned char>(c)) && in_word) {
      if (!buf.empty()) {
        words.push_back(std::move(buf));
        buf.clear();
        in_word = false;
      }
    } else if (!is_space(static_cast<unsigned char>(c))) {
      add_raw_char(c);
    }
  }
  void add_raw_char(char c) {
    buf.push_back(c);
    in_word = true;
  }
  void add_string(std::string_view s) {
    for (char c : s) add_char(c);
  }
  void add_raw_string(std::string_view s) {
    buf.append(s);
    in_word = true;
  }
  std::vector<std::string> take() {
    if (!buf.empty()) {
      words.push_back(std::move(buf));
      buf.clear();
      in_word = false;
    }
    return std::move(words);
  }
};

struct Processed {
  std::string word;
  std::vector<std::string> words;
};

class Lexer {
 public:
  Lexer(std::string_view source, const BuildEnv& env, char escape, LexOptions options)
      : src_(source), env_(env), escape_(static_cast<unsigned char>(escape)), options_(options),
        raw_escapes_(options.raw_escapes) {}

  Processed process_stop_on(int stop, bool raw_escapes) {
    // lex.go switches raw escapes for the duration of one nested word (the patterns of # % /).
    bool saved = raw_escapes_;
    raw_escapes_ = raw_escapes;
    std::string result;
    Words words;
    while (peek() != kEof) {
      int ch = peek();
      if (stop != kEof && ch == stop) {
        next();
        raw_escapes_ = saved;
        return {std::move(result), words.take()};
      }
      bool quote = (ch == '\'' || ch == '"') && !options_.skip_process_quotes;
      if (ch == '$' || quote || (ch == '<' && options_.heredoc_words)) {
        std::string tmp = ch == '$'    ? dollar()
                          : ch == '\'' ? single_quote()
                          : ch == '"'  ? double_quote()
                                       : possible_heredoc();
        result += tmp;
        if (ch == '$') {
          words.add_string(tmp);
        } else {
          words.add_raw_string(tmp);
        }
        continue;
      }
      ch = next();
      if (ch == escape_) {
        if (raw_escapes_) {
          words.add_raw_char(static_cast<char>(ch));
          result.push_back(static_cast<char>(ch));
        }
        // The escape character escapes the next one, except at the end of the input.
        ch = next();
        if (ch == kEof) break;
        words.add_raw_char(static_cast<char>(ch));
      } else {
        words.add_char(static_cast<char>(ch));
      }
      result.push_back(static_cast<char>(ch));
    }
    if (stop != kEof) fail("unexpected end of statement while looking for matching " + std::string(1, static_cast<char>(stop)));
    raw_escapes_ = saved;
    return {std::move(result), words.take()};
  }

 private:
  int peek() const { return pos_ < src_.size() ? static_cast<unsigned char>(src_[pos_]) : kEof; }
  int next() { return pos_ < src_.size() ? static_cast<unsigned char>(src_[pos_++]) : kEof; }

  // BuildKit's processPossibleHeredoc: "<<" swallows the blanks that follow it, so that "<<  EOF" is one word.
  std::string possible_heredoc() {
    next();
    if (peek() != '<') return "<";
    next();
    std::string result = "<<";
    while (peek() == ' ' || peek() == '\t') result.push_back(static_cast<char>(next()));
    return result;
  }

  std::string single_quote() {
    // Everything up to the next ' as is: nothing can be escaped inside.
    std::string result;
    int ch = next();
    if (options_.raw_quotes) result.push_back(static_cast<char>(ch));
    for (;;) {
      ch = next();
      if (ch == kEof) fail("unexpected end of statement while looking for matching single-quote");
      if (ch == '\'') {
        if (options_.raw_quotes) result.push_back('\'');
        return result;
      }
      result.push_back(static_cast<char>(ch));
    }
  }

  std::string double_quote() {
    // Literal except $, and the escape character before " $ or itself.
    std::string result;
    int ch = next();
    if (options_.raw_quotes) result.push_back(static_cast<char>(ch));
    for (;;) {
      int p = peek();
      if (p == kEof) fail("unexpected end of statement while looking for matching double-quote");
      if (p == '"') {
        next();
        if (options_.raw_quotes) result.push_back('"');
        return result;
      }
      if (p == '$') {
        result += dollar();
        continue;
      }
      ch = next();
      if (ch == escape_) {
        if (raw_escapes_) result.push_back(static_cast<char>(ch));
        int q = peek();
        if (q == kEof) continue;
        if (q == '"' || q == '$' || q == escape_) ch = next();
      }
      result.push_back(static_cast<char>(ch));
    }
  }

  std::string process_name() {
    std::string name;
    while (peek() != kEof) {
      int ch = peek();
      if (name.empty() && is_digit(ch)) {
        while (peek() != kEof && is_digit(peek())) name.push_back(static_cast<char>(next()));
        return name;
      }
      if (name.empty() && is_special_param(ch)) {
        next();
        return std::string(1, static_cast<char>(ch));
      }
      if (!is_name_char(ch)) break;
      name.push_back(static_cast<char>(next()));
    }
    return name;
  }

  std::optional<std::string> get_env(const std::string& name) const { return lookup_env(env_, name); }

  // The nested word of a modifier, up to `stop`; running out of input is a missing "}" (or "/").
  std::string nested(int stop, bool raw_escapes, const char* missing) {
    try {
      return process_stop_on(stop, raw_escapes).word;
    } catch (const LexFailure&) {
      if (peek() == kEof) fail(missing);
      throw;
    }
  }

  std::string dollar() {
    next();  // the $
    if (peek() != '{') {
      std::string name = process_name();
      if (name.empty()) return "$";
      auto value = get_env(name);
      if (!value && options_.skip_unset_env) return "$" + name;
      return value.value_or("");
    }
    next();  // the {
    switch (peek()) {
      case kEof:
        fail("syntax error: missing '}'");
      case '{': case '}': case ':':
        fail("syntax error: bad substitution");
      default:
        break;
    }
    std::string name = process_name();
    int ch = next();
    if (ch == kEof) fail("syntax error: missing '}'");
    std::string chs(1, static_cast<char>(ch));
    if (ch == '}') {
      auto value = get_env(name);
      if (!value && options_.skip_unset_env) return "${" + name + "}";
      return value.value_or("");
    }
    bool null_is_unset = false;
    if (ch == ':') {
      null_is_unset = true;
      ch = next();
      if (ch == kEof) fail("syntax error: missing '}'");
      chs.push_back(static_cast<char>(ch));
    }
    if (null_is_unset || ch == '+' || ch == '-' || ch == '?' || ch == '#' || ch == '%') {
      bool raw = ch == '#' || ch == '%';
      if (null_is_unset && raw) fail("unsupported modifier (" + chs + ") in substitution");
      std::string word = nested('}', raw, "syntax error: missing '}'");
      auto value = get_env(name);
      if (options_.skip_unset_env && !value) return "${" + name + chs + word + "}";
      bool set = value.has_value();
      std::string v = value.value_or("");
      switch (ch) {
        case '-':
          if (!set || (null_is_unset && v.empty())) return word;
          return v;
        case '+':
          if (!set || (null_is_unset && v.empty())) return "";
          return word;
        case '?':
          if (!set) fail(name + ": " + (word.empty() ? std::string("is not allowed to be unset") : word));
          if (null_is_unset && v.empty())
            fail(name + ": " + (word.empty() ? std::string("is not allowed to be empty") : word));
          return v;
        case '%':
        case '#': {
          // "%"/"#" remove the shortest match, "%%"/"##" the longest.
          bool greedy = false;
          if (!word.empty() && word[0] == static_cast<char>(ch)) {
            greedy = true;
            word.erase(0, 1);
          }
          return ch == '%' ? trim_suffix(word, v, greedy) : trim_prefix(word, v, greedy);
        }
        default:
          fail("unsupported modifier (" + chs + ") in substitution");
      }
    }
    if (ch == '/') {
      bool all = peek() == '/';
      if (all) next();
      std::string pattern = nested('/', true, "syntax error: missing '/' in ${}");
      std::string replacement = nested('}', true, "syntax error: missing '}'");
      auto value = get_env(name);
      if (options_.skip_unset_env && !value) return "${" + name + "/" + pattern + "/" + replacement + "}";
      return replace_pattern(pattern, value.value_or(""), replacement, all);
    }
    fail("unsupported modifier (" + chs + ") in substitution");
  }

  std::string_view src_;
  size_t pos_ = 0;
  const BuildEnv& env_;
  int escape_;
  LexOptions options_;
  bool raw_escapes_;
};

Processed process(std::string_view source, const BuildEnv& env, char escape, LexOptions options) {
  Lexer lexer(source, env, escape, options);
  try {
    return lexer.process_stop_on(kEof, options.raw_escapes);
  } catch (const LexFailure& f) {
    throw Error("failed to process " + go_quote(source) + ": " + f.message);
  }
}

}  // namespace

std::optional<std::string> lookup_env(const BuildEnv& env, std::string_view name) {
  // A later entry wins (BuildKit's EnvsFromSlice).
  for (auto it = env.rbegin(); it != env.rend(); ++it) {
    std::string_view entry = *it;
    size_t eq = entry.find('=');
    std::string_view key = eq == std::string_view::npos ? entry : entry.substr(0, eq);
    if (key == name) return eq == std::string_view::npos ? std::string() : std::string(entry.substr(eq + 1));
  }
  return std::nullopt;
}

std::string ShellLex::expand_word(std::string_view word, const BuildEnv& env) const {
  return process(word, env, escape_, options_).word;
}

std::vector<std::string> ShellLex::expand_words(std::string_view text, const BuildEnv& env) const {
  return process(text, env, escape_, options_).words;
}

}  // namespace cppcker::build
