// The builder's pure parts: stages for --target, ARG scoping, cache keys and entries, what each metadata
// instruction does to an image config (HEALTHCHECK and ONBUILD as Docker stores them).
#include <gtest/gtest.h>
#include <unistd.h>

#include "cppcker/build/builder.hpp"
#include "cppcker/build/cache.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

using namespace cppcker;
using namespace cppcker::build;
using nlohmann::json;

namespace {

struct Scratch {
  fs::path path;
  Scratch() {
    char tmpl[] = "/tmp/cppcker-builder-unit-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~Scratch() { remove_tree(path); }
};

std::vector<std::size_t> stages_for(const std::string& text, const std::string& target) {
  return plan_build(parse_dockerfile(text), target).build;
}

// Applies every instruction of `text` (no FROM) to `config`, as a stage does.
json apply_all(const std::string& text, json config = json::object(), std::vector<std::string> args = {}) {
  StageFlags flags;
  for (const auto& ins : parse_dockerfile(text).instructions) {
    std::vector<std::string> env = args;
    if (config.contains("Env"))
      for (const auto& e : config["Env"]) env.push_back(e.get<std::string>());
    apply_instruction(config, ins, env, '\\', flags);
  }
  return config;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(BuilderPlan, TargetBuildsOnlyTheStagesItNeeds) {
  const std::string df =
      "FROM busybox AS base\nRUN true\n"
      "FROM base AS app\nRUN true\n"
      "FROM busybox AS tools\nCOPY --from=0 /x /x\n"
      "FROM busybox AS unrelated\nRUN false\n"
      "FROM scratch\nCOPY --from=tools /x /x\n";
  EXPECT_EQ(stages_for(df, ""), (std::vector<std::size_t>{0, 2, 4}));
  EXPECT_EQ(stages_for(df, "app"), (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(stages_for(df, "APP"), (std::vector<std::size_t>{0, 1}));  // names are case-insensitive
  EXPECT_EQ(stages_for(df, "unrelated"), (std::vector<std::size_t>{3}));
  EXPECT_EQ(error_of([&] { stages_for(df, "nope"); }), "target stage \"nope\" could not be found");
}

TEST(BuilderPlan, StagesAndTheirInstructions) {
  Plan p = plan_build(parse_dockerfile("ARG V=1\nFROM busybox:${V} AS one\nENV a=b\nRUN x\nFROM one\n"), "",
                      {"V=2"});
  ASSERT_EQ(p.stages.size(), 2u);
  EXPECT_EQ(p.global_args.size(), 1u);
  EXPECT_EQ(p.stages[0].name, "one");
  EXPECT_EQ(p.stages[0].base, "busybox:2");  // FROM sees the global ARGs
  EXPECT_EQ(p.stages[0].first, 1u);
  EXPECT_EQ(p.stages[0].last, 4u);
  EXPECT_EQ(p.stages[1].base, "one");
  EXPECT_EQ(p.build, (std::vector<std::size_t>{0, 1}));
  EXPECT_NE(error_of([] { plan_build(parse_dockerfile("ENV a=b\nFROM busybox\n"), ""); }).find("line 1: no build stage"),
            std::string::npos);
  EXPECT_NE(error_of([] { plan_build(parse_dockerfile("FROM a b\n"), ""); }).find("FROM requires either one or three arguments"),
            std::string::npos);
}

TEST(BuilderArgs, GlobalArgsTakeBuildArgsOverDefaults) {
  auto df = parse_dockerfile("ARG A=1\nARG B=${A}x\nARG C\nARG D\nFROM busybox\n");
  Plan p = plan_build(df, "");
  EXPECT_EQ(global_arg_env(p.global_args, {}), (std::vector<std::string>{"A=1", "B=1x"}));
  EXPECT_EQ(global_arg_env(p.global_args, {{"A", "2"}, {"C", "c"}}), (std::vector<std::string>{"A=2", "B=2x", "C=c"}));
  EXPECT_EQ(global_arg_env(p.global_args, {{"B", "b"}, {"B", "last"}}), (std::vector<std::string>{"A=1", "B=last"}));
}

TEST(BuilderCache, KeysDependOnEveryPartAndItsBoundaries) {
  EXPECT_EQ(cache_key({"a", "b"}), cache_key({"a", "b"}));
  EXPECT_NE(cache_key({"ab", "c"}), cache_key({"a", "bc"}));
  EXPECT_NE(cache_key({"run", "sha256:1", "RUN x"}), cache_key({"run", "sha256:2", "RUN x"}));
  EXPECT_EQ(cache_key({"x"}).size(), 64u);
}

TEST(BuilderCache, EntriesSurviveAndAMissingImageIsAMiss) {
  Scratch s;
  ImageStore images(s.path);
  std::string key = cache_key({"k"});
  {
    BuildCache cache(s.path);
    EXPECT_FALSE(cache.lookup(images, key));
    cache.put({key, "sha256:parent", "sha256:child"});
  }
  BuildCache again(s.path);  // another invocation reads the same entries
  ASSERT_EQ(again.entries().size(), 1u);
  EXPECT_EQ(again.entries()[0].image, "sha256:child");
  EXPECT_EQ(again.parents(), (std::set<std::string>{"sha256:parent"}));
  EXPECT_FALSE(again.lookup(images, key));  // the store has no such image
  EXPECT_EQ(again.prune(images, /*stale_only=*/true).size(), 1u);
  EXPECT_TRUE(again.entries().empty());
  EXPECT_THROW(again.put({"../x", "", "sha256:y"}), Error);
}

TEST(BuilderConfig, EnvSeesTheEnvironmentFromBeforeIt) {
  json c = apply_all("ENV a=1\nENV a=2 b=$a\nENV legacy value with spaces\n");
  EXPECT_EQ(c["Env"], json({"a=2", "b=1", "legacy=value with spaces"}));
}

TEST(BuilderConfig, ArgsExpandButEnvWins) {
  json c = apply_all("ENV X=env\nLABEL x=$X y=${Y:-none} z=$Z\n", json::object(), {"X=arg", "Z=zarg"});
  EXPECT_EQ(c["Labels"], json({{"x", "env"}, {"y", "none"}, {"z", "zarg"}}));
}

TEST(BuilderConfig, CmdEntrypointShell) {
  json c = apply_all("CMD echo hi\n");
  EXPECT_EQ(c["Cmd"], json({"/bin/sh", "-c", "echo hi"}));
  c = apply_all("SHELL [\"/bin/bash\", \"-ec\"]\nCMD echo hi\nENTRYPOINT [\"/e\"]\n");
  EXPECT_EQ(c["Cmd"], json({"/bin/bash", "-ec", "echo hi"}));  // set in this stage: kept
  EXPECT_EQ(c["Entrypoint"], json({"/e"}));
  EXPECT_EQ(c["Shell"], json({"/bin/bash", "-ec"}));
  c = apply_all("ENTRYPOINT /e\n", {{"Cmd", {"sh"}}});
  EXPECT_TRUE(c["Cmd"].is_null());  // the inherited CMD goes
  EXPECT_EQ(c["Entrypoint"], json({"/bin/sh", "-c", "/e"}));
}

TEST(BuilderConfig, WorkdirUserExposeVolumeStopsignal) {
  json c = apply_all("WORKDIR /a\nWORKDIR b/../c\nUSER ${U}:grp\nEXPOSE 80 53/udp 8000-8001\nVOLUME /v [\"/w\"]\nVOLUME [\"/x\", \"/y\"]\nSTOPSIGNAL SIGINT\n",
                     json::object(), {"U=app"});
  EXPECT_EQ(c["WorkingDir"], "/a/c");
  EXPECT_EQ(c["User"], "app:grp");
  EXPECT_EQ(c["ExposedPorts"], json({{"80/tcp", json::object()}, {"53/udp", json::object()},
                                     {"8000/tcp", json::object()}, {"8001/tcp", json::object()}}));
  EXPECT_TRUE(c["Volumes"].contains("/x"));
  EXPECT_TRUE(c["Volumes"].contains("/y"));
  EXPECT_TRUE(c["Volumes"].contains("/v"));
  EXPECT_EQ(c["StopSignal"], "SIGINT");
  EXPECT_EQ(error_of([] { apply_all("STOPSIGNAL NOPE\n"); }), "Invalid signal: NOPE");
}

TEST(BuilderConfig, HealthcheckStoredAsDocker) {
  json c = apply_all("HEALTHCHECK --interval=5s --timeout=2s --start-period=1m --retries=4 CMD curl -f http://x/ || exit 1\n");
  EXPECT_EQ(c["Healthcheck"], json({{"Test", {"CMD-SHELL", "curl -f http://x/ || exit 1"}},
                                    {"Interval", 5'000'000'000LL},
                                    {"Timeout", 2'000'000'000LL},
                                    {"StartPeriod", 60'000'000'000LL},
                                    {"Retries", 4}}));
  c = apply_all("HEALTHCHECK CMD [\"/bin/check\", \"-q\"]\n");
  EXPECT_EQ(c["Healthcheck"], json({{"Test", {"CMD", "/bin/check", "-q"}}}));
  c = apply_all("HEALTHCHECK NONE\n");
  EXPECT_EQ(c["Healthcheck"], json({{"Test", {"NONE"}}}));
  EXPECT_NE(error_of([] { apply_all("HEALTHCHECK WHAT x\n"); }).find("Unknown type \"WHAT\" in HEALTHCHECK"), std::string::npos);
}

TEST(BuilderConfig, OnbuildStoredAsWritten) {
  json c = apply_all("ONBUILD run echo $HOME\nONBUILD COPY . /app\n");
  EXPECT_EQ(c["OnBuild"], json({"run echo $HOME", "COPY . /app"}));  // as written: expanded when triggered
  EXPECT_NE(error_of([] { apply_all("ONBUILD ONBUILD RUN x\n"); }).find("Chaining ONBUILD"), std::string::npos);
  EXPECT_NE(error_of([] { apply_all("ONBUILD FROM x\n"); }).find("isn't allowed as an ONBUILD trigger"), std::string::npos);
}

TEST(BuilderConfig, MaintainerSetsTheAuthor) {
  StageFlags flags;
  json c = json::object();
  for (const auto& ins : parse_dockerfile("MAINTAINER Jane <j@x>\n").instructions) apply_instruction(c, ins, {}, '\\', flags);
  EXPECT_EQ(flags.author, "Jane <j@x>");
}
