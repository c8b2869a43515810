#pragma once
// Shared fixture: one real docker-registry on 127.0.0.1 for the suite, a private state root per test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cppcker/image/manifest.hpp"
#include "test_support.hpp"

namespace ts = testsupport;
namespace fs = std::filesystem;

class RegistryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    registry_dir_ = std::make_unique<ts::TempDir>();
    registry_ = std::make_unique<ts::Registry>(registry_dir_->path);
  }
  static void TearDownTestSuite() {
    registry_.reset();
    registry_dir_.reset();
  }
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "integration tests need root (real mounts, owners, devices)";
    cpk_.root = tmp_.path / "root";
    cpk_.config = tmp_.path / "config.json";
    std::ofstream(cpk_.config) << "{}";
  }

  static std::string reg() { return registry_->host(); }
  // A repository name unique to the running test, so tests never see each other's images.
  std::string repo(const std::string& suffix = "") const {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::string out;
    for (char c : name) out += static_cast<char>(std::isupper(static_cast<unsigned char>(c)) ? std::tolower(c) : c);
    return "test/" + out + suffix;
  }

  nlohmann::json inspect(const std::string& image) const {
    auto r = cpk_({"inspect", image});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_array() && j.size() == 1) << r.out;
    return j.is_array() && !j.empty() ? j[0] : nlohmann::json::object();
  }
  // Layer directories of an image, bottom first.
  std::vector<std::string> layer_dirs(const std::string& image) const {
    auto data = inspect(image)["GraphDriver"]["Data"];
    std::vector<std::string> out;
    if (data.contains("LowerDir")) {
      std::string lower = data["LowerDir"];
      std::vector<std::string> parts;
      std::size_t pos = 0;
      while (true) {
        auto colon = lower.find(':', pos);
        parts.push_back(lower.substr(pos, colon - pos));
        if (colon == std::string::npos) break;
        pos = colon + 1;
      }
      out.assign(parts.rbegin(), parts.rend());
    }
    out.push_back(data["UpperDir"]);
    return out;
  }
  // Entries below the store root whose name marks a temporary: nothing may be left after a failure + GC.
  std::vector<std::string> committed_layers() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(cpk_.root / "layers", ec)) {
      std::string n = e.path().filename();
      if (n != ".locks" && n.find(".tmp-") == std::string::npos) out.push_back(n);
    }
    return out;
  }

  static inline std::unique_ptr<ts::TempDir> registry_dir_;
  static inline std::unique_ptr<ts::Registry> registry_;
  ts::TempDir tmp_;
  ts::Cppcker cpk_;
};

inline cppcker::Platform host_platform() { return cppcker::Platform::host(); }
