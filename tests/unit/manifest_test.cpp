#include <gtest/gtest.h>

#include "cppcker/image/manifest.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/sha256.hpp"

using namespace cppcker;

namespace {
const std::string kD1 = "sha256:" + std::string(64, '1');
const std::string kD2 = "sha256:" + std::string(64, '2');
const std::string kD3 = "sha256:" + std::string(64, '3');

std::string index_body(const std::string& media_type) {
  return R"({"schemaVersion":2,"mediaType":")" + media_type + R"(","manifests":[
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + kD1 +
         R"(","size":10,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + kD2 +
         R"(","size":11,"platform":{"os":"linux","architecture":"amd64"}},
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + kD3 +
         R"(","size":12,"platform":{"os":"linux","architecture":"arm","variant":"v7"}}]})";
}
}  // namespace

TEST(ManifestDocument, KindsAndMediaTypes) {
  auto idx = parse_manifest_document(index_body(std::string(media_type::oci_index)), "");
  EXPECT_EQ(idx.kind, ManifestKind::index);
  auto list = parse_manifest_document(index_body(std::string(media_type::docker_list)), "");
  EXPECT_EQ(list.kind, ManifestKind::index);
  EXPECT_EQ(list.media_type, media_type::docker_list);
  // No mediaType in the body: the Content-Type header decides.
  std::string body = R"({"schemaVersion":2,"config":{"mediaType":"x","digest":")" + kD1 + R"(","size":1},"layers":[]})";
  auto m = parse_manifest_document(body, "application/vnd.docker.distribution.manifest.v2+json; charset=utf-8");
  EXPECT_EQ(m.kind, ManifestKind::image);
  EXPECT_EQ(m.media_type, media_type::docker_manifest);
  // Neither: recognised by its shape as OCI.
  EXPECT_EQ(parse_manifest_document(body, "application/json").media_type, media_type::oci_manifest);
}

TEST(ManifestDocument, Schema1AndJunkAreRefused) {
  try {
    parse_manifest_document(R"({"schemaVersion":1,"name":"x","fsLayers":[]})", "application/json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("schema 1"), std::string::npos);
  }
  EXPECT_THROW(parse_manifest_document(R"({"schemaVersion":2})", std::string(media_type::docker_schema1_signed)), Error);
  EXPECT_THROW(parse_manifest_document("not json", ""), Error);
  EXPECT_THROW(parse_manifest_document(R"({"mediaType":"application/x-unknown"})", ""), Error);
}

TEST(ImageManifest, ParsesAndValidatesDescriptors) {
  std::string body = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
    "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" + kD1 + R"(","size":100},
    "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","digest":")" + kD2 + R"(","size":5}]})";
  auto doc = parse_manifest_document(body, "");
  auto m = parse_image_manifest(doc.json, doc.media_type);
  EXPECT_EQ(m.config.digest, kD1);
  ASSERT_EQ(m.layers.size(), 1u);
  EXPECT_EQ(m.layers[0].size, 5);
  auto bad_digest = nlohmann::json::parse(body);
  bad_digest["layers"][0]["digest"] = "sha512:abc";
  EXPECT_THROW(parse_image_manifest(bad_digest, doc.media_type), Error);
  auto bad_size = nlohmann::json::parse(body);
  bad_size["layers"][0]["size"] = -1;
  EXPECT_THROW(parse_image_manifest(bad_size, doc.media_type), Error);
  auto bad_type = nlohmann::json::parse(body);
  bad_type["layers"][0]["mediaType"] = "application/x-evil";
  EXPECT_THROW(parse_image_manifest(bad_type, doc.media_type), Error);
}

TEST(Platform, ParseAndNormalise) {
  EXPECT_EQ(Platform::parse("linux/amd64").string(), "linux/amd64");
  EXPECT_EQ(Platform::parse("linux/x86_64").string(), "linux/amd64");
  EXPECT_EQ(Platform::parse("linux/aarch64").string(), "linux/arm64");
  EXPECT_EQ(Platform::parse("linux/arm64/v8").string(), "linux/arm64");
  EXPECT_EQ(Platform::parse("linux/arm").string(), "linux/arm/v7");
  EXPECT_EQ(Platform::parse("linux/armhf").string(), "linux/arm/v7");
  EXPECT_EQ(Platform::parse("arm64").string(), "linux/arm64");
  EXPECT_EQ(normalize({"linux", "armv6l", ""}).string(), "linux/arm/v6");
  EXPECT_THROW(Platform::parse("linux//"), Error);
  EXPECT_THROW(Platform::parse("a/b/c/d"), Error);
  EXPECT_EQ(Platform::host().os, "linux");
  EXPECT_FALSE(Platform::host().architecture.empty());
}

TEST(Platform, SelectFromIndex) {
  auto doc = parse_manifest_document(index_body(std::string(media_type::oci_index)), "");
  auto index = parse_image_index(doc.json, doc.media_type);
  EXPECT_EQ(select_platform(index, Platform::parse("linux/amd64")).digest, kD2);
  EXPECT_EQ(select_platform(index, Platform::parse("linux/arm64")).digest, kD1);  // v8 == no variant
  EXPECT_EQ(select_platform(index, Platform::parse("linux/arm/v7")).digest, kD3);
  try {
    select_platform(index, Platform::parse("linux/s390x"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no matching manifest for linux/s390x"), std::string::npos);
  }
  EXPECT_THROW(select_platform(index, Platform::parse("linux/arm/v6")), Error);
}

TEST(ImageConfig, DiffIdsAndPlatform) {
  auto c = parse_image_config(R"({"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z",
    "rootfs":{"type":"layers","diff_ids":[")" + kD1 + R"(",")" + kD2 + R"("]}})");
  EXPECT_EQ(c.diff_ids.size(), 2u);
  EXPECT_EQ(c.platform.string(), "linux/amd64");
  EXPECT_THROW(parse_image_config(R"({"rootfs":{"diff_ids":["nope"]}})"), Error);
  EXPECT_THROW(parse_image_config(R"({"os":"linux"})"), Error);
}

TEST(ChainIds, FollowTheOciDefinition) {
  auto ids = chain_ids({kD1, kD2, kD3});
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], kD1);
  EXPECT_EQ(ids[1], sha256_digest(kD1 + " " + kD2));
  EXPECT_EQ(ids[2], sha256_digest(ids[1] + " " + kD3));
}

TEST(Compression, MagicBytes) {
  EXPECT_EQ(detect_compression(std::string("\x1f\x8b\x08\x00", 4)), Compression::gzip);
  EXPECT_EQ(detect_compression(std::string("\x28\xb5\x2f\xfd", 4)), Compression::zstd);
  EXPECT_EQ(detect_compression("ustar"), Compression::none);
  EXPECT_EQ(detect_compression(""), Compression::none);
}
