#pragma once
// Fixed lists of words (keywords, function names, well-known names) as constexpr arrays: a global std::set
// would be built in every exec of the binary, each stage's too.
#include <algorithm>
#include <array>
#include <cstddef>
#include <string_view>

namespace cppcker {

template <std::size_t N>
constexpr bool in_word_list(const std::array<std::string_view, N>& words, std::string_view word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

}  // namespace cppcker
