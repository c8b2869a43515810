#include "cppcker/format/filter.hpp"

#include <algorithm>
#include <regex>

#include "cppcker/util/error.hpp"

namespace cppcker::format {

Filters Filters::parse(const std::vector<std::string>& arguments, const std::set<std::string>& accepted) {
  Filters f;
  for (const auto& a : arguments) {
    auto eq = a.find('=');
    if (eq == std::string::npos) throw Error("bad format of filter (expected name=value)", 1);
    std::string key = a.substr(0, eq);
    // Docker lower-cases and trims the key; the value is kept as written.
    key.erase(0, key.find_first_not_of(" \t"));
    key.erase(key.find_last_not_of(" \t") + 1);
    std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!accepted.count(key)) throw Error("invalid filter '" + key + "'", 1);
    f.values_[key].push_back(a.substr(eq + 1));
  }
  return f;
}

const std::vector<std::string>& Filters::values(const std::string& key) const {
  static const std::vector<std::string> none;
  auto it = values_.find(key);
  return it == values_.end() ? none : it->second;
}

bool Filters::match(const std::string& key, const std::function<bool(const std::string&)>& predicate) const {
  auto it = values_.find(key);
  if (it == values_.end()) return true;
  return std::any_of(it->second.begin(), it->second.end(), predicate);
}

bool Filters::match_exact(const std::string& key, const std::string& text) const {
  return match(key, [&](const std::string& v) { return v == text; });
}

bool Filters::match_regex(const std::string& key, const std::string& text) const {
  return match(key, [&](const std::string& v) {
    try {
      return std::regex_search(text, std::regex(v));
    } catch (const std::regex_error&) {
      throw Error("invalid filter '" + key + "=" + v + "': not a regular expression", 1);
    }
  });
}

bool Filters::match_prefix(const std::string& key, const std::string& text) const {
  return match(key, [&](const std::string& v) { return text.rfind(v, 0) == 0; });
}

bool Filters::match_labels(const std::map<std::string, std::string>& labels, const std::string& key) const {
  for (const auto& v : values(key)) {
    auto eq = v.find('=');
    auto it = labels.find(v.substr(0, eq));
    if (it == labels.end()) return false;
    if (eq != std::string::npos && it->second != v.substr(eq + 1)) return false;
  }
  return true;
}

bool Filters::boolean(const std::string& key, bool fallback) const {
  const auto& vs = values(key);
  if (vs.empty()) return fallback;
  std::string v = vs.back();
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  throw Error("invalid filter '" + key + "=" + vs.back() + "'", 1);
}

namespace {
// One character class at p ("[...]"); sets `end` past it. nullopt-like false for a malformed class.
bool class_match(const std::string& pattern, std::size_t p, char c, std::size_t& end, bool& ok) {
  ok = true;
  std::size_t i = p + 1;
  bool negate = i < pattern.size() && pattern[i] == '^';
  if (negate) ++i;
  bool matched = false;
  bool first = true;
  while (i < pattern.size() && (pattern[i] != ']' || first)) {
    first = false;
    char lo = pattern[i];
    if (lo == '\\' && i + 1 < pattern.size()) lo = pattern[++i];
    char hi = lo;
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      hi = pattern[i + 2];
      if (hi == '\\' && i + 3 < pattern.size()) hi = pattern[++i + 2];
      i += 2;
    }
    if (lo <= c && c <= hi) matched = true;
    ++i;
  }
  if (i >= pattern.size()) {
    ok = false;
    return false;
  }
  end = i + 1;
  return matched != negate;
}

bool glob_at(const std::string& pattern, std::size_t p, const std::string& text, std::size_t t) {
  while (p < pattern.size()) {
    char c = pattern[p];
    if (c == '*') {
      while (p < pattern.size() && pattern[p] == '*') ++p;
      for (std::size_t k = t;; ++k) {
        if (glob_at(pattern, p, text, k)) return true;
        if (k >= text.size() || text[k] == '/') return false;
      }
    }
    if (t >= text.size()) return false;
    if (c == '?') {
      if (text[t] == '/') return false;
      ++p;
      ++t;
    } else if (c == '[') {
      std::size_t end = 0;
      bool ok = false;
      if (text[t] == '/' || !class_match(pattern, p, text[t], end, ok) || !ok) return false;
      p = end;
      ++t;
    } else {
      if (c == '\\' && p + 1 < pattern.size()) c = pattern[++p];
      if (text[t] != c) return false;
      ++p;
      ++t;
    }
  }
  return t == text.size();
}
}  // namespace

bool glob_match(const std::string& pattern, const std::string& text) { return glob_at(pattern, 0, text, 0); }

}  // namespace cppcker::format
