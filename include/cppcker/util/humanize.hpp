#pragma once
// What a person reads and writes, in Docker's wording: sizes in decimal units, "3 days ago", RFC 3339
// times, and the splitting of flag and file fields.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cppcker {

using Clock = std::chrono::system_clock;
using TimePoint = std::chrono::time_point<Clock, std::chrono::nanoseconds>;

// Docker's units.HumanSizeWithPrecision(size, 3): 4.26MB, 77.8MB, 512B.
std::string human_size(double bytes);
// Docker's units.HumanDuration: "Less than a second", "About a minute", "3 weeks", ...
std::string human_duration(std::chrono::nanoseconds d);
// RFC 3339 with nanoseconds in UTC ("2024-01-02T03:04:05.123456789Z").
std::string format_rfc3339(TimePoint t);

// Go's strconv.Quote (fmt's %q) of bytes: "a\"b\n", as Docker's messages and templates quote.
std::string go_quote(std::string_view s);
// Parses RFC 3339 with optional fraction and a Z or ±hh:mm offset.
std::optional<TimePoint> parse_rfc3339(std::string_view s);
TimePoint now();

// Every field between separators, empty ones included: "a::b" -> {"a", "", "b"}, "" -> {""}.
std::vector<std::string> split(std::string_view text, char separator);

}  // namespace cppcker
