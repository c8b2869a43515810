// Restart policies, health checks, `restart` and `logs --since/--until` on the real kernel. The
// monitor (there is no daemon) carries out the policy and runs the probes; these tests read its record.
#include <signal.h>
#include <sys/file.h>

#include "runtime_fixture.hpp"

class RestartHealthTest : public RuntimeTest {
 protected:
  std::string status_of(const std::string& id) const { return record(id)["state"].value("status", ""); }
  std::string ps_status(const std::string& id) const {
    auto r = cpk_({"ps", "-a", "--no-trunc"});
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);)
      if (line.rfind(id, 0) == 0) return line;
    return "";
  }
  // Whether anyone holds the container's owner lock (a monitor, or a foreground run).
  bool owned(const std::string& id) const {
    int fd = ::open((cpk_.root / "containers" / id / "owner.lock").c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return false;
    bool busy = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
    ::close(fd);
    return busy;
  }
  static int count(const std::string& text, const std::string& what) {
    int n = 0;
    for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
    return n;
  }
};

TEST_F(RestartHealthTest, OnFailureRestartsUpToItsMaximum) {
  auto started = run({"-d", "--restart", "on-failure:3", "img", "sh", "-c", "echo run; exit 1"});
  ASSERT_EQ(started.exit_code, 0) << started.err;
  std::string id = trim(started.out);
  ASSERT_TRUE(eventually([&] { return status_of(id) == "exited" && !owned(id); }, std::chrono::seconds(30)))
      << record(id).dump();
  auto state = record(id)["state"];
  EXPECT_EQ(state["restart_count"], 3);
  EXPECT_EQ(state["exit_code"], 1);
  EXPECT_EQ(count(cpk_({"logs", id}).out, "run\n"), 4);  // the first run and three restarts, one log
  EXPECT_NE(ps_status(id).find("Exited (1)"), std::string::npos) << ps_status(id);
  // Success ends on-failure at once.
  std::string ok = trim(run({"-d", "--restart", "on-failure", "img", "true"}).out);
  ASSERT_TRUE(eventually([&] { return status_of(ok) == "exited" && !owned(ok); }));
  EXPECT_EQ(record(ok)["state"]["restart_count"], 0);
}

TEST_F(RestartHealthTest, AlwaysRestartsUntilTheUserStopsIt) {
  std::string id = trim(run({"-d", "--restart", "always", "img", "sh", "-c", "sleep 0.3; exit 2"}).out);
  ASSERT_EQ(id.size(), 64u);
  // Between runs it waits out the back-off, as Docker shows it.
  EXPECT_TRUE(eventually([&] { return ps_status(id).find("Restarting (2)") != std::string::npos; }, std::chrono::seconds(20)));
  ASSERT_TRUE(eventually([&] { return record(id)["state"]["restart_count"].get<int>() >= 2; }, std::chrono::seconds(20)));
  auto stop = cpk_({"stop", "-t", "1", id});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_FALSE(owned(id));  // stop returned after the monitor ended
  auto after_stop = record(id)["state"];
  EXPECT_EQ(after_stop["status"], "exited");
  EXPECT_TRUE(after_stop["stopped_by_user"].get<bool>());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(record(id)["state"]["restart_count"], after_stop["restart_count"]);
  EXPECT_EQ(status_of(id), "exited");

  // A running one: stop's signal does not bring it back either; a new start resets the mark.
  std::string svc = trim(run({"-d", "--restart", "always", "img", "sleep", "100"}).out);
  EXPECT_EQ(cpk_({"stop", "-t", "0", svc}).exit_code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(status_of(svc), "exited");
  EXPECT_EQ(record(svc)["state"]["exit_code"], 137);
  EXPECT_EQ(record(svc)["state"]["restart_count"], 0);
  EXPECT_EQ(cpk_({"start", svc}).exit_code, 0);
  EXPECT_FALSE(record(svc)["state"]["stopped_by_user"].get<bool>());
  EXPECT_EQ(status_of(svc), "running");
  // kill ends the policy as stop does.
  EXPECT_EQ(cpk_({"kill", svc}).exit_code, 0);
  ASSERT_TRUE(eventually([&] { return status_of(svc) == "exited" && !owned(svc); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(status_of(svc), "exited");
  EXPECT_EQ(record(svc)["state"]["restart_count"], 0);
}

TEST_F(RestartHealthTest, ForceRemoveWhileRestarting) {
  std::string id = trim(run({"-d", "--restart", "always", "img", "sh", "-c", "exit 1"}).out);
  ASSERT_TRUE(eventually([&] { return record(id)["state"]["restart_count"].get<int>() >= 3; }, std::chrono::seconds(20)));
  auto rm = cpk_({"rm", "-f", id});
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_FALSE(fs::exists(cpk_.root / "containers" / id));
}

TEST_F(RestartHealthTest, KilledMonitorMeansNoSecondRestarter) {
  std::string id = trim(run({"-d", "--restart", "always", "img", "sh", "-c", "sleep 1; exit 1"}).out);
  ASSERT_EQ(status_of(id), "running");
  auto state = record(id)["state"];
  const pid_t monitor = state["monitor_pid"].get<pid_t>(), pid = state["pid"].get<pid_t>();
  ASSERT_GT(monitor, 1);
  ASSERT_EQ(::kill(monitor, SIGKILL), 0);
  // The container ends on its own; nobody restarts it, and nobody else takes it over.
  EXPECT_TRUE(eventually([&] { return ps_status(id).find("Exited (137)") != std::string::npos; })) << ps_status(id);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto later = record(id)["state"];
  EXPECT_EQ(later["restart_count"], 0);
  EXPECT_EQ(later["monitor_pid"], monitor);
  EXPECT_EQ(later["pid"], pid);
  EXPECT_FALSE(owned(id));

  // Killed while waiting to restart: "exited" as observed, with its last exit code.
  std::string other = trim(run({"-d", "--restart", "always", "img", "sh", "-c", "exit 4"}).out);
  ASSERT_TRUE(eventually([&] { return record(other)["state"]["restart_count"].get<int>() >= 4; }, std::chrono::seconds(30)));
  ASSERT_TRUE(eventually([&] { return status_of(other) == "restarting"; }, std::chrono::seconds(10)));
  const int count_then = record(other)["state"]["restart_count"];
  ASSERT_EQ(::kill(record(other)["state"]["monitor_pid"].get<pid_t>(), SIGKILL), 0);
  EXPECT_TRUE(eventually([&] { return ps_status(other).find("Exited (4)") != std::string::npos; })) << ps_status(other);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(record(other)["state"]["restart_count"], count_then);
  EXPECT_FALSE(owned(other));
}

TEST_F(RestartHealthTest, ARestartKeepsTheAddressOnTheBridge) {
  // `first` takes the lowest address; the restarted container's is higher. Once `first` is gone, the
  // lowest is free again, yet the restart asks for (and gets) the address it had.
  std::string first = trim(run({"-d", "img", "sleep", "100"}).out);
  ASSERT_EQ(status_of(first), "running");
  std::string id = trim(run({"-d", "--restart", "on-failure:1", "img", "sh", "-c",
                             "ip -4 addr show eth0 | grep inet; sleep 3; exit 1"}).out);
  ASSERT_EQ(status_of(id), "running");
  std::string address = record(id)["state"]["net"]["address"];
  EXPECT_EQ(cpk_({"rm", "-f", first}).exit_code, 0);
  ASSERT_TRUE(eventually([&] { return status_of(id) == "exited" && !owned(id); }, std::chrono::seconds(30)));
  EXPECT_EQ(record(id)["state"]["restart_count"], 1);
  std::string logs = cpk_({"logs", id}).out;
  EXPECT_EQ(count(logs, "inet " + address), 2) << logs << " (address " << address << ")";
  // Once it ended for good, its address is released.
  auto ipam = cppcker::read_file_if_exists(cpk_.root / "networks" / "bridge.ipam.json").value_or("{}");
  EXPECT_EQ(ipam.find(id), std::string::npos) << ipam;
}

TEST_F(RestartHealthTest, StopDuringTheBackOffGivesBackTheKeptAddressAndPort) {
  // Kept for the restart while it waits; given back when `stop` ends the policy there (not only at rm).
  const int port = ts::free_port();
  const std::string publish = "127.0.0.1:" + std::to_string(port) + ":80";
  std::string id = trim(run({"-d", "--restart", "always", "-p", publish, "img", "sh", "-c", "exit 3"}).out);
  ASSERT_EQ(id.size(), 64u);
  ASSERT_TRUE(eventually([&] { return record(id)["state"]["restart_count"].get<int>() >= 2; }, std::chrono::seconds(20)));
  ASSERT_EQ(cpk_({"stop", "-t", "1", id}).exit_code, 0);
  ASSERT_EQ(status_of(id), "exited");
  auto ipam = cppcker::read_file_if_exists(cpk_.root / "networks" / "bridge.ipam.json").value_or("{}");
  EXPECT_EQ(ipam.find(id), std::string::npos) << ipam;
  auto ports = cppcker::read_file_if_exists(cpk_.root / "networks" / "ports.json").value_or("[]");
  EXPECT_EQ(ports.find(id), std::string::npos) << ports;
  // The port is free for another container while the stopped one still exists.
  auto other = run({"-d", "-p", publish, "img", "sleep", "100"});
  EXPECT_EQ(other.exit_code, 0) << other.err;
}

TEST_F(RestartHealthTest, ForegroundRunReturnsTheFirstExitAndAMonitorTakesOver) {
  auto r = run({"--restart", "on-failure:2", "img", "sh", "-c", "echo attempt; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "attempt\n");
  auto ps = cpk_({"ps", "-aq", "--no-trunc"});
  std::string id = trim(ps.out);
  ASSERT_EQ(id.size(), 64u) << ps.out;
  ASSERT_TRUE(eventually([&] { return status_of(id) == "exited" && !owned(id); }, std::chrono::seconds(30)));
  EXPECT_EQ(record(id)["state"]["restart_count"], 2);
  EXPECT_EQ(count(cpk_({"logs", id}).out, "attempt\n"), 3);
}

TEST_F(RestartHealthTest, InvalidPoliciesAndConflictsCreateNothing) {
  auto conflict = run({"--rm", "--restart", "always", "img", "true"});
  EXPECT_EQ(conflict.exit_code, 125);
  EXPECT_NE(conflict.err.find("Conflicting options: --restart and --rm"), std::string::npos) << conflict.err;
  auto bad = run({"--restart", "sometimes", "img", "true"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_NE(bad.err.find("invalid restart policy 'sometimes'"), std::string::npos) << bad.err;
  auto count_with_always = run({"--restart", "always:2", "img", "true"});
  EXPECT_EQ(count_with_always.exit_code, 125);
  EXPECT_NE(count_with_always.err.find("maximum retry count cannot be used with restart policy 'always'"), std::string::npos);
  auto duration = run({"--health-cmd", "true", "--health-interval", "often", "img", "true"});
  EXPECT_EQ(duration.exit_code, 125);
  EXPECT_NE(duration.err.find("invalid argument \"often\" for \"--health-interval\" flag: time: invalid duration \"often\""),
            std::string::npos)
      << duration.err;
  auto none = run({"--no-healthcheck", "--health-cmd", "true", "img", "true"});
  EXPECT_EQ(none.exit_code, 125);
  EXPECT_NE(none.err.find("--no-healthcheck conflicts with --health-* options"), std::string::npos);
  EXPECT_EQ(cpk_({"ps", "-aq"}).out, "");
  EXPECT_EQ(run({"--rm", "--restart", "no", "img", "true"}).exit_code, 0);  // "no" is no policy
}

TEST_F(RestartHealthTest, RestartCommandStopsAndStartsAgain) {
  std::string id = trim(run({"-d", "--name", "again", "img", "sh", "-c", "echo start; sleep 100"}).out);
  const pid_t pid = record(id)["state"]["pid"];
  auto r = cpk_({"restart", "-t", "0", "again"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "again\n");
  EXPECT_EQ(status_of(id), "running");
  EXPECT_NE(record(id)["state"]["pid"], pid);
  EXPECT_TRUE(eventually([&] { return count(cpk_({"logs", "again"}).out, "start\n") == 2; }));
  // An exited one is simply started; an unknown one is an error, the others still done.
  EXPECT_EQ(cpk_({"stop", "-t", "0", "again"}).exit_code, 0);
  auto mixed = cpk_({"restart", "nosuch", "again"});
  EXPECT_EQ(mixed.exit_code, 1);
  EXPECT_EQ(mixed.out, "again\n");
  EXPECT_NE(mixed.err.find("No such container: nosuch"), std::string::npos);
  EXPECT_EQ(status_of(id), "running");
}

TEST_F(RestartHealthTest, HealthGoesHealthyUnhealthyHealthy) {
  // The probe looks for a file that the container's command makes, removes and makes again.
  std::string id = trim(run({"-d", "--health-cmd", "echo probed; test -f /tmp/ok", "--health-interval", "200ms",
                             "--health-retries", "2", "--health-timeout", "5s", "img", "sh", "-c",
                             "touch /tmp/ok; sleep 4; rm /tmp/ok; sleep 4; touch /tmp/ok; sleep 100"})
                         .out);
  ASSERT_EQ(id.size(), 64u);
  std::vector<std::string> seen;
  auto watch = [&](const std::string& wanted, std::chrono::seconds limit) {
    return eventually(
        [&] {
          std::string s = record(id)["state"]["health"].value("status", "");
          if (seen.empty() || seen.back() != s) seen.push_back(s);
          return s == wanted;
        },
        limit);
  };
  EXPECT_TRUE(watch("healthy", std::chrono::seconds(4)));
  EXPECT_NE(ps_status(id).find("(healthy)"), std::string::npos) << ps_status(id);
  EXPECT_TRUE(watch("unhealthy", std::chrono::seconds(8)));
  EXPECT_NE(ps_status(id).find("(unhealthy)"), std::string::npos) << ps_status(id);
  auto health = record(id)["state"]["health"];
  EXPECT_GE(health["failing_streak"].get<int>(), 2);
  ASSERT_FALSE(health["log"].empty());
  EXPECT_EQ(health["log"].back()["exit_code"], 1);
  EXPECT_EQ(health["log"].back()["output"], "probed\n");
  EXPECT_LE(health["log"].size(), 5u);
  EXPECT_TRUE(watch("healthy", std::chrono::seconds(8)));
  EXPECT_EQ(record(id)["state"]["health"]["failing_streak"], 0);
  ASSERT_GE(seen.size(), 3u);
  std::string joined;
  for (const auto& s : seen) joined += s + " ";
  EXPECT_NE(joined.find("healthy unhealthy healthy"), std::string::npos) << joined;
  // The prober ends with the container.
  EXPECT_EQ(cpk_({"stop", "-t", "0", id}).exit_code, 0);
  EXPECT_NE(ps_status(id).find("Exited (137)"), std::string::npos) << ps_status(id);
  EXPECT_EQ(ps_status(id).find("health"), std::string::npos);
}

TEST_F(RestartHealthTest, HealthStartingTimeoutAndTheImagesHealthcheck) {
  std::string slow = trim(run({"-d", "--health-cmd", "true", "--health-interval", "1h", "img", "sleep", "100"}).out);
  EXPECT_NE(ps_status(slow).find("(health: starting)"), std::string::npos) << ps_status(slow);

  std::string hung = trim(run({"-d", "--health-cmd", "sleep 30", "--health-timeout", "300ms", "--health-interval", "200ms",
                               "--health-retries", "1", "img", "sleep", "100"}).out);
  ASSERT_TRUE(eventually([&] { return record(hung)["state"]["health"]["status"] == "unhealthy"; }, std::chrono::seconds(15)));
  auto probe = record(hung)["state"]["health"]["log"].back();
  EXPECT_EQ(probe["exit_code"], -1);
  EXPECT_EQ(probe["output"], "Health check exceeded timeout (300ms)");

  load_image("checked:latest", nlohmann::json{{"Cmd", {"sleep", "100"}},
                                              {"Healthcheck", {{"Test", {"CMD", "true"}}, {"Interval", 200'000'000}}}});
  std::string from_image = trim(run({"-d", "checked"}).out);
  EXPECT_TRUE(eventually([&] { return record(from_image)["state"]["health"]["status"] == "healthy"; }, std::chrono::seconds(10)));
  // The flags override the image's field by field: its test, with a failing command of the user's.
  std::string overridden = trim(run({"-d", "--health-cmd", "false", "--health-retries", "1", "checked"}).out);
  EXPECT_TRUE(eventually([&] { return record(overridden)["state"]["health"]["status"] == "unhealthy"; }, std::chrono::seconds(10)));
  std::string disabled = trim(run({"-d", "--no-healthcheck", "checked"}).out);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(record(disabled)["state"]["health"]["status"], "");
  EXPECT_EQ(ps_status(disabled).find("health"), std::string::npos);
}

TEST_F(RestartHealthTest, LogsSinceAndUntil) {
  std::string id = trim(run({"-d", "img", "sh", "-c", "echo early; sleep 1.5; echo late; sleep 100"}).out);
  ASSERT_TRUE(eventually([&] { return cpk_({"logs", id}).out == "early\nlate\n"; }));
  auto stamped = cpk_({"logs", "-t", id}).out;
  std::istringstream lines(stamped);
  std::string early_time, late_time, text;
  lines >> early_time >> text >> late_time >> text;
  ASSERT_TRUE(std::regex_match(early_time, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z)"))) << stamped;
  EXPECT_EQ(cpk_({"logs", "--since", late_time, id}).out, "late\n");
  EXPECT_EQ(cpk_({"logs", "--until", early_time, id}).out, "early\n");
  EXPECT_EQ(cpk_({"logs", "--since", early_time, "--until", early_time, id}).out, "early\n");
  EXPECT_EQ(cpk_({"logs", "--since", "1h", id}).out, "early\nlate\n");
  EXPECT_EQ(cpk_({"logs", "--until", "1h", id}).out, "");
  EXPECT_EQ(cpk_({"logs", "--since", "0", id}).out, "early\nlate\n");
  // A Unix timestamp after both.
  auto future = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch()).count() + 60);
  EXPECT_EQ(cpk_({"logs", "--since", future, id}).out, "");
  EXPECT_EQ(cpk_({"logs", "--tail", "1", "--since", "1h", id}).out, "late\n");
  auto bad = cpk_({"logs", "--since", "yesterday", id});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("failed to parse value as time or duration: \"yesterday\""), std::string::npos) << bad.err;
  // -f with --until ends at --until even while the container runs.
  auto t0 = std::chrono::steady_clock::now();
  auto followed = cpk_({"logs", "-f", "--until=-1s", id});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  EXPECT_EQ(followed.out, "early\nlate\n");
}
