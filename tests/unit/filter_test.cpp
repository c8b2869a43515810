#include <gtest/gtest.h>

#include "cppcker/format/filter.hpp"
#include "cppcker/util/error.hpp"

using cppcker::format::Filters;
using cppcker::format::glob_match;

namespace {

const std::set<std::string> kPs = {"id", "name", "label", "status"};

std::string error_of(const std::vector<std::string>& args) {
  try {
    Filters::parse(args, kPs);
  } catch (const cppcker::Error& e) {
    EXPECT_EQ(e.exit_code(), 1);
    return e.what();
  }
  return "";
}

TEST(Filters, ParseAndValidate) {
  EXPECT_EQ(error_of({"color=red"}), "invalid filter 'color'");
  EXPECT_EQ(error_of({"name"}), "bad format of filter (expected name=value)");
  EXPECT_EQ(error_of({"name=a", "label=x=y"}), "");
  auto f = Filters::parse({"name=a", "name=b", "label=k=v=w", "NAME=c"}, kPs);
  EXPECT_EQ(f.values("name"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(f.values("label"), (std::vector<std::string>{"k=v=w"}));
  EXPECT_TRUE(f.values("status").empty());
  EXPECT_FALSE(f.has("status"));
  EXPECT_TRUE(Filters::parse({}, kPs).empty());
}

TEST(Filters, SameKeyIsAnyDifferentKeysAreAll) {
  auto f = Filters::parse({"status=running", "status=exited"}, kPs);
  EXPECT_TRUE(f.match_exact("status", "running"));
  EXPECT_TRUE(f.match_exact("status", "exited"));
  EXPECT_FALSE(f.match_exact("status", "created"));
  EXPECT_TRUE(f.match_exact("name", "anything"));  // no name filter: everything passes
}

TEST(Filters, NameIsARegularExpressionSearch) {
  auto f = Filters::parse({"name=web"}, kPs);
  EXPECT_TRUE(f.match_regex("name", "myweb1"));
  EXPECT_FALSE(f.match_regex("name", "db"));
  auto anchored = Filters::parse({"name=^web$"}, kPs);
  EXPECT_TRUE(anchored.match_regex("name", "web"));
  EXPECT_FALSE(anchored.match_regex("name", "web2"));
  auto bad = Filters::parse({"name=(("}, kPs);
  EXPECT_THROW(bad.match_regex("name", "x"), cppcker::Error);
}

TEST(Filters, IdIsAPrefix) {
  auto f = Filters::parse({"id=4f2d"}, kPs);
  EXPECT_TRUE(f.match_prefix("id", "4f2d7c3c9a6a"));
  EXPECT_FALSE(f.match_prefix("id", "a4f2d"));
}

TEST(Filters, LabelsAllMustHold) {
  std::map<std::string, std::string> labels = {{"env", "prod"}, {"tier", "web"}};
  EXPECT_TRUE(Filters::parse({"label=env"}, kPs).match_labels(labels));
  EXPECT_TRUE(Filters::parse({"label=env=prod", "label=tier"}, kPs).match_labels(labels));
  EXPECT_FALSE(Filters::parse({"label=env=dev"}, kPs).match_labels(labels));
  EXPECT_FALSE(Filters::parse({"label=env", "label=missing"}, kPs).match_labels(labels));
  EXPECT_FALSE(Filters::parse({"label=env="}, kPs).match_labels(labels));
  EXPECT_TRUE(Filters::parse({"label=empty="}, kPs).match_labels({{"empty", ""}}));
}

TEST(Filters, Boolean) {
  const std::set<std::string> keys = {"dangling"};
  EXPECT_TRUE(Filters::parse({"dangling=true"}, keys).boolean("dangling", false));
  EXPECT_FALSE(Filters::parse({"dangling=0"}, keys).boolean("dangling", true));
  EXPECT_TRUE(Filters::parse({}, keys).boolean("dangling", true));
  try {
    Filters::parse({"dangling=maybe"}, keys).boolean("dangling", false);
    ADD_FAILURE();
  } catch (const cppcker::Error& e) {
    EXPECT_EQ(std::string(e.what()), "invalid filter 'dangling=maybe'");
  }
}

TEST(Glob, GoFilepathMatch) {
  EXPECT_TRUE(glob_match("busy*", "busybox"));
  EXPECT_TRUE(glob_match("*box", "busybox"));
  EXPECT_FALSE(glob_match("busy*", "library/busybox"));
  EXPECT_TRUE(glob_match("*/busybox", "library/busybox"));
  EXPECT_FALSE(glob_match("*", "a/b"));  // * does not cross "/"
  EXPECT_TRUE(glob_match("b?sy[a-z]ox", "busybox"));
  EXPECT_FALSE(glob_match("b[^u]sybox", "busybox"));
  EXPECT_TRUE(glob_match("img:v\\*", "img:v*"));
  EXPECT_FALSE(glob_match("img", "img2"));
  EXPECT_TRUE(glob_match("", ""));
}

}  // namespace
