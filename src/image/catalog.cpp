#include "cppcker/image/catalog.hpp"

#include <algorithm>
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
  const ImageUser* running = nullptr;
  for (const auto& u : in_use)
    if (u.running && !running) running = &u;
  auto cannot_be_forced = [&] {
    return Error("conflict: unable to delete " + id.substr(7, 12) +
                 " (cannot be forced) - image is being used by running container " +
                 running->container_id.substr(0, 12));
  };
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
    std::set<std::string> repos;
    for (const auto& t : names.tags) repos.insert(t.name());
    for (const auto& d : names.digests) repos.insert(d.name());
    // Docker's "single reference": every name in one repository, at most one tag. Removing it would leave
    // a container's image nameless, which needs force; removing one of several names never does.
    const bool single_reference = repos.size() <= 1 && names.tags.size() <= 1;
    auto untag = [&](const Reference& r) {
      refs.erase(r.string());
      events.push_back({RemovalEvent::Kind::untagged, r.familiar_string()});
    };
    if (!named.empty()) {
      Reference ref = Reference::parse_name_only(named);
      if (!force && single_reference && !in_use.empty())
        throw Error("conflict: unable to remove repository reference \"" + text + "\" (must force) - container " +
                    in_use.front().container_id.substr(0, 12) + " is using its referenced image " + id.substr(7, 12));
      std::size_t tags_left = 0;
      for (const auto& t : names.tags) tags_left += t.string() != ref.string();
      if (tags_left > 0) {
        // Other tags still name the image: only this name goes, whoever uses the image.
        untag(ref);
        store.write_refs(refs);
        return events;
      }
      // The last tag: the image would go, which a running container forbids even with force.
      if (running) throw cannot_be_forced();
      untag(ref);
      for (const auto& d : names.digests)
        if (d.string() != ref.string()) untag(d);
    } else {
      if (running) throw cannot_be_forced();
      if (!force && !in_use.empty())
        throw Error("conflict: unable to delete " + id.substr(7, 12) +
                    " (must be forced) - image is being used by stopped container " +
                    in_use.front().container_id.substr(0, 12));
      if (repos.size() > 1 && !force)
        throw Error("conflict: unable to delete " + id.substr(7, 12) +
                    " (must be forced) - image is referenced in multiple repositories");
      for (const auto& t : names.tags) untag(t);
      for (const auto& d : names.digests) untag(d);
    }
    store.write_refs(refs);
    if (!in_use.empty()) return events;  // forced: names are gone, the image stays for its containers
    store.delete_image_record(id);
    events.push_back({RemovalEvent::Kind::deleted, id});
  }
  for (const auto& chain : store.collect_garbage()) events.push_back({RemovalEvent::Kind::deleted, chain});
  return events;
}

std::vector<std::string> prunable_images(const std::vector<ImageRecord>& images,
                                         const std::map<std::string, std::string>& refs,
                                         const std::set<std::string>& used, bool all) {
  std::set<std::string> tagged;
  for (const auto& [id, names] : names_by_image(refs))
    if (!names.tags.empty()) tagged.insert(id);
  std::vector<std::string> out;
  for (const auto& image : images)
    if (!used.count(image.id) && (all || !tagged.count(image.id))) out.push_back(image.id);
  std::sort(out.begin(), out.end());
  return out;
}

ImagePruneResult prune_images(const ImageStore& store, bool all, const ImageUsers& users) {
  ImagePruneResult result;
  std::map<std::string, std::uint64_t> layer_sizes;  // chain -> unpacked size, of every image before
  {
    auto lock = store.lock_metadata();
    auto refs = store.refs();
    auto images = store.list_images();
    std::set<std::string> used;
    for (const auto& image : images) {
      for (const auto& l : image.layers) layer_sizes[l.chain_id] = l.unpacked_size;
      if (users && !users(image.id).empty()) used.insert(image.id);
    }
    std::vector<std::string> doomed = prunable_images(images, refs, used, all);
    if (doomed.empty()) return result;
    auto names = names_by_image(refs);
    for (const auto& id : doomed) {
      const ImageNames& n = names[id];
      for (const auto& t : n.tags) {
        refs.erase(t.string());
        result.events.push_back({RemovalEvent::Kind::untagged, t.familiar_string()});
      }
      for (const auto& d : n.digests) {
        refs.erase(d.string());
        result.events.push_back({RemovalEvent::Kind::untagged, d.familiar_string()});
      }
    }
    // Names first: a kill between the two leaves unnamed images (pruned next time), never a name without
    // its image.
    store.write_refs(refs);
    for (const auto& id : doomed) {
      store.delete_image_record(id);
      result.events.push_back({RemovalEvent::Kind::deleted, id});
    }
  }
  for (const auto& chain : store.collect_garbage()) {
    result.events.push_back({RemovalEvent::Kind::deleted, chain});
    if (auto it = layer_sizes.find(chain); it != layer_sizes.end()) result.reclaimed += it->second;
  }
  return result;
}

}  // namespace cppcker
