#include "cppcker/image/inspect.hpp"

#include "cppcker/image/catalog.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker {

using nlohmann::json;
using nlohmann::ordered_json;

ordered_json inspect_image(const ImageStore& store, const std::string& image_id) {
  auto record = store.get_image(image_id);
  if (!record) throw Error("No such image: " + image_id);
  json config = json::parse(store.read_blob(record->id), nullptr, false);
  if (config.is_discarded()) throw Error("image " + image_id + ": stored config is corrupt");
  auto names = names_by_image(store.refs())[record->id];
  json tags = json::array(), digests = json::array();
  for (const auto& t : names.tags) tags.push_back(t.familiar_string());
  for (const auto& d : names.digests) digests.push_back(d.familiar_string());

  json diff_ids = json::array();
  for (const auto& l : record->layers) diff_ids.push_back(l.diff_id);
  ordered_json graph = {{"Data", ordered_json::object()}, {"Name", "overlay2"}};
  if (!record->layers.empty()) {
    std::string lower;
    for (auto it = std::next(record->layers.rbegin()); it != record->layers.rend(); ++it) {
      if (!lower.empty()) lower += ":";
      lower += store.layer_diff_dir(it->chain_id).string();
    }
    graph["Data"]["UpperDir"] = store.layer_diff_dir(record->layers.back().chain_id).string();
    if (!lower.empty()) graph["Data"]["LowerDir"] = lower;
  }
  auto str = [&](const char* key) { return config.contains(key) && config[key].is_string() ? config[key] : json(""); };
  ordered_json out = {{"Id", record->id},
              {"RepoTags", tags},
              {"RepoDigests", digests},
              {"Parent", ""},
              {"Comment", str("comment")},
              {"Created", str("created")},
              {"DockerVersion", str("docker_version")},
              {"Author", str("author")},
              {"Config", config.contains("config") ? config["config"] : json(nullptr)},
              {"Architecture", record->architecture},
              {"Variant", record->variant},
              {"Os", record->os},
              {"Size", record->size()},
              {"GraphDriver", graph},
              {"RootFS", {{"Type", "layers"}, {"Layers", diff_ids}}},
              {"Metadata", {{"LastTagTime", record->added}}},
              {"Descriptor", {{"mediaType", record->manifest_media_type}, {"digest", record->manifest_digest}}}};
  if (record->variant.empty()) out.erase("Variant");
  return out;
}

}  // namespace cppcker
