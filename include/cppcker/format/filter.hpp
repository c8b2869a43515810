#pragma once
// Docker's --filter: repeated key=value options. Values of one key are alternatives (any may match),
// different keys must all match; label filters are the exception, each one must match.
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace cppcker::format {

class Filters {
 public:
  // Parses each "key=value". Throws Error (exit 1, as Docker's client): "bad format of filter (expected name=value)" for a text
  // without "=", "invalid filter 'key'" for a key the command does not know.
  static Filters parse(const std::vector<std::string>& arguments, const std::set<std::string>& accepted);

  bool empty() const { return values_.empty(); }
  bool has(const std::string& key) const { return values_.count(key) > 0; }
  // The values given for `key`, in order (empty when none).
  const std::vector<std::string>& values(const std::string& key) const;

  // True when `key` was not given, or `predicate` holds for one of its values.
  bool match(const std::string& key, const std::function<bool(const std::string&)>& predicate) const;
  // Docker's ExactMatch: the text equals a value.
  bool match_exact(const std::string& key, const std::string& text) const;
  // Docker's Match: a value, as a regular expression, is found in the text (name=web matches "myweb1").
  // Throws Error (exit 1, as Docker's client) for a value that is not a regular expression.
  bool match_regex(const std::string& key, const std::string& text) const;
  // Docker's FuzzyMatch for IDs: the text starts with a value.
  bool match_prefix(const std::string& key, const std::string& text) const;
  // label=k (present) and label=k=v (equal): every label filter must hold.
  bool match_labels(const std::map<std::string, std::string>& labels, const std::string& key = "label") const;
  // A boolean filter (dangling=true): nullopt-like default when absent; Error "invalid filter 'k=v'" otherwise.
  bool boolean(const std::string& key, bool fallback) const;

 private:
  std::map<std::string, std::vector<std::string>> values_;
};

// Go's filepath.Match glob: * ? [a-z] [^x] and \ escapes; * does not cross "/".
bool glob_match(const std::string& pattern, const std::string& text);

}  // namespace cppcker::format
