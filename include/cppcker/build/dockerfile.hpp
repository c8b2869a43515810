#pragma once
// A Dockerfile as Docker's (BuildKit's) parser reads it: parser directives (`# escape=`, `# syntax=`),
// comments, line continuation with the escape character, case-insensitive instruction names, leading
// `--flag[=value]` words, JSON (exec) or shell form, and heredocs (`RUN <<EOF`, `COPY <<EOF /dst`).
// Nothing is expanded here: variable substitution belongs to the builder (shell_lex.hpp), which knows the
// environment at each step.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cppcker::build {

// One `<<NAME` of an instruction, with the lines that follow it up to the line "NAME".
struct Heredoc {
  std::string name;     // the delimiter word without quotes or "-": "EOF"
  std::string content;  // every line between, each ending with "\n" (tabs stripped with "<<-")
  bool expand = true;   // unquoted delimiter: variables are expanded in the content (Docker's rule)
  bool chomp = false;   // "<<-EOF"
};

struct Flag {
  std::string name;    // "from" for --from=build
  std::string value;   // "build" ("" for a bare --flag)
  bool has_value = false;
};

struct Instruction {
  std::string keyword;   // upper case: "RUN", "COPY", ...
  std::vector<Flag> flags;
  // The text after the keyword and its flags, lines joined as Docker joins them (escape+newline removed,
  // comment lines inside the continuation dropped), trimmed. For a heredoc instruction it is the first
  // line's rest (e.g. "<<EOF" or "<<EOF /dst"), the heredoc bodies being in `heredocs`.
  std::string args;
  // Set when `args` is a JSON array of strings (exec form): its elements. Otherwise shell form. Only for the
  // instructions BuildKit reads JSON for: RUN CMD ENTRYPOINT SHELL ADD COPY VOLUME, and HEALTHCHECK (there the
  // elements of the command after the type word: `HEALTHCHECK CMD ["a"]` -> {"a"}).
  std::optional<std::vector<std::string>> json;
  std::vector<Heredoc> heredocs;
  int line = 0;          // 1-based line of the keyword
  std::string original;  // "RUN apk add x" as written (continuations joined): for history and messages
  char escape = '\\';    // the file's escape character (for split_words, name_values and ShellLex)
  // The first --name flag, or nullptr.
  const Flag* flag(std::string_view name) const;
};

struct Dockerfile {
  char escape = '\\';
  std::string syntax;  // the `# syntax=` directive's value ("" when absent): noted and ignored
  std::vector<Instruction> instructions;  // ARGs before the first FROM included, in order
  // Docker's parser warnings, to print as they are ("[WARNING]: Empty continuation line found in: ...").
  std::vector<std::string> warnings;
};

// Throws Error("dockerfile parse error on line N: <what>") in BuildKit's words for an unknown instruction, a
// heredoc without its terminator, a bad directive, a JSON array of non-strings, and the checks BuildKit's
// instructions.Parse makes before expansion: argument counts ("FROM requires either one or three arguments",
// "COPY requires at least two arguments, ..."), ENV/LABEL/ARG syntax, HEALTHCHECK/SHELL/ONBUILD forms, and
// each instruction's flags ("unknown flag: x", "duplicate flag specified: x", "missing a value on flag: x").
// An empty file throws Error("file with no instructions") (no line).
Dockerfile parse_dockerfile(std::string_view text);

// ---- argument splitting as Docker's parser does it per instruction: raw words, quotes kept, nothing
// expanded (the builder expands each word with ShellLex afterwards).

// ENV and LABEL: "k=v k2='v 2'" pairs, or the legacy one-pair form "ENV k v w" -> {"k", "v w"}.
// ARG: "NAME" or "NAME=default" (value nullopt when no "=" was given). Throws Error with the line for
// "ENV names can not be blank", "LABEL requires at least one argument", "Syntax error - can't find = in "x"..."
std::vector<std::pair<std::string, std::optional<std::string>>> name_values(const Instruction& instruction);

// COPY, ADD, VOLUME, EXPOSE, ...: the JSON form's elements, or the shell form split on whitespace
// outside quotes (quotes kept; the lexer removes them).
std::vector<std::string> split_words(const Instruction& instruction);

// A word of COPY/ADD/RUN that is a heredoc ("<<EOF", "<<-'EOF'", "3<<EOF"): its name, expand and chomp
// (content empty: take it from Instruction::heredocs by name), as BuildKit's MustParseHeredoc; nullopt for
// any other word. COPY/ADD sources that are heredocs become files named after them.
std::optional<Heredoc> heredoc_word(std::string_view word);

// ONBUILD: the trigger as BuildKit stores it in the image config (OnBuild) — the text after "ONBUILD", each
// heredoc body and terminator appended on lines of their own — ready for parse_dockerfile when it fires.
std::string onbuild_expression(const Instruction& onbuild);

}  // namespace cppcker::build
