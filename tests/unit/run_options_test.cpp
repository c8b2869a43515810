// run's flag parsers with Docker's rules and wording: --mount, --expose, --label/--label-file, --cpuset-cpus.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "cppcker/runtime/options.hpp"
#include "cppcker/runtime/volume.hpp"
#include "cppcker/util/error.hpp"

using namespace cppcker;

namespace {

// The message of the Error `f` throws (and that it is exit code 125); "" when it throws nothing.
template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 125) << e.what();
    return e.what();
  }
  return "";
}

}  // namespace

TEST(MountFlag, BindVolumeAndTmpfsAsDockerParsesThem) {
  MountSpec bind = parse_mount_flag("type=bind,source=/tmp/,target=/data/,readonly,bind-propagation=rslave");
  EXPECT_EQ(bind.type, "bind");
  EXPECT_EQ(bind.source, "/tmp");
  EXPECT_EQ(bind.target, "/data");
  EXPECT_TRUE(bind.readonly);
  EXPECT_EQ(bind.propagation, "rslave");

  MountSpec named = parse_mount_flag("src=cache,dst=/c,volume-nocopy,ro=false");  // type defaults to volume
  EXPECT_EQ(named.type, "volume");
  EXPECT_EQ(named.source, "cache");
  EXPECT_FALSE(named.anonymous);
  EXPECT_FALSE(named.readonly);
  MountSpec anonymous = parse_mount_flag("type=volume,destination=/anon");
  EXPECT_TRUE(anonymous.anonymous);

  MountSpec tmpfs = parse_mount_flag("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770,readonly=true");
  EXPECT_EQ(tmpfs.type, "tmpfs");
  EXPECT_EQ(tmpfs.options, "ro,size=1048576,mode=1770");

  // A quoted CSV field may hold a comma.
  EXPECT_EQ(parse_mount_flag("type=tmpfs,\"target=/a,b\"").target, "/a,b");
  // The record keeps the propagation.
  EXPECT_EQ(MountSpec::from_json(bind.to_json()).propagation, "rslave");
}

TEST(MountFlag, ErrorsHaveDockersWording) {
  const std::string prefix = "invalid argument \"";
  struct Case {
    const char* value;
    std::string error;
  };
  for (const auto& c : std::vector<Case>{
           {"type=bind", "invalid argument \"type=bind\" for \"--mount\" flag: target is required"},
           {"type=,target=/x", "type is required"},
           {"target=/x,bogus", "invalid field 'bogus' must be a key=value pair"},
           {"target=/x,color=red", "unexpected key 'color' in 'color=red'"},
           {"target=/x,readonly=maybe", "invalid value for readonly: maybe"},
           {"type=tmpfs,target=/x,tmpfs-mode=9", "invalid value for tmpfs-mode: 9"},
           {"type=tmpfs,target=/x,tmpfs-size=lots", "invalid value for tmpfs-size: lots"},
           {"type=tmpfs,target=/x,volume-nocopy", "cannot mix 'volume-*' options with mount type 'tmpfs'"},
           {"type=volume,target=/x,bind-propagation=shared", "cannot mix 'bind-*' options with mount type 'volume'"},
           {"type=bind,source=/tmp,target=/x,tmpfs-size=1m", "cannot mix 'tmpfs-*' options with mount type 'bind'"},
           {"type=nfs,target=/x", "invalid mount config for type \"nfs\": mount type unknown"},
           {"type=bind,target=/x", "invalid mount config for type \"bind\": field Source must not be empty"},
           {"type=bind,source=/nonexistent-cppcker-dir,target=/x",
            "invalid mount config for type \"bind\": bind source path does not exist: /nonexistent-cppcker-dir"},
           {"type=bind,source=/tmp,target=rel", "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute"},
           {"type=bind,source=/tmp,target=/x,bind-propagation=bogus", "invalid propagation mode: bogus"},
           {"type=tmpfs,source=x,target=/x", "invalid mount config for type \"tmpfs\": field Source must not be specified"},
           {"type=volume,source=a/b,target=/x", "\"a/b\" includes invalid characters for a local volume name"},
       }) {
    std::string what = error_of([&] { parse_mount_flag(c.value); });
    EXPECT_NE(what.find(c.error), std::string::npos) << c.value << ": " << what;
  }
}

TEST(ExposeFlag, PortsRangesAndDockersErrors) {
  EXPECT_EQ(parse_expose({"80", "53/udp", "8000-8002/tcp", "80/tcp"}),
            (std::vector<std::string>{"80/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp"}));
  EXPECT_EQ(error_of([] { parse_expose({"xyz"}); }),
            "invalid range format for --expose: xyz, error: strconv.ParseUint: parsing \"xyz\": invalid syntax");
  EXPECT_EQ(error_of([] { parse_expose({"80000"}); }),
            "invalid range format for --expose: 80000, error: strconv.ParseUint: parsing \"80000\": value out of range");
  EXPECT_EQ(error_of([] { parse_expose({"8080:80"}); }), "invalid port format for --expose: 8080:80");
  EXPECT_EQ(error_of([] { parse_expose({"/tcp"}); }),
            "invalid range format for --expose: /tcp, error: Empty string specified for ports.");
}

TEST(LabelFlags, FileThenFlagsLaterWins) {
  char dir_template[] = "/tmp/cppcker-labels-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string file = std::string(dir_template) + "/labels";
  std::ofstream(file) << "# a comment\n\n  com.example.a=from-file\nflag-only\ncom.example.b=x=y\r\n";
  auto labels = parse_labels({file}, {"com.example.a=from-flag", "empty="});
  std::map<std::string, std::string> expected = {
      {"com.example.a", "from-flag"}, {"com.example.b", "x=y"}, {"flag-only", ""}, {"empty", ""}};
  EXPECT_EQ(labels, expected);
  std::ofstream(file) << "bad key=1\n";
  EXPECT_EQ(error_of([&] { parse_labels({file}, {}); }), "variable 'bad key' contains whitespaces");
  EXPECT_EQ(error_of([&] { parse_labels({std::string(dir_template) + "/nosuch"}, {}); }),
            "open " + std::string(dir_template) + "/nosuch: no such file or directory");
  EXPECT_EQ(error_of([] { parse_labels({}, {"=v"}); }), "invalid label '=v': empty name");
  ::unlink(file.c_str());
  ::rmdir(dir_template);
}

TEST(CpusetCpus, CheckedAgainstTheOnlineList) {
  EXPECT_EQ(error_of([] { check_cpuset_cpus("0-1", "0-3"); }), "");
  EXPECT_EQ(error_of([] { check_cpuset_cpus("0,2", "0-1,2"); }), "");
  EXPECT_EQ(error_of([] { check_cpuset_cpus("99", "0-1"); }), "Requested CPUs are not available - requested 99, available: 0-1");
  EXPECT_EQ(error_of([] { check_cpuset_cpus("1-3", "0-1"); }), "Requested CPUs are not available - requested 1-3, available: 0-1");
  EXPECT_EQ(error_of([] { check_cpuset_cpus("a-b", "0-1"); }), "Invalid value a-b for cpuset cpus");
  EXPECT_EQ(error_of([] { check_cpuset_cpus("3-1", "0-3"); }), "Invalid value 3-1 for cpuset cpus");
  EXPECT_FALSE(online_cpus().empty());
}

TEST(MergeEnv, LaterWinsByKeyInBaseOrder) {
  EXPECT_EQ(merge_env({"A=1", "B=2", "A=3"}, {"A=x", "C=1", "C=2", "D"}),
            (std::vector<std::string>{"A=x", "B=2", "A=x", "C=2", "D"}));
  std::vector<std::string> many;
  for (int i = 0; i < 20000; ++i) many.push_back("V" + std::to_string(i) + "=" + std::to_string(i));
  auto merged = merge_env({"PATH=/bin", "V7=old"}, many);  // linear: this takes milliseconds
  ASSERT_EQ(merged.size(), 20001u);
  EXPECT_EQ(merged[1], "V7=7");
  EXPECT_EQ(merged.back(), "V19999=19999");
}
