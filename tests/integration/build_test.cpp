// `cppcker build` on the real kernel from the fixture's busybox image: Docker's output, the cache across
// invocations, ONBUILD, and failures that leave nothing behind (no tag, container, mount or cgroup).
#include <fstream>
#include <regex>

#include "runtime_fixture.hpp"

namespace {

class BuildTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    ctx_ = tmp_.path / "ctx";
    fs::create_directories(ctx_);
  }
  void TearDown() override {
    // No step container of any build may remain (RuntimeTest checks cgroups and mounts).
    EXPECT_EQ(trim(cpk_({"ps", "-aq"}).out), "") << "a build left a container";
    RuntimeTest::TearDown();
  }

  void write(const std::string& rel, const std::string& content) {
    fs::create_directories((ctx_ / rel).parent_path());
    std::ofstream(ctx_ / rel, std::ios::binary | std::ios::trunc) << content;
  }

  // `build` with this test's cgroup parent and no network for RUN (the bridge has a test of its own).
  ts::CommandResult build(std::vector<std::string> args) const {
    args.insert(args.begin(), {"build", "--cgroup-parent", parent_, "--network", "none"});
    args.push_back(ctx_.string());
    return cpk_(args);
  }

  static int count(const std::string& text, const std::string& what) {
    int n = 0;
    for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
    return n;
  }

  std::string image_id(const std::string& name) const { return trim(cpk_({"images", "-q", "--no-trunc", name}).out); }

  // A failing build: exit 1, one "Error: " line containing `what`, nothing tagged.
  void expect_failure(const std::string& what, std::vector<std::string> args = {}) {
    args.insert(args.end(), {"-t", "failed:latest"});
    auto r = build(args);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("Error: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
    EXPECT_EQ(count(r.err, "\n"), 1) << "one error line: " << r.err;
    EXPECT_EQ(image_id("failed"), "") << "a failed build tagged its image";
  }

  fs::path ctx_;
};

const char* const kDockerfile =
    "FROM img\n"
    "RUN echo hello > /greeting && echo streamed-output\n"
    "ENV A=1\n"
    "COPY f.txt /data/\n"
    "WORKDIR /app\n"
    "CMD [\"cat\", \"/greeting\", \"/data/f.txt\"]\n";

TEST_F(BuildTest, DockersOutputAndAWorkingImage) {
  write("Dockerfile", kDockerfile);
  write("f.txt", "file-content\n");
  auto r = build({"-t", "built:one", "-t", "built:two"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Step 1/6 : FROM img\n ---> "), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("Step 2/6 : RUN echo hello > /greeting && echo streamed-output\n"
                                                  " ---> Running in [0-9a-f]{12}\nstreamed-output\n"
                                                  "Removing intermediate container [0-9a-f]{12}\n ---> [0-9a-f]{12}\n")))
      << r.out;
  EXPECT_NE(r.out.find("Step 6/6 : CMD [\"cat\", \"/greeting\", \"/data/f.txt\"]"), std::string::npos) << r.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("Successfully built ([0-9a-f]{12})\n"))) << r.out;
  EXPECT_NE(r.out.find("Successfully tagged built:one\nSuccessfully tagged built:two\n"), std::string::npos) << r.out;
  EXPECT_EQ(image_id("built:one").substr(7, 12), m[1].str());

  auto out = run({"--rm", "--network", "none", "built:one"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, "hello\nfile-content\n");
  auto config = inspect("built:one")["Config"];
  EXPECT_EQ(config["WorkingDir"], "/app");
  EXPECT_NE(config["Env"].dump().find("A=1"), std::string::npos) << config.dump();
  auto history = cpk_({"history", "--no-trunc", "built:one"});
  EXPECT_NE(history.out.find("/bin/sh -c #(nop)  ENV A=1"), std::string::npos) << history.out;

  // -q prints the ID alone; --iidfile gets it too.
  fs::path iid = tmp_.path / "iid";
  auto q = build({"-q", "--iidfile", iid.string()});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_EQ(q.out, image_id("built:one") + "\n");
  EXPECT_EQ(cppcker::read_file(iid), image_id("built:one"));
}

TEST_F(BuildTest, CacheReusesStepsAcrossInvocationsUntilAChange) {
  write("Dockerfile", kDockerfile);
  write("f.txt", "one\n");
  auto first = build({"-t", "c:1"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(count(first.out, " ---> Using cache"), 0);

  auto second = build({"-t", "c:2"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(count(second.out, " ---> Using cache"), 5) << second.out;  // every step after FROM
  EXPECT_EQ(count(second.out, "Running in"), 0) << second.out;
  EXPECT_EQ(image_id("c:1"), image_id("c:2"));

  // The intermediate images are hidden unless -a.
  auto listed = trim(cpk_({"images", "-q"}).out), all = trim(cpk_({"images", "-aq"}).out);
  EXPECT_LT(count(listed, "\n"), count(all, "\n")) << listed << "\n--\n" << all;

  // A changed file: the steps before its COPY are reused, the COPY and everything after are not. Its
  // mtime alone does not count.
  write("f.txt", "two\n");
  auto third = build({"-t", "c:3"});
  ASSERT_EQ(third.exit_code, 0) << third.err;
  EXPECT_EQ(count(third.out, " ---> Using cache"), 2) << third.out;  // RUN and ENV
  EXPECT_NE(third.out.find("Step 3/6 : ENV A=1\n ---> Using cache"), std::string::npos) << third.out;
  EXPECT_EQ(third.out.find("Step 4/6 : COPY f.txt /data/\n ---> Using cache"), std::string::npos) << third.out;
  EXPECT_NE(image_id("c:1"), image_id("c:3"));

  // --no-cache rebuilds every step (and still records them).
  auto fresh = build({"--no-cache", "-t", "c:4"});
  ASSERT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_EQ(count(fresh.out, " ---> Using cache"), 0) << fresh.out;
  EXPECT_EQ(count(fresh.out, "\nstreamed-output\n"), 1) << fresh.out;  // the RUN ran again

  // builder prune removes the cache: the next build runs every step again.
  auto pruned = cpk_({"builder", "prune", "-f"});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.err;
  EXPECT_NE(pruned.out.find("Deleted build cache objects:"), std::string::npos) << pruned.out;
  int entries = 0;
  for (const auto& e : fs::directory_iterator(cpk_.root / "build-cache")) entries += e.path().extension() == ".json";
  EXPECT_EQ(entries, 0);
  auto after_prune = build({"-t", "c:5"});
  ASSERT_EQ(after_prune.exit_code, 0) << after_prune.err;
  EXPECT_EQ(count(after_prune.out, " ---> Using cache"), 0) << after_prune.out;
  EXPECT_NE(image_id("c:4"), "");  // tagged images stay

  // image prune removes the untagged step images, and with them the cache.
  ASSERT_EQ(cpk_({"rmi", "c:1", "c:2", "c:3", "c:4", "c:5"}).exit_code, 0);
  ASSERT_EQ(cpk_({"image", "prune", "-f"}).exit_code, 0);
  auto after_image_prune = build({});
  ASSERT_EQ(after_image_prune.exit_code, 0) << after_image_prune.err;
  EXPECT_EQ(count(after_image_prune.out, " ---> Using cache"), 0) << after_image_prune.out;
}

TEST_F(BuildTest, OnbuildTriggersRunInTheChildBuild) {
  write("Dockerfile", "FROM img\nONBUILD RUN echo triggered > /t\nONBUILD ENV FROM_TRIGGER=yes\n");
  ASSERT_EQ(build({"-t", "parent"}).exit_code, 0);
  EXPECT_EQ(inspect("parent")["Config"]["OnBuild"], nlohmann::json({"RUN echo triggered > /t", "ENV FROM_TRIGGER=yes"}));
  write("Dockerfile", "FROM parent\nCMD [\"cat\", \"/t\"]\n");
  auto r = build({"-t", "child"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("# Executing 2 build triggers"), std::string::npos) << r.out;
  auto out = run({"--rm", "--network", "none", "child"});
  EXPECT_EQ(out.out, "triggered\n") << out.err;
  auto config = inspect("child")["Config"];
  EXPECT_TRUE(config["OnBuild"].is_null() || config["OnBuild"].empty()) << config.dump();
  EXPECT_NE(config["Env"].dump().find("FROM_TRIGGER=yes"), std::string::npos);
}

TEST_F(BuildTest, MultiStageCopiesFromTheStagesTheTargetNeeds) {
  write("Dockerfile",
        "ARG BASE=img\n"
        "FROM ${BASE} AS builder\nARG WHO=nobody\nRUN echo built-by-$WHO > /artifact\n"
        "FROM img AS unused\nRUN exit 7\n"
        "FROM scratch\nCOPY --from=builder /artifact /artifact\nCOPY --from=builder /bin/busybox /bin/sh\n"
        "CMD [\"/bin/sh\", \"-c\", \"read x < /artifact; echo $x\"]\n");
  auto r = build({"--build-arg", "WHO=me", "--build-arg", "UNUSED=1", "-t", "multi"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("RUN exit 7"), std::string::npos) << "the unused stage ran: " << r.out;
  EXPECT_NE(r.out.find("[Warning] One or more build-args [UNUSED] were not consumed"), std::string::npos) << r.out;
  auto out = run({"--rm", "--network", "none", "multi"});
  EXPECT_EQ(out.out, "built-by-me\n") << out.err;
}

TEST_F(BuildTest, RunStepsUseTheBridgeByDefaultAndNoneOnRequest) {
  write("Dockerfile",
        "FROM img\nRUN ip -o -4 addr show > /default.txt\nRUN --network=none ip -o -4 addr show > /none.txt\n"
        "CMD [\"cat\", \"/default.txt\", \"/none.txt\"]\n");
  auto r = cpk_({"build", "--cgroup-parent", parent_, "-t", "net", ctx_.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto out = run({"--rm", "--network", "none", "net"});
  EXPECT_NE(out.out.find("eth0"), std::string::npos) << out.out;
  EXPECT_NE(out.out.find(subnet_prefix()), std::string::npos) << out.out;
  EXPECT_EQ(count(out.out, ": eth0"), 1) << "RUN --network=none had an interface: " << out.out;
}

TEST_F(BuildTest, FailuresLeaveNothingBehind) {
  write("f.txt", "x");
  write("Dockerfile", "FROM img\nFOO bar\n");
  expect_failure("unknown instruction: FOO");
  write("Dockerfile", "FROM img AS a\nRUN true\n");
  expect_failure("target stage \"nope\" could not be found", {"--target", "nope"});
  write("Dockerfile", "FROM img\nCOPY ../outside /x\n");
  expect_failure("line 2");
  write("Dockerfile", "FROM img\nCOPY missing.txt /x\n");
  expect_failure("missing.txt");
  write("Dockerfile", "FROM img\nRUN echo partial > /p\nRUN exit 3\n");
  expect_failure("The command '/bin/sh -c exit 3' returned a non-zero code: 3");
  // A step whose program cannot start: the builder removes the step's container and lives on to say so.
  write("Dockerfile", "FROM img\nRUN [\"/no/such/program\"]\n");
  expect_failure("/no/such/program");
  write("Dockerfile", "FROM img\nCOPY f.txt /x\n");
  write(".dockerignore", "[\n");
  expect_failure("syntax error in pattern");
}

}  // namespace
