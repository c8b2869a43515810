#pragma once
// Containers on the real kernel: a busybox image built and loaded by the test, a private state root,
// and cgroups only below the test process's own cgroup (a relative --cgroup-parent per test).
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "cppcker/cgroup/cgroup.hpp"
#include "cppcker/network/nat.hpp"
#include "cppcker/network/netlink.hpp"
#include "cppcker/util/fs.hpp"
#include "cppcker/util/sha256.hpp"
#include "test_support.hpp"

namespace ts = testsupport;
namespace fs = std::filesystem;

// Busybox from Debian's busybox-static with a user "app" (1000:1000), as one layer.
inline const std::string& busybox_layer() {
  static const std::string tar = [] {
    std::vector<ts::Entry> entries = {ts::dir("bin"), ts::dir("etc"), ts::dir("tmp", 01777), ts::dir("home"),
                                      ts::dir("home/app", 0755, 1000, 1000), ts::dir("root", 0700)};
    entries.push_back(ts::file("bin/busybox", cppcker::read_file("/bin/busybox"), 0755));
    auto list = ts::run({"/bin/busybox", "--list"});
    std::istringstream applets(list.out);
    std::string a;
    while (applets >> a)
      if (a != "busybox") entries.push_back(ts::symlink("bin/" + a, "busybox"));
    entries.push_back(ts::file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"));
    entries.push_back(ts::file("etc/group", "root:x:0:\napp:x:1000:\nextra:x:2000:app\n"));
    return ts::make_tar(entries);
  }();
  return tar;
}

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "runtime tests need root";
    cpk_.root = tmp_.path / "root";
    cpk_.config = tmp_.path / "config.json";
    // A bridge, subnet and NAT table of this test's own; the machine's forwarding setting is put back.
    bridge_ = "cpkt" + cppcker::random_hex(4);
    nft_table_ = "cpkt_" + cppcker::random_hex(4);
    subnet_third_octet_ = static_cast<int>(std::stoul(cppcker::random_hex(1), nullptr, 16));
    std::ofstream(cpk_.config) << nlohmann::json{{"bridge", bridge_},
                                                 {"bip", "10.213." + std::to_string(subnet_third_octet_) + ".1/24"},
                                                 {"nft-table", nft_table_},
                                                 {"default-address-pools", {{{"base", "10.214.0.0/16"}, {"size", 24}}}}}
                                      .dump();
    ip_forward_ = cppcker::read_file("/proc/sys/net/ipv4/ip_forward");
    parent_ = "cppcker-test-" + cppcker::random_hex(4);
    load_image("img:latest", nlohmann::json{{"Cmd", {"sh"}}, {"Env", {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}}});
  }

  void TearDown() override {
    // Remove every container the test left, then check that nothing of theirs remains.
    auto ids = cpk_({"ps", "-aq", "--no-trunc"});
    std::istringstream in(ids.out);
    std::string id;
    while (in >> id) cpk_({"rm", "-f", id});
    for (const auto& dir : cgroup_dirs()) EXPECT_FALSE(fs::exists(dir)) << "cgroup left behind: " << dir;
    // Networks: what `network prune` removes, and by force whatever a failed test kept from it.
    cpk_({"network", "prune", "-f"});
    EXPECT_FALSE(link_exists(bridge_)) << "bridge left behind after network prune: " << bridge_;
    EXPECT_FALSE(cppcker::NatTable(nft_table_).exists()) << "nft table left behind: " << nft_table_;
    cppcker::Netlink().delete_link(bridge_);
    cppcker::NatTable(nft_table_).drop();
    std::ofstream("/proc/sys/net/ipv4/ip_forward") << ip_forward_;
    std::string mounts = cppcker::read_file("/proc/self/mountinfo");
    EXPECT_EQ(mounts.find(cpk_.root.string()), std::string::npos) << "a mount of the test is still there";
  }

  // Loads a one-layer busybox image whose config has `config` ("Cmd", "Entrypoint", "Env", ...).
  void load_image(const std::string& name, const nlohmann::json& config) {
    fs::path dir = tmp_.path / ("image-" + cppcker::random_hex(4));
    fs::create_directories(dir / "layer");
    std::ofstream(dir / "layer/layer.tar", std::ios::binary) << busybox_layer();
    nlohmann::json cfg = {{"architecture", cppcker::Platform::host().architecture},
                          {"os", "linux"},
                          {"created", "2024-01-01T00:00:00Z"},
                          {"config", config},
                          {"rootfs", {{"type", "layers"}, {"diff_ids", {cppcker::sha256_digest(busybox_layer())}}}}};
    std::ofstream(dir / "config.json") << cfg.dump();
    std::ofstream(dir / "manifest.json")
        << nlohmann::json::array({{{"Config", "config.json"}, {"RepoTags", {name}}, {"Layers", {"layer/layer.tar"}}}}).dump();
    auto r = cpk_({"load", "-i", dir.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // `cppcker run` with this test's cgroup parent.
  ts::CommandResult run(std::vector<std::string> args) const {
    args.insert(args.begin(), {"run", "--cgroup-parent", parent_});
    return cpk_(args);
  }
  std::vector<std::string> run_argv(std::vector<std::string> args) const {
    args.insert(args.begin(), {"run", "--cgroup-parent", parent_});
    return cpk_.argv(args);
  }

  nlohmann::json inspect(const std::string& name) const {
    auto r = cpk_({"inspect", name});
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_array() && !j.empty() ? j[0] : nlohmann::json::object();
  }
  // The container's record as cppcker keeps it, with what `inspect` does not show (the owner's pid, the
  // restart count, the health log); an empty object when there is none.
  nlohmann::json record(const std::string& id) const {
    auto text = cppcker::read_file_if_exists(cpk_.root / "containers" / id / "container.json");
    auto j = nlohmann::json::parse(text.value_or(""), nullptr, false);
    return j.is_discarded() ? nlohmann::json::object() : j;
  }

  // The directories of this test's cgroup parent in every hierarchy the host has.
  std::vector<fs::path> cgroup_dirs() const {
    std::vector<fs::path> out;
    for (const auto& h : cppcker::cgroup_hierarchies())
      out.push_back(h.dir / fs::path(cppcker::own_cgroup(h.key)).relative_path() / parent_);
    return out;
  }
  // A container's cgroup directory in the hierarchy of `controller` ("memory", "cpuacct"; "" for the
  // unified one, the only one on v2).
  fs::path container_cgroup(const std::string& controller, const std::string& id) const {
    const bool v2 = cppcker::detect_cgroup_mode() == cppcker::CgroupMode::v2;  // one hierarchy for all
    for (const auto& h : cppcker::cgroup_hierarchies()) {
      bool match = v2 || h.key == controller;
      std::istringstream parts(h.key);
      for (std::string c; !match && std::getline(parts, c, ',');) match = c == controller;
      if (match) return h.dir / fs::path(cppcker::own_cgroup(h.key)).relative_path() / parent_ / id;
    }
    ADD_FAILURE() << "no cgroup hierarchy has " << controller;
    return {};
  }

  static std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }

  template <typename F>
  static bool eventually(F f, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (f()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return f();
  }

  static bool link_exists(const std::string& name) { return fs::exists("/sys/class/net/" + name); }
  std::string subnet_prefix() const { return "10.213." + std::to_string(subnet_third_octet_) + "."; }

  ts::TempDir tmp_;
  ts::Cppcker cpk_;
  std::string parent_;
  std::string bridge_, nft_table_, ip_forward_;
  int subnet_third_octet_ = 0;
};
