#pragma once
// `.dockerignore` as Docker reads it (moby/patternmatcher and the CLI's ignorefile reader): one pattern per
// line, `#` comments, blank lines skipped, each pattern cleaned (filepath.Clean, a leading "/" dropped),
// `!` exceptions, `**` across any number of directories, the last matching pattern deciding; patterns use
// Go's filepath.Match syntax ("*", "?", "[a-z]", "[^a]", "\\" escapes).
#include <string>
#include <utility>
#include <string_view>
#include <vector>

namespace cppcker::build {

// Go's filepath.Clean (lexical: "a//b/../c/" -> "a/c", "" -> ".").
std::string clean_path(std::string_view path);

// Go's filepath.Match on "/"-separated names: "*" and "?" never match "/". Throws Error("syntax error in
// pattern") for a malformed pattern (an unclosed "[", a trailing "\\"), whatever `name` is, as Go does.
bool path_match(std::string_view pattern, std::string_view name);

class IgnoreMatcher {
 public:
  IgnoreMatcher() = default;
  // Patterns as read from the file (already split into lines, comments and blanks removed by `parse`).
  // Throws Error("Error checking context: 'syntax error in pattern'") style errors for a bad pattern.
  explicit IgnoreMatcher(std::vector<std::string> patterns);
  // The file's text -> the matcher.
  static IgnoreMatcher parse(std::string_view dockerignore);

  // `path` is relative to the context root, "/"-separated, without "./" ("dir/file"). A path is excluded when
  // the last pattern that matches it (or one of its parent directories, as Docker's MatchesOrParentMatches)
  // is not an exception.
  bool excluded(std::string_view path) const;
  // For a walk: an excluded directory must still be entered when some exception pattern could match below it.
  bool has_exceptions() const { return exceptions_; }
  const std::vector<std::string>& patterns() const { return patterns_; }

  // The compiled form (public only so that the matching helpers in dockerignore.cpp can name it).
  // One element of patternmatcher's regexp, matched directly (see dockerignore.cpp).
  struct Token {
    enum Kind { kLiteral, kStar, kAny, kAnyDirs, kRest, kClass } kind = kLiteral;
    std::string literal;
    bool negated = false;
    std::vector<std::pair<char32_t, char32_t>> ranges;
  };
  // patternmatcher's match types: a plain name, "dir/**", "**/name", or the general case.
  enum class Kind { kExact, kPrefix, kSuffix, kRegexp };
  struct Pattern {
    std::string text;  // cleaned, without the "!"
    bool exclusion = false;
    std::vector<std::string> parts;  // split on "/" for ** matching
    Kind kind = Kind::kExact;
    std::vector<Token> tokens;  // for kRegexp
    std::string head, tail;     // kRegexp: literals every match starts / ends with (a cheap first test)
    bool match(std::string_view path) const;
  };
 private:
  void add(std::string pattern, int line);
  std::vector<Pattern> compiled_;
  std::vector<std::string> patterns_;
  bool exceptions_ = false;
};

}  // namespace cppcker::build
