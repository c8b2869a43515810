#include "cppcker/runtime/health.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "cppcker/runtime/exec.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker {

namespace {

// Integer part and fraction as Go prints them: trailing zeros of the fraction dropped.
std::string with_fraction(std::uint64_t v, std::uint64_t unit) {
  std::string out = std::to_string(v / unit);
  std::uint64_t frac = v % unit;
  if (frac == 0) return out;
  std::string digits = std::to_string(frac);
  std::size_t width = std::to_string(unit).size() - 1;
  digits.insert(0, width - digits.size(), '0');
  while (digits.back() == '0') digits.pop_back();
  return out + "." + digits;
}

}  // namespace

std::int64_t parse_go_duration(std::string_view text) {
  const std::string orig(text);
  auto invalid = [&] { return Error("time: invalid duration " + go_quote(orig), 125); };
  std::string_view s = text;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return 0;
  if (s.empty()) throw invalid();
  static const std::pair<std::string_view, std::uint64_t> units[] = {
      {"ns", 1ULL},          {"us", 1000ULL},          {"\xc2\xb5s", 1000ULL}, {"\xce\xbcs", 1000ULL},
      {"ms", 1000000ULL},    {"s", 1000000000ULL},     {"m", 60000000000ULL},  {"h", 3600000000000ULL}};
  unsigned __int128 total = 0;
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  while (!s.empty()) {
    if (!(s[0] == '.' || is_digit(s[0]))) throw invalid();
    unsigned __int128 whole = 0;
    std::size_t i = 0;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      whole = whole * 10 + static_cast<unsigned>(s[i] - '0');
      if (whole > (static_cast<unsigned __int128>(1) << 63)) throw invalid();
    }
    bool pre = i > 0;
    s.remove_prefix(i);
    unsigned __int128 frac = 0, scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      std::size_t j = 0;
      for (; j < s.size() && is_digit(s[j]); ++j) {
        if (scale < static_cast<unsigned __int128>(1000000000000000000ULL)) {  // digits past this change nothing
          frac = frac * 10 + static_cast<unsigned>(s[j] - '0');
          scale *= 10;
        }
      }
      post = j > 0;
      s.remove_prefix(j);
    }
    if (!pre && !post) throw invalid();
    std::size_t k = 0;
    while (k < s.size() && s[k] != '.' && !is_digit(s[k])) ++k;
    if (k == 0) throw Error("time: missing unit in duration " + go_quote(orig), 125);
    std::string_view unit_text = s.substr(0, k);
    s.remove_prefix(k);
    std::uint64_t unit = 0;
    for (const auto& [name, value] : units)
      if (name == unit_text) unit = value;
    if (unit == 0) throw Error("time: unknown unit " + go_quote(unit_text) + " in duration " + go_quote(orig), 125);
    total += whole * unit + frac * unit / scale;
    if (total > (static_cast<unsigned __int128>(1) << 63) - (neg ? 0 : 1)) throw invalid();
  }
  if (total == 0) return 0;
  return neg ? -static_cast<std::int64_t>(total - 1) - 1 : static_cast<std::int64_t>(total);
}

std::string format_go_duration(std::int64_t ns) {
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  std::uint64_t u = ns < 0 ? 0 - static_cast<std::uint64_t>(ns) : static_cast<std::uint64_t>(ns);
  if (u < 1000) return sign + std::to_string(u) + "ns";
  if (u < 1000000) return sign + with_fraction(u, 1000) + "\xc2\xb5s";
  if (u < 1000000000) return sign + with_fraction(u, 1000000) + "ms";
  std::uint64_t hours = u / 3600000000000ULL, minutes = u / 60000000000ULL % 60;
  std::string out = sign;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
  return out + with_fraction(u % 60000000000ULL, 1000000000) + "s";
}

std::optional<HealthConfig> merge_health_config(const HealthFlags& f, const nlohmann::json& image) {
  std::optional<HealthConfig> user;
  const bool settings = !f.cmd.empty() || f.interval_ns != 0 || f.timeout_ns != 0 || f.start_period_ns != 0 || f.retries != 0;
  if (f.none) {
    if (settings) throw Error("--no-healthcheck conflicts with --health-* options", 125);
    user = HealthConfig{{"NONE"}, 0, 0, 0, 0};
  } else if (settings) {
    if (f.interval_ns < 0) throw Error("--health-interval cannot be negative", 125);
    if (f.timeout_ns < 0) throw Error("--health-timeout cannot be negative", 125);
    if (f.retries < 0) throw Error("--health-retries cannot be negative", 125);
    if (f.start_period_ns < 0) throw Error("--health-start-period cannot be negative", 125);
    user = HealthConfig{{}, f.interval_ns, f.timeout_ns, f.start_period_ns, f.retries};
    if (!f.cmd.empty()) user->test = {"CMD-SHELL", f.cmd};
  }
  std::optional<HealthConfig> from_image;
  if (image.is_object()) {
    HealthConfig h{{}, 0, 0, 0, 0};
    if (image.contains("Test") && image["Test"].is_array())
      for (const auto& t : image["Test"])
        if (t.is_string()) h.test.push_back(t.get<std::string>());
    auto number = [&](const char* key) {
      return image.contains(key) && image[key].is_number_integer() ? image[key].get<std::int64_t>() : std::int64_t{0};
    };
    h.interval_ns = number("Interval");
    h.timeout_ns = number("Timeout");
    h.start_period_ns = number("StartPeriod");
    h.retries = static_cast<int>(number("Retries"));
    from_image = h;
  }
  // The daemon's merge: what the user left unset comes from the image.
  if (!user) {
    user = from_image;
  } else if (from_image) {
    if (user->test.empty()) user->test = from_image->test;
    if (user->interval_ns == 0) user->interval_ns = from_image->interval_ns;
    if (user->timeout_ns == 0) user->timeout_ns = from_image->timeout_ns;
    if (user->start_period_ns == 0) user->start_period_ns = from_image->start_period_ns;
    if (user->retries == 0) user->retries = from_image->retries;
  }
  if (!user) return std::nullopt;
  // The daemon's checks of the result.
  constexpr std::int64_t kMinimum = 1'000'000;  // 1ms
  if (user->interval_ns != 0 && user->interval_ns < kMinimum) throw Error("Interval in Healthcheck cannot be less than 1ms", 125);
  if (user->timeout_ns != 0 && user->timeout_ns < kMinimum) throw Error("Timeout in Healthcheck cannot be less than 1ms", 125);
  if (user->start_period_ns != 0 && user->start_period_ns < kMinimum)
    throw Error("StartPeriod in Healthcheck cannot be less than 1ms", 125);
  if (user->retries < 0) throw Error("Retries in Healthcheck cannot be negative", 125);
  return user;
}

bool health_enabled(const ContainerSpec& spec) {
  return spec.health && !spec.health->test.empty() && spec.health->test.front() != "NONE";
}

std::vector<std::string> health_probe_argv(const HealthConfig& config) {
  if (config.test.empty()) throw Error("no health check test");
  const std::string& kind = config.test.front();
  if (kind == "CMD") {
    std::vector<std::string> argv(config.test.begin() + 1, config.test.end());
    if (argv.empty()) throw Error("Health check's CMD has no command");
    return argv;
  }
  if (kind == "CMD-SHELL") {
    std::string cmd;
    for (std::size_t i = 1; i < config.test.size(); ++i) cmd += (i > 1 ? " " : "") + config.test[i];
    return {"/bin/sh", "-c", cmd};
  }
  throw Error("unknown health check type: " + kind);
}

HealthTiming health_timing(const HealthConfig& c) {
  using std::chrono::nanoseconds;
  constexpr std::int64_t k30s = 30'000'000'000;
  return {nanoseconds(c.interval_ns > 0 ? c.interval_ns : k30s), nanoseconds(c.timeout_ns > 0 ? c.timeout_ns : k30s),
          nanoseconds(std::max<std::int64_t>(c.start_period_ns, 0)), c.retries > 0 ? c.retries : 3};
}

void apply_probe_result(ContainerHealth& h, const HealthTiming& timing, const HealthProbe& probe, TimePoint started) {
  h.log.push_back(probe);
  if (h.log.size() > kHealthLogEntries) h.log.erase(h.log.begin(), h.log.end() - kHealthLogEntries);
  if (probe.exit_code == 0) {
    h.failing_streak = 0;
    h.status = "healthy";
    return;
  }
  // A failure does not count while the container is starting within its start period.
  if (h.status == "starting") {
    auto probe_start = parse_rfc3339(probe.start);
    if (probe_start && *probe_start - started < timing.start_period) return;
  }
  if (++h.failing_streak >= timing.retries) h.status = "unhealthy";
}

HealthProbe run_health_probe(const ContainerStore& containers, const Container& c, const HealthTiming& timing) {
  HealthProbe result;
  result.start = format_rfc3339(now());
  std::vector<std::string> argv;
  try {
    argv = health_probe_argv(*c.spec.health);
  } catch (const Error& e) {
    result.end = result.start;
    result.exit_code = -1;
    result.output = e.what();
    return result;
  }
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw_errno("pipe");
  UniqueFd out_read(out[0]), out_write(out[1]);
  // A runner in a process group of its own: exec_in_container forks its helper into it, so that a
  // probe past its timeout goes with one kill. The probe's output is the runner's stdout and stderr.
  pid_t runner = ::fork();
  if (runner < 0) throw_errno("fork health probe");
  if (runner == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ::dup2(null, 0);
    ::dup2(out_write.get(), 1);
    ::dup2(out_write.get(), 2);
    int code = 125;
    try {
      ExecOptions options;
      options.argv = argv;
      code = exec_in_container(containers, c, options);
    } catch (const Error& e) {
      std::string msg = std::string(e.what()) + "\n";
      if (::write(2, msg.data(), msg.size()) < 0) {
        // Nobody reads it: the probe is being given up.
      }
      code = e.exit_code();
    } catch (...) {
    }
    ::_exit(code);
  }
  ::setpgid(runner, runner);  // also here: the kill below must not depend on who ran first
  out_write.reset();
  const auto deadline = std::chrono::steady_clock::now() + timing.timeout;
  std::string output;
  bool truncated = false, timed_out = false;
  char buf[1024];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{out_read.get(), POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count() + 1, 1 << 30)));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) throw_errno("poll health probe");
    if (rc == 0) continue;
    ssize_t n = ::read(out_read.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the probe and its helper are done
    std::size_t keep = std::min(static_cast<std::size_t>(n), kHealthOutputMax - output.size());
    output.append(buf, keep);
    if (keep < static_cast<std::size_t>(n)) truncated = true;
  }
  if (timed_out) ::kill(-runner, SIGKILL);
  int status = 0;
  while (::waitpid(runner, &status, 0) < 0 && errno == EINTR) {
  }
  result.end = format_rfc3339(now());
  if (timed_out) {
    result.exit_code = -1;
    result.output = "Health check exceeded timeout (" + format_go_duration(timing.timeout.count()) + ")";
  } else {
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.output = truncated ? output + "..." : output;
  }
  return result;
}

namespace {

// Sleeps `d`, through signals.
void sleep_for(std::chrono::nanoseconds d) {
  timespec ts{static_cast<time_t>(d.count() / 1'000'000'000), static_cast<long>(d.count() % 1'000'000'000)};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

[[noreturn]] void prober_main(const ContainerStore& containers, const Container& c, pid_t monitor) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != monitor) ::_exit(0);
  // Nothing of the monitor's: above all not its owner lock (which would outlive a killed monitor here),
  // nor the container's output pipes.
  ::close_range(3, ~0U, 0);
  // Not the foreground run's signal forwarding, nor its terminal's Ctrl-C: the container gets each
  // signal once, from its owner.
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) ::signal(sig, SIG_DFL);
  ::setpgid(0, 0);
  const HealthTiming timing = health_timing(*c.spec.health);
  const TimePoint started = parse_rfc3339(c.state.started).value_or(now());
  for (;;) {
    sleep_for(timing.interval);  // Docker's first probe comes one interval after the start
    try {
      // A paused container runs no probe (an exec into it would hang until the thaw) and keeps its health.
      if (auto current = containers.load(c.id); current && current->state.paused) continue;
    } catch (const Error&) {
    }
    HealthProbe probe;
    try {
      probe = run_health_probe(containers, c, timing);
    } catch (const Error& e) {
      probe = {format_rfc3339(now()), format_rfc3339(now()), -1, e.what()};
    }
    try {
      auto guard = containers.lock();
      auto current = containers.load(c.id);
      // Only this run of the container: a restarted one has a prober of its own.
      if (!current || current->state.status != "running" || current->state.pid != c.state.pid ||
          current->state.pid_start != c.state.pid_start)
        ::_exit(0);
      apply_probe_result(current->state.health, timing, probe, started);
      containers.save(*current, Durability::unsynced);
    } catch (...) {
      ::_exit(1);
    }
  }
}

}  // namespace

HealthProber::HealthProber(const ContainerStore& containers, const Container& c) {
  if (!health_enabled(c.spec)) return;
  const pid_t monitor = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork health prober");
  if (pid == 0) {
    try {
      prober_main(containers, c, monitor);
    } catch (...) {
      ::_exit(1);
    }
  }
  pid_ = pid;
}

HealthProber& HealthProber::operator=(HealthProber&& other) noexcept {
  if (this != &other) {
    stop();
    pid_ = other.pid_;
    other.pid_ = -1;
  }
  return *this;
}

void HealthProber::stop() {
  if (pid_ <= 0) return;
  // The prober's probe runs in a process group of its own and dies with the prober (PDEATHSIG).
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

}  // namespace cppcker
