// Shell completion: the bash script that `cppcker completion bash` prints, run by bash as it completes a
// line (COMP_WORDS/COMP_CWORD set, the completer called, COMPREPLY read), against a state root with a
// container, an image and a volume of the test's own.
#include <fstream>

#include "runtime_fixture.hpp"

namespace {

class CompletionTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    auto script = cpk_({"completion", "bash"});
    ASSERT_EQ(script.exit_code, 0) << script.err;
    script_ = tmp_.path / "cppcker.bash";
    std::ofstream(script_) << script.out;
  }

  // The words bash would have split the line into; the last one is the word being completed.
  std::vector<std::string> complete(const std::vector<std::string>& words) const {
    std::string array;
    for (const auto& w : words) array += " '" + w + "'";
    std::string program = "source '" + script_.string() + "'\nCOMP_WORDS=(" + array + ")\nCOMP_CWORD=" +
                          std::to_string(words.size() - 1) +
                          "\n__cppcker_complete\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n";
    // The script calls `cppcker __complete` through PATH, as an installed one would.
    std::string path = "PATH=" + fs::path(CPPCKER_BINARY).parent_path().string() + ":/usr/sbin:/usr/bin:/sbin:/bin";
    auto r = ts::run({"bash", "--norc", "--noprofile", "-c", program}, {path});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    std::vector<std::string> out;
    std::istringstream in(r.out);
    for (std::string l; std::getline(in, l);)
      if (!l.empty()) out.push_back(l);
    std::sort(out.begin(), out.end());
    return out;
  }

  std::vector<std::string> with_root(std::vector<std::string> words) const {
    words.insert(words.begin(), {"cppcker", "--root", cpk_.root.string()});
    return words;
  }

  fs::path script_;
};

using Words = std::vector<std::string>;

TEST_F(CompletionTest, CommandsSubcommandsAndFlagsComeFromTheCommandTree) {
  EXPECT_EQ(complete({"cppcker", "r"}), (Words{"rename", "restart", "rm", "rmi", "run"}));
  EXPECT_EQ(complete({"cppcker", "network", ""}), (Words{"connect", "create", "disconnect", "inspect", "ls", "prune", "rm"}));
  EXPECT_EQ(complete({"cppcker", "volume", "i"}), (Words{"inspect"}));
  // The command's own flags and the global ones; the value of -e is skipped, not taken for a command.
  EXPECT_EQ(complete({"cppcker", "run", "-e", "A=1", "--netw"}), (Words{"--network"}));
  EXPECT_EQ(complete({"cppcker", "ps", "--ro"}), (Words{"--root"}));
  EXPECT_EQ(complete({"cppcker", "rm", "-"}), (Words{"--config", "--force", "--help", "--log-level", "--root",
                                                    "--version", "--volumes", "-f", "-h", "-l", "-v"}));
  // The hidden helper is no command to offer.
  EXPECT_EQ(complete({"cppcker", "__"}), Words{});
}

TEST_F(CompletionTest, NamesComeFromTheStateRootGivenOnTheLine) {
  auto r = run({"--name", "compl-web", "--network", "none", "img", "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string id = trim(cpk_({"ps", "-aq"}).out);
  ASSERT_EQ(id.size(), 12u);
  ASSERT_EQ(cpk_({"volume", "create", "compl-data"}).exit_code, 0);

  EXPECT_EQ(complete(with_root({"rm", "compl"})), (Words{"compl-web"}));
  EXPECT_EQ(complete(with_root({"logs", id.substr(0, 4)})), (Words{id}));
  EXPECT_EQ(complete(with_root({"run", "im"})), (Words{"img:latest"}));
  // run IMAGE [COMMAND]: after the image, no more image names.
  EXPECT_EQ(complete(with_root({"run", "--rm", "img:latest", "im"})), Words{});
  EXPECT_EQ(complete(with_root({"exec", "-it", "compl-"})), (Words{"compl-web"}));
  EXPECT_EQ(complete(with_root({"volume", "rm", "compl"})), (Words{"compl-data"}));
  EXPECT_EQ(complete(with_root({"inspect", "i"})), (Words{"img:latest"}));
  // Container names do not leak into image commands.
  EXPECT_EQ(complete(with_root({"rmi", "compl"})), Words{});
  cpk_({"volume", "rm", "compl-data"});
}

TEST_F(CompletionTest, HelperIsSilentWithoutAStateRoot) {
  fs::path missing = tmp_.path / "no-such-root";
  for (const char* kind : {"containers", "images", "networks", "volumes", "bogus"}) {
    auto r = ts::run({CPPCKER_BINARY, "--root", missing.string(), "__complete", kind});
    EXPECT_EQ(r.exit_code, 0) << kind;
    EXPECT_EQ(r.out, "") << kind;
    EXPECT_EQ(r.err, "") << kind;
  }
  EXPECT_FALSE(fs::exists(missing)) << "__complete made the state root";
  EXPECT_EQ(complete({"cppcker", "--root", missing.string(), "rm", ""}), Words{});
}

TEST_F(CompletionTest, ZshAndFishScriptsAreGeneratedFromTheSameTree) {
  auto zsh = cpk_({"completion", "zsh"});
  ASSERT_EQ(zsh.exit_code, 0);
  EXPECT_EQ(zsh.out.rfind("#compdef cppcker\n", 0), 0u);
  EXPECT_NE(zsh.out.find("\"network\") echo \"connect create disconnect inspect ls prune rm\""), std::string::npos);
  auto fish = cpk_({"completion", "fish"});
  ASSERT_EQ(fish.exit_code, 0);
  EXPECT_NE(fish.out.find("complete -c cppcker -f -n '__cppcker_at ' -a run -d 'Create and run a new container from an image'"),
            std::string::npos)
      << fish.out;
  EXPECT_NE(fish.out.find("complete -c cppcker -n '__cppcker_at rm' -s f -l force"), std::string::npos);
  if (ts::have_command("fish")) {
    auto r = ts::run({"fish", "--no-execute", "-c", fish.out});
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
}

}  // namespace
