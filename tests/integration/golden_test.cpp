// Golden-output tests: what a person reads from cppcker (help, usage errors, tables, exit codes), as a
// table of cases in tests/golden/*.golden. Each file is one test; each file's cases share a private state
// root (CPPCKER_ROOT) holding the busybox image "busybox:latest", loaded once.
//
// File format (one directive per line; add a case by appending lines):
//   # text          a comment; blank lines are ignored
//   $ cppcker ARGS  starts a case: the command line, split on blanks; '...' and "..." quote, nothing else
//                   is expanded. "cppcker" is the binary under test (its --root comes from CPPCKER_ROOT,
//                   so the line is exactly what a user types).
//   ? N             the exit status (default 0)
//   > TEXT          stdout is exactly these lines, in order (">" alone is an empty line)
//   >~ TEXT         stdout has a line equal to TEXT (use instead of, not with, ">")
//   >re REGEX       stdout has a line that the ECMAScript REGEX matches whole
//   2> TEXT         the first non-empty line of stderr is TEXT ("2>" alone: stderr is empty)
//   @ USER          run as USER (e.g. nobody), through setpriv, without supplementary groups
// A case with no stdout directive does not look at stdout; one with no "2>" does not look at stderr.
// A new case in a file runs at once; a new file is a new test once the test binary is rebuilt (CTest
// lists the tests when it is built).
#include <gtest/gtest.h>
#include <pwd.h>

#include <fstream>
#include <regex>

#include "runtime_fixture.hpp"

namespace {

#ifndef CPPCKER_GOLDEN_DIR
#error "CPPCKER_GOLDEN_DIR: tests/CMakeLists.txt defines it"
#endif

struct GoldenCase {
  int line = 0;  // of the "$" line, for failure messages
  std::vector<std::string> args;
  int exit_code = 0;
  std::optional<std::vector<std::string>> stdout_exact;
  std::vector<std::string> stdout_has, stdout_matches;
  std::optional<std::string> stderr_first;
  std::string user;
};

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (char c : text) {
    if (quote) {
      if (c == quote) quote = 0;
      else word += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(word);
  return words;
}

// The text after a directive and its one separating blank ("> " then the line; ">" alone: "").
std::string rest_of(const std::string& line, std::size_t directive_size) {
  return line.size() > directive_size ? line.substr(directive_size + 1) : "";
}

std::vector<GoldenCase> parse_golden(const fs::path& file) {
  std::vector<GoldenCase> cases;
  std::ifstream in(file);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line[0] == '#') continue;
    auto starts = [&](const char* d) {
      std::string s(d);
      return line == s || line.rfind(s + " ", 0) == 0;
    };
    if (starts("$")) {
      GoldenCase c;
      c.line = number;
      c.args = split_words(rest_of(line, 1));
      cases.push_back(c);
      continue;
    }
    if (cases.empty()) throw std::runtime_error(file.string() + ":" + std::to_string(number) + ": a directive before the first \"$\" line");
    GoldenCase& c = cases.back();
    if (starts("?")) c.exit_code = std::stoi(rest_of(line, 1));
    else if (starts(">")) {
      if (!c.stdout_exact) c.stdout_exact.emplace();
      c.stdout_exact->push_back(rest_of(line, 1));
    } else if (starts(">~")) c.stdout_has.push_back(rest_of(line, 2));
    else if (starts(">re")) c.stdout_matches.push_back(rest_of(line, 3));
    else if (starts("2>")) c.stderr_first = rest_of(line, 2);
    else if (starts("@")) c.user = rest_of(line, 1);
    else throw std::runtime_error(file.string() + ":" + std::to_string(number) + ": unknown directive: " + line);
  }
  return cases;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::vector<std::string> golden_files() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(CPPCKER_GOLDEN_DIR))
    if (e.path().extension() == ".golden") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

class Golden : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "golden tests need root (most rows run commands on a state root)";
    root_ = tmp_.path / "root";
    // The state root's parent must let "@ nobody" cases reach the point where cppcker refuses them.
    fs::permissions(tmp_.path, fs::perms::owner_all | fs::perms::others_exec | fs::perms::group_exec);
    load_busybox();
  }

  void load_busybox() {
    fs::path dir = tmp_.path / "image";
    fs::create_directories(dir / "layer");
    std::ofstream(dir / "layer/layer.tar", std::ios::binary) << busybox_layer();
    nlohmann::json cfg = {{"architecture", cppcker::Platform::host().architecture},
                          {"os", "linux"},
                          {"created", "2024-01-01T00:00:00Z"},
                          {"config", {{"Cmd", {"sh"}}, {"Env", {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}}}},
                          {"rootfs", {{"type", "layers"}, {"diff_ids", {cppcker::sha256_digest(busybox_layer())}}}}};
    std::ofstream(dir / "config.json") << cfg.dump();
    std::ofstream(dir / "manifest.json")
        << nlohmann::json::array({{{"Config", "config.json"}, {"RepoTags", {"busybox:latest"}}, {"Layers", {"layer/layer.tar"}}}}).dump();
    auto r = ts::run({CPPCKER_BINARY, "--root", root_.string(), "load", "-q", "-i", dir.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    fs::remove_all(dir);
  }

  ts::CommandResult run_case(const GoldenCase& c) const {
    std::vector<std::string> argv;
    if (!c.user.empty()) {
      const struct passwd* pw = ::getpwnam(c.user.c_str());
      if (!pw) throw std::runtime_error("no user " + c.user);
      argv = {"setpriv", "--reuid=" + std::to_string(pw->pw_uid), "--regid=" + std::to_string(pw->pw_gid), "--clear-groups", "--"};
    }
    argv.push_back(CPPCKER_BINARY);
    argv.insert(argv.end(), c.args.begin() + 1, c.args.end());
    return ts::run(argv, {"CPPCKER_ROOT=" + root_.string()});
  }

  ts::TempDir tmp_;
  fs::path root_;
};

TEST_P(Golden, Cases) {
  fs::path file = fs::path(CPPCKER_GOLDEN_DIR) / (GetParam() + ".golden");
  std::vector<GoldenCase> cases = parse_golden(file);
  ASSERT_FALSE(cases.empty()) << file << " has no case";
  for (const auto& c : cases) {
    std::string where = file.filename().string() + ":" + std::to_string(c.line);
    ASSERT_FALSE(c.args.empty()) << where << ": an empty command line";
    ASSERT_EQ(c.args.front(), "cppcker") << where << ": a command line starts with \"cppcker\"";
    SCOPED_TRACE(where);
    ts::CommandResult r = run_case(c);
    EXPECT_EQ(r.exit_code, c.exit_code) << "stdout:\n" << r.out << "stderr:\n" << r.err;
    std::vector<std::string> out = lines_of(r.out);
    if (c.stdout_exact) {
      EXPECT_EQ(out, *c.stdout_exact) << "stdout:\n" << r.out;
    }
    for (const auto& want : c.stdout_has)
      EXPECT_NE(std::find(out.begin(), out.end(), want), out.end()) << "no stdout line \"" << want << "\" in:\n" << r.out;
    for (const auto& pattern : c.stdout_matches) {
      std::regex re(pattern);
      EXPECT_TRUE(std::any_of(out.begin(), out.end(), [&](const std::string& l) { return std::regex_match(l, re); }))
          << "no stdout line matches /" << pattern << "/ in:\n" << r.out;
    }
    if (c.stderr_first) {
      std::vector<std::string> err = lines_of(r.err);
      err.erase(std::remove(err.begin(), err.end(), ""), err.end());  // Docker's usage errors open with one
      if (c.stderr_first->empty()) {
        EXPECT_EQ(r.err, "");
      } else {
        EXPECT_EQ(err.empty() ? "" : err.front(), *c.stderr_first) << "stderr:\n" << r.err;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Files, Golden, ::testing::ValuesIn(golden_files()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name;
                           for (char ch : info.param) name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           return name;
                         });

}  // namespace
