// Authentication, mirrors and registry faults, against real registries and a misbehaving proxy.
#include "cppcker/registry/config.hpp"
#include "fixture.hpp"

using cppcker::Compression;
using ts::dir;
using ts::file;

namespace {
std::string credentials_file(const fs::path& dir, const std::string& host, const std::string& user, const std::string& pass) {
  fs::path p = dir / "auth.json";
  std::ofstream(p) << nlohmann::json{{"auths", {{host, {{"auth", cppcker::base64_encode(user + ":" + pass)}}}}}}.dump();
  return p.string();
}
}  // namespace

TEST_F(RegistryTest, BasicAuthRegistry) {
  ts::TempDir dir;
  ts::Registry secured(dir.path, ts::Registry::Auth::htpasswd);
  cppcker::RegistryConfig push_config;
  push_config.credentials_file = credentials_file(dir.path, secured.host(), "tester", "secret");
  auto image = ts::build_image({{ts::make_tar({file("f", "basic")}), Compression::gzip}}, true, host_platform());
  ts::push_image(secured.host(), repo(), "latest", image, push_config);

  auto anonymous = cpk_({"pull", secured.host() + "/" + repo()});
  EXPECT_EQ(anonymous.exit_code, 1);
  EXPECT_NE(anonymous.err.find("pull access denied"), std::string::npos) << anonymous.err;

  std::ofstream(cpk_.config) << nlohmann::json{{"credentials-file", push_config.credentials_file.string()}}.dump();
  auto r = cpk_({"pull", secured.host() + "/" + repo()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(inspect(secured.host() + "/" + repo())["Id"], image.config_digest);

  credentials_file(dir.path, secured.host(), "tester", "wrong");
  ts::Cppcker fresh{tmp_.path / "root2", cpk_.config};
  auto wrong = fresh({"pull", secured.host() + "/" + repo()});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("pull access denied"), std::string::npos) << wrong.err;
}

TEST_F(RegistryTest, TokenAuthRegistry) {
  ts::TempDir dir;
  ts::TokenServer tokens(dir.path, "tester", "secret");
  ts::Registry secured(dir.path, ts::Registry::Auth::token, &tokens);
  cppcker::RegistryConfig push_config;
  push_config.credentials_file = credentials_file(dir.path, secured.host(), "tester", "secret");
  auto image = ts::build_image({{ts::make_tar({file("f", "token")}), Compression::gzip}}, true, host_platform());
  ts::push_image(secured.host(), repo(), "latest", image, push_config);

  // Anonymous: the token server hands out a token without access, the registry refuses it.
  auto anonymous = cpk_({"pull", secured.host() + "/" + repo()});
  EXPECT_EQ(anonymous.exit_code, 1);
  EXPECT_NE(anonymous.err.find("pull access denied"), std::string::npos) << anonymous.err;

  int before = tokens.authenticated_requests;
  std::ofstream(cpk_.config) << nlohmann::json{{"credentials-file", push_config.credentials_file.string()}}.dump();
  auto r = cpk_({"pull", secured.host() + "/" + repo()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(inspect(secured.host() + "/" + repo())["Id"], image.config_digest);
  EXPECT_EQ(tokens.authenticated_requests - before, 1);  // one token serves manifest, config and layers

  credentials_file(dir.path, secured.host(), "tester", "wrong");
  ts::Cppcker fresh{tmp_.path / "root2", cpk_.config};
  auto wrong = fresh({"pull", secured.host() + "/" + repo()});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("authentication failed"), std::string::npos) << wrong.err;
}

TEST_F(RegistryTest, CredentialsDoNotFollowARedirectToAnotherHost) {
  ts::TempDir dir;
  ts::Registry secured(dir.path, ts::Registry::Auth::htpasswd);
  ts::FaultProxy proxy(secured.port());
  cppcker::RegistryConfig push_config;
  push_config.credentials_file = credentials_file(dir.path, secured.host(), "tester", "secret");
  auto image = ts::build_image({{ts::make_tar({file("f", std::string(70000, 'r'))}), Compression::gzip}}, true, host_platform());
  ts::push_image(secured.host(), repo(), "latest", image, push_config);

  // A blob store on another origin (another port), as registries redirect blobs to a CDN.
  std::atomic<int> cdn_requests{0};
  std::atomic<int> cdn_saw_authorization{0};
  std::string blob = image.layers[0].data;
  ts::TcpServer cdn([&](int fd) {
    auto req = ts::read_request(fd);
    if (!req) return;
    ++cdn_requests;
    if (req->headers.count("authorization")) ++cdn_saw_authorization;
    ts::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(blob.size()) + "\r\nConnection: close\r\n\r\n" + blob);
  });
  proxy.set_redirect("http://127.0.0.1:" + std::to_string(cdn.port()) + "/cdn/layer?signature=x");
  proxy.set(ts::FaultProxy::Fault::redirect, image.layers[0].digest, 1);

  credentials_file(dir.path, proxy.host(), "tester", "secret");
  std::ofstream(cpk_.config) << nlohmann::json{{"credentials-file", push_config.credentials_file.string()}}.dump();
  auto r = cpk_({"pull", proxy.host() + "/" + repo()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(proxy.faults_applied, 1);
  EXPECT_EQ(cdn_requests, 1);
  EXPECT_EQ(cdn_saw_authorization, 0) << "credentials were sent to another host";
  EXPECT_EQ(inspect(proxy.host() + "/" + repo())["Id"], image.config_digest);
}

TEST_F(RegistryTest, DockerHubNamesAreServedByTheConfiguredMirror) {
  auto image = ts::build_image({{ts::make_tar({file("mirror", "m")}), Compression::gzip}}, true, host_platform());
  ts::push_image(reg(), "library/cppcker-mirror-test", "latest", image);
  std::ofstream(cpk_.config) << nlohmann::json{{"registry-mirrors", {"http://" + reg()}}}.dump();
  auto r = cpk_({"pull", "cppcker-mirror-test"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("docker.io/library/cppcker-mirror-test:latest"), std::string::npos) << r.out;
  auto images = cpk_({"images"});
  EXPECT_NE(images.out.find("cppcker-mirror-test"), std::string::npos) << images.out;
  EXPECT_EQ(inspect("cppcker-mirror-test")["RepoTags"][0], "cppcker-mirror-test:latest");

  std::ofstream(cpk_.config) << R"({"registry-mirrors": ["ftp://nope"]})";
  auto bad = cpk_({"images"});
  EXPECT_EQ(bad.exit_code, 0);  // images never reads the registry settings
  auto badpull = cpk_({"pull", "cppcker-mirror-test"});
  EXPECT_EQ(badpull.exit_code, 1);
  EXPECT_NE(badpull.err.find("must start with http:// or https://"), std::string::npos) << badpull.err;
}

class FaultTest : public RegistryTest {
 protected:
  void SetUp() override {
    RegistryTest::SetUp();
    proxy_ = std::make_unique<ts::FaultProxy>(registry_->port());
    std::string data(400000, '\0');
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 7919u) % 251u);
    entries_ = {dir("d"), file("d/data", data)};
    image_ = ts::build_image({{ts::make_tar(entries_), Compression::gzip}}, true, host_platform());
    ts::push_image(reg(), repo(), "latest", image_);
    name_ = proxy_->host() + "/" + repo();
  }
  void expect_nothing_stored() {
    EXPECT_EQ(cpk_({"images", "-q"}).out, "");
    EXPECT_TRUE(committed_layers().empty());
  }
  std::unique_ptr<ts::FaultProxy> proxy_;
  std::vector<ts::Entry> entries_;
  ts::BuiltImage image_;
  std::string name_;
};

TEST_F(FaultTest, CorruptBlobFailsDigestCheck) {
  proxy_->set(ts::FaultProxy::Fault::corrupt_blob, image_.layers[0].digest, 100);
  auto r = cpk_({"pull", name_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("verification failed"), std::string::npos) << r.err;
  expect_nothing_stored();
}

TEST_F(FaultTest, TruncatedBlobFails) {
  // Every response for the blob, resumed ones included, is cut short: the blob cannot be completed.
  proxy_->set(ts::FaultProxy::Fault::truncate_blob, image_.layers[0].digest, 100);
  auto r = cpk_({"pull", name_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("size mismatch"), std::string::npos) << r.err;
  expect_nothing_stored();
}

TEST_F(FaultTest, OneTruncatedResponseIsCompletedWithRange) {
  proxy_->set(ts::FaultProxy::Fault::truncate_blob, image_.layers[0].digest, 1);
  auto r = cpk_({"pull", name_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(proxy_->range_requests, 1);
  EXPECT_EQ(ts::describe_tree(layer_dirs(name_)[0]), ts::describe_entries(entries_));
}

TEST_F(FaultTest, ServerErrorsAreRetried) {
  proxy_->set(ts::FaultProxy::Fault::error_500, image_.layers[0].digest, 2);
  auto r = cpk_({"pull", name_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(proxy_->faults_applied, 2);
  EXPECT_EQ(ts::describe_tree(layer_dirs(name_)[0]), ts::describe_entries(entries_));
}

TEST_F(FaultTest, PersistentServerErrorsFailClearly) {
  proxy_->set(ts::FaultProxy::Fault::error_500, "/manifests/", 100);
  auto r = cpk_({"pull", name_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(proxy_->faults_applied, 5);  // the default retry policy: five attempts
  EXPECT_NE(r.err.find("500"), std::string::npos) << r.err;
  expect_nothing_stored();
}

TEST_F(FaultTest, DroppedConnectionResumesWithRange) {
  proxy_->set(ts::FaultProxy::Fault::drop_once, image_.layers[0].digest, 1);
  auto r = cpk_({"pull", name_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(proxy_->faults_applied, 1);
  EXPECT_GE(proxy_->range_requests, 1);
  EXPECT_EQ(ts::describe_tree(layer_dirs(name_)[0]), ts::describe_entries(entries_));
}

TEST_F(FaultTest, Schema1ManifestIsRefusedClearly) {
  proxy_->set(ts::FaultProxy::Fault::schema1_manifest, "/manifests/", 1);
  auto r = cpk_({"pull", name_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("schema 1"), std::string::npos) << r.err;
}

TEST_F(RegistryTest, DiffIdMismatchIsRefused) {
  auto image = ts::build_image({{ts::make_tar({file("f", "real")}), Compression::gzip}}, true, host_platform(), {"sh"},
                               "sha256:" + std::string(64, 'd'));
  ts::push_image(reg(), repo(), "latest", image);
  auto r = cpk_({"pull", reg() + "/" + repo()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("diffID"), std::string::npos) << r.err;
  EXPECT_TRUE(committed_layers().empty());
}
