#include "cppcker/image/push.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <semaphore>
#include <thread>

#include <nlohmann/json.hpp>

#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"
#include "cppcker/util/sha256.hpp"

namespace cppcker {

ManifestFormat parse_manifest_format(std::string_view text) {
  if (text == "oci") return ManifestFormat::oci;
  if (text == "v2s2" || text == "docker") return ManifestFormat::docker_v2s2;
  throw Error("unsupported manifest format \"" + std::string(text) + "\": use oci or v2s2");
}

Compression parse_push_compression(std::string_view text) {
  if (text == "gzip") return Compression::gzip;
  if (text == "zstd") return Compression::zstd;
  throw Error("unsupported compression format \"" + std::string(text) + "\": use gzip or zstd");
}

// ---- compression ----

namespace {
constexpr std::size_t kOut = 256 * 1024;
}

struct LayerCompressor::Impl {
  Compression compression;
  std::function<void(std::string_view)> sink;
  z_stream z{};
  bool z_init = false;
  ZSTD_CCtx* zstd = nullptr;
  std::string out = std::string(kOut, '\0');

  ~Impl() {
    if (z_init) deflateEnd(&z);
    if (zstd) ZSTD_freeCCtx(zstd);
  }

  void gzip(std::string_view data, int flush) {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    int rc;
    do {
      z.next_out = reinterpret_cast<Bytef*>(out.data());
      z.avail_out = static_cast<uInt>(out.size());
      rc = deflate(&z, flush);
      if (rc == Z_STREAM_ERROR) throw Error("gzip: compression failed");
      std::size_t n = out.size() - z.avail_out;
      if (n > 0) sink(std::string_view(out.data(), n));
    } while (z.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  }

  void zst(std::string_view data, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    std::size_t remaining;
    do {
      ZSTD_outBuffer o{out.data(), out.size(), 0};
      remaining = ZSTD_compressStream2(zstd, &o, &in, mode);
      if (ZSTD_isError(remaining)) throw Error(std::string("zstd: ") + ZSTD_getErrorName(remaining));
      if (o.pos > 0) sink(std::string_view(out.data(), o.pos));
    } while (mode == ZSTD_e_end ? remaining != 0 : in.pos < in.size);
  }
};

LayerCompressor::LayerCompressor(Compression compression, std::function<void(std::string_view)> sink)
    : impl_(std::make_unique<Impl>()) {
  impl_->compression = compression;
  impl_->sink = std::move(sink);
  if (compression == Compression::gzip) {
    // windowBits 16+15: a gzip wrapper whose header deflateInit2 writes with mtime 0 and no file name.
    if (deflateInit2(&impl_->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      throw Error("gzip: cannot initialise zlib");
    impl_->z_init = true;
  } else if (compression == Compression::zstd) {
    impl_->zstd = ZSTD_createCCtx();
    if (!impl_->zstd) throw Error("zstd: cannot create a compression context");
    ZSTD_CCtx_setParameter(impl_->zstd, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(impl_->zstd, ZSTD_c_checksumFlag, 1);
  } else {
    throw Error("a layer can be compressed with gzip or zstd only");
  }
}

LayerCompressor::~LayerCompressor() = default;

void LayerCompressor::write(std::string_view data) {
  // zlib counts input in uInt: feed a huge buffer in pieces.
  while (!data.empty()) {
    std::string_view piece = data.substr(0, 1u << 30);
    data.remove_prefix(piece.size());
    if (impl_->compression == Compression::gzip) impl_->gzip(piece, Z_NO_FLUSH);
    else impl_->zst(piece, ZSTD_e_continue);
  }
}

void LayerCompressor::finish() {
  if (impl_->compression == Compression::gzip) impl_->gzip({}, Z_FINISH);
  else impl_->zst({}, ZSTD_e_end);
}

// ---- manifests ----

namespace {

std::string layer_media_type(ManifestFormat format, Compression c) {
  if (format == ManifestFormat::oci) {
    switch (c) {
      case Compression::gzip: return std::string(media_type::oci_layer_gzip);
      case Compression::zstd: return std::string(media_type::oci_layer_zstd);
      case Compression::none: return std::string(media_type::oci_layer);
    }
  }
  switch (c) {
    case Compression::gzip: return std::string(media_type::docker_layer_gzip);
    case Compression::none: return std::string(media_type::docker_layer);
    case Compression::zstd: break;
  }
  throw Error("zstd-compressed layers need an OCI manifest: push with --format oci");
}

}  // namespace

std::string build_manifest(ManifestFormat format, const Descriptor& config, const std::vector<Descriptor>& layers) {
  using nlohmann::ordered_json;
  const bool oci = format == ManifestFormat::oci;
  ordered_json m;
  m["schemaVersion"] = 2;
  m["mediaType"] = oci ? media_type::oci_manifest : media_type::docker_manifest;
  m["config"] = {{"mediaType", oci ? media_type::oci_config : media_type::docker_config},
                 {"size", config.size},
                 {"digest", config.digest}};
  m["layers"] = ordered_json::array();
  for (const auto& l : layers) m["layers"].push_back({{"mediaType", l.media_type}, {"size", l.size}, {"digest", l.digest}});
  // Docker's registry client indents with three spaces; any form is valid, this one reads well.
  return m.dump(3);
}

// ---- push ----

namespace {

struct PreparedLayer {
  std::string diff_id;
  Descriptor blob;          // as pushed
  std::string mount_from;   // a repository of the same registry known to have it, or empty
  bool same_as_stored = true;  // the stored blob itself (not a compressed copy)
};

Compression blob_compression(const ImageStore& store, const std::string& digest) {
  UniqueFd fd(::open(store.blob_path(digest).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_errno("open layer blob " + digest);
  char head[8] = {};
  ssize_t n = ::pread(fd.get(), head, sizeof head, 0);
  if (n < 0) throw_errno("read layer blob " + digest);
  return detect_compression(std::string_view(head, static_cast<std::size_t>(n)));
}

// The compressed form of an uncompressed stored blob: remembered in push-cache/<algo>-<hex> so that the
// next push finds the same blob without compressing again (and compression is deterministic anyway, so
// a cache lost to GC gives the same digest).
Descriptor compressed_blob(const ImageStore& store, const std::string& digest, Compression c) {
  const fs::path cache_dir = store.root() / "push-cache";
  const fs::path cache = cache_dir / (std::string(compression_name(c)) + "-" + digest_hex(digest));
  if (auto known = read_file_if_exists(cache)) {
    auto j = nlohmann::json::parse(*known, nullptr, false);
    if (j.is_object() && j.contains("digest") && j["digest"].is_string() && is_valid_digest(j["digest"].get<std::string>()) &&
        store.has_blob(j["digest"].get<std::string>())) {
      Descriptor d;
      d.digest = j["digest"].get<std::string>();
      d.size = static_cast<std::int64_t>(fs::file_size(store.blob_path(d.digest)));
      return d;
    }
  }
  make_dirs(store.root() / "tmp");
  const fs::path temp = store.root() / "tmp" / ("push-" + digest_hex(digest).substr(0, 12) + ".tmp-" + random_hex(6));
  UniqueFd out(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!out) throw_errno("create " + temp.string());
  try {
    Sha256 hash;
    std::int64_t size = 0;
    LayerCompressor compressor(c, [&](std::string_view chunk) {
      hash.update(chunk);
      size += static_cast<std::int64_t>(chunk.size());
      while (!chunk.empty()) {
        ssize_t n = ::write(out.get(), chunk.data(), chunk.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("write " + temp.string());
        chunk.remove_prefix(static_cast<std::size_t>(n));
      }
    });
    UniqueFd in(::open(store.blob_path(digest).c_str(), O_RDONLY | O_CLOEXEC));
    if (!in) throw_errno("open layer blob " + digest);
    read_chunks(in.get(), "layer blob " + digest, [&](std::string_view chunk) { compressor.write(chunk); });
    compressor.finish();
    if (::fsync(out.get()) != 0) throw_errno("fsync " + temp.string());
    out.reset();
    Descriptor d;
    d.digest = hash.digest();
    d.size = size;
    store.commit_blob(temp, d.digest);
    make_dirs(cache_dir);
    write_file_atomic(cache, nlohmann::json{{"digest", d.digest}}.dump());
    return d;
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
}

// Repositories of the same registry that the store knows hold each layer digest (from the references of
// the images that have it), for cross-repository mounts.
std::map<std::string, std::string> mount_sources(const ImageStore& store, const Reference& target) {
  std::map<std::string, std::string> out;
  std::map<std::string, std::optional<ImageRecord>> images;
  for (const auto& [name, id] : store.refs()) {
    Reference r;
    try {
      r = Reference::parse(name);
    } catch (const Error&) {
      continue;
    }
    if (r.domain != target.domain || r.path == target.path) continue;
    auto it = images.find(id);
    if (it == images.end()) it = images.emplace(id, store.get_image(id)).first;
    if (!it->second) continue;
    for (const auto& l : it->second->layers) out.emplace(l.digest, r.path);
  }
  return out;
}

class BlobFile {
 public:
  explicit BlobFile(const fs::path& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)), path_(path) {
    if (!fd_) throw_errno("open " + path.string());
  }
  std::size_t read(std::int64_t offset, char* buffer, std::size_t length) const {
    while (true) {
      ssize_t n = ::pread(fd_.get(), buffer, length, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_errno("read " + path_.string());
      if (n == 0 && length > 0) throw Error("read " + path_.string() + ": file shorter than recorded");
      return static_cast<std::size_t>(n);
    }
  }

 private:
  UniqueFd fd_;
  fs::path path_;
};

void push_layer(RegistryClient& client, const ImageStore& store, const PreparedLayer& layer,
                const PushOptions& options, PushObserver& observer, const std::atomic<bool>& cancelled) {
  const auto total = static_cast<std::uint64_t>(layer.blob.size);
  if (client.has_blob(layer.blob.digest)) {
    observer.layer(layer.diff_id, PushState::already_exists, total, total, "");
    return;
  }
  std::string location;
  if (!layer.mount_from.empty()) {
    auto mount = client.mount_blob(layer.blob.digest, layer.mount_from);
    if (mount.mounted) {
      observer.layer(layer.diff_id, PushState::mounted, total, total, layer.mount_from);
      return;
    }
    location = mount.upload_location;
  }
  BlobFile file(store.blob_path(layer.blob.digest));
  observer.layer(layer.diff_id, PushState::pushing, 0, total, "");
  BlobSource source{layer.blob.digest, layer.blob.size, [&](std::int64_t offset, char* buffer, std::size_t length) {
                      if (cancelled) throw Error("cancelled");
                      return file.read(offset, buffer, length);
                    }};
  client.upload_blob(source, options.upload,
                     [&](std::int64_t done) {
                       observer.layer(layer.diff_id, PushState::pushing, static_cast<std::uint64_t>(done), total, "");
                     },
                     location);
  observer.layer(layer.diff_id, PushState::pushed, total, total, "");
}

std::string resolve_tag(const ImageStore& store, const Reference& ref) {
  auto refs = store.refs();
  auto it = refs.find(ref.string());
  if (it == refs.end()) throw Error("An image does not exist locally with the tag: " + ref.familiar_name());
  return it->second;
}

PushObserver::Pushed push_tag(const ImageStore& store, RegistryClient& client, const Reference& ref,
                              const std::string& image_id, const PushOptions& options, PushObserver& observer) {
  auto record = store.get_image(image_id);
  if (!record) throw Error("An image does not exist locally with the tag: " + ref.familiar_name());
  const std::string config_bytes = store.read_blob(record->id);

  const bool came_oci = record->manifest_media_type == media_type::oci_manifest;
  const Compression wanted = options.compression.value_or(Compression::gzip);
  ManifestFormat format = options.format.value_or(came_oci ? ManifestFormat::oci : ManifestFormat::docker_v2s2);
  if (wanted == Compression::zstd) {
    if (options.format == ManifestFormat::docker_v2s2)
      throw Error("zstd compression needs an OCI manifest: use --format oci (Docker v2 schema 2 has no zstd layers)");
    format = ManifestFormat::oci;
  }

  auto sources = mount_sources(store, ref);
  std::vector<PreparedLayer> layers;
  for (const auto& l : record->layers) {
    if (!store.has_blob(l.digest))
      throw Error("layer " + l.diff_id + " of image " + record->id + " has no blob in the store");
    PreparedLayer p;
    p.diff_id = l.diff_id;
    Compression stored = blob_compression(store, l.digest);
    if (stored == Compression::none) {
      p.blob = compressed_blob(store, l.digest, wanted);
      p.same_as_stored = false;
      stored = wanted;
    } else {
      p.blob.digest = l.digest;
      p.blob.size = static_cast<std::int64_t>(fs::file_size(store.blob_path(l.digest)));
    }
    p.blob.media_type = layer_media_type(format, stored);
    // A repository holding this image's layer got it in the form pushed then: for a layer compressed here,
    // most likely the same one (deterministic); a mount of a digest it lacks just starts an upload.
    if (auto it = sources.find(p.blob.digest); it != sources.end()) p.mount_from = it->second;
    else if (auto stored_it = sources.find(l.digest); stored_it != sources.end()) p.mount_from = stored_it->second;
    layers.push_back(std::move(p));
  }

  // A mount needs pull access to its source repository as well (asked for before the workers start).
  for (const auto& l : layers)
    if (!l.mount_from.empty()) client.add_scope("repository:" + l.mount_from + ":pull");

  for (const auto& l : layers) observer.layer(l.diff_id, PushState::preparing, 0, static_cast<std::uint64_t>(l.blob.size), "");
  for (const auto& l : layers) observer.layer(l.diff_id, PushState::waiting, 0, static_cast<std::uint64_t>(l.blob.size), "");

  std::counting_semaphore<64> slots(std::clamp(options.max_concurrent_uploads, 1, 64));
  std::atomic<bool> cancelled{false};
  std::mutex error_mutex;
  std::exception_ptr first_error;
  {
    std::vector<std::jthread> workers;
    for (const auto& layer : layers) {
      workers.emplace_back([&, &layer = layer] {
        slots.acquire();
        try {
          if (!cancelled) push_layer(client, store, layer, options, observer, cancelled);
        } catch (...) {
          std::lock_guard lock(error_mutex);
          if (!first_error && !cancelled) first_error = std::current_exception();
          cancelled = true;
        }
        slots.release();
      });
    }
  }
  if (first_error) std::rethrow_exception(first_error);

  Descriptor config{std::string(format == ManifestFormat::oci ? media_type::oci_config : media_type::docker_config),
                    record->id, static_cast<std::int64_t>(config_bytes.size())};
  if (!client.has_blob(config.digest)) {
    BlobSource source{config.digest, config.size, [&](std::int64_t offset, char* buffer, std::size_t length) {
                        return config_bytes.copy(buffer, length, static_cast<std::size_t>(offset));
                      }};
    client.upload_blob(source, options.upload, {});
  }

  // The manifest the image came with when nothing changed, so that its digest stays the one pulled.
  std::string body;
  const bool unchanged = (format == ManifestFormat::oci) == came_oci && !record->manifest_media_type.empty() &&
                         std::all_of(layers.begin(), layers.end(), [](const PreparedLayer& l) { return l.same_as_stored; }) &&
                         store.has_blob(record->manifest_digest);
  if (unchanged) {
    body = store.read_blob(record->manifest_digest);
    ManifestDocument doc = parse_manifest_document(body, record->manifest_media_type);
    ImageManifest m = parse_image_manifest(doc.json, doc.media_type);
    bool same = m.config.digest == record->id && m.layers.size() == layers.size();
    for (std::size_t i = 0; same && i < layers.size(); ++i) same = m.layers[i].digest == layers[i].blob.digest;
    if (!same) body.clear();
  }
  if (body.empty()) {
    std::vector<Descriptor> descriptors;
    for (const auto& l : layers) descriptors.push_back(l.blob);
    body = build_manifest(format, config, descriptors);
  }
  const std::string manifest_type(format == ManifestFormat::oci ? media_type::oci_manifest : media_type::docker_manifest);
  std::string digest = client.put_manifest(ref.tag, manifest_type, body);

  // As Docker records a RepoDigest: the pushed manifest and name@digest, which later pushes of the same
  // layers to another repository of this registry use as a mount source.
  store.put_blob(sha256_digest(body), body);
  Reference by_digest = ref;
  by_digest.tag.clear();
  by_digest.digest = sha256_digest(body);
  store.set_ref(by_digest, record->id);

  PushObserver::Pushed pushed{ref.tag, digest, body.size()};
  observer.tag_pushed(pushed);
  return pushed;
}

}  // namespace

std::vector<PushObserver::Pushed> push_image(const ImageStore& store, const RegistryConfig& config,
                                             const Reference& ref, const PushOptions& options,
                                             PushObserver& observer) {
  if (!ref.digest.empty()) throw Error("cannot push a digest reference");
  // Shared gc.lock: the blobs read and the compressed ones made stay until the push is over.
  auto guard = store.ingest_guard();
  std::vector<std::pair<Reference, std::string>> targets;
  if (options.all_tags) {
    for (const auto& [name, id] : store.refs()) {
      Reference r;
      try {
        r = Reference::parse(name);
      } catch (const Error&) {
        continue;
      }
      if (r.name() == ref.name() && r.digest.empty() && !r.tag.empty()) targets.emplace_back(r, id);
    }
    if (targets.empty()) throw Error("An image does not exist locally with the tag: " + ref.familiar_name());
  } else {
    targets.emplace_back(ref, resolve_tag(store, ref));
  }

  RegistryClient client(config, ref, "pull,push", options.retry);
  std::vector<PushObserver::Pushed> out;
  for (const auto& [target, id] : targets) out.push_back(push_tag(store, client, target, id, options, observer));
  return out;
}

}  // namespace cppcker
