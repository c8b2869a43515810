#pragma once
// Docker's word expansion in a Dockerfile (BuildKit's frontend/dockerfile/shell lexer): quotes removed,
// the escape character honoured, and $X, ${X}, ${X:-word}, ${X-word}, ${X:+word}, ${X+word}, ${X:?msg},
// ${X?msg} (and BuildKit's ${X#p} ${X##p} ${X%p} ${X%%p} ${X/p/r} where supported) replaced from the
// build's environment. Applied by the builder exactly where Docker applies it (ADD, COPY, ENV, EXPOSE, FROM,
// LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR, ARG, ONBUILD's triggers when they run; never RUN/CMD/ENTRYPOINT
// in shell form, which the shell expands).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cppcker::build {

// "K=V" entries; a later entry for the same K wins (as Docker's env lists).
using BuildEnv = std::vector<std::string>;
// The value of `name` in `env`, or nullopt when unset ("NAME" without "=" is set and empty).
std::optional<std::string> lookup_env(const BuildEnv& env, std::string_view name);

// BuildKit's Lex switches. The defaults are what the builder wants; the parser uses the others to find
// heredoc words (`<<"EOF"`) the way BuildKit does.
struct LexOptions {
  bool raw_quotes = false;      // keep the quote characters in the result
  bool raw_escapes = false;     // keep the escape characters in the result
  bool skip_unset_env = false;  // leave $X / ${X...} as written when X is unset
  bool heredoc_words = false;   // "<<" and the blanks after it stay in the word ("<<  EOF" is one word)
  // Quotes are ordinary characters: what BuildKit expands a COPY/ADD heredoc body with when its delimiter
  // was not quoted (`ShellLex('\\', {.skip_process_quotes = true}).expand_word(body, env)`).
  bool skip_process_quotes = false;
};

class ShellLex {
 public:
  explicit ShellLex(char escape = '\\', LexOptions options = {}) : escape_(escape), options_(options) {}
  // One word: quotes removed, variables expanded. Throws Error for "${X:?msg}" with X unset ("X: msg"),
  // a missing "}" ("missing '}'"), a bad substitution; as BuildKit, the message is
  // `failed to process "<word>": <what>`.
  std::string expand_word(std::string_view word, const BuildEnv& env) const;
  // Whitespace-separated words (outside quotes), each expanded; words that expand to nothing unquoted
  // vanish, as in Docker's ProcessWords.
  std::vector<std::string> expand_words(std::string_view text, const BuildEnv& env) const;

 private:
  char escape_;
  LexOptions options_;
};

}  // namespace cppcker::build
