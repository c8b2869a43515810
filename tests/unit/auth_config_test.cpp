#include <gtest/gtest.h>

#include <fstream>

#include "cppcker/registry/auth.hpp"
#include "cppcker/registry/config.hpp"
#include "cppcker/registry/http.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

using namespace cppcker;

TEST(Challenge, DockerHubBearer) {
  auto c = parse_www_authenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull")");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].scheme, "bearer");
  EXPECT_EQ(c[0].params["realm"], "https://auth.docker.io/token");
  EXPECT_EQ(c[0].params["service"], "registry.docker.io");
  EXPECT_EQ(c[0].params["scope"], "repository:library/alpine:pull");
}

TEST(Challenge, BasicAndSeveralChallenges) {
  auto c = parse_www_authenticate(R"(Basic realm="Registry Realm", Bearer realm="https://a/t", error="invalid_token")");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].scheme, "basic");
  EXPECT_EQ(c[0].params["realm"], "Registry Realm");
  EXPECT_EQ(c[1].scheme, "bearer");
  EXPECT_EQ(c[1].params["error"], "invalid_token");
}

TEST(Challenge, UnquotedValuesEscapesAndGarbage) {
  auto c = parse_www_authenticate(R"(BEARER Realm=https://x/t , service = "s\"q")");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].params["realm"], "https://x/t");
  EXPECT_EQ(c[0].params["service"], "s\"q");
  EXPECT_TRUE(parse_www_authenticate("").empty());
  EXPECT_NO_THROW(parse_www_authenticate("==,,\"\"@@"));
}

TEST(TokenResponse, TokenOrAccessToken) {
  EXPECT_EQ(parse_token_response(R"({"token":"t1"})").token, "t1");
  EXPECT_EQ(parse_token_response(R"({"access_token":"a1","token":"t1"})").token, "a1");
  EXPECT_EQ(parse_token_response(R"({"token":"t","expires_in":300})").expires_in.count(), 300);
  EXPECT_EQ(parse_token_response(R"({"token":"t","expires_in":5})").expires_in.count(), 60);
  EXPECT_EQ(parse_token_response(R"({"token":"t"})").expires_in.count(), 60);
  EXPECT_THROW(parse_token_response(R"({"expires_in":3})"), Error);
  EXPECT_THROW(parse_token_response("not json"), Error);
}

TEST(RegistryConfig, LoopbackIsInsecureByDefault) {
  RegistryConfig c;
  EXPECT_TRUE(c.is_insecure("127.0.0.1:5000"));
  EXPECT_TRUE(c.is_insecure("127.8.9.10"));
  EXPECT_TRUE(c.is_insecure("localhost:5000"));
  EXPECT_TRUE(c.is_insecure("[::1]:5000"));
  EXPECT_FALSE(c.is_insecure("docker.io"));
  EXPECT_FALSE(c.is_insecure("10.1.2.3:5000"));
  EXPECT_FALSE(c.is_insecure("128.0.0.1"));
}

TEST(RegistryConfig, ParsesMirrorsInsecureAndCidrs) {
  auto c = RegistryConfig::parse(
      R"({"registry-mirrors":["https://m.example/"],"insecure-registries":["reg.local:5000","10.0.0.0/8"],"credentials-file":"/x"})");
  ASSERT_EQ(c.mirrors.size(), 1u);
  EXPECT_EQ(c.mirrors[0], "https://m.example");
  EXPECT_TRUE(c.is_insecure("reg.local:5000"));
  EXPECT_TRUE(c.is_insecure("10.20.30.40:443"));
  EXPECT_FALSE(c.is_insecure("11.0.0.1"));
  EXPECT_EQ(c.credentials_file, "/x");
  EXPECT_THROW(RegistryConfig::parse(R"({"registry-mirrors":"x"})"), Error);
  EXPECT_THROW(RegistryConfig::parse(R"({"registry-mirrors":["ftp://x"]})"), Error);
  EXPECT_THROW(RegistryConfig::parse("[1]"), Error);
  EXPECT_THROW(RegistryConfig::load("/nonexistent/cppcker.json", true), Error);
  EXPECT_TRUE(RegistryConfig::load("/nonexistent/cppcker.json", false).mirrors.empty());
}

TEST(RegistryConfig, CredentialsFromDockerConfigFile) {
  fs::path dir = fs::temp_directory_path() / ("cppcker-unit-" + random_hex(4));
  fs::create_directories(dir);
  std::ofstream(dir / "auth.json") << R"({"auths":{"reg:5000":{"auth":")" << base64_encode("user:pa:ss")
                                   << R"("},"https://index.docker.io/v1/":{"username":"hub","password":"pw"}}})";
  RegistryConfig c;
  c.credentials_file = dir / "auth.json";
  auto reg = c.credentials_for("reg:5000");
  ASSERT_TRUE(reg);
  EXPECT_EQ(reg->username, "user");
  EXPECT_EQ(reg->password, "pa:ss");
  auto hub = c.credentials_for("docker.io");
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->username, "hub");
  EXPECT_FALSE(c.credentials_for("other"));
  remove_tree(dir);
}

TEST(Base64, RoundTrip) {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", "user:password", std::string("\0\xff\x10", 3)})
    EXPECT_EQ(base64_decode(base64_encode(s)), s);
  EXPECT_EQ(base64_encode("user:pass"), "dXNlcjpwYXNz");
  EXPECT_THROW(base64_decode("***"), Error);
}

TEST(Cidr, Matching) {
  EXPECT_TRUE(ip_in_cidr("192.168.1.7", "192.168.0.0/16"));
  EXPECT_FALSE(ip_in_cidr("192.169.1.7", "192.168.0.0/16"));
  EXPECT_TRUE(ip_in_cidr("10.0.0.1", "10.0.0.1"));
  EXPECT_FALSE(ip_in_cidr("host.name", "10.0.0.0/8"));
  EXPECT_FALSE(ip_in_cidr("10.0.0.1", "10.0.0.0/40"));
  EXPECT_TRUE(ip_in_cidr("fd00::1", "fd00::/8"));
}

TEST(Urls, OriginDecidesWhereCredentialsGo) {
  EXPECT_EQ(url_origin("https://Reg.Example/v2/x"), url_origin("https://reg.example:443/v2/y"));
  EXPECT_NE(url_origin("https://reg.example/v2"), url_origin("https://cdn.example/v2"));
  EXPECT_NE(url_origin("http://reg.example/v2"), url_origin("https://reg.example/v2"));
  EXPECT_EQ(resolve_url("https://a.example/v2/x/blobs/y", "/other?z=1"), "https://a.example/other?z=1");
  EXPECT_EQ(resolve_url("https://a.example/v2/x", "https://b.example/p"), "https://b.example/p");
}
