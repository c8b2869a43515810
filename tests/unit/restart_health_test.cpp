// Parsing and bookkeeping of restart policies, health checks and log time limits (no root, no processes).
#include <gtest/gtest.h>

#include "cppcker/runtime/health.hpp"
#include "cppcker/runtime/lifecycle.hpp"
#include "cppcker/runtime/restart.hpp"
#include "cppcker/util/error.hpp"

using namespace cppcker;
using namespace std::chrono_literals;

namespace {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return std::to_string(e.exit_code()) + " " + e.what();
  }
  return "no error";
}
}  // namespace

TEST(RestartPolicy, ParsesDockersForms) {
  EXPECT_EQ(parse_restart_policy("no").name, "no");
  EXPECT_EQ(parse_restart_policy("").name, "no");
  EXPECT_EQ(parse_restart_policy("always").name, "always");
  EXPECT_EQ(parse_restart_policy("unless-stopped").name, "unless-stopped");
  auto p = parse_restart_policy("on-failure:5");
  EXPECT_EQ(p.name, "on-failure");
  EXPECT_EQ(p.maximum_retry_count, 5);
  EXPECT_EQ(parse_restart_policy("on-failure").maximum_retry_count, 0);
}

TEST(RestartPolicy, RefusesWithDockersMessages) {
  EXPECT_EQ(error_of([] { parse_restart_policy("sometimes"); }), "125 invalid restart policy 'sometimes'");
  EXPECT_EQ(error_of([] { parse_restart_policy("always:3"); }),
            "125 maximum retry count cannot be used with restart policy 'always'");
  EXPECT_EQ(error_of([] { parse_restart_policy("no:1"); }), "125 maximum retry count cannot be used with restart policy 'no'");
  EXPECT_EQ(error_of([] { parse_restart_policy("on-failure:x"); }), "125 maximum retry count must be an integer");
  EXPECT_EQ(error_of([] { parse_restart_policy("on-failure:-1"); }), "125 maximum retry count cannot be negative");
  EXPECT_EQ(error_of([] { parse_restart_policy("on-failure:1:2"); }), "125 invalid restart policy format");
}

TEST(RestartManager, OnFailureCountsAndStopsAtTheMaximum) {
  RestartManager m(parse_restart_policy("on-failure:3"));
  EXPECT_FALSE(m.next(0, false, 1s));  // success is not a failure
  EXPECT_EQ(m.next(1, false, 1s), 200ms);  // the first call above already took 100 ms
  EXPECT_EQ(m.next(1, false, 1s), 400ms);
  EXPECT_EQ(m.next(1, false, 1s), 800ms);
  EXPECT_EQ(m.restarts(), 3);
  EXPECT_FALSE(m.next(1, false, 1s));
  EXPECT_EQ(m.restarts(), 3);
}

TEST(RestartManager, BackOffDoublesToAMinuteAndResetsAfterTenSeconds) {
  RestartManager m(parse_restart_policy("always"));
  std::vector<std::chrono::milliseconds> delays;
  for (int i = 0; i < 12; ++i) delays.push_back(*m.next(0, false, 0s));
  EXPECT_EQ(delays[0], 100ms);
  EXPECT_EQ(delays[1], 200ms);
  EXPECT_EQ(delays[9], 51200ms);
  EXPECT_EQ(delays[10], 60000ms);
  EXPECT_EQ(delays[11], 60000ms);
  EXPECT_EQ(m.next(0, false, 10s), 100ms);  // it ran long enough: the back-off starts over
  EXPECT_EQ(m.restarts(), 13);
}

TEST(RestartManager, GoesOnFromTheProgressAnEarlierPartLeft) {
  // A monitor re-execs itself between restarts: the next part must count on, not start over.
  RestartManager first(parse_restart_policy("on-failure:3"));
  EXPECT_EQ(first.next(1, false, 1s), 100ms);
  EXPECT_EQ(first.next(1, false, 1s), 200ms);
  RestartManager next(parse_restart_policy("on-failure:3"), first.progress());
  EXPECT_EQ(next.progress(), (RestartProgress{2, 200ms}));
  EXPECT_EQ(next.next(1, false, 1s), 400ms);
  EXPECT_FALSE(next.next(1, false, 1s));  // the third restart was the last
  EXPECT_EQ(next.restarts(), 3);
}

TEST(RestartManager, TheUsersStopEndsEveryPolicy) {
  for (const char* policy : {"always", "unless-stopped", "on-failure"}) {
    RestartManager m(parse_restart_policy(policy));
    EXPECT_FALSE(m.next(1, true, 1s)) << policy;
    EXPECT_EQ(m.restarts(), 0);
  }
  RestartManager none(parse_restart_policy("no"));
  EXPECT_FALSE(none.next(1, false, 1s));
}

TEST(GoDuration, ParsesAndFormatsAsGo) {
  EXPECT_EQ(parse_go_duration("30s"), 30'000'000'000);
  EXPECT_EQ(parse_go_duration("1m30s"), 90'000'000'000);
  EXPECT_EQ(parse_go_duration("500ms"), 500'000'000);
  EXPECT_EQ(parse_go_duration("1.5h"), 5'400'000'000'000);
  EXPECT_EQ(parse_go_duration("2us"), 2000);
  EXPECT_EQ(parse_go_duration("2\xc2\xb5s"), 2000);
  EXPECT_EQ(parse_go_duration("-2s"), -2'000'000'000);
  EXPECT_EQ(parse_go_duration(".5s"), 500'000'000);
  EXPECT_EQ(parse_go_duration("0"), 0);
  EXPECT_EQ(error_of([] { parse_go_duration("abc"); }), "125 time: invalid duration \"abc\"");
  EXPECT_EQ(error_of([] { parse_go_duration("10"); }), "125 time: missing unit in duration \"10\"");
  EXPECT_EQ(error_of([] { parse_go_duration("3x"); }), "125 time: unknown unit \"x\" in duration \"3x\"");
  EXPECT_EQ(error_of([] { parse_go_duration(""); }), "125 time: invalid duration \"\"");
  EXPECT_EQ(error_of([] { parse_go_duration("99999999999h"); }), "125 time: invalid duration \"99999999999h\"");

  EXPECT_EQ(format_go_duration(0), "0s");
  EXPECT_EQ(format_go_duration(300'000'000), "300ms");
  EXPECT_EQ(format_go_duration(90'000'000'000), "1m30s");
  EXPECT_EQ(format_go_duration(1'500'000'000), "1.5s");
  EXPECT_EQ(format_go_duration(3'600'000'000'000), "1h0m0s");
  EXPECT_EQ(format_go_duration(1500), "1.5\xc2\xb5s");
}

TEST(HealthConfig, FlagsMergeOverTheImageFieldByField) {
  nlohmann::json image = {{"Test", {"CMD", "check"}}, {"Interval", 5'000'000'000}, {"Retries", 7}};
  HealthFlags flags;
  flags.timeout_ns = 2'000'000'000;
  auto merged = merge_health_config(flags, image);
  ASSERT_TRUE(merged);
  EXPECT_EQ(merged->test, (std::vector<std::string>{"CMD", "check"}));
  EXPECT_EQ(merged->interval_ns, 5'000'000'000);
  EXPECT_EQ(merged->timeout_ns, 2'000'000'000);
  EXPECT_EQ(merged->retries, 7);

  flags.cmd = "curl -f localhost";
  merged = merge_health_config(flags, image);
  EXPECT_EQ(merged->test, (std::vector<std::string>{"CMD-SHELL", "curl -f localhost"}));
  EXPECT_EQ(health_probe_argv(*merged), (std::vector<std::string>{"/bin/sh", "-c", "curl -f localhost"}));

  EXPECT_FALSE(merge_health_config({}, nullptr));
  auto image_only = merge_health_config({}, image);
  ASSERT_TRUE(image_only);
  EXPECT_EQ(health_probe_argv(*image_only), (std::vector<std::string>{"check"}));

  HealthFlags none;
  none.none = true;
  auto disabled = merge_health_config(none, image);
  ASSERT_TRUE(disabled);
  EXPECT_EQ(disabled->test, (std::vector<std::string>{"NONE"}));
  ContainerSpec spec;
  spec.health = disabled;
  EXPECT_FALSE(health_enabled(spec));
  spec.health = merged;
  EXPECT_TRUE(health_enabled(spec));
}

TEST(HealthConfig, RefusesAsDocker) {
  HealthFlags f;
  f.none = true;
  f.cmd = "true";
  EXPECT_EQ(error_of([&] { merge_health_config(f, nullptr); }), "125 --no-healthcheck conflicts with --health-* options");
  HealthFlags negative;
  negative.interval_ns = -1'000'000'000;
  EXPECT_EQ(error_of([&] { merge_health_config(negative, nullptr); }), "125 --health-interval cannot be negative");
  HealthFlags tiny;
  tiny.cmd = "true";
  tiny.interval_ns = 1000;
  EXPECT_EQ(error_of([&] { merge_health_config(tiny, nullptr); }), "125 Interval in Healthcheck cannot be less than 1ms");
  HealthFlags retries;
  retries.retries = -2;
  EXPECT_EQ(error_of([&] { merge_health_config(retries, nullptr); }), "125 --health-retries cannot be negative");
}

TEST(HealthConfig, DefaultsApplyToZeros) {
  auto t = health_timing(HealthConfig{{"CMD", "x"}, 0, 0, 0, 0});
  EXPECT_EQ(t.interval, 30s);
  EXPECT_EQ(t.timeout, 30s);
  EXPECT_EQ(t.start_period, 0s);
  EXPECT_EQ(t.retries, 3);
}

namespace {
HealthProbe probe_at(TimePoint t, int code) { return {format_rfc3339(t), format_rfc3339(t), code, "out"}; }
}  // namespace

TEST(HealthState, StreaksStatusAndTheLastFiveProbes) {
  const TimePoint started = now();
  HealthTiming timing{1s, 1s, 0s, 2};
  ContainerHealth h{"starting", 0, {}};
  apply_probe_result(h, timing, probe_at(started + 1s, 0), started);
  EXPECT_EQ(h.status, "healthy");
  apply_probe_result(h, timing, probe_at(started + 2s, 1), started);
  EXPECT_EQ(h.status, "healthy");  // one failure of two allowed
  EXPECT_EQ(h.failing_streak, 1);
  apply_probe_result(h, timing, probe_at(started + 3s, -1), started);
  EXPECT_EQ(h.status, "unhealthy");
  EXPECT_EQ(h.failing_streak, 2);
  apply_probe_result(h, timing, probe_at(started + 4s, 0), started);
  EXPECT_EQ(h.status, "healthy");
  EXPECT_EQ(h.failing_streak, 0);
  for (int i = 0; i < 4; ++i) apply_probe_result(h, timing, probe_at(started + std::chrono::seconds(5 + i), 0), started);
  ASSERT_EQ(h.log.size(), kHealthLogEntries);
  EXPECT_EQ(h.log.front().start, format_rfc3339(started + 4s));
}

TEST(HealthState, FailuresInTheStartPeriodDoNotCountWhileStarting) {
  const TimePoint started = now();
  HealthTiming timing{1s, 1s, 10s, 1};
  ContainerHealth h{"starting", 0, {}};
  apply_probe_result(h, timing, probe_at(started + 1s, 1), started);
  EXPECT_EQ(h.status, "starting");
  EXPECT_EQ(h.failing_streak, 0);
  apply_probe_result(h, timing, probe_at(started + 11s, 1), started);
  EXPECT_EQ(h.status, "unhealthy");
}

TEST(StatusText, RestartingAndHealthAsDocker) {
  ContainerState s;
  s.status = "running";
  s.started = format_rfc3339(now() - 5s);
  EXPECT_EQ(status_text(s), "Up 5 seconds");
  s.health.status = "starting";
  EXPECT_EQ(status_text(s), "Up 5 seconds (health: starting)");
  s.health.status = "healthy";
  EXPECT_EQ(status_text(s), "Up 5 seconds (healthy)");
  s.health.status = "unhealthy";
  EXPECT_EQ(status_text(s), "Up 5 seconds (unhealthy)");
  s.status = "restarting";
  s.exit_code = 2;
  s.finished = format_rfc3339(now() - 3s);
  EXPECT_EQ(status_text(s), "Restarting (2) 3 seconds ago");
}

TEST(LogTime, DurationsTimestampsAndDates) {
  const TimePoint ref = *parse_rfc3339("2024-05-06T07:08:09Z");
  EXPECT_EQ(parse_log_time("10m", ref), ref - 10min);
  EXPECT_EQ(parse_log_time("1h30m", ref), ref - 90min);
  EXPECT_EQ(parse_log_time("2024-05-06T07:00:00Z", ref), *parse_rfc3339("2024-05-06T07:00:00Z"));
  EXPECT_EQ(parse_log_time("2024-05-06T07:00:00.25+02:00", ref), *parse_rfc3339("2024-05-06T05:00:00.25Z"));
  EXPECT_EQ(parse_log_time("1700000000", ref), TimePoint(1700000000s));
  EXPECT_EQ(parse_log_time("1700000000.5", ref), TimePoint(1700000000s) + 500ms);
  EXPECT_EQ(parse_log_time("0", ref), TimePoint(0s));
  EXPECT_EQ(parse_log_time("2024-05-06Z", ref) , *parse_rfc3339("2024-05-06T00:00:00Z"));
  // Without a zone: local time, as Docker's CLI reads it.
  std::tm tm{};
  tm.tm_year = 124;
  tm.tm_mon = 4;
  tm.tm_mday = 6;
  tm.tm_hour = 7;
  tm.tm_isdst = -1;
  EXPECT_EQ(parse_log_time("2024-05-06T07", ref), TimePoint(std::chrono::seconds(::mktime(&tm))));
  EXPECT_EQ(error_of([&] { parse_log_time("yesterday", ref); }), "1 failed to parse value as time or duration: \"yesterday\"");
  EXPECT_EQ(error_of([&] { parse_log_time("2024-13-01", ref); }), "1 failed to parse value as time or duration: \"2024-13-01\"");
}
