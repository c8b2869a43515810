// Push building blocks that need no registry: credentials file writing, deterministic layer compression,
// manifest conversion.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "cppcker/image/push.hpp"
#include "cppcker/registry/config.hpp"
#include "cppcker/util/decompress.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"
#include "cppcker/util/sha256.hpp"

using namespace cppcker;

namespace {

struct TempRoot {
  fs::path path = fs::temp_directory_path() / ("cppcker-push-" + random_hex(6));
  TempRoot() { make_dirs(path); }
  ~TempRoot() { remove_tree(path); }
};

mode_t mode_of(const fs::path& p) {
  struct stat st{};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

std::string compress_all(Compression c, const std::string& data, std::size_t piece) {
  std::string out;
  LayerCompressor compressor(c, [&](std::string_view chunk) { out.append(chunk); });
  for (std::size_t off = 0; off < data.size(); off += piece) compressor.write(std::string_view(data).substr(off, piece));
  compressor.finish();
  return out;
}

std::string decompress_all(const std::string& data) {
  std::string out;
  Decompressor d([&](std::string_view chunk) { out.append(chunk); });
  d.feed(data);
  d.finish();
  return out;
}

std::string sample_data() {
  std::string data;
  for (int i = 0; i < 200000; ++i) data += std::to_string(i * 7919 % 100003) + (i % 13 ? " " : "\n");
  return data;
}

}  // namespace

TEST(CredentialsKey, NormalisesServersAsDocker) {
  EXPECT_EQ(credentials_key(""), "https://index.docker.io/v1/");
  EXPECT_EQ(credentials_key("docker.io"), "https://index.docker.io/v1/");
  EXPECT_EQ(credentials_key("https://index.docker.io/v1/"), "https://index.docker.io/v1/");
  EXPECT_EQ(credentials_key("registry-1.docker.io"), "https://index.docker.io/v1/");
  EXPECT_EQ(credentials_key("127.0.0.1:5000"), "127.0.0.1:5000");
  EXPECT_EQ(credentials_key("http://Registry.Example:5000/v2/"), "registry.example:5000");
  EXPECT_EQ(credentials_domain("https://index.docker.io/v1/"), "docker.io");
  EXPECT_EQ(credentials_domain("127.0.0.1:5000"), "127.0.0.1:5000");
}

TEST(CredentialsFile, WritesAuthsKeepingOtherKeysWithMode0600) {
  TempRoot tmp;
  fs::path file = tmp.path / "docker" / "config.json";  // the parent does not exist yet
  store_credentials(file, "127.0.0.1:5000", {"tester", "se:cret"});
  EXPECT_EQ(mode_of(file), 0600u);
  EXPECT_EQ(mode_of(file.parent_path()), 0700u);

  // Another tool's keys and other registries survive a second login.
  auto j = nlohmann::json::parse(read_file(file));
  j["credsStore"] = "";
  j["proxies"] = {{"default", {{"httpProxy", "http://p:3128"}}}};
  j["auths"]["other:1"] = {{"auth", base64_encode("a:b")}, {"email", "x@y"}};
  write_file_atomic(file, j.dump(), 0644);
  store_credentials(file, "127.0.0.1:5000", {"tester", "new"});
  EXPECT_EQ(mode_of(file), 0600u);
  auto after = nlohmann::json::parse(read_file(file));
  EXPECT_EQ(after["credsStore"], "");
  EXPECT_EQ(after["proxies"]["default"]["httpProxy"], "http://p:3128");
  EXPECT_EQ(after["auths"]["other:1"]["email"], "x@y");
  EXPECT_EQ(after["auths"]["127.0.0.1:5000"]["auth"], base64_encode("tester:new"));

  RegistryConfig config;
  config.credentials_file = file;
  auto creds = config.credentials_for("127.0.0.1:5000");
  ASSERT_TRUE(creds);
  EXPECT_EQ(creds->username, "tester");
  EXPECT_EQ(creds->password, "new");

  EXPECT_TRUE(remove_credentials(file, "127.0.0.1:5000"));
  EXPECT_FALSE(remove_credentials(file, "127.0.0.1:5000"));
  after = nlohmann::json::parse(read_file(file));
  EXPECT_FALSE(after["auths"].contains("127.0.0.1:5000"));
  EXPECT_TRUE(after["auths"].contains("other:1"));
  EXPECT_EQ(after["proxies"]["default"]["httpProxy"], "http://p:3128");
  EXPECT_FALSE(config.credentials_for("127.0.0.1:5000"));

  // No temporaries left beside it.
  for (auto& e : fs::directory_iterator(file.parent_path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
}

TEST(CredentialsFile, MalformedFileIsRefusedNotOverwritten) {
  TempRoot tmp;
  fs::path file = tmp.path / "config.json";
  write_file_atomic(file, "{not json", 0600);
  EXPECT_THROW(store_credentials(file, "h:1", {"u", "p"}), Error);
  EXPECT_EQ(read_file(file), "{not json");
  EXPECT_FALSE(remove_credentials(tmp.path / "missing.json", "h:1"));
}

TEST(CredentialsFile, DefaultPathIsDockersOwn) {
  RegistryConfig config;
  const char* old = std::getenv("DOCKER_CONFIG");
  std::string saved = old ? old : "";
  ::setenv("DOCKER_CONFIG", "/nonexistent-cppcker-test", 1);
  EXPECT_EQ(config.credentials_path(), fs::path("/nonexistent-cppcker-test/config.json"));
  EXPECT_FALSE(config.credentials_for("127.0.0.1:5000"));  // a missing default file is no error
  if (old) ::setenv("DOCKER_CONFIG", saved.c_str(), 1);
  else ::unsetenv("DOCKER_CONFIG");
  config.credentials_file = "/nonexistent-cppcker-test/explicit.json";
  EXPECT_EQ(config.credentials_path(), fs::path("/nonexistent-cppcker-test/explicit.json"));
  EXPECT_FALSE(config.credentials_for("127.0.0.1:5000"));  // nor a configured one that `login` has not made yet
}

TEST(LayerCompressor, GzipIsDeterministicWithoutNameOrTime) {
  std::string data = sample_data();
  std::string a = compress_all(Compression::gzip, data, 4096);
  std::string b = compress_all(Compression::gzip, data, 100000);  // however the input is cut
  EXPECT_EQ(sha256_digest(a), sha256_digest(b));
  ASSERT_GT(a.size(), 10u);
  EXPECT_EQ(static_cast<unsigned char>(a[0]), 0x1fu);
  EXPECT_EQ(static_cast<unsigned char>(a[1]), 0x8bu);
  EXPECT_EQ(a[3] & 0x08, 0) << "FNAME set";
  EXPECT_EQ(a.substr(4, 4), std::string(4, '\0')) << "MTIME set";
  EXPECT_LT(a.size(), data.size());
  EXPECT_EQ(detect_compression(a), Compression::gzip);
  EXPECT_EQ(decompress_all(a), data);
}

TEST(LayerCompressor, ZstdRoundTripsAndEmptyInput) {
  std::string data = sample_data();
  std::string z = compress_all(Compression::zstd, data, 65536);
  EXPECT_EQ(detect_compression(z), Compression::zstd);
  EXPECT_EQ(z, compress_all(Compression::zstd, data, 7));
  EXPECT_EQ(decompress_all(z), data);
  EXPECT_EQ(decompress_all(compress_all(Compression::gzip, "", 1)), "");
  EXPECT_THROW(LayerCompressor(Compression::none, [](std::string_view) {}), Error);
}

TEST(PushManifest, MediaTypesFollowTheFormatAndConfigStays) {
  Descriptor config{"", "sha256:" + std::string(64, 'c'), 1234, {}, {}, {}};
  std::vector<Descriptor> layers = {{std::string(media_type::oci_layer_gzip), "sha256:" + std::string(64, 'a'), 10, {}, {}, {}}};
  auto oci = nlohmann::json::parse(build_manifest(ManifestFormat::oci, config, layers));
  EXPECT_EQ(oci["schemaVersion"], 2);
  EXPECT_EQ(oci["mediaType"], media_type::oci_manifest);
  EXPECT_EQ(oci["config"]["mediaType"], media_type::oci_config);
  EXPECT_EQ(oci["config"]["digest"], config.digest);
  EXPECT_EQ(oci["config"]["size"], 1234);
  EXPECT_EQ(oci["layers"][0]["digest"], layers[0].digest);
  auto doc = parse_manifest_document(build_manifest(ManifestFormat::oci, config, layers), "");
  EXPECT_EQ(parse_image_manifest(doc.json, doc.media_type).layers.size(), 1u);

  layers[0].media_type = media_type::docker_layer_gzip;
  auto v2 = nlohmann::json::parse(build_manifest(ManifestFormat::docker_v2s2, config, layers));
  EXPECT_EQ(v2["mediaType"], media_type::docker_manifest);
  EXPECT_EQ(v2["config"]["mediaType"], media_type::docker_config);
  EXPECT_EQ(v2["layers"][0]["mediaType"], media_type::docker_layer_gzip);
}

TEST(PushOptions, ParsesFormatsAndCompressions) {
  EXPECT_EQ(parse_manifest_format("oci"), ManifestFormat::oci);
  EXPECT_EQ(parse_manifest_format("v2s2"), ManifestFormat::docker_v2s2);
  EXPECT_THROW(parse_manifest_format("v1"), Error);
  EXPECT_EQ(parse_push_compression("zstd"), Compression::zstd);
  EXPECT_EQ(parse_push_compression("gzip"), Compression::gzip);
  EXPECT_THROW(parse_push_compression("xz"), Error);
}
