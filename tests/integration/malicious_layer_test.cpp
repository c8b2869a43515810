// Layers that try to write outside their directory must fail the pull and write nothing outside.
#include <sys/stat.h>

#include "fixture.hpp"

using cppcker::Compression;
using ts::dir;
using ts::file;

struct MaliciousCase {
  const char* name;
  std::vector<ts::Entry> (*entries)(const std::string& victim);
  const char* error;
};

class MaliciousLayerTest : public RegistryTest, public ::testing::WithParamInterface<MaliciousCase> {};

TEST_P(MaliciousLayerTest, PullFailsAndNothingEscapes) {
  const auto& c = GetParam();
  fs::path victim = tmp_.path / "victim";
  fs::create_directories(victim);
  auto entries = c.entries(victim.string());
  auto image = ts::build_image({{ts::make_tar(entries), Compression::gzip}}, true, host_platform());
  ts::push_image(reg(), repo(), "latest", image);
  auto r = cpk_({"pull", reg() + "/" + repo()});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find(c.error), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(victim)) << "something was written outside the layer";
  EXPECT_TRUE(committed_layers().empty());
  EXPECT_EQ(cpk_({"images", "-q"}).out, "");
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MaliciousLayerTest,
    ::testing::Values(
        MaliciousCase{"DotDotEntry",
                      [](const std::string& v) { return std::vector<ts::Entry>{file("../../../../../../" + v + "/pwned", "x")}; },
                      "points outside the layer"},
        MaliciousCase{"RelativeSymlinkOut",
                      [](const std::string&) { return std::vector<ts::Entry>{dir("a"), ts::symlink("a/up", "../../../../..")}; },
                      "points outside the layer"},
        MaliciousCase{"HardlinkOut",
                      [](const std::string&) { return std::vector<ts::Entry>{ts::hardlink("passwd", "../../../../etc/passwd")}; },
                      "points outside the layer"},
        MaliciousCase{"WhiteoutOut",
                      [](const std::string& v) { return std::vector<ts::Entry>{file("../../../../../" + v + "/.wh.x", "")}; },
                      "points outside the layer"},
        MaliciousCase{"WriteThroughAbsoluteSymlink",
                      // The link is resolved inside the layer root, where the victim's path does not
                      // exist: the write fails (as under Docker's chrooted unpack) and lands nowhere.
                      [](const std::string& v) {
                        return std::vector<ts::Entry>{ts::symlink("host", v), file("host/pwned", "x")};
                      },
                      "open directory host: No such file or directory"},
        MaliciousCase{"EmptyWhiteoutName", [](const std::string&) { return std::vector<ts::Entry>{file("d/.wh.", "")}; },
                      "invalid whiteout"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(RegistryTest, AbsoluteSymlinksResolveInsideTheLayer) {
  fs::path victim = tmp_.path / "victim2";
  fs::create_directories(victim);
  // "host" names the victim's absolute path; inside the layer that path exists too, so the write through
  // the link lands in the layer's copy.
  std::vector<ts::Entry> entries;
  std::string inside;
  for (const auto& part : victim.relative_path()) {
    inside += (inside.empty() ? "" : "/") + part.string();
    entries.push_back(dir(inside));
  }
  entries.push_back(ts::symlink("host", victim.string()));
  entries.push_back(file("host/inside", "stays in the layer"));
  auto image = ts::build_image({{ts::make_tar(entries), Compression::gzip}}, true, host_platform());
  ts::push_image(reg(), repo(), "latest", image);
  auto r = cpk_({"pull", reg() + "/" + repo()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_empty(victim));
  auto layer = layer_dirs(reg() + "/" + repo())[0];
  struct stat st{};
  EXPECT_EQ(::lstat((layer + victim.string() + "/inside").c_str(), &st), 0) << "written under the layer root instead";
}
