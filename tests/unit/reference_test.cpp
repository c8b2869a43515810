#include <gtest/gtest.h>

#include "cppcker/image/reference.hpp"
#include "cppcker/util/error.hpp"

using cppcker::Error;
using cppcker::Reference;

TEST(Reference, BareNameIsOfficialImageWithLatestTag) {
  auto r = Reference::parse("alpine");
  EXPECT_EQ(r.domain, "docker.io");
  EXPECT_EQ(r.path, "library/alpine");
  EXPECT_EQ(r.tag, "latest");
  EXPECT_EQ(r.string(), "docker.io/library/alpine:latest");
  EXPECT_EQ(r.familiar_string(), "alpine:latest");
  EXPECT_EQ(r.manifest_reference(), "latest");
}

TEST(Reference, UserRepositoryOnDockerHub) {
  auto r = Reference::parse("someone/app:1.2");
  EXPECT_EQ(r.string(), "docker.io/someone/app:1.2");
  EXPECT_EQ(r.familiar_string(), "someone/app:1.2");
}

TEST(Reference, DockerHubAliasesNormalise) {
  EXPECT_EQ(Reference::parse("docker.io/alpine").string(), "docker.io/library/alpine:latest");
  EXPECT_EQ(Reference::parse("index.docker.io/library/alpine:3").string(), "docker.io/library/alpine:3");
  EXPECT_EQ(Reference::parse("docker.io/library/alpine").familiar_name(), "alpine");
  // library/ is only dropped for one-component names.
  EXPECT_EQ(Reference::parse("library/a/b").familiar_name(), "library/a/b");
}

TEST(Reference, RegistryHostsWithPorts) {
  auto r = Reference::parse("127.0.0.1:5000/library/busybox");
  EXPECT_EQ(r.domain, "127.0.0.1:5000");
  EXPECT_EQ(r.path, "library/busybox");
  EXPECT_EQ(r.tag, "latest");
  EXPECT_EQ(r.familiar_string(), "127.0.0.1:5000/library/busybox:latest");
  EXPECT_EQ(Reference::parse("localhost/x").domain, "localhost");
  EXPECT_EQ(Reference::parse("localhost:5000/x:y").tag, "y");
  EXPECT_EQ(Reference::parse("registry.example.com/team/app").domain, "registry.example.com");
  EXPECT_EQ(Reference::parse("[::1]:5000/x").domain, "[::1]:5000");
  // A first component without '.', ':' or "localhost" is a path, not a host.
  EXPECT_EQ(Reference::parse("myhost/x").domain, "docker.io");
}

TEST(Reference, Digests) {
  std::string d = "sha256:" + std::string(64, 'a');
  auto r = Reference::parse("busybox@" + d);
  EXPECT_EQ(r.tag, "");
  EXPECT_EQ(r.digest, d);
  EXPECT_EQ(r.manifest_reference(), d);
  EXPECT_EQ(r.string(), "docker.io/library/busybox@" + d);
  auto both = Reference::parse("busybox:1@" + d);
  EXPECT_EQ(both.tag, "1");
  EXPECT_EQ(both.manifest_reference(), d);
}

TEST(Reference, NameOnlyKeepsTagEmpty) {
  EXPECT_EQ(Reference::parse_name_only("busybox").tag, "");
  EXPECT_EQ(Reference::parse_name_only("busybox:1").tag, "1");
}

TEST(Reference, MalformedReferencesAreRefused) {
  for (const char* bad : {"", "UPPER", "Foo/bar", "a//b", "name:", ":tag", "name@sha256:abc", "name@md5:" "0123",
                          "a/b:tag:more", "-x", "x-", "a..b", "host:port/x", "[::1/x", "name:-tag",
                          "name@sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}) {
    EXPECT_THROW(Reference::parse(bad), Error) << bad;
  }
  try {
    Reference::parse("Busybox");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("must be lowercase"), std::string::npos);
    EXPECT_EQ(std::string(e.what()).rfind("invalid reference format", 0), 0u);
  }
  EXPECT_THROW(Reference::parse(std::string(300, 'a')), Error);
  EXPECT_THROW(Reference::parse("x:" + std::string(129, 't')), Error);
}

TEST(Reference, SeparatorsInPathComponents) {
  for (const char* ok : {"a.b", "a_b", "a__b", "a-b", "a---b", "a/b.c/d_e", "0/1"}) EXPECT_NO_THROW(Reference::parse(ok)) << ok;
  for (const char* bad : {"a___b", "a._b", "_a", "a_"}) EXPECT_THROW(Reference::parse(bad), Error) << bad;
}

TEST(Reference, RegistryHostOfDockerHub) {
  EXPECT_EQ(cppcker::registry_host("docker.io"), "registry-1.docker.io");
  EXPECT_EQ(cppcker::registry_host("127.0.0.1:5000"), "127.0.0.1:5000");
}
