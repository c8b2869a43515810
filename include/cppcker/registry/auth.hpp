#pragma once
// WWW-Authenticate challenges and bearer token responses (Docker registry token auth).
#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cppcker {

struct Challenge {
  std::string scheme;                         // lowercase: "bearer", "basic"
  std::map<std::string, std::string> params;  // keys lowercase
};

// Parses one or more challenges: `Bearer realm="https://auth",service="reg",scope="repository:x:pull"`.
std::vector<Challenge> parse_www_authenticate(std::string_view header);

struct BearerToken {
  std::string token;
  std::chrono::seconds expires_in{60};
};
// Parses a token server response ("token" or "access_token"; "expires_in" defaults to 60 s).
BearerToken parse_token_response(std::string_view body);

}  // namespace cppcker
