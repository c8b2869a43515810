#include "cppcker/registry/auth.hpp"

#include <cctype>

#include <nlohmann/json.hpp>

#include "cppcker/util/error.hpp"
#include "cppcker/util/text.hpp"

namespace cppcker {

namespace {

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
}  // namespace

std::vector<Challenge> parse_www_authenticate(std::string_view h) {
  std::vector<Challenge> out;
  std::size_t i = 0;
  auto skip_ws = [&] {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\t' || h[i] == ',')) ++i;
  };
  auto read_token = [&] {
    std::size_t start = i;
    while (i < h.size() && is_token_char(h[i])) ++i;
    return h.substr(start, i - start);
  };
  while (true) {
    skip_ws();
    if (i >= h.size()) break;
    std::string_view word = read_token();
    if (word.empty()) {  // garbage: skip a character so that parsing always advances
      ++i;
      continue;
    }
    std::size_t after = i;
    while (after < h.size() && h[after] == ' ') ++after;
    if (after < h.size() && h[after] == '=' && !out.empty()) {
      // key=value of the current challenge
      i = after + 1;
      while (i < h.size() && h[i] == ' ') ++i;
      std::string value;
      if (i < h.size() && h[i] == '"') {
        ++i;
        while (i < h.size() && h[i] != '"') {
          if (h[i] == '\\' && i + 1 < h.size()) ++i;
          value += h[i++];
        }
        ++i;  // closing quote
      } else {
        std::size_t start = i;
        while (i < h.size() && h[i] != ',' && h[i] != ' ') ++i;
        value = std::string(h.substr(start, i - start));
      }
      out.back().params[ascii_lower(word)] = value;
    } else {
      out.push_back({ascii_lower(word), {}});
    }
  }
  return out;
}

BearerToken parse_token_response(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error("authorization server sent an invalid token response");
  BearerToken t;
  if (j.contains("access_token") && j["access_token"].is_string()) t.token = j["access_token"].get<std::string>();
  if (t.token.empty() && j.contains("token") && j["token"].is_string()) t.token = j["token"].get<std::string>();
  if (t.token.empty()) throw Error("authorization server did not include a token in the response");
  if (j.contains("expires_in") && j["expires_in"].is_number_integer()) {
    auto s = j["expires_in"].get<long long>();
    // Docker treats less than a minute as a minute: tokens are at least that useful.
    t.expires_in = std::chrono::seconds(s < 60 ? 60 : s);
  }
  return t;
}

}  // namespace cppcker
