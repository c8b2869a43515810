// push, login and logout against real docker-registry instances (plain, htpasswd, token), through the
// fault proxy where requests are counted or connections dropped; skopeo on the other side.
#include <sys/stat.h>

#include <random>

#include "cppcker/registry/client.hpp"
#include "cppcker/registry/config.hpp"
#include "cppcker/util/fs.hpp"
#include "fixture.hpp"

using cppcker::Compression;
using ts::dir;
using ts::file;
namespace media_type = cppcker::media_type;

namespace {

std::vector<ts::Entry> base_entries() {
  ts::Entry noted = file("etc/noted", "with xattr");
  noted.xattrs["user.note"] = "hello";
  return {dir("bin"),
          file("bin/tool", std::string(120000, 'x') + "end", 04755),
          ts::symlink("bin/sh", "tool"),
          ts::hardlink("bin/tool2", "bin/tool"),
          dir("etc"),
          file("etc/hostname", "pushed\n"),
          noted,
          dir("home", 0755),
          dir("home/user", 0750, 1000, 1000),
          file("home/user/secret", "s3cret", 0600, 1000, 1000)};
}

std::vector<ts::Entry> top_entries(const std::string& tag) {
  return {dir("srv"), file("srv/data", "top layer " + tag + "\n" + std::string(30000, 't')), dir("srv/empty", 0700)};
}

// Bytes that do not compress, so that a gzip'd layer stays above a small chunk size.
std::string noise(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

std::string shell_quote(const std::vector<std::string>& argv) {
  std::string cmd;
  for (const auto& a : argv) cmd += "'" + a + "' ";
  return cmd;
}

}  // namespace

class PushTest : public RegistryTest {
 protected:
  // Loads an image named `name` from a docker-archive directory, its layers stored as given (a layer
  // written uncompressed stays uncompressed in the store, so push must compress it).
  ts::BuiltImage load(const std::string& name, const std::vector<ts::Layer>& layers) {
    auto image = ts::build_image(layers, false, host_platform());
    fs::path archive = tmp_.path / ("archive-" + cppcker::random_hex(4));
    fs::create_directories(archive / "layers");
    std::ofstream(archive / "config.json", std::ios::binary) << image.config;
    nlohmann::json paths = nlohmann::json::array();
    for (std::size_t i = 0; i < image.layers.size(); ++i) {
      std::string rel = "layers/" + std::to_string(i) + ".tar";
      std::ofstream(archive / rel, std::ios::binary) << image.layers[i].data;
      paths.push_back(rel);
    }
    std::ofstream(archive / "manifest.json")
        << nlohmann::json::array({{{"Config", "config.json"}, {"RepoTags", {name}}, {"Layers", paths}}}).dump();
    auto r = cpk_({"load", "-i", archive.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return image;
  }

  static cppcker::FetchedManifest remote_manifest(const std::string& name, const std::string& tag,
                                                  const cppcker::RegistryConfig& config = {}) {
    cppcker::RegistryClient client(config, cppcker::Reference::parse(name + ":" + tag), "pull");
    return client.fetch_manifest(tag);
  }

  // The pushed digest from "<tag>: digest: sha256:... size: N".
  static std::string printed_digest(const std::string& out, const std::string& tag) {
    auto pos = out.find(tag + ": digest: ");
    if (pos == std::string::npos) return "";
    return out.substr(pos + tag.size() + 10, 71);
  }

  void expect_round_trip(const ts::Cppcker& cpk, const std::string& ref, const ts::BuiltImage& image,
                         const std::vector<std::vector<ts::Entry>>& entries) {
    auto pulled = cpk({"pull", ref});
    ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
    ts::Cppcker saved = cpk_;
    cpk_ = cpk;  // inspect() and layer_dirs() read the fixture's store
    EXPECT_EQ(inspect(ref)["Id"], image.config_digest);
    auto dirs = layer_dirs(ref);
    ASSERT_EQ(dirs.size(), entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i) EXPECT_EQ(ts::describe_tree(dirs[i]), ts::describe_entries(entries[i])) << i;
    cpk_ = saved;
  }
};

TEST_F(PushTest, RoundTripCompressesStoredTarsAndASecondPushUploadsNothing) {
  ts::FaultProxy proxy(registry_->port());
  const std::string name = proxy.host() + "/" + repo();
  auto base = base_entries(), top = top_entries("1");
  auto image = load(name + ":v1", {{ts::make_tar(base), Compression::none}, {ts::make_tar(top), Compression::gzip}});

  auto first = cpk_({"push", name + ":v1"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("The push refers to repository [" + name + "]"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find(": Pushed\n"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find(": Preparing\n"), std::string::npos) << first.out;
  EXPECT_EQ(proxy.count("POST", "/blobs/uploads/"), 3) << "two layers and the config";

  auto manifest = remote_manifest(name, "v1");
  EXPECT_EQ(printed_digest(first.out, "v1"), manifest.digest) << first.out;
  auto m = nlohmann::json::parse(manifest.body);
  EXPECT_EQ(m["mediaType"], media_type::docker_manifest);
  EXPECT_EQ(m["config"]["digest"], image.config_digest);
  ASSERT_EQ(m["layers"].size(), 2u);
  // The stored tar went up gzip'd under a new digest; the stored gzip blob went up as it was.
  EXPECT_EQ(m["layers"][0]["mediaType"], media_type::docker_layer_gzip);
  EXPECT_NE(m["layers"][0]["digest"], image.layers[0].digest);
  EXPECT_EQ(m["layers"][1]["digest"], image.layers[1].digest);

  proxy.clear_log();
  auto second = cpk_({"push", name + ":v1"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(proxy.count("POST"), 0);
  EXPECT_EQ(proxy.count("PATCH"), 0);
  EXPECT_EQ(proxy.count("PUT", "/blobs/"), 0);
  EXPECT_EQ(proxy.count("PUT", "/manifests/v1"), 1);
  std::size_t exists = 0;
  for (std::size_t pos = 0; (pos = second.out.find("Layer already exists", pos)) != std::string::npos; ++pos) ++exists;
  EXPECT_EQ(exists, 2u) << second.out;
  EXPECT_EQ(printed_digest(second.out, "v1"), manifest.digest) << "the same bytes again";

  auto rmi = cpk_({"rmi", name + ":v1"});
  ASSERT_EQ(rmi.exit_code, 0) << rmi.err;
  EXPECT_EQ(cpk_({"images", "-q"}).out, "");
  expect_round_trip(cpk_, name + ":v1", image, {base, top});
}

TEST_F(PushTest, SkopeoReadsWhatCppckerPushedAndCppckerPullsWhatSkopeoPushed) {
  if (!ts::have_command("skopeo")) GTEST_FAIL() << "skopeo is required (installed by scripts/install-deps.sh)";
  const std::string name = reg() + "/" + repo();
  auto base = base_entries(), top = top_entries("sk");
  auto image = load(name + ":v1", {{ts::make_tar(base), Compression::gzip}, {ts::make_tar(top), Compression::none}});
  auto pushed = cpk_({"push", name + ":v1"});
  ASSERT_EQ(pushed.exit_code, 0) << pushed.err;

  fs::path oci = tmp_.path / "oci";
  auto copy = ts::run({"skopeo", "copy", "--src-tls-verify=false", "docker://" + name + ":v1", "oci:" + oci.string() + ":v1"});
  ASSERT_EQ(copy.exit_code, 0) << copy.err;  // skopeo verifies every blob's digest
  auto inspected = ts::run({"skopeo", "inspect", "--tls-verify=false", "--raw", "docker://" + name + ":v1"});
  ASSERT_EQ(inspected.exit_code, 0) << inspected.err;
  EXPECT_EQ(nlohmann::json::parse(inspected.out)["config"]["digest"], image.config_digest);

  // The other way: skopeo pushes what `cppcker save` wrote; a fresh store pulls it.
  fs::path archive = tmp_.path / "saved.tar";
  auto save = cpk_({"save", "-o", archive.string(), name + ":v1"});
  ASSERT_EQ(save.exit_code, 0) << save.err;
  const std::string other = reg() + "/" + repo("-skopeo");
  auto up = ts::run({"skopeo", "copy", "--dest-tls-verify=false", "docker-archive:" + archive.string(), "docker://" + other + ":sk"});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  ts::Cppcker fresh{tmp_.path / "root2", cpk_.config};
  auto pulled = fresh({"pull", other + ":sk"});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
  expect_round_trip(fresh, other + ":sk", image, {base, top});
}

TEST_F(PushTest, CrossRepositoryMountFromAnotherRepositoryOfTheRegistry) {
  ts::FaultProxy proxy(registry_->port());
  const std::string a = proxy.host() + "/" + repo("-a"), b = proxy.host() + "/" + repo("-b");
  auto image = load(a + ":1", {{ts::make_tar(base_entries()), Compression::gzip}});
  ASSERT_EQ(cpk_({"push", a + ":1"}).exit_code, 0);
  ASSERT_EQ(cpk_({"tag", a + ":1", b + ":1"}).exit_code, 0);

  proxy.clear_log();
  auto r = cpk_({"push", b + ":1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Mounted from " + repo("-a")), std::string::npos) << r.out;
  int mounted = 0;
  for (const auto& l : proxy.log())
    if (l.method == "POST" && l.target.find("mount=") != std::string::npos &&
        l.target.find(image.layers[0].digest.substr(7)) != std::string::npos && l.target.find("from=") != std::string::npos)
      mounted += l.status == 201;
  EXPECT_EQ(mounted, 1);
  EXPECT_EQ(proxy.count("PATCH"), 0);
  EXPECT_EQ(proxy.count("PUT", image.layers[0].digest.substr(7)), 0) << "the layer was not uploaded";
  EXPECT_EQ(remote_manifest(b, "1").digest, remote_manifest(a, "1").digest);
}

TEST_F(PushTest, ChunkedUploadResumesAfterADroppedConnection) {
  ts::FaultProxy proxy(registry_->port());
  const std::string name = proxy.host() + "/" + repo();
  std::vector<ts::Entry> big = {dir("blob"), file("blob/noise", noise(1 << 20, 7))};
  auto image = load(name + ":big", {{ts::make_tar(big), Compression::gzip}});
  // Chunks of 128 KiB: the 1 MiB layer goes up in 8+ PATCHes; the 4th is cut half way.
  proxy.set(ts::FaultProxy::Fault::drop_upload, "/blobs/uploads/", 1, 3);
  auto r = ts::run(cpk_.argv({"push", name + ":big"}), {"CPPCKER_PUSH_CHUNK_SIZE=131072"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(proxy.faults_applied, 1);
  EXPECT_GE(proxy.count("PATCH"), 9) << "chunked, and the cut chunk sent again";
  EXPECT_GE(proxy.count("GET", "/blobs/uploads/") + proxy.count("POST", "/blobs/uploads/"), 3)
      << "the upload's state was asked for, or the upload restarted";
  auto manifest = nlohmann::json::parse(remote_manifest(name, "big").body);
  EXPECT_EQ(manifest["layers"][0]["digest"], image.layers[0].digest);

  ASSERT_EQ(cpk_({"rmi", name + ":big"}).exit_code, 0);
  expect_round_trip(cpk_, name + ":big", image, {big});
}

TEST_F(PushTest, FormatOciAndV2s2RoundTripWithTheSameImageId) {
  const std::string name = reg() + "/" + repo();
  auto base = base_entries();
  auto image = load(name + ":v1", {{ts::make_tar(base), Compression::gzip}});
  ASSERT_EQ(cpk_({"tag", name + ":v1", name + ":oci"}).exit_code, 0);
  auto r = cpk_({"push", "--format", "oci", name + ":oci"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto oci = nlohmann::json::parse(remote_manifest(name, "oci").body);
  EXPECT_EQ(oci["mediaType"], media_type::oci_manifest);
  EXPECT_EQ(oci["config"]["mediaType"], media_type::oci_config);
  EXPECT_EQ(oci["config"]["digest"], image.config_digest);
  EXPECT_EQ(oci["layers"][0]["mediaType"], media_type::oci_layer_gzip);
  EXPECT_EQ(oci["layers"][0]["digest"], image.layers[0].digest);

  ts::Cppcker fresh{tmp_.path / "root2", cpk_.config};
  expect_round_trip(fresh, name + ":oci", image, {base});
  // And back: the OCI-pulled image pushed as Docker v2 schema 2.
  ASSERT_EQ(fresh({"tag", name + ":oci", name + ":v2"}).exit_code, 0);
  auto back = fresh({"push", "--format", "v2s2", name + ":v2"});
  ASSERT_EQ(back.exit_code, 0) << back.err;
  auto v2 = nlohmann::json::parse(remote_manifest(name, "v2").body);
  EXPECT_EQ(v2["mediaType"], media_type::docker_manifest);
  EXPECT_EQ(v2["layers"][0]["mediaType"], media_type::docker_layer_gzip);
  ts::Cppcker third{tmp_.path / "root3", cpk_.config};
  expect_round_trip(third, name + ":v2", image, {base});

  auto bad = cpk_({"push", "--format", "v1", name + ":v1"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("unsupported manifest format"), std::string::npos) << bad.err;
}

TEST_F(PushTest, ZstdPushIsReadBackByPull) {
  const std::string name = reg() + "/" + repo();
  auto base = base_entries();
  auto image = load(name + ":z", {{ts::make_tar(base), Compression::none}});
  auto refused = cpk_({"push", "--compression-format", "zstd", "--format", "v2s2", name + ":z"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("zstd compression needs an OCI manifest"), std::string::npos) << refused.err;

  auto r = cpk_({"push", "--compression-format", "zstd", name + ":z"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto m = nlohmann::json::parse(remote_manifest(name, "z").body);
  EXPECT_EQ(m["mediaType"], media_type::oci_manifest);
  EXPECT_EQ(m["layers"][0]["mediaType"], media_type::oci_layer_zstd);
  auto again = cpk_({"push", "--compression", "zstd", name + ":z"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("Layer already exists"), std::string::npos) << again.out;
  EXPECT_EQ(printed_digest(again.out, "z"), printed_digest(r.out, "z"));

  ts::Cppcker fresh{tmp_.path / "root2", cpk_.config};
  expect_round_trip(fresh, name + ":z", image, {base});
}

TEST_F(PushTest, AllTagsPushesEveryTagOfTheRepository) {
  const std::string name = reg() + "/" + repo();
  auto one = load(name + ":one", {{ts::make_tar(top_entries("one")), Compression::gzip}});
  auto two = load(name + ":two", {{ts::make_tar(top_entries("two")), Compression::gzip}});
  auto r = cpk_({"push", "-a", name});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("Using default tag"), std::string::npos);
  EXPECT_NE(printed_digest(r.out, "one"), "");
  EXPECT_NE(printed_digest(r.out, "two"), "");
  EXPECT_EQ(nlohmann::json::parse(remote_manifest(name, "one").body)["config"]["digest"], one.config_digest);
  EXPECT_EQ(nlohmann::json::parse(remote_manifest(name, "two").body)["config"]["digest"], two.config_digest);

  auto tagged = cpk_({"push", "-a", name + ":one"});
  EXPECT_EQ(tagged.exit_code, 1);
  EXPECT_EQ(tagged.err, "Error: tag can't be used with --all-tags/-a\n");
}

TEST_F(PushTest, UnknownImageIsRefused) {
  auto r = cpk_({"push", reg() + "/nothing/here:1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: An image does not exist locally with the tag: " + reg() + "/nothing/here\n");
  auto all = cpk_({"push", "-a", reg() + "/nothing/here"});
  EXPECT_EQ(all.exit_code, 1);
  EXPECT_EQ(all.err, "Error: An image does not exist locally with the tag: " + reg() + "/nothing/here\n");
}

TEST_F(PushTest, LoginPushPullLogoutWithHtpasswd) {
  ts::TempDir dir;
  ts::Registry secured(dir.path, ts::Registry::Auth::htpasswd);
  const std::string host = secured.host(), name = host + "/" + repo();
  fs::path creds = tmp_.path / "docker" / "config.json";
  fs::create_directories(creds.parent_path());
  const std::string original = nlohmann::json{{"auths", {{"other.example:5000", {{"auth", cppcker::base64_encode("o:p")}}}}},
                                              {"proxies", {{"default", {{"noProxy", "*.local"}}}}}}
                                   .dump();
  std::ofstream(creds) << original;
  std::ofstream(cpk_.config) << nlohmann::json{{"credentials-file", creds.string()}}.dump();
  auto base = base_entries();
  auto image = load(name + ":v1", {{ts::make_tar(base), Compression::gzip}});

  auto anonymous = cpk_({"push", name + ":v1"});
  EXPECT_EQ(anonymous.exit_code, 1);
  EXPECT_EQ(anonymous.err, "Error: unauthorized: authentication required\n");

  auto wrong = cpk_({"login", "-u", "tester", "-p", "wrong", host});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("WARNING! Using --password via the CLI is insecure. Use --password-stdin."), std::string::npos);
  EXPECT_NE(wrong.err.find("Error response from daemon: Get \"http://" + host + "/v2/\": unauthorized: authentication required\n"),
            std::string::npos)
      << wrong.err;
  EXPECT_EQ(cppcker::read_file(creds), original) << "a refused login leaves the file alone";

  auto login = ts::run({"sh", "-c", "printf 'secret\\n' | " + shell_quote(cpk_.argv({"login", "-u", "tester", "--password-stdin", host}))});
  ASSERT_EQ(login.exit_code, 0) << login.err;
  EXPECT_EQ(login.out, "Login Succeeded\n");
  struct stat st{};
  ASSERT_EQ(::stat(creds.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  auto j = nlohmann::json::parse(cppcker::read_file(creds));
  EXPECT_EQ(j["auths"][host]["auth"], cppcker::base64_encode("tester:secret"));
  EXPECT_EQ(j["auths"]["other.example:5000"]["auth"], cppcker::base64_encode("o:p"));
  EXPECT_EQ(j["proxies"]["default"]["noProxy"], "*.local");

  auto pushed = cpk_({"push", name + ":v1"});
  ASSERT_EQ(pushed.exit_code, 0) << pushed.err;
  ASSERT_EQ(cpk_({"rmi", name + ":v1"}).exit_code, 0);
  expect_round_trip(cpk_, name + ":v1", image, {base});

  auto logout = cpk_({"logout", host});
  EXPECT_EQ(logout.exit_code, 0);
  EXPECT_EQ(logout.out, "Removing login credentials for " + host + "\n");
  EXPECT_FALSE(nlohmann::json::parse(cppcker::read_file(creds))["auths"].contains(host));
  auto again = cpk_({"logout", host});
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_EQ(again.out, "Not logged in to " + host + "\n");

  auto no_user = cpk_({"login", "--password-stdin", host});
  EXPECT_EQ(no_user.exit_code, 1);
  EXPECT_EQ(no_user.err, "Error: Must provide --username with --password-stdin\n");
}

TEST_F(PushTest, LoginAndPushWithTokenAuth) {
  ts::TempDir dir;
  ts::TokenServer tokens(dir.path, "tester", "secret");
  ts::Registry secured(dir.path, ts::Registry::Auth::token, &tokens);
  const std::string host = secured.host(), name = host + "/" + repo();
  fs::path creds = tmp_.path / "creds" / "config.json";  // its directory is made, 0700
  std::ofstream(cpk_.config) << nlohmann::json{{"credentials-file", creds.string()}}.dump();
  auto base = base_entries();
  auto image = load(name + ":v1", {{ts::make_tar(base), Compression::gzip}});

  // Anonymous: a token without push access; the registry's refusal is shown in one line.
  auto refused = cpk_({"push", name + ":v1"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(refused.err.rfind("Error: unauthorized: ", 0), 0u) << refused.err;
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;

  auto wrong = cpk_({"login", "-u", "tester", "-p", "nope", host});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("Error response from daemon: Get \"http://" + host + "/v2/\": unauthorized: incorrect username or password"),
            std::string::npos)
      << wrong.err;
  EXPECT_FALSE(fs::exists(creds));

  int before = tokens.authenticated_requests;
  auto login = cpk_({"login", "-u", "tester", "-p", "secret", host});
  ASSERT_EQ(login.exit_code, 0) << login.err;
  EXPECT_NE(login.out.find("Login Succeeded"), std::string::npos);
  EXPECT_GT(tokens.authenticated_requests, before);
  struct stat st{};
  ASSERT_EQ(::stat(creds.parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);

  auto pushed = cpk_({"push", name + ":v1"});
  ASSERT_EQ(pushed.exit_code, 0) << pushed.err;
  ts::Cppcker fresh{tmp_.path / "root2", cpk_.config};
  expect_round_trip(fresh, name + ":v1", image, {base});
}
