// The runc-compatible command line through the real binary, for what the conformance suite does not cover:
// the two ways in (argv[0] `cppcker-runc`, `cppcker oci`), global flags and their errors, the log lines
// containerd and podman parse, and the list/state formats. Records of containers whose "process" is a
// child of the test are written through the store, so these run without images or namespaces.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cppcker/runtime/bundle_state.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/util/fs.hpp"
#include "cppcker/util/humanize.hpp"
#include "test_support.hpp"

namespace ts = testsupport;
namespace fs = std::filesystem;

namespace {

class OciCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    runc_ = tmp_.path / "cppcker-runc";
    fs::create_symlink(CPPCKER_BINARY, runc_);
    root_ = tmp_.path / "root";
  }
  void TearDown() override {
    for (pid_t pid : children_) ts::stop_process(pid, 100);
  }

  // cppcker-runc with this test's --root (unless `root` is false) and `args`.
  ts::CommandResult runc(std::vector<std::string> args, bool root = true) const {
    if (root) args.insert(args.begin(), {"--root", root_.string()});
    args.insert(args.begin(), runc_.string());
    return ts::run(args);
  }

  // A record for a "container" whose process is a sleeping child of the test.
  cppcker::BundleRecord add_container(const std::string& id, bool alive = true) {
    pid_t pid = ts::spawn({"/bin/sleep", "1000"}, tmp_.path / (id + ".log"));
    children_.push_back(pid);
    cppcker::BundleRecord r;
    r.id = id;
    r.bundle = tmp_.path / ("bundle-" + id);
    r.rootfs = r.bundle / "rootfs";
    r.pid = pid;
    // The start time is read before the test kills a "stopped" one: its pid must not count then.
    for (int i = 0; i < 100 && !(r.pid_start = cppcker::process_start_time(pid)); ++i) ::usleep(10000);
    r.created = cppcker::format_rfc3339(cppcker::now());
    r.owner = "root";
    r.create_finished = true;
    r.config = {{"ociVersion", "1.0.2"}, {"root", {{"path", "rootfs"}}}, {"process", {{"args", {"sh"}}, {"cwd", "/"}}}};
    if (id == "annotated") r.annotations = {{"io.example", "1"}};
    cppcker::BundleStore store(root_);
    { auto lock = store.create(r); }
    if (!alive) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      children_.pop_back();
    }
    return r;
  }

  ts::TempDir tmp_;
  fs::path runc_, root_;
  std::vector<pid_t> children_;
};

const std::regex kLogTime(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)");

TEST_F(OciCliTest, AnswersAsCppckerRuncAndAsCppckerOci) {
  auto v = runc({"--version"}, false);
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_TRUE(std::regex_match(v.out, std::regex("cppcker-runc version [0-9.]+\nspec: 1\\.1\\.0\n"))) << v.out;
  auto o = ts::run({CPPCKER_BINARY, "oci", "--version"});
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out.rfind("cppcker oci version ", 0), 0u) << o.out;

  add_container("one");
  auto a = runc({"list", "-q"});
  auto b = ts::run({CPPCKER_BINARY, "oci", "--root", root_.string(), "list", "-q"});
  EXPECT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(a.out, "one\n");
  EXPECT_EQ(b.out, a.out);
  // Go's flags: one dash is as good as two.
  auto single = ts::run({runc_.string(), "-root", root_.string(), "list", "-q"});
  EXPECT_EQ(single.out, "one\n") << single.err;
  // The Docker-style front end is still there under its own name, and does not list the runc commands.
  auto help = ts::run({CPPCKER_BINARY, "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_EQ(help.out.find("\n  oci "), std::string::npos);
}

TEST_F(OciCliTest, UnknownCommandsAndFlagsExitOne) {
  auto cmd = runc({"frobnicate"});
  EXPECT_EQ(cmd.exit_code, 1);
  EXPECT_EQ(cmd.err, "No help topic for 'frobnicate'\n");
  auto global = runc({"--frob", "list"}, false);
  EXPECT_EQ(global.exit_code, 1);
  EXPECT_EQ(global.err, "flag provided but not defined: -frob\n");
  auto local = runc({"list", "--frob"});
  EXPECT_EQ(local.exit_code, 1);
  EXPECT_EQ(local.err, "flag provided but not defined: -frob\n");
  auto format = runc({"--log-format", "xml", "list"});
  EXPECT_EQ(format.exit_code, 1);
  EXPECT_NE(format.err.find("xml"), std::string::npos) << format.err;
  auto none = runc({}, false);
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_FALSE(fs::exists(root_)) << "a refused command made the state root";
}

TEST_F(OciCliTest, ArgumentCountsAsRunc) {
  auto state = runc({"state"});
  EXPECT_EQ(state.exit_code, 1);
  EXPECT_NE(state.err.find("cppcker-runc: \\\"state\\\" requires exactly 1 argument(s)"), std::string::npos) << state.err;
  auto kill = runc({"kill", "a", "b", "c"});
  EXPECT_EQ(kill.exit_code, 1);
  EXPECT_NE(kill.err.find("requires a maximum of 2 argument(s)"), std::string::npos) << kill.err;
  auto bad_id = runc({"state", "../x"});
  EXPECT_EQ(bad_id.exit_code, 1);
  EXPECT_NE(bad_id.err.find("invalid id format: ../x"), std::string::npos) << bad_id.err;
}

TEST_F(OciCliTest, SystemdCgroupIsRefusedClearly) {
  auto r = runc({"--systemd-cgroup", "list"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--systemd-cgroup is not supported"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("level=error"), std::string::npos) << r.err;
  // --rootless is accepted (cppcker-runc runs as root and says so in the debug log).
  auto rootless = runc({"--rootless", "true", "--debug", "list", "-q"});
  EXPECT_EQ(rootless.exit_code, 0) << rootless.err;
  EXPECT_NE(rootless.err.find("level=debug msg=\"--rootless=true has no effect"), std::string::npos) << rootless.err;
}

TEST_F(OciCliTest, ErrorsGoToTheLogAsLogrusLinesAndOnceToStderr) {
  // No --log: the log is stderr, and the error appears once, as logrus's text line.
  auto text = runc({"state", "nope"});
  EXPECT_EQ(text.exit_code, 1);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(text.err, m, std::regex("time=\"(.*)\" level=error msg=\"container does not exist\"\n")))
      << text.err;
  EXPECT_TRUE(std::regex_match(m[1].str(), kLogTime)) << m[1];

  // --log FILE --log-format json: one {"level","msg","time"} object per line in the file, the bare
  // message on stderr (what podman and containerd show when they cannot read the log).
  fs::path log = tmp_.path / "log.json";
  auto json = runc({"--log", log.string(), "--log-format", "json", "delete", "nope"});
  EXPECT_EQ(json.exit_code, 1);
  EXPECT_EQ(json.err, "container does not exist\n");
  std::string lines = cppcker::read_file(log);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), '\n');
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 1);
  auto j = nlohmann::ordered_json::parse(lines);
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"level", "msg", "time"}));
  EXPECT_EQ(j["level"], "error");
  EXPECT_EQ(j["msg"], "container does not exist");
  EXPECT_TRUE(std::regex_match(j["time"].get<std::string>(), kLogTime));

  // The file is appended to, never truncated (containerd reads it after every call).
  runc({"--log", log.string(), "--log-format", "json", "kill", "nope"});
  lines = cppcker::read_file(log);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 2);
  // Quotes and newlines in a message stay one line.
  runc({"--log", log.string(), "state", "bad\"id"});
  std::string last = cppcker::read_file(log);
  last = last.substr(last.rfind('\n', last.size() - 2) + 1);
  EXPECT_NE(last.find(R"(msg="invalid id format: bad\"id")"), std::string::npos) << last;
}

TEST_F(OciCliTest, ListFormats) {
  auto empty_json = runc({"list", "--format", "json"});
  EXPECT_EQ(empty_json.exit_code, 0) << empty_json.err;
  EXPECT_EQ(empty_json.out, "null\n");  // runc encodes its nil slice
  auto empty_table = runc({"list"});
  EXPECT_EQ(empty_table.out, "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n");

  auto up = add_container("up");
  auto down = add_container("a-long-container-id", false);
  auto table = runc({"list"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  // Go's tabwriter as runc sets it: minimum width 12, padding 3, the last column unpadded.
  auto pad = [](std::string s, std::size_t w) { return s + std::string(w - s.size(), ' '); };
  std::size_t id_w = std::string("a-long-container-id").size() + 3;
  std::size_t pid_w = std::max<std::size_t>(12, std::to_string(up.pid).size() + 3);
  std::size_t bundle_w = std::max(up.bundle.string().size(), down.bundle.string().size()) + 3;
  std::size_t created_w = std::max(up.created.size(), down.created.size()) + 3;
  std::string expected = pad("ID", id_w) + pad("PID", pid_w) + pad("STATUS", 12) + pad("BUNDLE", bundle_w) +
                         pad("CREATED", created_w) + "OWNER\n" + pad(down.id, id_w) + pad("0", pid_w) +
                         pad("stopped", 12) + pad(down.bundle.string(), bundle_w) + pad(down.created, created_w) +
                         "root\n" + pad(up.id, id_w) + pad(std::to_string(up.pid), pid_w) + pad("running", 12) +
                         pad(up.bundle.string(), bundle_w) + pad(up.created, created_w) + "root\n";
  EXPECT_EQ(table.out, expected);

  auto json = runc({"list", "-f", "json"});
  auto j = nlohmann::ordered_json::parse(json.out);
  ASSERT_EQ(j.size(), 2u);
  std::vector<std::string> keys;
  for (auto it = j[1].begin(); it != j[1].end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner"}));
  EXPECT_EQ(j[1]["status"], "running");
  EXPECT_EQ(j[1]["pid"], up.pid);
  EXPECT_EQ(j[0]["status"], "stopped");
  EXPECT_EQ(j[0]["pid"], 0);
  EXPECT_EQ(runc({"list", "-q"}).out, "a-long-container-id\nup\n");
}

TEST_F(OciCliTest, StateFormat) {
  auto c = add_container("annotated");
  auto r = runc({"state", "annotated"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string expected = "{\n"
                         "  \"ociVersion\": \"1.0.2\",\n"
                         "  \"id\": \"annotated\",\n"
                         "  \"pid\": " + std::to_string(c.pid) + ",\n"
                         "  \"status\": \"running\",\n"
                         "  \"bundle\": \"" + c.bundle.string() + "\",\n"
                         "  \"rootfs\": \"" + c.rootfs.string() + "\",\n"
                         "  \"created\": \"" + c.created + "\",\n"
                         "  \"owner\": \"root\",\n"
                         "  \"annotations\": {\n"
                         "    \"io.example\": \"1\"\n"
                         "  }\n"
                         "}\n";
  EXPECT_EQ(r.out, expected);
}

TEST_F(OciCliTest, KillAndDeleteFollowTheDerivedStatus) {
  auto c = add_container("k");
  auto busy = runc({"delete", "k"});
  EXPECT_EQ(busy.exit_code, 1);
  EXPECT_NE(busy.err.find("cannot delete container k that is not stopped: running"), std::string::npos) << busy.err;
  auto bad_signal = runc({"kill", "k", "NOSUCH"});
  EXPECT_EQ(bad_signal.exit_code, 1);

  auto usr1 = runc({"kill", "k", "10"});  // numbers as containerd passes them; SIGUSR1 ends sleep
  EXPECT_EQ(usr1.exit_code, 0) << usr1.err;
  int status = 0;
  ASSERT_EQ(::waitpid(c.pid, &status, 0), c.pid);
  children_.clear();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGUSR1) << status;

  EXPECT_NE(runc({"state", "k"}).out.find("\"status\": \"stopped\""), std::string::npos);
  auto stopped = runc({"kill", "k", "SIGKILL"});
  EXPECT_EQ(stopped.exit_code, 1);
  EXPECT_NE(stopped.err.find("container not running"), std::string::npos) << stopped.err;

  auto del = runc({"delete", "k"});
  EXPECT_EQ(del.exit_code, 0) << del.err;
  EXPECT_FALSE(fs::exists(root_ / "k"));
  auto again = runc({"delete", "k"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("container does not exist"), std::string::npos);
  EXPECT_EQ(runc({"delete", "--force", "k"}).exit_code, 0);  // runc: --force of a missing one is no error

  // kill's default is SIGTERM; delete --force ends a running one with SIGKILL.
  auto t = add_container("t");
  EXPECT_EQ(runc({"kill", "t"}).exit_code, 0);
  ASSERT_EQ(::waitpid(t.pid, &status, 0), t.pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;
  children_.clear();
  auto f = add_container("f");
  std::thread reaper([&] { ::waitpid(f.pid, &status, 0); });
  auto forced = runc({"delete", "-f", "f"});
  reaper.join();
  children_.clear();
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  EXPECT_EQ(runc({"list", "-q"}).out, "t\n");  // stopped, not deleted yet
  EXPECT_EQ(runc({"delete", "t"}).exit_code, 0);
  EXPECT_EQ(runc({"list", "-q"}).out, "");
}

TEST_F(OciCliTest, ReusedPidIsNeverSignalled) {
  auto c = add_container("reused");
  // The record now names another process start at the same pid: the container is stopped, and the live
  // process at that pid gets nothing.
  cppcker::BundleStore store(root_);
  auto r = store.get("reused");
  r.pid_start += 1;
  {
    auto lock = store.lock("reused");
    store.save(r);
  }
  auto kill = runc({"kill", "reused", "KILL"});
  EXPECT_EQ(kill.exit_code, 1);
  EXPECT_TRUE(cppcker::process_alive(c.pid, c.pid_start));
  EXPECT_NE(runc({"state", "reused"}).out.find("\"pid\": 0"), std::string::npos);
}

}  // namespace
