#include "cppcker/storage/store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"
#include "cppcker/util/sha256.hpp"

namespace cppcker {

using nlohmann::json;

namespace {
constexpr std::string_view kTempMarker = ".tmp-";

bool is_temp_name(const std::string& name) { return name.find(kTempMarker) != std::string::npos; }

json parse_json_file(const fs::path& path) {
  json j = json::parse(read_file(path), nullptr, false);
  if (j.is_discarded()) throw Error("corrupt state file " + path.string());
  return j;
}
}  // namespace

std::uint64_t ImageRecord::size() const {
  std::uint64_t total = 0;
  for (const auto& l : layers) total += l.unpacked_size;
  return total;
}

json ImageRecord::to_json() const {
  json layers_json = json::array();
  for (const auto& l : layers)
    layers_json.push_back({{"chain_id", l.chain_id},
                           {"diff_id", l.diff_id},
                           {"digest", l.digest},
                           {"media_type", l.media_type},
                           {"size", l.size},
                           {"unpacked_size", l.unpacked_size}});
  return {{"id", id},
          {"manifest_digest", manifest_digest},
          {"manifest_media_type", manifest_media_type},
          {"layers", layers_json},
          {"created", created},
          {"os", os},
          {"architecture", architecture},
          {"variant", variant},
          {"added", added}};
}

ImageRecord ImageRecord::from_json(const json& j) {
  ImageRecord r;
  r.id = j.at("id").get<std::string>();
  r.manifest_digest = j.value("manifest_digest", "");
  r.manifest_media_type = j.value("manifest_media_type", "");
  for (const auto& l : j.at("layers"))
    r.layers.push_back({l.at("chain_id").get<std::string>(), l.at("diff_id").get<std::string>(),
                        l.value("digest", ""), l.value("media_type", ""), l.value("size", std::int64_t{0}),
                        l.value("unpacked_size", std::uint64_t{0})});
  r.created = j.value("created", "");
  r.os = j.value("os", "");
  r.architecture = j.value("architecture", "");
  r.variant = j.value("variant", "");
  r.added = j.value("added", "");
  return r;
}

ImageStore::ImageStore(fs::path root) : root_(std::move(root)) {
  for (const char* sub : {"blobs/sha256", "layers/.locks", "images", "tmp"}) make_dirs(root_ / sub);
}

FileLock ImageStore::lock_metadata() const { return FileLock(root_ / "store.lock"); }
FileLock ImageStore::ingest_guard() const { return FileLock(root_ / "gc.lock", FileLock::Mode::shared); }

FileLock ImageStore::lock_layer(const std::string& chain_id) const {
  std::string hex = digest_hex(chain_id);
  FileLock lock(root_ / "layers/.locks" / hex);
  // Whoever held this lock before us is gone: its temporaries for this layer are garbage.
  std::error_code ec;
  for (auto& e : fs::directory_iterator(root_ / "layers", ec)) {
    std::string name = e.path().filename();
    if (name.rfind(hex + std::string(kTempMarker), 0) == 0) remove_tree(e.path());
  }
  return lock;
}

fs::path ImageStore::blob_path(const std::string& digest) const { return root_ / "blobs/sha256" / digest_hex(digest); }
bool ImageStore::has_blob(const std::string& digest) const { return ::access(blob_path(digest).c_str(), F_OK) == 0; }
std::string ImageStore::read_blob(const std::string& digest) const {
  auto data = read_file_if_exists(blob_path(digest));
  if (!data) throw Error("blob " + digest + " is missing from the store");
  return *data;
}

void ImageStore::put_blob(const std::string& digest, std::string_view data) const {
  std::string actual = sha256_digest(data);
  if (actual != digest) throw Error("digest mismatch: expected " + digest + ", got " + actual);
  if (has_blob(digest)) return;
  write_file_atomic(blob_path(digest), data);
}

fs::path ImageStore::blob_temp_path(const std::string& digest) const {
  fs::path p = blob_path(digest);
  p += std::string(kTempMarker) + random_hex(6);
  return p;
}

void ImageStore::commit_blob(const fs::path& temp, const std::string& digest) const {
  if (::rename(temp.c_str(), blob_path(digest).c_str()) != 0) throw_errno("store blob " + digest);
}

bool ImageStore::has_layer(const std::string& chain_id) const {
  return ::access((layer_dir(chain_id) / "layer.json").c_str(), F_OK) == 0;
}
fs::path ImageStore::layer_dir(const std::string& chain_id) const { return root_ / "layers" / digest_hex(chain_id); }

fs::path ImageStore::new_layer_temp(const std::string& chain_id) const {
  fs::path temp = root_ / "layers" / (digest_hex(chain_id) + std::string(kTempMarker) + random_hex(6));
  make_dirs(temp / "diff");
  return temp;
}

void ImageStore::commit_layer(const fs::path& temp, const std::string& chain_id, const json& meta) const {
  write_file_atomic(temp / "layer.json", meta.dump());
  if (::rename(temp.c_str(), layer_dir(chain_id).c_str()) != 0) {
    int err = errno;
    if ((err == EEXIST || err == ENOTEMPTY) && has_layer(chain_id)) {
      remove_tree(temp);
      return;
    }
    throw SystemError("store layer " + chain_id, err);
  }
}

std::optional<json> ImageStore::layer_meta(const std::string& chain_id) const {
  auto data = read_file_if_exists(layer_dir(chain_id) / "layer.json");
  if (!data) return std::nullopt;
  json j = json::parse(*data, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

std::vector<ImageRecord> ImageStore::list_images() const {
  std::vector<ImageRecord> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(root_ / "images", ec)) {
    std::string name = e.path().filename();
    if (is_temp_name(name) || e.path().extension() != ".json") continue;
    try {
      out.push_back(ImageRecord::from_json(parse_json_file(e.path())));
    } catch (const std::exception&) {
      // A record this version cannot read is skipped rather than hiding every other image.
    }
  }
  return out;
}

std::optional<ImageRecord> ImageStore::get_image(const std::string& id) const {
  if (!is_valid_digest(id)) return std::nullopt;
  auto data = read_file_if_exists(root_ / "images" / (digest_hex(id) + ".json"));
  if (!data) return std::nullopt;
  json j = json::parse(*data, nullptr, false);
  if (j.is_discarded()) throw Error("corrupt image record for " + id);
  return ImageRecord::from_json(j);
}

void ImageStore::put_image(const ImageRecord& record) const {
  write_file_atomic(root_ / "images" / (digest_hex(record.id) + ".json"), record.to_json().dump(2));
}

void ImageStore::delete_image_record(const std::string& id) const {
  fs::path p = root_ / "images" / (digest_hex(id) + ".json");
  if (::unlink(p.c_str()) != 0 && errno != ENOENT) throw_errno("remove " + p.string());
}

std::map<std::string, std::string> ImageStore::refs() const {
  std::map<std::string, std::string> out;
  auto data = read_file_if_exists(root_ / "repositories.json");
  if (!data) return out;
  json j = json::parse(*data, nullptr, false);
  if (j.is_discarded() || !j.contains("refs")) throw Error("corrupt state file " + (root_ / "repositories.json").string());
  for (auto& [k, v] : j["refs"].items()) out[k] = v.get<std::string>();
  return out;
}

void ImageStore::write_refs(const std::map<std::string, std::string>& refs) const {
  write_file_atomic(root_ / "repositories.json", json{{"refs", refs}}.dump(2));
}

void ImageStore::set_ref(const Reference& ref, const std::string& image_id) const {
  auto lock = lock_metadata();
  auto all = refs();
  all[ref.string()] = image_id;
  write_refs(all);
}

std::optional<std::string> ImageStore::find_image(std::string_view text) const {
  std::string input(text);
  if (is_valid_digest(input)) {
    if (get_image(input)) return input;
    return std::nullopt;
  }
  try {
    Reference ref = Reference::parse(input);
    auto all = refs();
    if (auto it = all.find(ref.string()); it != all.end() && get_image(it->second)) return it->second;
    // name:tag@digest: the digest decides.
    if (!ref.digest.empty()) {
      Reference by_digest = ref;
      by_digest.tag.clear();
      if (auto it = all.find(by_digest.string()); it != all.end() && get_image(it->second)) return it->second;
    }
  } catch (const Error&) {
    // Not a reference; it may still be an ID prefix.
  }
  std::string prefix = input.rfind("sha256:", 0) == 0 ? input.substr(7) : input;
  bool hex = !prefix.empty() && prefix.size() <= 64 &&
             std::all_of(prefix.begin(), prefix.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) && !std::isupper(static_cast<unsigned char>(c)); });
  if (hex) {
    std::vector<std::string> matches;
    for (const auto& img : list_images())
      if (img.id.compare(7, prefix.size(), prefix) == 0) matches.push_back(img.id);
    if (matches.size() == 1) return matches.front();
    if (matches.size() > 1)
      throw Error("ambiguous image ID prefix \"" + input + "\": it matches " + std::to_string(matches.size()) + " images");
  }
  return std::nullopt;
}

std::string ImageStore::resolve_image(std::string_view text) const {
  if (auto id = find_image(text)) return *id;
  throw Error("No such image: " + std::string(text));
}

std::vector<std::string> ImageStore::collect_garbage() const {
  FileLock gc(root_ / "gc.lock", FileLock::Mode::exclusive);
  auto meta = lock_metadata();
  std::set<std::string> blobs, chains;
  for (const auto& img : list_images()) {
    blobs.insert(digest_hex(img.id));
    if (!img.manifest_digest.empty()) blobs.insert(digest_hex(img.manifest_digest));
    for (const auto& l : img.layers) {
      chains.insert(digest_hex(l.chain_id));
      if (!l.digest.empty()) blobs.insert(digest_hex(l.digest));
    }
  }
  std::vector<std::string> removed;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(root_ / "layers", ec)) {
    std::string name = e.path().filename();
    if (name == ".locks") continue;
    if (is_temp_name(name)) {
      remove_tree(e.path());
      continue;
    }
    if (chains.count(name)) continue;
    // Hide the layer under a temporary name first, so that a crash mid-removal leaves no half layer.
    fs::path doomed = root_ / "layers" / (name + std::string(kTempMarker) + "gc");
    if (::rename(e.path().c_str(), doomed.c_str()) != 0) throw_errno("remove layer " + name);
    remove_tree(doomed);
    removed.push_back("sha256:" + name);
  }
  for (auto& e : fs::directory_iterator(root_ / "layers/.locks", ec)) {
    if (!chains.count(e.path().filename())) ::unlink(e.path().c_str());
  }
  for (auto& e : fs::directory_iterator(root_ / "blobs/sha256", ec)) {
    std::string name = e.path().filename();
    if (is_temp_name(name) || !blobs.count(name)) ::unlink(e.path().c_str());
  }
  for (auto& e : fs::directory_iterator(root_ / "images", ec))
    if (is_temp_name(e.path().filename())) ::unlink(e.path().c_str());
  for (auto& e : fs::directory_iterator(root_ / "tmp", ec)) remove_tree(e.path());
  for (auto& e : fs::directory_iterator(root_, ec))
    if (is_temp_name(e.path().filename())) ::unlink(e.path().c_str());
  return removed;
}

}  // namespace cppcker
