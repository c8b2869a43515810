#include <gtest/gtest.h>

#include "cppcker/build/dockerfile.hpp"
#include "cppcker/util/error.hpp"

using namespace cppcker;
using namespace cppcker::build;

namespace {

std::string parse_error(std::string_view text) {
  try {
    parse_dockerfile(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::vector<std::string> keywords(const Dockerfile& f) {
  std::vector<std::string> out;
  for (const auto& i : f.instructions) out.push_back(i.keyword);
  return out;
}

using Pairs = std::vector<std::pair<std::string, std::optional<std::string>>>;

}  // namespace

TEST(Dockerfile, BasicInstructionsLinesAndCase) {
  auto f = parse_dockerfile(
      "# a comment\n"
      "from busybox AS build\n"
      "\n"
      "  Run echo hi   \n"
      "COPY --from=build --chown=1:2 a b /dst/\n"
      "CMD [\"sh\", \"-c\", \"echo $HOME\"]\n");
  ASSERT_EQ(keywords(f), (std::vector<std::string>{"FROM", "RUN", "COPY", "CMD"}));
  EXPECT_EQ(f.escape, '\\');
  EXPECT_EQ(f.syntax, "");
  EXPECT_EQ(f.instructions[0].line, 2);
  EXPECT_EQ(f.instructions[0].args, "busybox AS build");
  EXPECT_EQ(f.instructions[0].original, "from busybox AS build");
  EXPECT_EQ(f.instructions[1].line, 4);
  EXPECT_EQ(f.instructions[1].args, "echo hi");
  EXPECT_FALSE(f.instructions[1].json);
  const auto& copy = f.instructions[2];
  ASSERT_EQ(copy.flags.size(), 2u);
  EXPECT_EQ(copy.flags[0].name, "from");
  EXPECT_EQ(copy.flags[0].value, "build");
  EXPECT_TRUE(copy.flags[0].has_value);
  ASSERT_NE(copy.flag("chown"), nullptr);
  EXPECT_EQ(copy.flag("chown")->value, "1:2");
  EXPECT_EQ(copy.flag("chmod"), nullptr);
  EXPECT_EQ(copy.args, "a b /dst/");
  EXPECT_EQ(split_words(copy), (std::vector<std::string>{"a", "b", "/dst/"}));
  ASSERT_TRUE(f.instructions[3].json);
  EXPECT_EQ(*f.instructions[3].json, (std::vector<std::string>{"sh", "-c", "echo $HOME"}));
}

TEST(Dockerfile, Flags) {
  auto f = parse_dockerfile(
      "FROM --platform=linux/amd64 x\n"
      "RUN --network=none --mount=type=cache,target=/c echo --notaflag\n"
      "COPY --link --chmod=\"755\" -- --weird /d\n"
      "RUN -- echo\n"
      "ADD --chown='a b' x y\n");
  auto& run = f.instructions[1];
  ASSERT_EQ(run.flags.size(), 2u);
  EXPECT_EQ(run.flags[1].name, "mount");
  EXPECT_EQ(run.flags[1].value, "type=cache,target=/c");
  EXPECT_EQ(run.args, "echo --notaflag");
  auto& copy = f.instructions[2];
  ASSERT_EQ(copy.flags.size(), 2u);
  EXPECT_EQ(copy.flags[0].name, "link");
  EXPECT_FALSE(copy.flags[0].has_value);
  EXPECT_EQ(copy.flags[1].value, "755");
  EXPECT_EQ(copy.args, "--weird /d");
  EXPECT_EQ(f.instructions[3].args, "echo");  // "--" alone ends the flags and goes
  EXPECT_TRUE(f.instructions[3].flags.empty());
  EXPECT_EQ(f.instructions[4].flag("chown")->value, "a b");
}

TEST(Dockerfile, LineContinuation) {
  auto f = parse_dockerfile(
      "FROM x\n"
      "RUN echo a \\\n"
      "    b \\  \n"
      "# a comment inside is dropped\n"
      "\n"
      "    c\n"
      "RUN echo d\\\\\n"
      "RUN last \\");
  ASSERT_EQ(f.instructions.size(), 4u);
  EXPECT_EQ(f.instructions[1].args, "echo a     b     c");
  EXPECT_EQ(f.instructions[1].line, 2);
  EXPECT_EQ(f.instructions[1].original, "RUN echo a     b     c");
  EXPECT_EQ(f.instructions[2].args, "echo d\\\\");  // an escaped escape does not continue
  EXPECT_EQ(f.instructions[2].line, 7);
  EXPECT_EQ(f.instructions[3].args, "last");
}

TEST(Dockerfile, EscapeDirectiveBacktick) {
  auto f = parse_dockerfile(
      "# escape=`\n"
      "FROM x\n"
      "RUN dir c:\\ `\n"
      "  && echo done\n"
      "COPY a` b c\n");
  EXPECT_EQ(f.escape, '`');
  EXPECT_EQ(f.instructions[1].args, "dir c:\\   && echo done");
  EXPECT_EQ(f.instructions[1].escape, '`');
  EXPECT_EQ(split_words(f.instructions[2]), (std::vector<std::string>{"a` b", "c"}));
}

TEST(Dockerfile, DirectivesOnlyAtTheTop) {
  auto f = parse_dockerfile("#syntax = docker/dockerfile:1.4 \n# Escape = \\\nFROM x\n");
  EXPECT_EQ(f.syntax, "docker/dockerfile:1.4");
  EXPECT_EQ(f.escape, '\\');
  // After a blank line, a comment or an instruction, a directive is an ordinary comment.
  EXPECT_EQ(parse_dockerfile("\n# escape=`\nFROM x\nRUN a \\\n b\n").escape, '\\');
  EXPECT_EQ(parse_dockerfile("# hello\n# escape=`\nFROM x\n").escape, '\\');
  EXPECT_EQ(parse_dockerfile("FROM x\n# escape=`\nRUN a\n").escape, '\\');
  EXPECT_EQ(parse_dockerfile("# unknown=1\n# escape=`\nFROM x\n").escape, '\\');
  EXPECT_EQ(parse_error("# escape=`\n# escape=\\\nFROM x\n"),
            "dockerfile parse error on line 2: only one escape parser directive can be used");
  EXPECT_EQ(parse_error("# escape=x\nFROM x\n"),
            "dockerfile parse error on line 1: invalid escape token 'x' does not match ` or \\");
  EXPECT_EQ(parse_dockerfile("\xEF\xBB\xBF# escape=`\nFROM x\n").escape, '`');
}

TEST(Dockerfile, JsonFormDetection) {
  auto f = parse_dockerfile(
      "FROM x\n"
      "CMD [ \"a\" \n"
      "CMD [\"a\", \"b\"]\n"
      "ENTRYPOINT []\n"
      "RUN [\"echo\", \"hi\"] trailing\n"
      "VOLUME [\"/a\", \"/b c\"]\n"
      "VOLUME /x /y\n"
      "SHELL [\"/bin/bash\", \"-c\"]\n"
      "HEALTHCHECK --interval=5s CMD [\"true\"]\n"
      "HEALTHCHECK CMD true\n"
      "ENV [\"a\"]=b\n");
  EXPECT_FALSE(f.instructions[1].json);
  EXPECT_EQ(f.instructions[1].args, "[ \"a\"");
  EXPECT_EQ(*f.instructions[2].json, (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(f.instructions[3].json);
  EXPECT_TRUE(f.instructions[3].json->empty());
  EXPECT_FALSE(f.instructions[4].json);
  EXPECT_EQ(split_words(f.instructions[5]), (std::vector<std::string>{"/a", "/b c"}));
  EXPECT_EQ(split_words(f.instructions[6]), (std::vector<std::string>{"/x", "/y"}));
  EXPECT_EQ(*f.instructions[7].json, (std::vector<std::string>{"/bin/bash", "-c"}));
  EXPECT_EQ(f.instructions[8].flag("interval")->value, "5s");
  EXPECT_EQ(*f.instructions[8].json, (std::vector<std::string>{"true"}));
  EXPECT_FALSE(f.instructions[9].json);
  EXPECT_FALSE(f.instructions[10].json);
  EXPECT_EQ(parse_error("FROM x\nCMD [\"a\", 1]\n"),
            "dockerfile parse error on line 2: when using JSON array syntax, arrays must be comprised of strings only");
}

TEST(Dockerfile, Heredocs) {
  auto f = parse_dockerfile(
      "FROM x\n"
      "RUN <<EOF\n"
      "echo $HOME\n"
      "FROM not-an-instruction\n"
      "EOF\n"
      "COPY <<-\"A\" <<'B' /dst/\n"
      "\t\tindented\n"
      "\tA\n"
      "b $X\n"
      "B\n"
      "RUN 3<<X cat <&3\n"
      "x\n"
      "X\n"
      "RUN cat <<EOF>out\n"
      "EOF>out\n"
      "CMD echo after\n");
  ASSERT_EQ(keywords(f), (std::vector<std::string>{"FROM", "RUN", "COPY", "RUN", "RUN", "CMD"}));
  const auto& run = f.instructions[1];
  EXPECT_EQ(run.args, "<<EOF");
  ASSERT_EQ(run.heredocs.size(), 1u);
  EXPECT_EQ(run.heredocs[0].name, "EOF");
  EXPECT_EQ(run.heredocs[0].content, "echo $HOME\nFROM not-an-instruction\n");
  EXPECT_TRUE(run.heredocs[0].expand);
  EXPECT_FALSE(run.heredocs[0].chomp);
  const auto& copy = f.instructions[2];
  EXPECT_EQ(copy.line, 6);
  ASSERT_EQ(copy.heredocs.size(), 2u);
  EXPECT_EQ(copy.heredocs[0].name, "A");
  EXPECT_TRUE(copy.heredocs[0].chomp);
  EXPECT_FALSE(copy.heredocs[0].expand);
  EXPECT_EQ(copy.heredocs[0].content, "indented\n");
  EXPECT_EQ(copy.heredocs[1].name, "B");
  EXPECT_FALSE(copy.heredocs[1].expand);
  EXPECT_EQ(copy.heredocs[1].content, "b $X\n");
  EXPECT_EQ(split_words(copy), (std::vector<std::string>{"<<-\"A\"", "<<'B'", "/dst/"}));
  ASSERT_EQ(f.instructions[3].heredocs.size(), 1u);
  EXPECT_EQ(f.instructions[3].heredocs[0].name, "X");
  EXPECT_EQ(f.instructions[3].heredocs[0].content, "x\n");
  // BuildKit takes the whole word after << as the delimiter.
  ASSERT_EQ(f.instructions[4].heredocs.size(), 1u);
  EXPECT_EQ(f.instructions[4].heredocs[0].name, "EOF>out");
  EXPECT_EQ(f.instructions[5].line, 16);
}

TEST(Dockerfile, HeredocsOnlyWhereBuildKitAcceptsThem) {
  // JSON-form RUN and other instructions: "<<EOF" is an ordinary word and the next line an instruction.
  auto f = parse_dockerfile("FROM x\nRUN [\"cat\", \"<<EOF\"]\nLABEL a=<<EOF\nRUN b\n");
  ASSERT_EQ(keywords(f), (std::vector<std::string>{"FROM", "RUN", "LABEL", "RUN"}));
  EXPECT_TRUE(f.instructions[1].heredocs.empty());
  EXPECT_TRUE(f.instructions[2].heredocs.empty());
  EXPECT_EQ(parse_error("FROM x\nCMD <<EOF\nEOF\n"), "dockerfile parse error on line 3: unknown instruction: EOF");
}

TEST(Dockerfile, UnterminatedHeredoc) {
  EXPECT_EQ(parse_error("FROM x\nRUN <<EOF\necho\n"), "dockerfile parse error on line 2: unterminated heredoc");
  EXPECT_EQ(parse_error("FROM x\nRUN <<A <<B\na\nA\nb\n"), "dockerfile parse error on line 2: unterminated heredoc");
}

TEST(Dockerfile, OnbuildTriggerRawWithHeredoc) {
  auto f = parse_dockerfile(
      "FROM x\n"
      "ONBUILD RUN echo $A \\\n"
      "  && echo b\n"
      "onbuild COPY --from=y <<EOF /f\n"
      "hello\n"
      "EOF\n");
  EXPECT_EQ(f.instructions[1].args, "RUN echo $A   && echo b");
  EXPECT_TRUE(f.instructions[1].flags.empty());
  EXPECT_EQ(onbuild_expression(f.instructions[1]), "RUN echo $A   && echo b");
  EXPECT_EQ(f.instructions[2].args, "COPY --from=y <<EOF /f");
  ASSERT_EQ(f.instructions[2].heredocs.size(), 1u);
  std::string expr = onbuild_expression(f.instructions[2]);
  EXPECT_EQ(expr, "COPY --from=y <<EOF /f\nhello\nEOF");
  // The builder re-parses the trigger when it fires.
  auto trigger = parse_dockerfile(expr);
  ASSERT_EQ(trigger.instructions.size(), 1u);
  EXPECT_EQ(trigger.instructions[0].keyword, "COPY");
  EXPECT_EQ(trigger.instructions[0].flag("from")->value, "y");
  EXPECT_EQ(trigger.instructions[0].heredocs[0].content, "hello\n");
  EXPECT_EQ(parse_error("FROM x\nONBUILD ONBUILD RUN a\n"),
            "dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  EXPECT_EQ(parse_error("FROM x\nONBUILD from y\n"),
            "dockerfile parse error on line 2: FROM isn't allowed as an ONBUILD trigger");
  EXPECT_EQ(parse_error("FROM x\nONBUILD\n"), "dockerfile parse error on line 2: ONBUILD requires at least one argument");
}

TEST(Dockerfile, NameValues) {
  auto f = parse_dockerfile(
      "FROM x\n"
      "ENV A=1 B=\"two words\" C=three\\ words D=\n"
      "ENV LEGACY value with  spaces\n"
      "LABEL \"com.example.vendor\"=\"ACME Inc\" version=1.0\n"
      "ARG NAME\n"
      "ARG V=default W=\n"
      "LABEL single value\n");
  EXPECT_EQ(name_values(f.instructions[1]),
            (Pairs{{"A", "1"}, {"B", "\"two words\""}, {"C", "three\\ words"}, {"D", ""}}));
  EXPECT_EQ(name_values(f.instructions[2]), (Pairs{{"LEGACY", "value with  spaces"}}));
  EXPECT_EQ(name_values(f.instructions[3]), (Pairs{{"\"com.example.vendor\"", "\"ACME Inc\""}, {"version", "1.0"}}));
  EXPECT_EQ(name_values(f.instructions[4]), (Pairs{{"NAME", std::nullopt}}));
  EXPECT_EQ(name_values(f.instructions[5]), (Pairs{{"V", "default"}, {"W", ""}}));
  EXPECT_EQ(name_values(f.instructions[6]), (Pairs{{"single", "value"}}));
}

TEST(Dockerfile, NameValueErrors) {
  EXPECT_EQ(parse_error("FROM x\nENV\n"), "dockerfile parse error on line 2: ENV requires at least one argument");
  EXPECT_EQ(parse_error("FROM x\nENV A\n"), "dockerfile parse error on line 2: ENV must have two arguments");
  EXPECT_EQ(parse_error("FROM x\nENV A=1 B\n"),
            "dockerfile parse error on line 2: Syntax error - can't find = in \"B\". Must be of the form: name=value");
  EXPECT_EQ(parse_error("FROM x\nENV =1\n"), "dockerfile parse error on line 2: ENV names can not be blank");
  EXPECT_EQ(parse_error("FROM x\nENV =1 y\n"),
            "dockerfile parse error on line 2: Syntax error - can't find = in \"y\". Must be of the form: name=value");
  EXPECT_EQ(parse_error("FROM x\nLABEL a=1 =2\n"), "dockerfile parse error on line 2: LABEL names can not be blank");
  EXPECT_EQ(parse_error("FROM x\nLABEL\n"), "dockerfile parse error on line 2: LABEL requires at least one argument");
  EXPECT_EQ(parse_error("FROM x\nARG\n"), "dockerfile parse error on line 2: ARG requires at least one argument");
  EXPECT_EQ(parse_error("FROM x\nARG =a\n"), "dockerfile parse error on line 2: ARG names can not be blank");
}

TEST(Dockerfile, ArgumentCountErrors) {
  struct Case {
    const char* line;
    const char* error;
  } cases[] = {
      {"FROM", "FROM requires either one or three arguments"},
      {"FROM a b", "FROM requires either one or three arguments"},
      {"FROM a to b", "FROM requires either one or three arguments"},
      {"FROM a AS 1st", "invalid name for build stage: \"1st\", name can't start with a number or contain symbols"},
      {"COPY a", "COPY requires at least two arguments, but only one was provided. Destination could not be determined"},
      {"ADD [\"a\"]", "ADD requires at least two arguments, but only one was provided. Destination could not be determined"},
      {"COPY a <<EOF\nx\nEOF", "COPY cannot accept a heredoc as a destination"},
      {"WORKDIR", "WORKDIR requires exactly one argument"},
      {"USER", "USER requires exactly one argument"},
      {"STOPSIGNAL", "STOPSIGNAL requires exactly one argument"},
      {"MAINTAINER", "MAINTAINER requires exactly one argument"},
      {"EXPOSE", "EXPOSE requires at least one argument"},
      {"VOLUME", "VOLUME requires at least one argument"},
      {"VOLUME [\"\"]", "VOLUME specified can not be an empty string"},
      {"HEALTHCHECK", "HEALTHCHECK requires at least one argument"},
      {"HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"},
      {"HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"},
      {"HEALTHCHECK CMD []", "Missing command after HEALTHCHECK CMD"},
      {"HEALTHCHECK RUN x", "Unknown type \"RUN\" in HEALTHCHECK (try CMD)"},
      {"SHELL", "SHELL requires at least one argument"},
      {"SHELL []", "SHELL requires at least one argument"},
      {"SHELL /bin/sh -c", "SHELL requires the arguments to be in JSON form"},
  };
  for (const auto& c : cases) {
    std::string text = std::string("FROM x\n") + c.line + "\n";
    if (std::string_view(c.line).starts_with("FROM")) text = std::string(c.line) + "\n";
    int line = std::string_view(c.line).starts_with("FROM") ? 1 : 2;
    EXPECT_EQ(parse_error(text), "dockerfile parse error on line " + std::to_string(line) + ": " + c.error) << c.line;
  }
  // And what is fine: FROM with a stage, RUN/CMD/ENTRYPOINT with nothing, HEALTHCHECK NONE.
  EXPECT_NO_THROW(parse_dockerfile("FROM a AS Build-1.x\nRUN\nCMD\nENTRYPOINT\nHEALTHCHECK NONE\n"));
}

TEST(Dockerfile, UnknownInstructionAndEmptyFile) {
  EXPECT_EQ(parse_error("FROM x\n\nfoo bar\n"), "dockerfile parse error on line 3: unknown instruction: FOO");
  EXPECT_EQ(parse_error(""), "file with no instructions");
  EXPECT_EQ(parse_error("# only a comment\n\n   \n"), "file with no instructions");
  // Structural errors anywhere come before instruction errors, as BuildKit parses the file first.
  EXPECT_EQ(parse_error("BAD x\nRUN <<EOF\n"), "dockerfile parse error on line 2: unterminated heredoc");
}

TEST(Dockerfile, SplitWordsKeepsQuotes) {
  auto f = parse_dockerfile("FROM x\nCOPY \"a b\" 'c d' e\\ f /dst\nEXPOSE 80/tcp  443\n");
  EXPECT_EQ(split_words(f.instructions[1]), (std::vector<std::string>{"\"a b\"", "'c d'", "e\\ f", "/dst"}));
  EXPECT_EQ(split_words(f.instructions[2]), (std::vector<std::string>{"80/tcp", "443"}));
}

TEST(Dockerfile, CrlfAndTabs) {
  auto f = parse_dockerfile("FROM x\r\nRUN\ta \\\r\n\tb\r\n");
  ASSERT_EQ(f.instructions.size(), 2u);
  EXPECT_EQ(f.instructions[1].keyword, "RUN");
  EXPECT_EQ(f.instructions[1].args, "a \tb");
}

// BuildKit's parser_heredoc_test.go TestParseExtractsHeredoc (bodies here already chomped for "<<-").
TEST(Dockerfile, BuildKitHeredocTable) {
  auto f = parse_dockerfile(
      "FROM alpine:3.6\n\nENV NAME=me\n\nRUN ls\n\n"
      "RUN <<EMPTY\nEMPTY\n\n"
      "RUN 3<<EMPTY2\nEMPTY2\n\n"
      "RUN \"<<NOHEREDOC\"\n\n"
      "RUN <<INDENT\n\tfoo\n\tbar\nINDENT\n\n"
      "RUN <<-UNINDENT\n\tbaz\n\tquux\nUNINDENT\n\n"
      "RUN <<-UNINDENT2\n\tbaz\n\tquux\n\tUNINDENT2\n\n"
      "RUN <<-EXPAND\n\texpand $NAME\nEXPAND\n\n"
      "RUN <<-'NOEXPAND'\n\tdon't expand $NAME\nNOEXPAND\n\n"
      "RUN <<COPY\necho hello world\necho foo bar\nCOPY\n\n"
      "RUN <<COMMENT\n# internal comment\necho hello world\necho foo bar # trailing comment\nCOMMENT\n\n"
      "RUN --mount=type=cache,target=/foo <<MOUNT\necho hello\nMOUNT\n\n"
      "COPY <<FILE1 <<FILE2 /dest\ncontent 1\nFILE1\ncontent 2\nFILE2\n\n"
      "COPY <<EOF /quotes\n\"foo\"\n'bar'\nEOF\n\n"
      "COPY <<X <<Y /dest\nY\nX\nX\nY\n\n"
      "RUN <<COMPLEX python3\nprint('hello world')\nCOMPLEX\n\n"
      "COPY <<file.txt /dest\nhello world\nfile.txt\n\n"
      "RUN <<eo'f'\necho foo\neof\n\n"
      "RUN <<eo\\'f\necho foo\neo'f\n\n"
      "RUN <<'e'o\\'f\necho foo\neo'f\n\n"
      "RUN <<'one two'\necho bar\none two\n\n"
      "RUN <<$EOF\n$EOF\n\n"
      "RUN <<  EOF\nEOF\n\n"
      "RUN <<  EOF  > foo\nEOF\n\t");
  struct Want {
    std::string name, content;
    bool expand, chomp;
  };
  std::vector<std::vector<Want>> want = {
      {},
      {},
      {{"EMPTY", "", true, false}},
      {{"EMPTY2", "", true, false}},
      {},
      {{"INDENT", "\tfoo\n\tbar\n", true, false}},
      {{"UNINDENT", "baz\nquux\n", true, true}},
      {{"UNINDENT2", "baz\nquux\n", true, true}},
      {{"EXPAND", "expand $NAME\n", true, true}},
      {{"NOEXPAND", "don't expand $NAME\n", false, true}},
      {{"COPY", "echo hello world\necho foo bar\n", true, false}},
      {{"COMMENT", "# internal comment\necho hello world\necho foo bar # trailing comment\n", true, false}},
      {{"MOUNT", "echo hello\n", true, false}},
      {{"FILE1", "content 1\n", true, false}, {"FILE2", "content 2\n", true, false}},
      {{"EOF", "\"foo\"\n'bar'\n", true, false}},
      {{"X", "Y\n", true, false}, {"Y", "X\n", true, false}},
      {{"COMPLEX", "print('hello world')\n", true, false}},
      {{"file.txt", "hello world\n", true, false}},
      {{"eof", "echo foo\n", false, false}},
      {{"eo'f", "echo foo\n", true, false}},
      {{"eo'f", "echo foo\n", false, false}},
      {{"one two", "echo bar\n", false, false}},
      {{"$EOF", "", true, false}},
      {{"EOF", "", true, false}},
      {{"EOF", "", true, false}},
  };
  ASSERT_EQ(f.instructions.size(), want.size() + 1);
  for (size_t i = 0; i < want.size(); ++i) {
    const auto& got = f.instructions[i + 1].heredocs;
    ASSERT_EQ(got.size(), want[i].size()) << f.instructions[i + 1].original;
    for (size_t k = 0; k < got.size(); ++k) {
      EXPECT_EQ(got[k].name, want[i][k].name) << f.instructions[i + 1].original;
      EXPECT_EQ(got[k].content, want[i][k].content) << f.instructions[i + 1].original;
      EXPECT_EQ(got[k].expand, want[i][k].expand) << f.instructions[i + 1].original;
      EXPECT_EQ(got[k].chomp, want[i][k].chomp) << f.instructions[i + 1].original;
    }
  }
  // A delimiter with an open quote is no heredoc: the line does not split, so the next line is read as an
  // instruction (BuildKit: TestParseHeredocHelpers' invalid ones).
  EXPECT_EQ(parse_error("FROM x\nRUN <<'EOF\nEOF\n"), "dockerfile parse error on line 3: unknown instruction: EOF");
  EXPECT_EQ(parse_dockerfile("FROM x\nRUN << -EOF\n-EOF\n").instructions[1].heredocs[0].name, "-EOF");
  EXPECT_TRUE(parse_dockerfile("FROM x\nRUN '<<EOF'\n").instructions[1].heredocs.empty());
  EXPECT_TRUE(parse_dockerfile("FROM x\nRUN cat <EOF\n").instructions[1].heredocs.empty());
  EXPECT_TRUE(parse_dockerfile("FROM x\nRUN cat <<<EOF\n").instructions[1].heredocs.empty());
}

TEST(Dockerfile, CheckDirectiveIsTakenAndIgnored) {
  auto f = parse_dockerfile("# check=skip=JSONArgsRecommended\n# escape=`\nFROM x\n");
  EXPECT_EQ(f.escape, '`');
}

// BuildKit's TestParseWarnsOnEmptyContinutationLine and TestParseReturnsScannerErrors.
TEST(Dockerfile, EmptyContinuationWarningsAndLongLines) {
  auto f = parse_dockerfile(
      "\nFROM alpine:3.6\n\nRUN valid \\\n    continuation\n\nRUN something \\\n\n    following \\\n\n    more\n\n"
      "RUN another \\\n\n    thing\n\nRUN non-indented \\\n# this is a comment\n   after-comment\n\n"
      "RUN indented \\\n    # this is an indented comment\n    comment\n\t");
  ASSERT_EQ(f.warnings.size(), 3u);
  EXPECT_EQ(f.warnings[0], "[WARNING]: Empty continuation line found in:\n    RUN something     following     more");
  EXPECT_EQ(f.warnings[1], "[WARNING]: Empty continuation line found in:\n    RUN another     thing");
  EXPECT_EQ(f.warnings[2], "[WARNING]: Empty continuation lines will become errors in a future release.");
  EXPECT_EQ(f.instructions[4].args, "non-indented    after-comment");
  EXPECT_EQ(f.instructions[5].args, "indented     comment");
  EXPECT_TRUE(parse_dockerfile("FROM x\n").warnings.empty());
  std::string label(65536, 'a');
  EXPECT_EQ(parse_error("\n\t\tFROM image\n\t\tLABEL test=" + label + "\n"),
            "dockerfile parse error on line 3: dockerfile line greater than max allowed size of 65535");
}

// line_parsers_test / parser_test TestParseWords through split_words.
TEST(Dockerfile, ParseWordsTable) {
  struct Case {
    const char* args;
    std::vector<std::string> words;
  } cases[] = {
      {"foo", {"foo"}},
      {"foo bar", {"foo", "bar"}},
      {"foo\\ bar", {"foo\\ bar"}},
      {"foo=bar", {"foo=bar"}},
      {"foo bar 'abc xyz'", {"foo", "bar", "'abc xyz'"}},
      {"foo bar \"abc xyz\"", {"foo", "bar", "\"abc xyz\""}},
      {"àöû", {"àöû"}},
      {"föo bàr \"âbc xÿz\"", {"föo", "bàr", "\"âbc xÿz\""}},
      {"a \"\" b", {"a", "\"\"", "b"}},
      {"'it\\'s' x", {"'it\\'s' x"}},  // nothing escapes inside single quotes: the third ' opens a quote
  };
  for (const auto& c : cases) {
    auto f = parse_dockerfile(std::string("FROM x\nEXPOSE ") + c.args + "\n");
    EXPECT_EQ(split_words(f.instructions[1]), c.words) << c.args;
  }
}

// Tabs as separators, tab-indented continuations and the legacy ENV/LABEL forms, as in BuildKit's
// testfiles/docker (its expected dump in the comments).
TEST(Dockerfile, TabsAndLegacyForms) {
  auto f = parse_dockerfile(
      "# a header comment\n#\n\n"
      "FROM\tubuntu:14.04\n"
      "LABEL\tmaintainer\tSomeone <someone@example.com> (@someone)\n"
      "RUN\tapt-get install -yq \\\n\tapt-utils \\\n\tcurl \\\n\t--no-install-recommends\n"
      "ENV\tPATH\t/usr/local/go/bin:$PATH\n"
      "ENV\tPLATFORMS\t\\\n\tlinux/386 linux/arm \\\n\tdarwin/amd64\n"
      "RUN\t/bin/echo -e '[default]\\naccess_key=$KEY' > /.s3cfg\n"
      "ENTRYPOINT\t[\"hack/dind\"]\n"
      "COPY\t.\t/go/src\n");
  ASSERT_EQ(f.instructions.size(), 8u);
  EXPECT_EQ(f.instructions[0].args, "ubuntu:14.04");
  // (label "maintainer" "Someone <someone@example.com> (@someone)")
  EXPECT_EQ(name_values(f.instructions[1]), (Pairs{{"maintainer", "Someone <someone@example.com> (@someone)"}}));
  // (run "apt-get install -yq \tapt-utils \tcurl \t--no-install-recommends")
  EXPECT_EQ(f.instructions[2].args, "apt-get install -yq \tapt-utils \tcurl \t--no-install-recommends");
  EXPECT_EQ(name_values(f.instructions[3]), (Pairs{{"PATH", "/usr/local/go/bin:$PATH"}}));
  // (env "PLATFORMS" "linux/386 linux/arm \tdarwin/amd64")
  EXPECT_EQ(name_values(f.instructions[4]), (Pairs{{"PLATFORMS", "linux/386 linux/arm \tdarwin/amd64"}}));
  EXPECT_EQ(f.instructions[5].args, "/bin/echo -e '[default]\\naccess_key=$KEY' > /.s3cfg");
  EXPECT_EQ(*f.instructions[6].json, (std::vector<std::string>{"hack/dind"}));
  EXPECT_EQ(split_words(f.instructions[7]), (std::vector<std::string>{".", "/go/src"}));
}

// BuildKit's testfiles/health, checked at the instruction level too.
TEST(Dockerfile, Healthcheck) {
  auto f = parse_dockerfile(
      "FROM debian\n"
      "HEALTHCHECK --interval=5s --timeout=3s --retries=3 \\\n  CMD /app/check.sh --quiet\n"
      "HEALTHCHECK   CMD   a b\n"
      "HEALTHCHECK --timeout=3s CMD [\"foo\"]\n"
      "HEALTHCHECK none\n");
  const auto& h = f.instructions[1];
  ASSERT_EQ(h.flags.size(), 3u);
  EXPECT_EQ(h.flags[2].name, "retries");
  EXPECT_EQ(h.args, "CMD /app/check.sh --quiet");
  EXPECT_FALSE(h.json);
  EXPECT_EQ(f.instructions[2].args, "CMD   a b");
  EXPECT_EQ(*f.instructions[3].json, (std::vector<std::string>{"foo"}));
  EXPECT_EQ(parse_error("FROM debian\nHEALTHCHECK CONNECT TCP 7000\n"),
            "dockerfile parse error on line 2: Unknown type \"CONNECT\" in HEALTHCHECK (try CMD)");
}

// BFlags.Parse: each instruction's own flags only.
TEST(Dockerfile, FlagChecks) {
  EXPECT_NO_THROW(parse_dockerfile(
      "FROM --platform=linux/amd64 x\n"
      "RUN --mount=type=cache,target=/a --mount=type=tmpfs,target=/b --network=none --security=sandbox true\n"
      "COPY --from=x --chown=1:1 --chmod=755 --link a b\n"
      "ADD --link=false --keep-git-dir=TRUE --checksum=sha256:00 --chown=a --chmod=644 a b\n"
      "HEALTHCHECK --interval=1s --timeout=1s --start-period=1s --start-interval=1s --retries=3 CMD true\n"
      "HEALTHCHECK --whatever NONE\n"
      "ARG --ignored=1 A\n"
      "STOPSIGNAL --ignored SIGTERM\n"));
  struct Case {
    const char* line;
    const char* error;
  } cases[] = {
      {"COPY --form=x a b", "unknown flag: form"},
      {"RUN --chown=1 true", "unknown flag: chown"},
      {"ENV --x=1 A=b", "unknown flag: x"},
      {"ONBUILD --x RUN true", "unknown flag: x"},
      {"COPY --from=a --from=b a b", "duplicate flag specified: from"},
      {"COPY --from a b", "missing a value on flag: from"},
      {"COPY --link= a b", "missing a value on flag: link"},
      {"COPY --link=yes a b", "expecting boolean value for flag link, not: yes"},
      {"RUN --network true", "missing a value on flag: network"},
      {"HEALTHCHECK --retries CMD true", "missing a value on flag: retries"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(parse_error(std::string("FROM x\n") + c.line + "\n"),
              std::string("dockerfile parse error on line 2: ") + c.error)
        << c.line;
  EXPECT_EQ(parse_error("FROM x\nCOPY [\"a\", \"<<EOF\"]\n"),
            "dockerfile parse error on line 2: COPY cannot accept a heredoc as a destination");
}

TEST(Dockerfile, OnbuildExpressionKeepsHeredocKinds) {
  auto f = parse_dockerfile("FROM x\n  ONBUILD   COPY <<-\"A\" <<B /d/\n\tone $X\n\tA\ntwo\nB\n");
  std::string expr = onbuild_expression(f.instructions[1]);
  EXPECT_EQ(expr, "COPY <<-\"A\" <<B /d/\none $X\nA\ntwo\nB");
  auto again = parse_dockerfile(expr).instructions[0];
  ASSERT_EQ(again.heredocs.size(), 2u);
  EXPECT_FALSE(again.heredocs[0].expand);
  EXPECT_TRUE(again.heredocs[0].chomp);
  EXPECT_EQ(again.heredocs[0].content, "one $X\n");
  EXPECT_TRUE(again.heredocs[1].expand);
  EXPECT_EQ(again.heredocs[1].content, "two\n");
}

// BuildKit's TestParseHeredocHelpers.
TEST(Dockerfile, HeredocWord) {
  for (const char* w : {"<<EOF", "<<'EOF'", "<<\"EOF\"", "<<-EOF", "<<-'EOF'", "<<-\"EOF\"", "<<EO\"F\"", "<< EOF", "<<- EOF"}) {
    auto d = heredoc_word(w);
    ASSERT_TRUE(d) << w;
    EXPECT_EQ(d->name, "EOF") << w;
  }
  for (const char* w : {"", "EOF", "<<", "<<-", "<EOF", "<<<EOF", "<<EOF sh", "<<'EOF", "<<\"EOF", "<<EOF'", "<<EOF\""})
    EXPECT_FALSE(heredoc_word(w)) << w;
  EXPECT_TRUE(heredoc_word("<<-'EOF'")->chomp);
  EXPECT_FALSE(heredoc_word("<<-'EOF'")->expand);
  EXPECT_TRUE(heredoc_word("3<<EOF")->expand);
  EXPECT_FALSE(heredoc_word("<<EO\"F\"")->expand);
}
