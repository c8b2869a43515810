#include "cppcker/image/pull.hpp"

#include <atomic>
#include <mutex>
#include <semaphore>
#include <thread>

#include "cppcker/storage/ingest.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker {

bool commit_image(const ImageStore& store, const ImageRecord& record, const std::vector<std::string>& names) {
  auto lock = store.lock_metadata();
  bool changed = !store.get_image(record.id).has_value();
  store.put_image(record);
  auto refs = store.refs();
  for (const auto& name : names) {
    auto it = refs.find(name);
    if (it == refs.end() || it->second != record.id) changed = true;
    refs[name] = record.id;
  }
  store.write_refs(refs);
  return changed;
}

namespace {

struct LayerJob {
  Descriptor blob;
  std::string diff_id;
  std::string chain_id;
  LayerRecord record;
};

void fetch_layer(const ImageStore& store, RegistryClient& client, LayerJob& job, PullObserver& observer,
                 const std::atomic<bool>& cancelled) {
  // Held only while this layer is ingested: the layers of a pull are locked in parallel in any order, so
  // holding them until the end would deadlock two pulls that share layers. The pull's shared gc.lock
  // (ingest_guard) is what keeps garbage collection from the finished layers until the image is recorded.
  FileLock lock = store.lock_layer(job.chain_id);
  bool have_layer = store.has_layer(job.chain_id);
  if (have_layer && store.has_blob(job.blob.digest)) {
    auto meta = store.layer_meta(job.chain_id);
    job.record = {job.chain_id, job.diff_id, job.blob.digest, job.blob.media_type, job.blob.size,
                  meta ? meta->value("size", std::uint64_t{0}) : 0};
    observer.layer(job.blob.digest, LayerState::already_exists, 0, 0);
    return;
  }
  LayerIngest ingest(store, {job.blob, job.diff_id, job.chain_id, !have_layer, true});
  auto total = static_cast<std::uint64_t>(job.blob.size);
  client.stream_blob(job.blob, [&](std::string_view chunk) {
    if (cancelled) throw Error("cancelled");
    ingest.write(chunk);
    observer.layer(job.blob.digest, LayerState::downloading, ingest.received(), total);
  });
  observer.layer(job.blob.digest, LayerState::extracting, total, total);
  job.record = ingest.finish();
  observer.layer(job.blob.digest, LayerState::complete, total, total);
}

}  // namespace

PullResult pull_image(const ImageStore& store, const RegistryConfig& config, const Reference& ref,
                      const PullOptions& options, PullObserver& observer) {
  auto guard = store.ingest_guard();
  RegistryClient client(config, ref, "pull", options.retry);
  const Platform want = options.platform.value_or(Platform::host());

  FetchedManifest top = client.fetch_manifest(ref.manifest_reference());
  ManifestDocument doc = parse_manifest_document(top.body, top.media_type);
  FetchedManifest image_manifest = top;
  if (doc.kind == ManifestKind::index) {
    ImageIndex index = parse_image_index(doc.json, doc.media_type);
    const Descriptor& chosen = select_platform(index, want);
    image_manifest = client.fetch_manifest(chosen.digest);
    doc = parse_manifest_document(image_manifest.body, image_manifest.media_type);
    if (doc.kind != ManifestKind::image) throw Error("image index entry " + chosen.digest + " is not an image manifest");
  }
  ImageManifest manifest = parse_image_manifest(doc.json, doc.media_type);

  std::string config_bytes = store.has_blob(manifest.config.digest) ? store.read_blob(manifest.config.digest)
                                                                     : client.fetch_blob(manifest.config);
  ImageConfig image_config = parse_image_config(config_bytes);
  if (options.platform && doc.kind == ManifestKind::image && top.digest == image_manifest.digest &&
      !image_config.platform.os.empty() &&
      (image_config.platform.os != want.os || image_config.platform.architecture != want.architecture))
    throw Error("image with reference " + ref.familiar_string() + " was found but its platform (" +
                image_config.platform.string() + ") does not match the specified platform (" + want.string() + ")");
  if (image_config.diff_ids.size() != manifest.layers.size())
    throw Error("image config lists " + std::to_string(image_config.diff_ids.size()) + " layers but the manifest has " +
                std::to_string(manifest.layers.size()));
  store.put_blob(manifest.config.digest, config_bytes);
  store.put_blob(image_manifest.digest, image_manifest.body);

  auto chains = chain_ids(image_config.diff_ids);
  std::vector<LayerJob> jobs(manifest.layers.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    jobs[i].blob = manifest.layers[i];
    jobs[i].diff_id = image_config.diff_ids[i];
    jobs[i].chain_id = chains[i];
    observer.layer(jobs[i].blob.digest, LayerState::waiting, 0, static_cast<std::uint64_t>(jobs[i].blob.size));
  }

  std::counting_semaphore<64> slots(std::clamp(options.max_concurrent_downloads, 1, 64));
  std::atomic<bool> cancelled{false};
  std::mutex error_mutex;
  std::exception_ptr first_error;
  std::vector<std::thread> workers;
  for (auto& job : jobs) {
    workers.emplace_back([&, &job = job] {
      slots.acquire();
      try {
        if (!cancelled) fetch_layer(store, client, job, observer, cancelled);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!first_error && !cancelled) first_error = std::current_exception();
        cancelled = true;
      }
      slots.release();
    });
  }
  for (auto& w : workers) w.join();
  if (first_error) std::rethrow_exception(first_error);

  ImageRecord record;
  record.id = manifest.config.digest;
  record.manifest_digest = image_manifest.digest;
  record.manifest_media_type = manifest.media_type;
  for (auto& job : jobs) record.layers.push_back(job.record);
  record.created = image_config.created;
  record.os = image_config.platform.os;
  record.architecture = image_config.platform.architecture;
  record.variant = image_config.platform.variant;
  record.added = format_rfc3339(now());

  Reference by_digest = ref;
  by_digest.tag.clear();
  by_digest.digest = top.digest;
  std::vector<std::string> names = {by_digest.string()};
  if (!ref.tag.empty() && ref.digest.empty()) {
    Reference tagged = ref;
    names.push_back(tagged.string());
  }
  bool updated = commit_image(store, record, names);
  return {record.id, top.digest, updated};
}

}  // namespace cppcker
