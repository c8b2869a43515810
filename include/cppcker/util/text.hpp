#pragma once
// Small text helpers several modules need, written once (inline: no code of their own in a stage's exec).
#include <string>
#include <string_view>
#include <vector>

namespace cppcker {

// ASCII lower case, whatever the locale: header names, keywords, option values. Bytes beyond ASCII stay
// as they are (UTF-8 text is not case-folded here).
inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// The words with `sep` between each two.
inline std::string join_words(const std::vector<std::string>& words, std::string_view sep = " ") {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i) out += sep;
    out += words[i];
  }
  return out;
}

}  // namespace cppcker
