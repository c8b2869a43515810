// Images built by the tests: tars from entry lists, compressed, described, pushed.
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "cppcker/image/reference.hpp"
#include "cppcker/registry/client.hpp"
#include "cppcker/util/fs.hpp"
#include "cppcker/util/sha256.hpp"
#include "test_support.hpp"

namespace testsupport {

using nlohmann::json;
namespace media_type = cppcker::media_type;

Entry file(std::string path, std::string data, unsigned mode, unsigned uid, unsigned gid) {
  Entry e;
  e.type = Entry::Type::file;
  e.path = std::move(path);
  e.data = std::move(data);
  e.mode = mode;
  e.uid = uid;
  e.gid = gid;
  return e;
}

Entry dir(std::string path, unsigned mode, unsigned uid, unsigned gid) {
  Entry e;
  e.type = Entry::Type::dir;
  e.path = std::move(path);
  e.mode = mode;
  e.uid = uid;
  e.gid = gid;
  return e;
}

Entry symlink(std::string path, std::string target) {
  Entry e;
  e.type = Entry::Type::symlink;
  e.path = std::move(path);
  e.data = std::move(target);
  e.mode = 0777;
  return e;
}

Entry hardlink(std::string path, std::string target) {
  Entry e;
  e.type = Entry::Type::hardlink;
  e.path = std::move(path);
  e.data = std::move(target);
  return e;
}

static la_ssize_t append_cb(archive*, void* ctx, const void* buf, size_t len) {
  static_cast<std::string*>(ctx)->append(static_cast<const char*>(buf), len);
  return static_cast<la_ssize_t>(len);
}

std::string make_tar(const std::vector<Entry>& entries) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(a, &out, nullptr, append_cb, nullptr);
  for (const auto& e : entries) {
    archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.path.c_str());
    archive_entry_set_uid(ae, e.uid);
    archive_entry_set_gid(ae, e.gid);
    archive_entry_set_perm(ae, e.mode);
    archive_entry_set_mtime(ae, e.mtime, 0);
    switch (e.type) {
      case Entry::Type::file:
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_size(ae, static_cast<la_int64_t>(e.data.size()));
        break;
      case Entry::Type::dir: archive_entry_set_filetype(ae, AE_IFDIR); break;
      case Entry::Type::symlink:
        archive_entry_set_filetype(ae, AE_IFLNK);
        archive_entry_set_symlink(ae, e.data.c_str());
        break;
      case Entry::Type::hardlink:
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_hardlink(ae, e.data.c_str());
        break;
      case Entry::Type::chardev:
        archive_entry_set_filetype(ae, AE_IFCHR);
        archive_entry_set_rdevmajor(ae, e.dev_major);
        archive_entry_set_rdevminor(ae, e.dev_minor);
        break;
      case Entry::Type::fifo: archive_entry_set_filetype(ae, AE_IFIFO); break;
    }
    for (const auto& [k, v] : e.xattrs) archive_entry_xattr_add_entry(ae, k.c_str(), v.data(), v.size());
    archive_write_header(a, ae);
    if (e.type == Entry::Type::file && !e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(ae);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

std::string compress(const std::string& data, cppcker::Compression c) {
  if (c == cppcker::Compression::none) return data;
  if (c == cppcker::Compression::zstd) {
    std::string out(ZSTD_compressBound(data.size()), '\0');
    size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
    out.resize(n);
    return out;
  }
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

static std::string layer_media_type(cppcker::Compression c, bool oci) {
  switch (c) {
    case cppcker::Compression::gzip: return std::string(oci ? media_type::oci_layer_gzip : media_type::docker_layer_gzip);
    case cppcker::Compression::zstd: return std::string(media_type::oci_layer_zstd);
    case cppcker::Compression::none: break;
  }
  return std::string(oci ? media_type::oci_layer : media_type::docker_layer);
}

BuiltImage build_image(const std::vector<Layer>& layers, bool oci, const cppcker::Platform& platform,
                       const std::vector<std::string>& cmd, const std::string& diff_id_override) {
  BuiltImage img;
  json manifest_layers = json::array();
  for (const auto& l : layers) {
    std::string blob = compress(l.tar, l.compression);
    std::string digest = cppcker::sha256_digest(blob);
    img.diff_ids.push_back(cppcker::sha256_digest(l.tar));
    manifest_layers.push_back({{"mediaType", layer_media_type(l.compression, oci)}, {"size", blob.size()}, {"digest", digest}});
    img.layers.push_back({digest, std::move(blob)});
  }
  json diff_ids = img.diff_ids;
  if (!diff_id_override.empty()) diff_ids[0] = diff_id_override;
  json config = {{"architecture", platform.architecture},
                 {"os", platform.os},
                 {"created", "2024-01-02T03:04:05Z"},
                 {"config", {{"Env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}, {"Cmd", cmd}}},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  if (!platform.variant.empty()) config["variant"] = platform.variant;
  img.config = config.dump();
  img.config_digest = cppcker::sha256_digest(img.config);
  img.manifest_media_type = oci ? media_type::oci_manifest : media_type::docker_manifest;
  json manifest = {{"schemaVersion", 2},
                   {"mediaType", img.manifest_media_type},
                   {"config",
                    {{"mediaType", oci ? media_type::oci_config : media_type::docker_config},
                     {"size", img.config.size()},
                     {"digest", img.config_digest}}},
                   {"layers", manifest_layers}};
  img.manifest = manifest.dump();
  img.manifest_digest = cppcker::sha256_digest(img.manifest);
  return img;
}

static cppcker::RegistryClient client_for(const std::string& registry, const std::string& repo,
                                          const cppcker::RegistryConfig& config) {
  return cppcker::RegistryClient(config, cppcker::Reference::parse(registry + "/" + repo), "pull,push");
}

static void push_blobs(cppcker::RegistryClient& client, const BuiltImage& image) {
  if (!client.has_blob(image.config_digest)) client.upload_blob(image.config_digest, image.config);
  for (const auto& l : image.layers)
    if (!client.has_blob(l.digest)) client.upload_blob(l.digest, l.data);
}

void push_image(const std::string& registry, const std::string& repo, const std::string& tag, const BuiltImage& image,
                const cppcker::RegistryConfig& config) {
  auto client = client_for(registry, repo, config);
  push_blobs(client, image);
  client.put_manifest(tag, image.manifest_media_type, image.manifest);
}

std::string push_index(const std::string& registry, const std::string& repo, const std::string& tag,
                       const std::vector<std::pair<BuiltImage, cppcker::Platform>>& images, bool oci,
                       const cppcker::RegistryConfig& config) {
  auto client = client_for(registry, repo, config);
  json manifests = json::array();
  for (const auto& [image, platform] : images) {
    push_blobs(client, image);
    client.put_manifest(image.manifest_digest, image.manifest_media_type, image.manifest);
    json p = {{"architecture", platform.architecture}, {"os", platform.os}};
    if (!platform.variant.empty()) p["variant"] = platform.variant;
    manifests.push_back({{"mediaType", image.manifest_media_type},
                         {"digest", image.manifest_digest},
                         {"size", image.manifest.size()},
                         {"platform", p}});
  }
  std::string mt(oci ? media_type::oci_index : media_type::docker_list);
  std::string body = json{{"schemaVersion", 2}, {"mediaType", mt}, {"manifests", manifests}}.dump();
  client.put_manifest(tag, mt, body);
  return cppcker::sha256_digest(body);
}

// ---- tree descriptions ----

static std::string mode_str(unsigned m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", m & 07777);
  return buf;
}

static void describe(const fs::path& root, const fs::path& rel, std::map<std::string, std::string>& out) {
  fs::path full = root / rel;
  struct stat st{};
  if (::lstat(full.c_str(), &st) != 0) return;
  std::string owner = std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid);
  std::string line;
  if (S_ISDIR(st.st_mode)) {
    char v[8] = {0};
    ssize_t n = ::lgetxattr(full.c_str(), "trusted.overlay.opaque", v, sizeof v);
    line = "dir " + mode_str(st.st_mode) + " " + owner + (n == 1 && v[0] == 'y' ? " opaque" : "");
  } else if (S_ISREG(st.st_mode)) {
    line = "file " + mode_str(st.st_mode) + " " + owner + " links=" + std::to_string(st.st_nlink) + " " +
           cppcker::sha256_digest(cppcker::read_file(full)) + " mtime=" + std::to_string(st.st_mtime);
    char names[4096];
    ssize_t n = ::llistxattr(full.c_str(), names, sizeof names);
    std::vector<std::string> keys;
    for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(std::strlen(names + i)) + 1) keys.emplace_back(names + i);
    std::sort(keys.begin(), keys.end());
    for (const auto& k : keys) {
      if (k.rfind("user.", 0) != 0) continue;
      char v[256];
      ssize_t vn = ::lgetxattr(full.c_str(), k.c_str(), v, sizeof v);
      line += " " + k + "=" + std::string(v, vn > 0 ? static_cast<std::size_t>(vn) : 0);
    }
  } else if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = ::readlink(full.c_str(), target, sizeof target);
    line = "symlink " + owner + " -> " + std::string(target, n > 0 ? static_cast<std::size_t>(n) : 0);
  } else if (S_ISCHR(st.st_mode)) {
    line = "chardev " + mode_str(st.st_mode) + " " + owner + " " + std::to_string(major(st.st_rdev)) + "," +
           std::to_string(minor(st.st_rdev));
  } else if (S_ISFIFO(st.st_mode)) {
    line = "fifo " + mode_str(st.st_mode) + " " + owner;
  }
  if (!rel.empty()) out[rel.string()] = line;
  if (S_ISDIR(st.st_mode)) {
    for (auto& e : fs::directory_iterator(full)) describe(root, rel / e.path().filename(), out);
  }
}

std::map<std::string, std::string> describe_tree(const fs::path& root) {
  std::map<std::string, std::string> out;
  describe(root, "", out);
  return out;
}

std::map<std::string, std::string> describe_entries(const std::vector<Entry>& entries) {
  std::map<std::string, std::string> out;
  std::map<std::string, int> links;
  std::map<std::string, std::string> content;  // path -> "mode owner sha mtime" of regular files
  for (const auto& e : entries)
    if (e.type == Entry::Type::hardlink) ++links[e.data];
  auto owner = [](const Entry& e) { return std::to_string(e.uid) + ":" + std::to_string(e.gid); };
  for (const auto& e : entries) {
    std::string path = e.path;
    while (!path.empty() && path.back() == '/') path.pop_back();
    if (path.rfind("./", 0) == 0) path = path.substr(2);
    auto slash = path.rfind('/');
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    std::string parent = slash == std::string::npos ? "" : path.substr(0, slash);
    if (base == ".wh..wh..opq") {
      out[parent] += " opaque";
      continue;
    }
    if (base.rfind(".wh.", 0) == 0) {
      out[(parent.empty() ? "" : parent + "/") + base.substr(4)] = "chardev 0000 0:0 0,0";
      continue;
    }
    switch (e.type) {
      case Entry::Type::dir: out[path] = "dir " + mode_str(e.mode) + " " + owner(e); break;
      case Entry::Type::file: {
        std::string line = "file " + mode_str(e.mode) + " " + owner(e) + " links=" + std::to_string(1 + links[path]) +
                           " " + cppcker::sha256_digest(e.data) + " mtime=" + std::to_string(e.mtime);
        for (const auto& [k, v] : e.xattrs)
          if (k.rfind("user.", 0) == 0) line += " " + k + "=" + v;
        out[path] = line;
        break;
      }
      case Entry::Type::hardlink: {
        std::string target = e.data;
        out[path] = out[target];
        break;
      }
      case Entry::Type::symlink: out[path] = "symlink " + owner(e) + " -> " + e.data; break;
      case Entry::Type::chardev:
        out[path] = "chardev " + mode_str(e.mode) + " " + owner(e) + " " + std::to_string(e.dev_major) + "," +
                    std::to_string(e.dev_minor);
        break;
      case Entry::Type::fifo: out[path] = "fifo " + mode_str(e.mode) + " " + owner(e); break;
    }
  }
  return out;
}

}  // namespace testsupport
