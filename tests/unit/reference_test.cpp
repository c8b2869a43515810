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
}
