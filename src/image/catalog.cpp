#include "cppcker/image/catalog.hpp"

#include <set>

#include "cppcker/util/error.hpp"
#include "cppcker/util/sha256.hpp"

namespace cppcker {

std::map<std::string, ImageNames> names_by_image(const std::map<std::string, std::string>& refs) {
  std::map<std::string, ImageNames> out;
  for (const auto& [name, id] : refs) {
    Reference ref;
    try {
      ref = Reference::parse_name_only(name);
    } catch (const Error&) {
      continue;
    }
    if (!ref.digest.empty()) out[id].digests.push_back(ref);
    else out[id].tags.push_back(ref);
  }
  return out;
}

void tag_image(const ImageStore& store, const std::string& source, const std::string& target) {
  std::string id = store.resolve_image(source);
  Reference ref = Reference::parse(target);
  if (!ref.digest.empty()) throw Error("refusing to create a tag with a digest reference: " + target);
  store.set_ref(ref, id);
}

std::vector<RemovalEvent> remove_image(const ImageStore& store, const std::string& text, bool force,
                                       const ImageUsers& users) {
  std::vector<RemovalEvent> events;
  std::string id = store.resolve_image(text);
  std::vector<ImageUser> in_use = users ? users(id) : std::vector<ImageUser>{};
  for (const auto& u : in_use) {
    if (!force)
      throw Error("conflict: unable to remove repository reference \"" + text + "\" (must force) - container " +
                  u.container_id.substr(0, 12) + " is using its referenced image " + id.substr(7, 12));
    if (u.running)
      throw Error("conflict: unable to delete " + id.substr(7, 12) + " (cannot be forced) - image is being used by running container " +
                  u.container_id.substr(0, 12));
  }
  {
    auto lock = store.lock_metadata();
    auto refs = store.refs();
    // Was the argument a reference (not an ID)?
    std::string named;
    try {
      Reference ref = Reference::parse(text);
      if (auto it = refs.find(ref.string()); it != refs.end() && it->second == id) named = ref.string();
    } catch (const Error&) {
    }
    auto names = names_by_image(refs)[id];
    auto untag = [&](const Reference& r) {
      refs.erase(r.string());
      events.push_back({RemovalEvent::Kind::untagged, r.familiar_string()});
    };
    bool delete_image = false;
    if (!named.empty()) {
      Reference ref = Reference::parse_name_only(named);
      untag(ref);
      std::size_t tags_left = 0;
      for (const auto& t : names.tags) tags_left += t.string() != ref.string();
      if (tags_left == 0) {
        for (const auto& d : names.digests)
          if (d.string() != ref.string()) untag(d);
        delete_image = true;
      }
    } else {
      std::set<std::string> repos;
      for (const auto& t : names.tags) repos.insert(t.name());
      if (repos.size() > 1 && !force)
        throw Error("conflict: unable to delete " + id.substr(7, 12) +
                    " (must be forced) - image is referenced in multiple repositories");
      for (const auto& t : names.tags) untag(t);
      for (const auto& d : names.digests) untag(d);
      delete_image = true;
    }
    store.write_refs(refs);
    if (!in_use.empty()) return events;  // forced: names are gone, the image stays for its containers
    if (delete_image) {
      store.delete_image_record(id);
      events.push_back({RemovalEvent::Kind::deleted, id});
    }
    if (!delete_image) return events;
  }
  for (const auto& chain : store.collect_garbage()) events.push_back({RemovalEvent::Kind::deleted, chain});
  return events;
}

}  // namespace cppcker
