#include "cppcker/image/archive.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "cppcker/image/catalog.hpp"
#include "cppcker/image/manifest.hpp"
#include "cppcker/image/pull.hpp"
#include "cppcker/storage/ingest.hpp"
#include "cppcker/storage/unpack.hpp"
#include "cppcker/util/decompress.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"
#include "cppcker/util/sha256.hpp"

namespace cppcker {

using nlohmann::json;

namespace {

constexpr std::size_t kReadChunk = 1u << 20;

// Bytes of a file descriptor, decompressed on the fly.
class FdSource : public ByteSource {
 public:
  explicit FdSource(int fd) : fd_(fd), decompressor_([this](std::string_view d) { out_.append(d); }) {}
  std::string_view next() override {
    out_.clear();
    while (out_.empty() && !eof_) {
      ssize_t n = ::read(fd_, buf_.data(), buf_.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno("read archive");
      }
      if (n == 0) {
        eof_ = true;
        decompressor_.finish();
        break;
      }
      decompressor_.feed(std::string_view(buf_.data(), static_cast<std::size_t>(n)));
    }
    return out_;
  }

 private:
  int fd_;
  bool eof_ = false;
  std::string buf_ = std::string(kReadChunk, '\0');
  std::string out_;
  Decompressor decompressor_;
};

// A scratch directory under the store's tmp/, removed when done.
struct ScratchDir {
  fs::path path;
  explicit ScratchDir(const ImageStore& store) : path(store.root() / "tmp" / ("load-" + random_hex(8))) { make_dirs(path); }
  ~ScratchDir() {
    try {
      remove_tree(path);
    } catch (...) {
    }
  }
};

std::string digest_of_file(const fs::path& dir, const std::string& rel) {
  UniqueFd fd = open_beneath(dir, rel);
  Sha256 h;
  read_chunks(fd.get(), rel, [&](std::string_view c) { h.update(c); });
  return h.digest();
}

struct LayerSource {
  Descriptor blob;
  std::string path;  // inside the archive directory
};

// Stores one image whose blobs are files of the archive directory.
ImageRecord ingest_image(const ImageStore& store, const fs::path& dir, const std::string& manifest_digest,
                         const std::string& manifest_body, const ImageManifest& manifest,
                         const std::string& config_path, const std::vector<LayerSource>& layers) {
  std::string config_bytes = read_beneath(dir, config_path);
  if (sha256_digest(config_bytes) != manifest.config.digest)
    throw Error("image config " + config_path + " does not match its digest " + manifest.config.digest);
  ImageConfig config = parse_image_config(config_bytes);
  if (config.diff_ids.size() != layers.size())
    throw Error("image config lists " + std::to_string(config.diff_ids.size()) + " layers but the archive has " +
                std::to_string(layers.size()));
  store.put_blob(manifest.config.digest, config_bytes);
  store.put_blob(manifest_digest, manifest_body);

  auto chains = chain_ids(config.diff_ids);
  ImageRecord record;
  record.id = manifest.config.digest;
  record.manifest_digest = manifest_digest;
  record.manifest_media_type = manifest.media_type;
  record.created = config.created;
  record.os = config.platform.os;
  record.architecture = config.platform.architecture;
  record.variant = config.platform.variant;
  record.added = format_rfc3339(now());
  std::vector<FileLock> locks;  // kept until the record is committed by the caller's commit_image
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& src = layers[i];
    locks.push_back(store.lock_layer(chains[i]));
    bool have_layer = store.has_layer(chains[i]);
    if (have_layer && store.has_blob(src.blob.digest)) {
      auto meta = store.layer_meta(chains[i]);
      record.layers.push_back({chains[i], config.diff_ids[i], src.blob.digest, src.blob.media_type, src.blob.size,
                               meta ? meta->value("size", std::uint64_t{0}) : 0});
      continue;
    }
    LayerIngest ingest(store, {src.blob, config.diff_ids[i], chains[i], !have_layer, true});
    UniqueFd fd = open_beneath(dir, src.path);
    read_chunks(fd.get(), src.path, [&](std::string_view c) { ingest.write(c); });
    record.layers.push_back(ingest.finish());
  }
  return record;
}

std::string blob_rel(const std::string& digest) { return "blobs/sha256/" + digest_hex(digest); }

// Names from a descriptor of an OCI index.json.
std::vector<std::string> oci_names(const Descriptor& d) {
  std::vector<std::string> out;
  if (auto it = d.annotations.find("io.containerd.image.name"); it != d.annotations.end()) {
    out.push_back(Reference::parse(it->second).string());
  } else if (auto ref = d.annotations.find("org.opencontainers.image.ref.name"); ref != d.annotations.end()) {
    // A bare tag ("latest") names no repository; only a full reference is a name.
    if (ref->second.find_first_of("/:") != std::string::npos) out.push_back(Reference::parse(ref->second).string());
  }
  return out;
}

void add_result(LoadResult& result, const std::string& id, const std::vector<std::string>& names) {
  for (const auto& n : names) result.tags.push_back(Reference::parse(n).familiar_string());
  if (names.empty()) result.untagged_ids.push_back(id);
}

void load_oci(const ImageStore& store, const fs::path& dir, LoadResult& result,
              const std::map<std::string, std::vector<std::string>>& docker_tags) {
  json index_json = json::parse(read_beneath(dir, "index.json"), nullptr, false);
  if (index_json.is_discarded()) throw Error("index.json is not valid JSON");
  ImageIndex index = parse_image_index(index_json, media_type::oci_index);
  for (const auto& top : index.manifests) {
    std::vector<std::string> names = oci_names(top);
    Descriptor current = top;
    for (int depth = 0;; ++depth) {
      if (depth > 4) throw Error("image index nesting is too deep");
      std::string body = read_beneath(dir, blob_rel(current.digest));
      if (sha256_digest(body) != current.digest) throw Error("blob " + current.digest + " does not match its digest");
      ManifestDocument doc = parse_manifest_document(body, current.media_type);
      if (doc.kind == ManifestKind::index) {
        ImageIndex nested = parse_image_index(doc.json, doc.media_type);
        // An archive may hold only some platforms of an index: take the host's if its blobs are here.
        current = select_platform(nested, Platform::host());
        continue;
      }
      ImageManifest m = parse_image_manifest(doc.json, doc.media_type);
      std::vector<LayerSource> layers;
      for (const auto& l : m.layers) layers.push_back({l, blob_rel(l.digest)});
      ImageRecord record = ingest_image(store, dir, current.digest, body, m, blob_rel(m.config.digest), layers);
      if (auto it = docker_tags.find(record.id); it != docker_tags.end())
        for (const auto& t : it->second)
          if (std::find(names.begin(), names.end(), t) == names.end()) names.push_back(t);
      commit_image(store, record, names);
      add_result(result, record.id, names);
      break;
    }
  }
}

void load_docker_archive(const ImageStore& store, const fs::path& dir, LoadResult& result) {
  json list = json::parse(read_beneath(dir, "manifest.json"), nullptr, false);
  if (list.is_discarded() || !list.is_array()) throw Error("manifest.json is not a JSON array");
  for (const auto& entry : list) {
    if (!entry.contains("Config") || !entry["Config"].is_string() || !entry.contains("Layers") || !entry["Layers"].is_array())
      throw Error("manifest.json: entry without Config or Layers");
    std::string config_path = entry["Config"].get<std::string>();
    std::string config_bytes = read_beneath(dir, config_path);
    std::vector<LayerSource> layers;
    bool any_zstd = false;
    for (const auto& l : entry["Layers"]) {
      std::string rel = l.get<std::string>();
      UniqueFd fd = open_beneath(dir, rel);
      char head[4] = {0};
      ssize_t n = ::pread(fd.get(), head, sizeof head, 0);
      Compression c = detect_compression(std::string_view(head, n > 0 ? static_cast<std::size_t>(n) : 0));
      struct stat st{};
      ::fstat(fd.get(), &st);
      any_zstd |= c == Compression::zstd;
      std::string mt = c == Compression::gzip ? std::string(media_type::docker_layer_gzip)
                       : c == Compression::zstd ? std::string(media_type::oci_layer_zstd)
                                                : std::string(media_type::docker_layer);
      layers.push_back({Descriptor{mt, digest_of_file(dir, rel), st.st_size, {}, {}, {}}, rel});
    }
    // Docker's archive has no manifest: write the one a registry would have served.
    bool oci = any_zstd;
    json manifest = {{"schemaVersion", 2},
                     {"mediaType", oci ? media_type::oci_manifest : media_type::docker_manifest},
                     {"config",
                      {{"mediaType", oci ? media_type::oci_config : media_type::docker_config},
                       {"size", config_bytes.size()},
                       {"digest", sha256_digest(config_bytes)}}},
                     {"layers", json::array()}};
    for (auto& l : layers) {
      if (oci && l.blob.media_type == media_type::docker_layer_gzip) l.blob.media_type = media_type::oci_layer_gzip;
      if (oci && l.blob.media_type == media_type::docker_layer) l.blob.media_type = media_type::oci_layer;
      manifest["layers"].push_back({{"mediaType", l.blob.media_type}, {"size", l.blob.size}, {"digest", l.blob.digest}});
    }
    std::string body = manifest.dump();
    ImageManifest m = parse_image_manifest(manifest, manifest["mediaType"].get<std::string>());
    ImageRecord record = ingest_image(store, dir, sha256_digest(body), body, m, config_path, layers);
    std::vector<std::string> names;
    if (entry.contains("RepoTags") && entry["RepoTags"].is_array())
      for (const auto& t : entry["RepoTags"]) names.push_back(Reference::parse(t.get<std::string>()).string());
    commit_image(store, record, names);
    add_result(result, record.id, names);
  }
}

// Tags that manifest.json gives per config digest (Docker 25+ archives carry both files).
std::map<std::string, std::vector<std::string>> docker_archive_tags(const fs::path& dir) {
  std::map<std::string, std::vector<std::string>> out;
  if (!exists_beneath(dir, "manifest.json")) return out;
  json list = json::parse(read_beneath(dir, "manifest.json"), nullptr, false);
  if (list.is_discarded() || !list.is_array()) return out;
  for (const auto& entry : list) {
    if (!entry.contains("Config") || !entry["Config"].is_string()) continue;
    std::string id = sha256_digest(read_beneath(dir, entry["Config"].get<std::string>()));
    if (entry.contains("RepoTags") && entry["RepoTags"].is_array())
      for (const auto& t : entry["RepoTags"]) out[id].push_back(Reference::parse(t.get<std::string>()).string());
  }
  return out;
}

}  // namespace

LoadResult load_images(const ImageStore& store, const fs::path& input) {
  auto guard = store.ingest_guard();
  std::optional<ScratchDir> scratch;
  fs::path dir = input;
  std::error_code ec;
  if (input == "-" || !fs::is_directory(input, ec)) {
    UniqueFd owned;
    int fd = STDIN_FILENO;
    if (input != "-") {
      owned.reset(::open(input.c_str(), O_RDONLY | O_CLOEXEC));
      if (!owned) throw_errno("open " + input.string());
      fd = owned.get();
    }
    scratch.emplace(store);
    FdSource source(fd);
    try {
      unpack_layer(source, scratch->path);
    } catch (const Error& e) {
      throw Error(std::string("invalid image archive: ") + e.what());
    }
    dir = scratch->path;
  }
  LoadResult result;
  if (exists_beneath(dir, "index.json")) {
    load_oci(store, dir, result, docker_archive_tags(dir));
  } else if (exists_beneath(dir, "manifest.json")) {
    load_docker_archive(store, dir, result);
  } else {
    throw Error("invalid image archive: it has neither manifest.json nor index.json");
  }
  return result;
}

namespace {

struct ArchiveWriterDeleter {
  void operator()(archive* a) const {
    archive_write_close(a);
    archive_write_free(a);
  }
};

class TarWriter {
 public:
  explicit TarWriter(int fd) : a_(archive_write_new()) {
    archive_write_set_format_pax_restricted(a_.get());
    if (archive_write_open_fd(a_.get(), fd) != ARCHIVE_OK) fail("open output");
  }
  void directory(const std::string& name) { header(name, AE_IFDIR, 0755, 0); }
  void file(const std::string& name, std::string_view data) {
    header(name, AE_IFREG, 0644, static_cast<la_int64_t>(data.size()));
    if (!data.empty() && archive_write_data(a_.get(), data.data(), data.size()) < 0) fail(name);
  }
  void file_from(const std::string& name, const fs::path& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("open " + path.string());
    struct stat st{};
    ::fstat(fd.get(), &st);
    header(name, AE_IFREG, 0644, st.st_size);
    read_chunks(fd.get(), path.string(), [&](std::string_view c) {
      if (archive_write_data(a_.get(), c.data(), c.size()) < 0) fail(name);
    });
  }
  void close() {
    if (archive_write_close(a_.get()) != ARCHIVE_OK) fail("close output");
  }

 private:
  void header(const std::string& name, unsigned type, int perm, la_int64_t size) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), perm);
    archive_entry_set_size(e.get(), size);
    if (archive_write_header(a_.get(), e.get()) != ARCHIVE_OK) fail(name);
  }
  [[noreturn]] void fail(const std::string& what) {
    throw Error("write archive (" + what + "): " + archive_error_string(a_.get()));
  }
  std::unique_ptr<archive, ArchiveWriterDeleter> a_;
};

}  // namespace

void save_images(const ImageStore& store, const std::vector<std::string>& names, int out_fd) {
  struct Item {
    ImageRecord record;
    std::vector<Reference> tags;
  };
  std::vector<Item> items;
  auto refs = store.refs();
  for (const auto& name : names) {
    std::string id = store.resolve_image(name);
    auto record = store.get_image(id);
    if (!record) throw Error("No such image: " + name);
    std::vector<Reference> tags;
    try {
      Reference ref = Reference::parse(name);
      if (auto it = refs.find(ref.string()); it != refs.end() && it->second == id && ref.digest.empty()) tags.push_back(ref);
    } catch (const Error&) {
    }
    auto existing = std::find_if(items.begin(), items.end(), [&](const Item& i) { return i.record.id == id; });
    if (existing != items.end()) existing->tags.insert(existing->tags.end(), tags.begin(), tags.end());
    else items.push_back({*record, tags});
  }

  TarWriter tar(out_fd);
  tar.directory("blobs/");
  tar.directory("blobs/sha256/");
  std::set<std::string> written;
  auto blob = [&](const std::string& digest) {
    if (!written.insert(digest).second) return;
    tar.file_from(blob_rel(digest), store.blob_path(digest));
  };
  json index = {{"schemaVersion", 2}, {"mediaType", media_type::oci_index}, {"manifests", json::array()}};
  json manifest_list = json::array();
  for (const auto& item : items) {
    const ImageRecord& r = item.record;
    json layers = json::array();
    for (const auto& l : r.layers) {
      if (!store.has_blob(l.digest)) throw Error("cannot save " + r.id + ": layer blob " + l.digest + " is missing");
      blob(l.digest);
      layers.push_back(blob_rel(l.digest));
    }
    blob(r.id);
    blob(r.manifest_digest);
    auto manifest_size = static_cast<std::int64_t>(fs::file_size(store.blob_path(r.manifest_digest)));
    json repo_tags = json::array();
    json desc = {{"mediaType", r.manifest_media_type}, {"digest", r.manifest_digest}, {"size", manifest_size}};
    if (item.tags.empty()) index["manifests"].push_back(desc);
    for (const auto& t : item.tags) {
      repo_tags.push_back(t.familiar_string());
      json d = desc;
      d["annotations"] = {{"io.containerd.image.name", t.string()}, {"org.opencontainers.image.ref.name", t.tag}};
      index["manifests"].push_back(d);
    }
    manifest_list.push_back({{"Config", blob_rel(r.id)}, {"RepoTags", item.tags.empty() ? json(nullptr) : repo_tags},
                             {"Layers", layers}});
  }
  tar.file("index.json", index.dump());
  tar.file("manifest.json", manifest_list.dump());
  tar.file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  tar.close();
}

}  // namespace cppcker
