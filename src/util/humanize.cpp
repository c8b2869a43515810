#include "cppcker/util/humanize.hpp"

#include <cstdio>
#include <ctime>

namespace cppcker {

std::string human_size(double size) {
  static const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  int i = 0;
  while (size >= 1000.0 && i < 8) {
    size /= 1000.0;
    ++i;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g%s", 3, size, units[i]);
  return buf;
}

std::string human_duration(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  long long seconds = duration_cast<std::chrono::seconds>(d).count();
  long long minutes = duration_cast<std::chrono::minutes>(d).count();
  long long hours = static_cast<long long>(duration<double, std::ratio<3600>>(d).count() + 0.5);
  auto plural = [](long long n, const char* unit) { return std::to_string(n) + " " + unit; };
  if (seconds < 1) return "Less than a second";
  if (seconds == 1) return "1 second";
  if (seconds < 60) return plural(seconds, "seconds");
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return plural(minutes, "minutes");
  if (hours == 1) return "About an hour";
  if (hours < 48) return plural(hours, "hours");
  if (hours < 24 * 7 * 2) return plural(hours / 24, "days");
  if (hours < 24 * 30 * 2) return plural(hours / 24 / 7, "weeks");
  if (hours < 24 * 365 * 2) return plural(hours / 24 / 30, "months");
  return plural(hours / 24 / 365, "years");
}

std::string format_rfc3339(TimePoint t) {
  auto ns = t.time_since_epoch().count();
  std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
  long frac = static_cast<long>(ns % 1000000000);
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  if (frac != 0) {
    char fb[16];
    std::snprintf(fb, sizeof fb, ".%09ld", frac);
    std::string f = fb;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "Z";
}

std::optional<TimePoint> parse_rfc3339(std::string_view s) {
  int y, mo, d, h, mi, sec;
  int consumed = 0;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &consumed) != 6)
    return std::nullopt;
  std::size_t pos = static_cast<std::size_t>(consumed);
  long long frac_ns = 0;
  if (pos < str.size() && str[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < str.size() && std::isdigit(static_cast<unsigned char>(str[pos]))) {
      if (digits < 9) {
        frac_ns = frac_ns * 10 + (str[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    while (digits++ < 9) frac_ns *= 10;
  }
  long offset = 0;
  if (pos < str.size() && (str[pos] == 'Z' || str[pos] == 'z')) {
    ++pos;
  } else if (pos < str.size() && (str[pos] == '+' || str[pos] == '-')) {
    int oh = 0, om = 0;
    if (std::sscanf(str.c_str() + pos + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    offset = (oh * 3600L + om * 60L) * (str[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != str.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  long long epoch = static_cast<long long>(timegm(&tm)) - offset;
  return TimePoint(std::chrono::nanoseconds(epoch * 1000000000LL + frac_ns));
}

TimePoint now() { return std::chrono::time_point_cast<std::chrono::nanoseconds>(Clock::now()); }

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (;;) {
    auto at = text.find(separator, start);
    fields.emplace_back(text.substr(start, at - start));
    if (at == std::string_view::npos) return fields;
    start = at + 1;
  }
}

std::string go_quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\v': out += "\\v"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace cppcker
