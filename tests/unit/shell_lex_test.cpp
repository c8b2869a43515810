#include <gtest/gtest.h>

#include <sstream>

#include "cppcker/build/shell_lex.hpp"
#include "cppcker/util/error.hpp"

using namespace cppcker;
using namespace cppcker::build;

namespace {

std::string trimmed(std::string s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + v[i];
  return out;
}

}  // namespace

// BuildKit's shell/envVarTest table (the Unix and "all platforms" rows): source | expected ("error").
TEST(ShellLex, EnvVarTable) {
  const char* table = R"(hello                    |     hello
he'll'o                  |     hello
he'llo                   |     error
he\'llo                  |     he'llo
he\\'llo                 |     error
abc\tdef                 |     abctdef
"abc\tdef"               |     abc\tdef
"abc\\tdef"              |     abc\tdef
'abc\tdef'               |     abc\tdef
hello\                   |     hello
hello\\                  |     hello\
"hello                   |     error
"hello\"                 |     error
"hel'lo"                 |     hel'lo
'hello                   |     error
'hello\'                 |     hello\
'hello\there'            |     hello\there
'hello\\there'           |     hello\\there
"''"                     |     ''
$.                       |     $.
he$1x                    |     hex
he$.x                    |     he$.x
he$pwd.                  |     he.
he$PWD                   |     he/home
he\$PWD                  |     he$PWD
he\\$PWD                 |     he\/home
"he\$PWD"                |     he$PWD
"he\\$PWD"               |     he\/home
\${}                     |     ${}
\${}aaa                  |     ${}aaa
he\${}                   |     he${}
he\${}xx                 |     he${}xx
${}                      |     error
${}aaa                   |     error
he${}                    |     error
he${}xx                  |     error
he${hi}                  |     he
he${hi}xx                |     hexx
he${PWD}                 |     he/home
he${.}                   |     error
he${XXX:-000}xx          |     he000xx
he${PWD:-000}xx          |     he/homexx
he${XXX:-$PWD}xx         |     he/homexx
he${XXX:-${PWD:-yyy}}xx  |     he/homexx
he${XXX:-${YYY:-yyy}}xx  |     heyyyxx
he${XXX:YYY}             |     error
he${XXX?}                |     error
he${XXX:?}               |     error
he${PWD?}                |     he/home
he${PWD:?}               |     he/home
he${NULL?}               |     he
he${NULL:?}              |     error
he${XXX:+${PWD}}xx       |     hexx
he${PWD:+${XXX}}xx       |     hexx
he${PWD:+${SHELL}}xx     |     hebashxx
he${XXX:+000}xx          |     hexx
he${PWD:+000}xx          |     he000xx
'he${XX}'                |     he${XX}
"he${PWD}"               |     he/home
"he'$PWD'"               |     he'/home'
"$PWD"                   |     /home
'$PWD'                   |     $PWD
'\$PWD'                  |     \$PWD
'"hello"'                |     "hello"
'he\$PWD'                |     he\$PWD
he${PWD                  |     error
he${PWD:=000}xx          |     error
he${PWD:+${PWD}:}xx      |     he/home:xx
he${XXX:-\$PWD:}xx       |     he$PWD:xx
he${XXX:-\${PWD}z}xx     |     he${PWDz}xx
안녕하세요                 |     안녕하세요
안'녕'하세요               |     안녕하세요
안'녕하세요                |     error
안녕\'하세요               |     안녕'하세요
"안녕'하세요"              |     안녕'하세요
안녕$1x                    |     안녕x
안녕${XXX:-${YYY:-yyy}}xx  |     안녕yyyxx
$KOREAN                    |     한국어
안녕$KOREAN                |     안녕한국어
${{aaa}                    |     error
${aaa}}                    |     }
${aaa                      |     error
${{aaa                     |     error
${{aaa}}                   |     error
${aaa}}}                   |     }}
${aaa:-bbb}                |     bbb
${aaa:-bbb}}               |     bbb}
${aaa:+bbb}                |     
${PWD:+bbb}                |     bbb
$                          |     $
he$                        |     he$
)";
  BuildEnv env{"PWD=/home", "SHELL=bash", "KOREAN=한국어", "NULL="};
  ShellLex lex('\\');
  std::istringstream in(table);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    size_t bar = line.rfind('|');
    ASSERT_NE(bar, std::string::npos) << line;
    std::string source = trimmed(line.substr(0, bar));
    std::string expected = trimmed(line.substr(bar + 1));
    ++n;
    if (expected == "error") {
      EXPECT_THROW(lex.expand_word(source, env), Error) << source;
    } else {
      std::string got;
      EXPECT_NO_THROW(got = lex.expand_word(source, env)) << source;
      EXPECT_EQ(got, expected) << source;
    }
  }
  EXPECT_GT(n, 90);
}

// BuildKit's shell/wordsTest: ProcessWords splits after expansion, quotes keep spaces.
TEST(ShellLex, WordsTable) {
  BuildEnv env{"hi=hi", "space=abc  def", "leading=  ab c", "trailing=ab c   "};
  ShellLex lex;
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {"hello", "hello"},
      {"hello${hi}bye", "hellohibye"},
      {"hello${space}bye", "helloabc,defbye"},
      {"hello\"${space}\"bye", "helloabc  defbye"},
      {"hello \"${space}\"bye", "hello,abc  defbye"},
      {"hello${leading}def", "hello,ab,cdef"},
      {"hello\"${leading}\" def", "hello  ab c,def"},
      {"hello\"${leading}\"", "hello  ab c"},
      {"hello${leading}", "hello,ab,c"},
      {"hello${trailing}", "helloab,c"},
      {"hello${trailing}d", "helloab,c,d"},
      {"hello\"${trailing}\"d", "helloab c   d"},
      {"hel\"lo${trailing}\"", "helloab c   "},
      {"hello\" there  \"", "hello there  "},
      {"hello there     ", "hello,there"},
      {"hello\\ there", "hello there"},
      {"hello\\\" there", "hello\",there"},
      {"hello\"\\\\there\"", "hello\\there"},
      {"hello\"\\there\"", "hello\\there"},
      {"hello'\\\\there'", "hello\\\\there"},
      {"hello'\\there'", "hello\\there"},
      {"hello'$there'", "hello$there"},
      {"\"\" a", "a"},
      {"${unset} a", "a"},
  };
  for (const auto& c : cases) EXPECT_EQ(join(lex.expand_words(c.in, env)), c.out) << c.in;
  EXPECT_THROW(lex.expand_words("hello\" there", env), Error);
}

TEST(ShellLex, MandatoryVariablesAndMessages) {
  ShellLex lex;
  BuildEnv set{"VAR=plain", "ARG=x"}, empty{"VAR=", "ARG=x"}, unset{"ARG=x"};
  EXPECT_EQ(lex.expand_word("${VAR:?message here$ARG}", set), "plain");
  EXPECT_EQ(lex.expand_word("${VAR?message here$ARG}", set), "plain");
  EXPECT_EQ(lex.expand_word("${VAR?message here$ARG}", empty), "");
  try {
    lex.expand_word("${VAR:?message here$ARG}", empty);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "failed to process \"${VAR:?message here$ARG}\": VAR: message herex");
  }
  try {
    lex.expand_word("${VAR?}", unset);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "failed to process \"${VAR?}\": VAR: is not allowed to be unset");
  }
  try {
    lex.expand_word("${VAR:?}", empty);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "failed to process \"${VAR:?}\": VAR: is not allowed to be empty");
  }
  try {
    lex.expand_word("a${VAR", set);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "failed to process \"a${VAR\": syntax error: missing '}'");
  }
  try {
    lex.expand_word("${}", set);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "failed to process \"${}\": syntax error: bad substitution");
  }
  try {
    lex.expand_word("${VAR:=x}", set);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "failed to process \"${VAR:=x}\": unsupported modifier (:=) in substitution");
  }
}

TEST(ShellLex, DashAndPlusWithoutColon) {
  ShellLex lex;
  BuildEnv env{"FOO=xxx", "BAR="};
  EXPECT_EQ(lex.expand_word("${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", env), "xxx  ccc");
  EXPECT_EQ(lex.expand_word("${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", env), "xxx bbb ccc");
  EXPECT_EQ(lex.expand_word("${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", env), "aaa bbb ");
  EXPECT_EQ(lex.expand_word("${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", env), "aaa  ");
  EXPECT_EQ(lex.expand_word("${FOO:-}", env), "xxx");
  EXPECT_EQ(lex.expand_word("${BAZ:-}", env), "");
}

// lex_test.go's TestProcessWithMatches pattern cases.
TEST(ShellLex, PatternModifiers) {
  ShellLex lex;
  struct Case {
    const char* in;
    BuildEnv env;
    const char* out;  // nullptr: error
  } cases[] = {
      {"${FOO#()[]{\\}^$.\\*\\?|\\\\}", {"FOO=()[]{}^$.*?|\\x"}, "x"},
      {"${FOO%%\\**}", {"FOO=xx**"}, "xx"},
      {"${FOO#*x*y}", {"FOO=xxyy"}, "y"},
      {"${FOO#*}", {"FOO=xxyy"}, "xxyy"},
      {"${FOO#$BAR}", {"FOO=xxyy", "BAR=x"}, "xyy"},
      {"${FOO#$BAR}", {"FOO=xxyy", "BAR="}, "xxyy"},
      {"${FOO#}", {"FOO=xxyy"}, "xxyy"},
      {"${FOO##*x}", {"FOO=xxyy"}, "yy"},
      {"${FOO##}", {"FOO=xxyy"}, "xxyy"},
      {"${FOO#?\\?}", {"FOO=???y"}, "?y"},
      {"${ABC:-.}${FOO%x}${ABC:-.}", {"FOO=xxyy"}, ".xxyy."},
      {"${FOO%%\\**\\*}", {"FOO=a***yy*"}, "a"},
      {"${FOO%}", {"FOO=xxyy"}, "xxyy"},
      {"${FOO%y}", {"FOO=xxyy"}, "xxy"},
      {"${FOO%%y*}", {"FOO=xxyy"}, "xx"},
      {"${FOO%y*}", {"FOO=xxyy"}, "xxy"},
      {"${FOO%%$BAR}", {"FOO=xxyy", "BAR="}, "xxyy"},
      {"${FOO:#}", {}, nullptr},
      {"${FOO:##}", {}, nullptr},
      {"${FOO:%}", {}, nullptr},
      {"${FOO:%%}", {}, nullptr},
      {"${FOO#\\x}", {"FOO=x"}, nullptr},
      {"${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}", {"FOO=/foo*/*/*.txt", "NEEDLE=\\*/"}, "/foo.*/*.txt - /foo..*.txt"},
      {"${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}", {"FOO=/tmp/tmp/bar.txt", "NEEDLE=/tmp"}, "/tmp/bar.txt - /bar.txt"},
      {"${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}",
       {"FOO=/a/foo/b/c.txt", "NEEDLE=/?/", "REPLACEMENT=/"},
       "/foo/b/c.txt - /foo/c.txt"},
      {"${FOO/$NEEDLE/$REPLACEMENT}", {"FOO=http://google.de", "NEEDLE=http://", "REPLACEMENT=https://"},
       "https://google.de"},
      {"${FOO//\\//\\/}", {"FOO=/tmp/foo.txt"}, "\\/tmp\\/foo.txt"},
      {"${FOO/$BAR/ww}", {"FOO=xxyy", "BAR="}, "wwxxyy"},
      {"${FOO//ww}", {"FOO=xxyy"}, nullptr},
      {"${FOO//}", {"FOO=xxyy"}, nullptr},
      {"${FOO///}", {"FOO=xxyy"}, "xxyy"},
      {"${FOO///}", {}, ""},
      {"${FOO=aaa}", {"FOO=xxx"}, nullptr},
      {"${FOO=:aaa}", {"FOO=xxx"}, nullptr},
      {"${FOO=}", {}, nullptr},
  };
  for (const auto& c : cases) {
    if (!c.out) {
      EXPECT_THROW(lex.expand_word(c.in, c.env), Error) << c.in;
    } else {
      std::string got;
      EXPECT_NO_THROW(got = lex.expand_word(c.in, c.env)) << c.in;
      EXPECT_EQ(got, c.out) << c.in;
    }
  }
}

TEST(ShellLex, BacktickEscape) {
  ShellLex lex('`');
  BuildEnv env{"PWD=/home"};
  EXPECT_EQ(lex.expand_word("he`$PWD", env), "he$PWD");
  EXPECT_EQ(lex.expand_word("C:\\dir\\$PWD", env), "C:\\dir\\/home");
  EXPECT_EQ(lex.expand_word("\"a`\"b\"", env), "a\"b");
  EXPECT_EQ(lex.expand_word("\"a\\\"", env), "a\\");
  EXPECT_EQ(lex.expand_word("a``b", env), "a`b");
  EXPECT_EQ(lex.expand_word("ab`", env), "ab");
  EXPECT_EQ(join(lex.expand_words("a` b c", env)), "a b,c");
}

TEST(ShellLex, LaterEntryWinsAndNameOnlyIsEmpty) {
  BuildEnv env{"car=hat", "car=bike", "foo"};
  EXPECT_EQ(lookup_env(env, "car"), "bike");
  EXPECT_EQ(lookup_env(env, "foo"), "");
  EXPECT_FALSE(lookup_env(env, "nope").has_value());
  EXPECT_EQ(ShellLex().expand_word("${foo-unset}${car}", env), "bike");
}

TEST(ShellLex, RawOptionsForHeredocDetection) {
  LexOptions o;
  o.raw_quotes = true;
  o.raw_escapes = true;
  o.skip_unset_env = true;
  ShellLex lex('\\', o);
  EXPECT_EQ(join(lex.expand_words("RUN <<\"EOF\" cat $X ${Y:-z} a\\ b", {})), "RUN,<<\"EOF\",cat,$X,${Y:-z},a\\ b");
  LexOptions skip;
  skip.skip_unset_env = true;
  EXPECT_EQ(ShellLex('\\', skip).expand_word("$A ${B} ${C/x/y} $D", {"D=d"}), "$A ${B} ${C/x/y} d");
}

TEST(ShellLex, SkipProcessQuotesForHeredocBodies) {
  LexOptions o;
  o.skip_process_quotes = true;
  ShellLex lex('\\', o);
  BuildEnv env{"NAME=me"};
  EXPECT_EQ(lex.expand_word("echo \"hi $NAME\" 'and ${NAME}'\n\\$NAME\n", env), "echo \"hi me\" 'and me'\n$NAME\n");
  EXPECT_EQ(lex.expand_word("don't", env), "don't");
}
