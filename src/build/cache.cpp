#include "cppcker/build/cache.hpp"

#include <unistd.h>

#include <cerrno>

#include <nlohmann/json.hpp>

#include "cppcker/util/error.hpp"
#include "cppcker/util/sha256.hpp"

namespace cppcker::build {

std::string cache_key(const std::vector<std::string>& parts) {
  Sha256 h;
  for (const auto& p : parts) {
    std::string len = std::to_string(p.size()) + ":";
    h.update(len);
    h.update(p);
  }
  return h.hex();
}

BuildCache::BuildCache(const fs::path& state_root) : dir_(state_root / "build-cache") {}

namespace {
std::optional<CacheEntry> read_entry(const fs::path& file) {
  auto text = read_file_if_exists(file);
  if (!text) return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("image") || !j["image"].is_string()) return std::nullopt;
  CacheEntry e;
  e.key = file.stem().string();
  e.parent = j.value("parent", std::string());
  e.image = j["image"].get<std::string>();
  return e;
}

bool is_key(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}
}  // namespace

std::optional<std::string> BuildCache::lookup(const ImageStore& images, const std::string& key) const {
  if (!is_key(key)) return std::nullopt;
  auto e = read_entry(dir_ / (key + ".json"));
  if (!e || !images.get_image(e->image)) return std::nullopt;
  return e->image;
}

void BuildCache::put(const CacheEntry& entry) const {
  if (!is_key(entry.key)) throw Error("build cache: bad key " + entry.key);
  make_dirs(dir_);
  nlohmann::json j = {{"parent", entry.parent}, {"image", entry.image}};
  // Unsynced: a lost entry after a machine crash is a cache miss, never a wrong hit.
  write_file_atomic(dir_ / (entry.key + ".json"), j.dump(), 0644, Durability::unsynced);
}

std::vector<CacheEntry> BuildCache::entries() const {
  std::vector<CacheEntry> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (p.extension() != ".json" || !is_key(p.stem().string())) continue;
    if (auto e = read_entry(p)) out.push_back(*e);
  }
  return out;
}

std::set<std::string> BuildCache::parents() const {
  std::set<std::string> out;
  for (const auto& e : entries())
    if (!e.parent.empty() && e.parent != e.image) out.insert(e.parent);
  return out;
}

std::vector<CacheEntry> BuildCache::prune(const ImageStore& images, bool stale_only) const {
  std::vector<CacheEntry> removed;
  if (!fs::exists(dir_)) return removed;
  FileLock lock(dir_ / ".lock");
  for (const auto& e : entries()) {
    if (stale_only && images.get_image(e.image)) continue;
    fs::path file = dir_ / (e.key + ".json");
    if (::unlink(file.c_str()) != 0 && errno != ENOENT) throw_errno("remove " + file.string());
    removed.push_back(e);
  }
  return removed;
}

CachePruneResult prune_build_cache(const fs::path& state_root, const ImageStore& images, const ImageUsers& users) {
  CachePruneResult result;
  BuildCache cache(state_root);
  std::set<std::string> made;
  for (const auto& e : cache.prune(images, /*stale_only=*/false)) {
    result.entries.push_back(e.key);
    made.insert(e.image);
  }
  std::map<std::string, std::uint64_t> layer_sizes;
  {
    auto lock = images.lock_metadata();
    auto names = names_by_image(images.refs());
    for (const auto& image : images.list_images()) {
      for (const auto& l : image.layers) layer_sizes[l.chain_id] = l.unpacked_size;
      if (!made.count(image.id)) continue;
      auto n = names.find(image.id);
      if (n != names.end() && (!n->second.tags.empty() || !n->second.digests.empty())) continue;
      if (users && !users(image.id).empty()) continue;
      images.delete_image_record(image.id);
      result.images.push_back(image.id);
    }
  }
  for (const auto& chain : images.collect_garbage())
    if (auto it = layer_sizes.find(chain); it != layer_sizes.end()) result.reclaimed += it->second;
  return result;
}

}  // namespace cppcker::build
