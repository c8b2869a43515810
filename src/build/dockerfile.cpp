// The Dockerfile parser, ported behaviour by behaviour from BuildKit's frontend/dockerfile/parser
// (parser.go, line_parsers.go, split_command.go) and the argument checks of instructions/parse.go.
#include "cppcker/build/dockerfile.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "cppcker/build/shell_lex.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"
#include "cppcker/util/text.hpp"
#include "cppcker/util/word_list.hpp"

namespace cppcker::build {

namespace {

bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }
// Go regexp's \s (no \v).
bool is_re_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }
// BuildKit's reWhitespace / tokenWhitespace: [\t\v\f\r ]
bool is_token_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r'; }

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && is_space(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  return s;
}
std::string_view trim(std::string_view s) {
  s = trim_left(s);
  while (!s.empty() && is_space(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}
std::string_view trim_newline(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

[[noreturn]] void parse_error(int line, const std::string& what) {
  throw Error("dockerfile parse error on line " + std::to_string(line) + ": " + what);
}

constexpr std::array<std::string_view, 18> kKnown = {
    "FROM",       "RUN",    "CMD",  "LABEL", "MAINTAINER", "EXPOSE", "ENV",     "ADD",        "COPY",
    "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG",      "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"};
bool known(std::string_view keyword) { return in_word_list(kKnown, keyword); }

// ---- parser directives (`# escape=`, `# syntax=`): only before any other line.
struct Directives {
  char escape = '\\';
  std::string syntax;
  bool done = false;
  bool seen_escape = false;
  bool seen_syntax = false;
  bool seen_check = false;
};

// BuildKit's reDirectives: ^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$
bool match_directive(std::string_view line, std::string& key, std::string& value) {
  size_t i = 0;
  if (line.empty() || line[0] != '#') return false;
  ++i;
  while (i < line.size() && is_re_space(static_cast<unsigned char>(line[i]))) ++i;
  size_t k = i;
  if (i >= line.size() || !std::isalpha(static_cast<unsigned char>(line[i]))) return false;
  while (i < line.size() && std::isalnum(static_cast<unsigned char>(line[i]))) ++i;
  key = std::string(line.substr(k, i - k));
  while (i < line.size() && is_re_space(static_cast<unsigned char>(line[i]))) ++i;
  if (i >= line.size() || line[i] != '=') return false;
  ++i;
  while (i < line.size() && is_re_space(static_cast<unsigned char>(line[i]))) ++i;
  std::string_view v = line.substr(i);
  while (!v.empty() && is_re_space(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
  if (v.empty()) return false;
  value = std::string(v);
  return true;
}

void possible_directive(Directives& d, std::string_view line, int line_number) {
  if (d.done) return;
  std::string key, value;
  if (!match_directive(line, key, value)) {
    d.done = true;
    return;
  }
  key = ascii_lower(key);
  if (key != "escape" && key != "syntax" && key != "check") {
    d.done = true;
    return;
  }
  // "check" (BuildKit's lint settings) is a directive too: taken, and ignored.
  bool& seen = key == "escape" ? d.seen_escape : key == "syntax" ? d.seen_syntax : d.seen_check;
  if (seen) parse_error(line_number, "only one " + key + " parser directive can be used");
  seen = true;
  if (key == "syntax") d.syntax = value;
  if (key != "escape") return;
  if (value != "`" && value != "\\") parse_error(line_number, "invalid escape token '" + value + "' does not match ` or \\");
  d.escape = value[0];
}

// processLine: newline trimmed, optionally left-trimmed, a directive looked for, a comment line emptied.
std::string process_line(Directives& d, std::string_view token, bool strip_left, int line_number) {
  token = trim_newline(token);
  if (strip_left) token = trim_left(token);
  possible_directive(d, token, line_number);
  if (!token.empty() && token[0] == '#') return {};
  return std::string(token);
}

bool is_comment(std::string_view raw) {
  auto t = trim_left(trim_newline(raw));
  return !t.empty() && t[0] == '#';
}

// The escape character as the last non-blank character continues the line, unless it is itself escaped
// (BuildKit's lineContinuationRegex). Returns {line without it, end of line?}.
std::pair<std::string, bool> trim_continuation(std::string line, char escape) {
  size_t end = line.size();
  while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t')) --end;
  if (end == 0 || line[end - 1] != escape) return {std::move(line), true};
  if (end == 1) return {std::string(), false};
  if (line[end - 2] == escape) return {std::move(line), true};
  line.resize(end - 1);
  return {std::move(line), false};
}

// Docker's extractBuilderFlags: leading --words (quotes and backslash escapes removed), up to the first
// word that does not start with "--"; "--" alone ends them.
std::pair<std::string, std::vector<std::string>> extract_builder_flags(std::string_view line) {
  enum { kSpaces, kWord, kQuote } phase = kSpaces;
  std::vector<std::string> words;
  std::string word;
  char quote = 0;
  bool blank_ok = false;
  for (size_t pos = 0; pos <= line.size(); ++pos) {
    char ch = pos != line.size() ? line[pos] : 0;
    if (phase == kSpaces) {
      if (pos == line.size()) break;
      if (is_space(static_cast<unsigned char>(ch))) continue;
      if (ch != '-' || pos + 1 == line.size() || line[pos + 1] != '-') return {std::string(line.substr(pos)), words};
      phase = kWord;
    }
    if ((phase == kWord || phase == kQuote) && pos == line.size()) {
      if (word != "--" && (blank_ok || !word.empty())) words.push_back(word);
      break;
    }
    if (phase == kWord) {
      if (is_space(static_cast<unsigned char>(ch))) {
        phase = kSpaces;
        if (word == "--") return {std::string(line.substr(pos)), words};
        if (blank_ok || !word.empty()) words.push_back(word);
        word.clear();
        blank_ok = false;
        continue;
      }
      if (ch == '\'' || ch == '"') {
        quote = ch;
        blank_ok = true;
        phase = kQuote;
        continue;
      }
      if (ch == '\\') {
        if (pos + 1 == line.size()) continue;
        ch = line[++pos];
      }
      word.push_back(ch);
      continue;
    }
    // kQuote
    if (ch == quote) {
      phase = kWord;
      continue;
    }
    if (ch == '\\') {
      if (pos + 1 == line.size()) {
        phase = kWord;
        continue;
      }
      ch = line[++pos];
    }
    word.push_back(ch);
  }
  return {std::string(), words};
}

// line_parsers.go parseWords: words split on whitespace outside quotes; quotes and escapes kept.
std::vector<std::string> parse_words(std::string_view rest, char escape) {
  enum { kSpaces, kWord, kQuote } phase = kSpaces;
  std::vector<std::string> words;
  std::string word;
  char quote = 0;
  bool blank_ok = false;
  for (size_t pos = 0; pos <= rest.size(); ++pos) {
    char ch = pos != rest.size() ? rest[pos] : 0;
    if (phase == kSpaces) {
      if (pos == rest.size()) break;
      if (is_space(static_cast<unsigned char>(ch))) continue;
      phase = kWord;
    }
    if ((phase == kWord || phase == kQuote) && pos == rest.size()) {
      if (blank_ok || !word.empty()) words.push_back(word);
      break;
    }
    if (phase == kWord) {
      if (is_space(static_cast<unsigned char>(ch))) {
        phase = kSpaces;
        if (blank_ok || !word.empty()) words.push_back(word);
        word.clear();
        blank_ok = false;
        continue;
      }
      if (ch == '\'' || ch == '"') {
        quote = ch;
        blank_ok = true;
        phase = kQuote;
      }
      if (ch == escape) {
        if (pos + 1 == rest.size()) continue;  // an escape at the very end is dropped
        // Outside quotes the escape and the next character are both kept, even a quote.
        word.push_back(ch);
        ch = rest[++pos];
      }
      word.push_back(ch);
      continue;
    }
    // kQuote
    if (ch == quote) phase = kWord;
    if (ch == escape && quote != '\'') {  // nothing escapes inside single quotes
      if (pos + 1 == rest.size()) {
        phase = kWord;
        continue;
      }
      word.push_back(ch);
      ch = rest[++pos];
    }
    word.push_back(ch);
  }
  return words;
}

// reWhitespace.Split(s, -1)
std::vector<std::string> split_whitespace(std::string_view s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size();) {
    if (i == s.size()) {
      out.emplace_back(s.substr(start));
      break;
    }
    if (is_token_space(static_cast<unsigned char>(s[i]))) {
      out.emplace_back(s.substr(start, i - start));
      while (i < s.size() && is_token_space(static_cast<unsigned char>(s[i]))) ++i;
      start = i;
      if (i == s.size()) {
        out.emplace_back();
        break;
      }
      continue;
    }
    ++i;
  }
  return out;
}

const char* const kNotStrings = "when using JSON array syntax, arrays must be comprised of strings only";

// parseJSON: a JSON array of strings after leading whitespace. nullopt when not JSON at all; throws (through
// `line`) when it is an array with a non-string element.
std::optional<std::vector<std::string>> parse_json(std::string_view rest, int line) {
  rest = trim_left(rest);
  if (rest.empty() || rest[0] != '[') return std::nullopt;
  auto j = nlohmann::json::parse(rest.begin(), rest.end(), nullptr, false);
  if (j.is_discarded() || !j.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& e : j) {
    if (!e.is_string()) parse_error(line, kNotStrings);
    out.push_back(e.get<std::string>());
  }
  return out;
}

bool json_keyword(std::string_view k) {
  return k == "RUN" || k == "CMD" || k == "ENTRYPOINT" || k == "SHELL" || k == "ADD" || k == "COPY" ||
         k == "VOLUME";
}
bool heredoc_keyword(std::string_view k) { return k == "RUN" || k == "COPY" || k == "ADD"; }

// HEALTHCHECK: the type word and the rest after it.
std::pair<std::string_view, std::string_view> split_type(std::string_view args) {
  size_t sep = 0;
  while (sep < args.size() && !is_space(static_cast<unsigned char>(args[sep]))) ++sep;
  size_t next = sep;
  while (next < args.size() && is_space(static_cast<unsigned char>(args[next]))) ++next;
  return {args.substr(0, sep), args.substr(next)};
}

// newNodeFromLine: keyword, flags, args, JSON form. `heredoc_ok` tells whether heredocs follow this line
// (RUN/COPY/ADD in shell form, or ONBUILD of one).
Instruction node_from_line(const std::string& line, char escape, int line_number, bool& heredoc_ok) {
  Instruction ins;
  ins.line = line_number;
  ins.original = line;
  ins.escape = escape;
  std::string_view t = trim(line);
  size_t sp = 0;
  while (sp < t.size() && !is_token_space(static_cast<unsigned char>(t[sp]))) ++sp;
  ins.keyword = upper(t.substr(0, sp));
  if (sp < t.size()) {
    size_t rest = sp;
    while (rest < t.size() && is_token_space(static_cast<unsigned char>(t[rest]))) ++rest;
    auto [args, flags] = extract_builder_flags(t.substr(rest));
    ins.args = std::string(trim(args));
    for (auto& f : flags) {
      Flag flag;
      std::string_view fv = f;
      if (fv.substr(0, 2) == "--") fv.remove_prefix(2);
      size_t eq = fv.find('=');
      if (eq == std::string_view::npos) {
        flag.name = std::string(fv);
      } else {
        flag.name = std::string(fv.substr(0, eq));
        flag.value = std::string(fv.substr(eq + 1));
        flag.has_value = true;
      }
      ins.flags.push_back(std::move(flag));
    }
  }
  heredoc_ok = false;
  if (json_keyword(ins.keyword)) {
    ins.json = parse_json(ins.args, line_number);
    heredoc_ok = heredoc_keyword(ins.keyword) && !ins.json;
  } else if (ins.keyword == "HEALTHCHECK") {
    auto [type, rest] = split_type(ins.args);
    if (!type.empty() && !rest.empty()) ins.json = parse_json(rest, line_number);
  } else if (ins.keyword == "ONBUILD" && !ins.args.empty()) {
    bool child_heredoc = false;
    node_from_line(ins.args, escape, line_number, child_heredoc);  // BuildKit parses the trigger too
    heredoc_ok = child_heredoc;
  }
  return ins;
}

// BuildKit's reHeredoc ^(\d*)<<(-?)\s*([^<]*)$ on one word, then the delimiter itself: quoted -> no expansion.
std::optional<Heredoc> parse_heredoc_word(const std::string& word) {
  size_t i = 0;
  while (i < word.size() && std::isdigit(static_cast<unsigned char>(word[i]))) ++i;
  if (word.compare(i, 2, "<<") != 0) return std::nullopt;
  i += 2;
  Heredoc doc;
  if (i < word.size() && word[i] == '-') {
    doc.chomp = true;
    ++i;
  }
  while (i < word.size() && is_re_space(static_cast<unsigned char>(word[i]))) ++i;
  std::string rest = word.substr(i);
  if (rest.empty() || rest.find('<') != std::string::npos) return std::nullopt;
  LexOptions plain;
  plain.skip_unset_env = true;
  auto words = ShellLex('\\', plain).expand_words(rest, {});
  if (words.size() != 1) return std::nullopt;
  LexOptions raw = plain;
  raw.raw_quotes = true;
  auto raw_words = ShellLex('\\', raw).expand_words(rest, {});
  if (raw_words.size() != 1) return std::nullopt;
  auto quotes = [](const std::string& s) { return std::count(s.begin(), s.end(), '\'') + std::count(s.begin(), s.end(), '"'); };
  doc.name = words[0];
  doc.expand = quotes(words[0]) == quotes(raw_words[0]);
  return doc;
}

std::vector<Heredoc> heredocs_from_line(const std::string& line, int line_number) {
  LexOptions o;
  o.raw_quotes = true;
  o.raw_escapes = true;
  o.skip_unset_env = true;
  o.heredoc_words = true;
  std::vector<std::string> words;
  try {
    words = ShellLex('\\', o).expand_words(line, {});
  } catch (const Error&) {
    return {};  // BuildKit ignores a line it cannot split: no heredoc then
  }
  std::vector<Heredoc> docs;
  for (const auto& w : words) {
    try {
      if (auto d = parse_heredoc_word(w)) docs.push_back(std::move(*d));
    } catch (const Error& e) {
      parse_error(line_number, e.what());
    }
  }
  return docs;
}

std::string chomp_tabs(const std::string& content) {
  std::string out;
  bool line_start = true;
  for (char c : content) {
    if (line_start && c == '\t') continue;
    line_start = c == '\n';
    out.push_back(c);
  }
  return out;
}

// bufio.Scanner with BuildKit's scanLines: lines keep their "\n".
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos) {
      lines.push_back(text);
      break;
    }
    lines.push_back(text.substr(0, nl + 1));
    text.remove_prefix(nl + 1);
  }
  return lines;
}

// The flags each instruction takes (BuildKit's BFlags declarations): 's' a string, 'b' a boolean, 'm' a
// string that may repeat. ARG and STOPSIGNAL do not look at their flags at all; HEALTHCHECK NONE neither.
struct FlagSpec {
  const char* name;
  char type;
};
std::vector<FlagSpec> flag_specs(std::string_view k) {
  if (k == "ADD") return {{"chown", 's'}, {"chmod", 's'}, {"link", 'b'}, {"keep-git-dir", 'b'}, {"checksum", 's'}};
  if (k == "COPY") return {{"chown", 's'}, {"from", 's'}, {"chmod", 's'}, {"link", 'b'}};
  if (k == "FROM") return {{"platform", 's'}};
  if (k == "RUN") return {{"mount", 'm'}, {"network", 's'}, {"security", 's'}};
  if (k == "HEALTHCHECK")
    return {{"interval", 's'}, {"timeout", 's'}, {"start-period", 's'}, {"start-interval", 's'}, {"retries", 's'}};
  return {};
}

// BFlags.Parse: unknown, repeated or value-less flags are errors.
void check_flags(const Instruction& ins) {
  const std::string& k = ins.keyword;
  if (k == "ARG" || k == "STOPSIGNAL") return;
  if (k == "HEALTHCHECK" && upper(split_type(ins.args).first) == "NONE") return;
  auto specs = flag_specs(k);
  std::vector<std::string> used;
  for (const auto& f : ins.flags) {
    auto spec = std::find_if(specs.begin(), specs.end(), [&](const FlagSpec& s) { return f.name == s.name; });
    if (spec == specs.end()) parse_error(ins.line, "unknown flag: " + f.name);
    if (spec->type != 'm' && std::find(used.begin(), used.end(), f.name) != used.end())
      parse_error(ins.line, "duplicate flag specified: " + f.name);
    used.push_back(f.name);
    if (spec->type == 'b') {
      if (f.has_value && f.value.empty()) parse_error(ins.line, "missing a value on flag: " + f.name);
      std::string v = ascii_lower(f.value);
      if (!v.empty() && v != "true" && v != "false")
        parse_error(ins.line, "expecting boolean value for flag " + f.name + ", not: " + f.value);
    } else if (!f.has_value) {
      parse_error(ins.line, "missing a value on flag: " + f.name);
    }
  }
}

// The argument checks BuildKit's instructions.Parse makes before anything is expanded.
void check_instruction(const Instruction& ins) {
  const std::string& k = ins.keyword;
  if (!known(k)) parse_error(ins.line, "unknown instruction: " + k);
  check_flags(ins);
  if (k == "ENV" || k == "LABEL" || k == "ARG") {
    name_values(ins);
  } else if (k == "MAINTAINER" || k == "USER" || k == "WORKDIR" || k == "STOPSIGNAL") {
    if (ins.args.empty()) parse_error(ins.line, k + " requires exactly one argument");
  } else if (k == "EXPOSE") {
    if (ins.args.empty()) parse_error(ins.line, "EXPOSE requires at least one argument");
  } else if (k == "VOLUME") {
    auto words = ins.json ? *ins.json : split_whitespace(ins.args);
    if (words.empty()) parse_error(ins.line, "VOLUME requires at least one argument");
    for (const auto& w : words)
      if (trim(w).empty()) parse_error(ins.line, "VOLUME specified can not be an empty string");
  } else if (k == "ADD" || k == "COPY") {
    auto words = ins.json ? *ins.json : split_whitespace(ins.args);
    if (words.size() < 2)
      parse_error(ins.line, k + " requires at least two arguments, but only one was provided. Destination could not be determined");
    bool heredoc_dest = false;
    try {
      heredoc_dest = parse_heredoc_word(words.back()).has_value();
    } catch (const Error&) {
      // BuildKit's MustParseHeredoc: a word it cannot lex is no heredoc
    }
    if (heredoc_dest) parse_error(ins.line, k + " cannot accept a heredoc as a destination");
  } else if (k == "FROM") {
    auto words = split_whitespace(ins.args);
    if (words.size() == 3 && ascii_lower(words[1]) == "as") {
      std::string name = ascii_lower(words[2]);
      bool ok = !name.empty() && name[0] >= 'a' && name[0] <= 'z' &&
                std::all_of(name.begin(), name.end(), [](char c) {
                  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
                });
      if (!ok)
        parse_error(ins.line, "invalid name for build stage: " + go_quote(words[2]) +
                                  ", name can't start with a number or contain symbols");
    } else if (words.size() != 1) {
      parse_error(ins.line, "FROM requires either one or three arguments");
    }
  } else if (k == "ONBUILD") {
    if (ins.args.empty()) parse_error(ins.line, "ONBUILD requires at least one argument");
    auto [trigger, rest] = split_type(ins.args);
    std::string t = upper(trigger);
    if (t == "ONBUILD") parse_error(ins.line, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    if (t == "MAINTAINER" || t == "FROM") parse_error(ins.line, t + " isn't allowed as an ONBUILD trigger");
  } else if (k == "HEALTHCHECK") {
    if (ins.args.empty()) parse_error(ins.line, "HEALTHCHECK requires at least one argument");
    auto [type_word, rest] = split_type(ins.args);
    std::string type = upper(type_word);
    if (type == "NONE") {
      if (!rest.empty()) parse_error(ins.line, "HEALTHCHECK NONE takes no arguments");
    } else if (type == "CMD") {
      if (ins.json ? ins.json->empty() : rest.empty()) parse_error(ins.line, "Missing command after HEALTHCHECK CMD");
    } else {
      parse_error(ins.line, "Unknown type " + go_quote(type) + " in HEALTHCHECK (try CMD)");
    }
  } else if (k == "SHELL") {
    if (ins.json ? ins.json->empty() : ins.args.empty()) parse_error(ins.line, "SHELL requires at least one argument");
    if (!ins.json) parse_error(ins.line, "SHELL requires the arguments to be in JSON form");
  }
}

}  // namespace

const Flag* Instruction::flag(std::string_view name) const {
  for (const auto& f : flags)
    if (f.name == name) return &f;
  return nullptr;
}

Dockerfile parse_dockerfile(std::string_view text) {
  Dockerfile file;
  Directives d;
  auto lines = split_lines(text);
  // bufio.Scanner's limit, which Docker keeps: a line (with its newline) fits in 64 KiB.
  for (size_t n = 0; n < lines.size(); ++n)
    if (trim_newline(lines[n]).size() > 65535 || lines[n].size() > 65536)
      parse_error(static_cast<int>(n) + 1, "dockerfile line greater than max allowed size of 65535");
  size_t i = 0;
  int current = 0;
  while (i < lines.size()) {
    std::string_view raw = lines[i++];
    if (current == 0 && raw.substr(0, 3) == "\xEF\xBB\xBF") raw.remove_prefix(3);  // a UTF-8 BOM
    std::string bytes = process_line(d, raw, true, current + 1);
    ++current;
    int start = current;
    auto [line, end_of_line] = trim_continuation(std::move(bytes), d.escape);
    if (end_of_line && line.empty()) continue;
    bool empty_continuation = false;
    while (!end_of_line && i < lines.size()) {
      std::string_view next = lines[i++];
      std::string cont = process_line(d, next, false, current + 1);
      ++current;
      if (is_comment(next)) continue;  // comment lines inside a continuation are dropped
      if (trim_left(cont).empty()) {   // so are empty continuation lines, with a warning
        empty_continuation = true;
        continue;
      }
      auto [more, eol] = trim_continuation(std::move(cont), d.escape);
      line += more;
      end_of_line = eol;
    }
    if (empty_continuation) file.warnings.push_back("[WARNING]: Empty continuation line found in:\n    " + line);
    bool heredoc_ok = false;
    Instruction ins = node_from_line(line, d.escape, start, heredoc_ok);
    if (heredoc_ok && line.find("<<") != std::string::npos) {
      for (auto& doc : heredocs_from_line(line, start)) {
        bool terminated = false;
        while (i < lines.size()) {
          std::string_view body = lines[i++];
          ++current;
          std::string_view candidate = trim_newline(body);
          if (doc.chomp)
            while (!candidate.empty() && candidate.front() == '\t') candidate.remove_prefix(1);
          if (candidate == doc.name) {
            terminated = true;
            break;
          }
          doc.content += body;
        }
        if (!terminated) parse_error(start, "unterminated heredoc");
        if (doc.chomp) doc.content = chomp_tabs(doc.content);
        ins.heredocs.push_back(std::move(doc));
      }
    }
    file.instructions.push_back(std::move(ins));
  }
  if (!file.warnings.empty())
    file.warnings.push_back("[WARNING]: Empty continuation lines will become errors in a future release.");
  if (file.instructions.empty()) throw Error("file with no instructions");
  file.escape = d.escape;
  file.syntax = d.syntax;
  for (const auto& ins : file.instructions) check_instruction(ins);
  return file;
}

std::vector<std::pair<std::string, std::optional<std::string>>> name_values(const Instruction& ins) {
  std::vector<std::pair<std::string, std::optional<std::string>>> out;
  const std::string& k = ins.keyword;
  auto words = parse_words(ins.args, ins.escape);
  if (k == "ARG") {
    if (words.empty()) parse_error(ins.line, "ARG requires at least one argument");
    for (auto& w : words) {
      size_t eq = w.find('=');
      if (eq == std::string::npos) {
        out.emplace_back(w, std::nullopt);
        continue;
      }
      if (eq == 0) parse_error(ins.line, "ARG names can not be blank");
      out.emplace_back(w.substr(0, eq), w.substr(eq + 1));
    }
    return out;
  }
  if (k != "ENV" && k != "LABEL") throw Error("name_values: " + k + " takes no name=value arguments");
  if (words.empty()) parse_error(ins.line, k + " requires at least one argument");
  if (words[0].find('=') == std::string::npos) {
    // The legacy form "ENV name value with spaces": the rest of the line is the value, as written.
    std::string_view rest = ins.args;
    size_t sp = 0;
    while (sp < rest.size() && !is_token_space(static_cast<unsigned char>(rest[sp]))) ++sp;
    size_t v = sp;
    while (v < rest.size() && is_token_space(static_cast<unsigned char>(rest[v]))) ++v;
    if (sp == rest.size()) parse_error(ins.line, k + " must have two arguments");
    out.emplace_back(std::string(rest.substr(0, sp)), std::string(rest.substr(v)));
    return out;
  }
  // BuildKit's parser rejects a word without "=" before its instruction check sees a blank name.
  for (auto& w : words)
    if (w.find('=') == std::string::npos)
      parse_error(ins.line, "Syntax error - can't find = in " + go_quote(w) + ". Must be of the form: name=value");
  for (auto& w : words) {
    size_t eq = w.find('=');
    if (eq == 0) parse_error(ins.line, k + " names can not be blank");
    out.emplace_back(w.substr(0, eq), w.substr(eq + 1));
  }
  return out;
}

std::vector<std::string> split_words(const Instruction& ins) {
  if (ins.json) return *ins.json;
  return parse_words(ins.args, ins.escape);
}

std::optional<Heredoc> heredoc_word(std::string_view word) {
  try {
    return parse_heredoc_word(std::string(word));
  } catch (const Error&) {
    return std::nullopt;  // a delimiter that does not lex is no heredoc
  }
}

std::string onbuild_expression(const Instruction& onbuild) {
  // BuildKit: (?i)^\s*ONBUILD\s* removed from the original line, then "\n" + body + name per heredoc.
  std::string_view o = trim_left(onbuild.original);
  if (o.size() >= 7 && upper(o.substr(0, 7)) == "ONBUILD") o.remove_prefix(7);
  o = trim_left(o);
  std::string out(o);
  for (const auto& doc : onbuild.heredocs) out += "\n" + doc.content + doc.name;
  return out;
}

}  // namespace cppcker::build
