#include <gtest/gtest.h>

#include "cppcker/build/dockerignore.hpp"
#include "cppcker/util/error.hpp"

using namespace cppcker;
using namespace cppcker::build;

// Go's own filepath.Match table (src/path/filepath/match_test.go).
TEST(PathMatch, GoMatchTable) {
  struct Case {
    const char* pattern;
    const char* name;
    bool match;
    bool bad;
  } cases[] = {
      {"abc", "abc", true, false},
      {"*", "abc", true, false},
      {"*c", "abc", true, false},
      {"a*", "a", true, false},
      {"a*", "abc", true, false},
      {"a*", "ab/c", false, false},
      {"a*/b", "abc/b", true, false},
      {"a*/b", "a/c/b", false, false},
      {"a*b*c*d*e*/f", "axbxcxdxe/f", true, false},
      {"a*b*c*d*e*/f", "axbxcxdxexxx/f", true, false},
      {"a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false, false},
      {"a*b*c*d*e*/f", "axbxcxdxexxx/fff", false, false},
      {"a*b?c*x", "abxbbxdbxebxczzx", true, false},
      {"a*b?c*x", "abxbbxdbxebxczzy", false, false},
      {"ab[c]", "abc", true, false},
      {"ab[b-d]", "abc", true, false},
      {"ab[e-g]", "abc", false, false},
      {"ab[^c]", "abc", false, false},
      {"ab[^b-d]", "abc", false, false},
      {"ab[^e-g]", "abc", true, false},
      {"a\\*b", "a*b", true, false},
      {"a\\*b", "ab", false, false},
      {"a?b", "a☺b", true, false},
      {"a[^a]b", "a☺b", true, false},
      {"a???b", "a☺b", false, false},
      {"a[^a][^a][^a]b", "a☺b", false, false},
      {"[a-ζ]*", "α", true, false},
      {"*[a-ζ]", "A", false, false},
      {"a?b", "a/b", false, false},
      {"a*b", "a/b", false, false},
      {"[\\]a]", "]", true, false},
      {"[\\-]", "-", true, false},
      {"[x\\-]", "x", true, false},
      {"[x\\-]", "-", true, false},
      {"[x\\-]", "z", false, false},
      {"[\\-x]", "x", true, false},
      {"[\\-x]", "-", true, false},
      {"[\\-x]", "a", false, false},
      {"[]a]", "]", false, true},
      {"[-]", "-", false, true},
      {"[x-]", "x", false, true},
      {"[x-]", "-", false, true},
      {"[x-]", "z", false, true},
      {"[-x]", "x", false, true},
      {"[-x]", "-", false, true},
      {"[-x]", "a", false, true},
      {"\\", "a", false, true},
      {"[a-b-c]", "a", false, true},
      {"[", "a", false, true},
      {"[^", "a", false, true},
      {"[^bc", "a", false, true},
      {"a[", "a", false, true},
      {"a[", "ab", false, true},
      {"a[", "x", false, true},
      {"a/b[", "x", false, true},
      {"*x", "xxx", true, false},
  };
  for (const auto& c : cases) {
    if (c.bad) {
      try {
        path_match(c.pattern, c.name);
        ADD_FAILURE() << "no error for " << c.pattern << " " << c.name;
      } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "syntax error in pattern") << c.pattern;
      }
    } else {
      bool got = false;
      EXPECT_NO_THROW(got = path_match(c.pattern, c.name)) << c.pattern << " " << c.name;
      EXPECT_EQ(got, c.match) << c.pattern << " " << c.name;
    }
  }
}

TEST(CleanPath, GoCleanTable) {
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {"", "."},          {"abc", "abc"},         {"abc/def", "abc/def"}, {"a/b/c", "a/b/c"},
      {".", "."},         {"..", ".."},           {"../..", "../.."},     {"../../abc", "../../abc"},
      {"/abc", "/abc"},   {"/", "/"},             {"abc/", "abc"},        {"abc/def/", "abc/def"},
      {"/abc/", "/abc"},  {"abc//def//ghi", "abc/def/ghi"},           {"//abc", "/abc"},
      {"abc/./def", "abc/def"},                   {"/./abc/def", "/abc/def"},
      {"abc/.", "abc"},   {"abc/def/ghi/../jkl", "abc/def/jkl"},      {"abc/def/../ghi/../jkl", "abc/jkl"},
      {"abc/def/..", "abc"},                      {"abc/def/../..", "."}, {"/abc/def/../..", "/"},
      {"abc/def/../../..", ".."},                 {"/abc/def/../../..", "/"},
      {"abc/def/../../../ghi/jkl/../../../mno", "../../mno"},
      {"abc/./../def", "def"},                    {"abc//./../def", "def"},
      {"abc/../../././../def", "../../def"},
  };
  for (const auto& c : cases) EXPECT_EQ(clean_path(c.in), c.out) << c.in;
}

namespace {
enum Pass { kFail, kExact, kInexact };
}

// patternmatcher_test.go's TestMatches, as MatchesOrParentMatches (what the CLI uses for the context).
TEST(IgnoreMatcher, PatternMatcherTable) {
  struct Case {
    const char* pattern;
    const char* text;
    Pass pass;
  } cases[] = {
      {"**", "file", kExact},
      {"**", "file/", kExact},
      {"**/", "file", kExact},
      {"**/", "file/", kExact},
      {"**", "/", kExact},
      {"**/", "/", kExact},
      {"**", "dir/file", kExact},
      {"**/", "dir/file", kExact},
      {"**", "dir/file/", kExact},
      {"**/", "dir/file/", kExact},
      {"**/**", "dir/file", kExact},
      {"**/**", "dir/file/", kExact},
      {"dir/**", "dir/file", kExact},
      {"dir/**", "dir/file/", kExact},
      {"dir/**", "dir/dir2/file", kExact},
      {"dir/**", "dir/dir2/file/", kExact},
      {"**/dir", "dir", kExact},
      {"**/dir", "dir/file", kInexact},
      {"**/dir2/*", "dir/dir2/file", kExact},
      {"**/dir2/*", "dir/dir2/file/", kInexact},
      {"**/dir2/**", "dir/dir2/dir3/file", kExact},
      {"**/dir2/**", "dir/dir2/dir3/file/", kExact},
      {"**file", "file", kExact},
      {"**file", "dir/file", kExact},
      {"**/file", "dir/file", kExact},
      {"**file", "dir/dir/file", kExact},
      {"**/file", "dir/dir/file", kExact},
      {"**/file*", "dir/dir/file", kExact},
      {"**/file*", "dir/dir/file.txt", kExact},
      {"**/file*txt", "dir/dir/file.txt", kExact},
      {"**/file*.txt", "dir/dir/file.txt", kExact},
      {"**/file*.txt*", "dir/dir/file.txt", kExact},
      {"**/**/*.txt", "dir/dir/file.txt", kExact},
      {"**/**/*.txt2", "dir/dir/file.txt", kFail},
      {"**/*.txt", "file.txt", kExact},
      {"**/**/*.txt", "file.txt", kExact},
      {"a**/*.txt", "a/file.txt", kExact},
      {"a**/*.txt", "a/dir/file.txt", kExact},
      {"a**/*.txt", "a/dir/dir/file.txt", kExact},
      {"a/*.txt", "a/dir/file.txt", kFail},
      {"a/*.txt", "a/file.txt", kExact},
      {"a/*.txt**", "a/file.txt", kExact},
      {"a[b-d]e", "ae", kFail},
      {"a[b-d]e", "ace", kExact},
      {"a[b-d]e", "aae", kFail},
      {"a[^b-d]e", "aze", kExact},
      {".*", ".foo", kExact},
      {".*", "foo", kFail},
      {"abc.def", "abcdef", kFail},
      {"abc.def", "abc.def", kExact},
      {"abc.def", "abcZdef", kFail},
      {"abc?def", "abcZdef", kExact},
      {"abc?def", "abcdef", kFail},
      {"**/foo/bar", "foo/bar", kExact},
      {"**/foo/bar", "dir/foo/bar", kExact},
      {"**/foo/bar", "dir/dir2/foo/bar", kExact},
      {"abc/**", "abc", kFail},
      {"abc/**", "abc/def", kExact},
      {"abc/**", "abc/def/ghi", kExact},
      {"**/.foo", ".foo", kExact},
      {"**/.foo", "bar.foo", kFail},
      {"a(b)c/def", "a(b)c/def", kExact},
      {"a(b)c/def", "a(b)c/xyz", kFail},
      {"a.|)$(}+{bc", "a.|)$(}+{bc", kExact},
      {"dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
       "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", kExact},
      {"dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", kExact},
      {"a\\\\", "a\\", kExact},
      {"a\\*b", "a*b", kExact},
  };
  for (const auto& c : cases) {
    IgnoreMatcher m(std::vector<std::string>{c.pattern});
    EXPECT_EQ(m.excluded(c.text), c.pass != kFail) << c.pattern << " vs " << c.text;
  }
}

TEST(IgnoreMatcher, MultiplePatternsLastMatchWins) {
  struct Case {
    std::vector<std::string> patterns;
    const char* text;
    bool excluded;
  } cases[] = {
      {{"**", "!util/docker/web"}, "util/docker/web/foo", false},
      {{"**", "!util/docker/web", "util/docker/web/foo"}, "util/docker/web/foo", true},
      {{"**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"},
       "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", false},
      {{"**", "!dist/*.whl"}, "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", false},
      {{"*"}, "fileutils.go", true},
      {{"*.go"}, "fileutils.go", true},
      {{"!fileutils.go", "*.go"}, "fileutils.go", true},
      {{"docs", "!docs/README.md"}, "docs/README.md", false},
      {{"docs/", "!docs/README.md"}, "docs/README.md", false},
      {{"docs/*", "!docs/README.md"}, "docs/README.md", false},
      {{"docs", "!docs/README.md"}, "docs/other.md", true},
      {{"*.go", "!fileutils.go"}, "fileutils.go", false},
      {{"*.go"}, ".", false},
      {{}, "any/path/there", false},
      {{"*.md", "!README*.md", "README-secret.md"}, "README-secret.md", true},
      {{"*.md", "!README*.md", "README-secret.md"}, "README-public.md", false},
  };
  for (const auto& c : cases) {
    IgnoreMatcher m(c.patterns);
    EXPECT_EQ(m.excluded(c.text), c.excluded) << c.text;
  }
}

TEST(IgnoreMatcher, BadPatternsAreErrors) {
  EXPECT_THROW(IgnoreMatcher(std::vector<std::string>{"["}), Error);
  EXPECT_THROW(IgnoreMatcher(std::vector<std::string>{"!"}), Error);
  EXPECT_THROW(IgnoreMatcher(std::vector<std::string>{"a/[z-a]"}), Error);  // Go's regexp refuses it
  try {
    IgnoreMatcher::parse("# ok\n*.log\n\n  sub/[a-\n");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "error checking context: syntax error in pattern \"sub/[a-\" (.dockerignore line 4)");
  }
  try {
    IgnoreMatcher::parse("a\n!\n");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "error checking context: illegal exclusion pattern: \"!\" (.dockerignore line 2)");
  }
}

TEST(IgnoreMatcher, FileReading) {
  auto m = IgnoreMatcher::parse(
      "\xEF\xBB\xBF# comment\n"
      "\n"
      "  /build/  \n"
      "!build/keep.txt\n"
      "! /tmp/x\n"
      " # not a comment\n"
      "a/../b\r\n"
      "**/*.o\n");
  EXPECT_EQ(m.patterns(), (std::vector<std::string>{"build", "!build/keep.txt", "!tmp/x", "# not a comment", "b"
                                                    , "**/*.o"}));
  EXPECT_TRUE(m.has_exceptions());
  EXPECT_TRUE(m.excluded("build"));
  EXPECT_TRUE(m.excluded("build/a/b.c"));
  EXPECT_FALSE(m.excluded("build/keep.txt"));
  EXPECT_FALSE(m.excluded("./build/keep.txt"));
  EXPECT_TRUE(m.excluded("b"));
  EXPECT_TRUE(m.excluded("b/c"));
  EXPECT_TRUE(m.excluded("x/y/z.o"));
  EXPECT_TRUE(m.excluded("z.o"));
  EXPECT_TRUE(m.excluded("# not a comment"));
  EXPECT_FALSE(m.excluded("Dockerfile"));
  EXPECT_FALSE(m.excluded("builder"));
  EXPECT_FALSE(IgnoreMatcher::parse("a\n").has_exceptions());
}

TEST(IgnoreMatcher, ParentDirectoryMatches) {
  IgnoreMatcher m(std::vector<std::string>{"*/secret", "logs*"});
  EXPECT_TRUE(m.excluded("a/secret"));
  EXPECT_TRUE(m.excluded("a/secret/key"));
  EXPECT_FALSE(m.excluded("a/b/secret"));
  EXPECT_TRUE(m.excluded("logs2/x/y"));
  EXPECT_FALSE(m.excluded("x/logs"));
}

// patternmatcher_test.go's matchTests: Go's table through the ignore rules (a parent directory match counts,
// a malformed pattern is refused when the matcher is made).
TEST(IgnoreMatcher, GoTableThroughPatternMatcher) {
  struct Case {
    const char* pattern;
    const char* name;
    bool match;
    bool bad;
  } cases[] = {
      {"abc", "abc", true, false},          {"*", "abc", true, false},
      {"*c", "abc", true, false},           {"a*", "a", true, false},
      {"a*", "abc", true, false},           {"a*", "ab/c", true, false},
      {"a*/b", "abc/b", true, false},       {"a*/b", "a/c/b", false, false},
      {"a*b*c*d*e*/f", "axbxcxdxe/f", true, false},
      {"a*b*c*d*e*/f", "axbxcxdxexxx/f", true, false},
      {"a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false, false},
      {"a*b*c*d*e*/f", "axbxcxdxexxx/fff", false, false},
      {"a*b?c*x", "abxbbxdbxebxczzx", true, false},
      {"a*b?c*x", "abxbbxdbxebxczzy", false, false},
      {"ab[c]", "abc", true, false},        {"ab[b-d]", "abc", true, false},
      {"ab[e-g]", "abc", false, false},     {"ab[^c]", "abc", false, false},
      {"ab[^b-d]", "abc", false, false},    {"ab[^e-g]", "abc", true, false},
      {"a\\*b", "a*b", true, false},        {"a\\*b", "ab", false, false},
      {"a?b", "a☺b", true, false},          {"a[^a]b", "a☺b", true, false},
      {"a???b", "a☺b", false, false},       {"a[^a][^a][^a]b", "a☺b", false, false},
      {"[a-ζ]*", "α", true, false},         {"*[a-ζ]", "A", false, false},
      {"a?b", "a/b", false, false},         {"a*b", "a/b", false, false},
      {"[\\]a]", "]", true, false},         {"[\\-]", "-", true, false},
      {"[x\\-]", "x", true, false},         {"[x\\-]", "-", true, false},
      {"[x\\-]", "z", false, false},        {"[\\-x]", "x", true, false},
      {"[\\-x]", "-", true, false},         {"[\\-x]", "a", false, false},
      {"[]a]", "]", false, true},           {"[-]", "-", false, true},
      {"[x-]", "x", false, true},           {"[x-]", "-", false, true},
      {"[x-]", "z", false, true},           {"[-x]", "x", false, true},
      {"[-x]", "-", false, true},           {"[-x]", "a", false, true},
      {"\\", "a", false, true},             {"[a-b-c]", "a", false, true},
      {"[", "a", false, true},              {"[^", "a", false, true},
      {"[^bc", "a", false, true},           {"a[", "a", false, true},
      {"a[", "ab", false, true},            {"*x", "xxx", true, false},
  };
  for (const auto& c : cases) {
    if (c.bad) {
      EXPECT_THROW(IgnoreMatcher(std::vector<std::string>{c.pattern}), Error) << c.pattern;
      continue;
    }
    IgnoreMatcher m(std::vector<std::string>{c.pattern});
    EXPECT_EQ(m.excluded(c.name), c.match) << c.pattern << " vs " << c.name;
  }
}
