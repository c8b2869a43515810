#include "cppcker/image/manifest.hpp"

#include <sys/utsname.h>

#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"
#include "cppcker/util/sha256.hpp"

namespace cppcker {

using nlohmann::json;

std::string media_type::accept_header() {
  return "Accept: " + std::string(oci_index) + ", " + std::string(oci_manifest) + ", " +
         std::string(docker_list) + ", " + std::string(docker_manifest);
}

Platform normalize(Platform p) {
  for (auto* s : {&p.os, &p.architecture, &p.variant})
    for (char& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (p.os == "macos") p.os = "darwin";
  auto& a = p.architecture;
  auto& v = p.variant;
  if (a == "i386") {
    a = "386";
    v.clear();
  } else if (a == "x86_64" || a == "x86-64" || a == "amd64") {
    a = "amd64";
    if (v == "v1") v.clear();
  } else if (a == "aarch64" || a == "arm64") {
    a = "arm64";
    if (v == "8" || v == "v8") v.clear();
  } else if (a == "armhf") {
    a = "arm";
    v = "v7";
  } else if (a == "armel") {
    a = "arm";
    v = "v6";
  } else if (a == "arm") {
    if (v.empty() || v == "7") v = "v7";
    else if (v == "5" || v == "6" || v == "8") v = "v" + v;
  } else if (a.rfind("armv", 0) == 0 && a.size() == 5) {  // armv7l / armv6l style from uname
    v = std::string("v") + a[4];
    a = "arm";
  } else if (a.rfind("armv", 0) == 0 && a.size() == 6) {
    v = std::string("v") + a[4];
    a = "arm";
  }
  return p;
}

Platform Platform::parse(std::string_view text) {
  std::vector<std::string> parts = split(text, '/');
  for (auto& p : parts)
    if (p.empty()) throw Error("invalid platform \"" + std::string(text) + "\": empty component");
  Platform out;
  if (parts.size() == 1) {
    // A lone word is an OS when it is one, else an architecture on linux.
    if (parts[0] == "linux" || parts[0] == "windows" || parts[0] == "darwin") {
      out = host();
      out.os = parts[0];
    } else {
      out.os = "linux";
      out.architecture = parts[0];
    }
  } else if (parts.size() <= 3) {
    out.os = parts[0];
    out.architecture = parts[1];
    if (parts.size() == 3) out.variant = parts[2];
  } else {
    throw Error("invalid platform \"" + std::string(text) + "\": expected os/arch[/variant]");
  }
  return normalize(out);
}

Platform Platform::host() {
  struct utsname u{};
  ::uname(&u);
  return normalize(Platform{"linux", u.machine, ""});
}

std::string Platform::string() const {
  std::string s = os + "/" + architecture;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

static std::string json_string(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

static Descriptor parse_descriptor(const json& j, std::string_view what) {
  if (!j.is_object()) throw Error(std::string(what) + ": descriptor is not an object");
  Descriptor d;
  d.media_type = json_string(j, "mediaType");
  d.digest = json_string(j, "digest");
  if (!is_valid_digest(d.digest))
    throw Error(std::string(what) + ": invalid or unsupported digest \"" + d.digest + "\"");
  auto size = j.find("size");
  if (size == j.end() || !size->is_number_integer() || size->get<std::int64_t>() < 0)
    throw Error(std::string(what) + ": descriptor " + d.digest + " has no valid size");
  d.size = size->get<std::int64_t>();
  if (auto p = j.find("platform"); p != j.end() && p->is_object())
    d.platform = normalize(Platform{json_string(*p, "os"), json_string(*p, "architecture"), json_string(*p, "variant")});
  if (auto a = j.find("annotations"); a != j.end() && a->is_object())
    for (auto& [k, v] : a->items())
      if (v.is_string()) d.annotations[k] = v.get<std::string>();
  if (auto u = j.find("urls"); u != j.end() && u->is_array())
    for (auto& v : *u)
      if (v.is_string()) d.urls.push_back(v.get<std::string>());
  return d;
}

ManifestDocument parse_manifest_document(std::string_view body, std::string_view content_type) {
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) throw Error("manifest is not a JSON object");
  std::string mt = json_string(doc, "mediaType");
  if (mt.empty()) {
    auto semi = content_type.find(';');
    mt = std::string(content_type.substr(0, semi));
    while (!mt.empty() && mt.back() == ' ') mt.pop_back();
  }
  auto schema = doc.find("schemaVersion");
  if ((schema != doc.end() && schema->is_number_integer() && schema->get<int>() == 1) ||
      mt == media_type::docker_schema1 || mt == media_type::docker_schema1_signed)
    throw Error("image manifest is Docker schema 1, which is deprecated and not supported; push the image again "
                "with a current client");
  // OCI documents may omit mediaType and arrive with a generic Content-Type: recognise them by shape.
  if (mt.empty() || mt == "application/json" || mt == "application/octet-stream") {
    if (doc.contains("manifests")) mt = media_type::oci_index;
    else if (doc.contains("config") && doc.contains("layers")) mt = media_type::oci_manifest;
  }
  if (mt == media_type::oci_index || mt == media_type::docker_list)
    return {ManifestKind::index, mt, std::move(doc)};
  if (mt == media_type::oci_manifest || mt == media_type::docker_manifest)
    return {ManifestKind::image, mt, std::move(doc)};
  throw Error("unsupported manifest media type \"" + mt + "\"");
}

ImageManifest parse_image_manifest(const json& doc, std::string_view media_type) {
  ImageManifest m;
  m.media_type = std::string(media_type);
  auto cfg = doc.find("config");
  if (cfg == doc.end()) throw Error("image manifest has no config");
  m.config = parse_descriptor(*cfg, "manifest config");
  auto layers = doc.find("layers");
  if (layers == doc.end() || !layers->is_array()) throw Error("image manifest has no layers array");
  for (auto& l : *layers) {
    Descriptor d = parse_descriptor(l, "manifest layer");
    if (!is_layer_media_type(d.media_type))
      throw Error("unsupported layer media type \"" + d.media_type + "\" for " + d.digest);
    m.layers.push_back(std::move(d));
  }
  return m;
}

ImageIndex parse_image_index(const json& doc, std::string_view media_type) {
  ImageIndex idx;
  idx.media_type = std::string(media_type);
  auto list = doc.find("manifests");
  if (list == doc.end() || !list->is_array()) throw Error("image index has no manifests array");
  for (auto& m : *list) idx.manifests.push_back(parse_descriptor(m, "index entry"));
  return idx;
}

const Descriptor& select_platform(const ImageIndex& index, const Platform& want_raw) {
  Platform want = normalize(want_raw);
  const Descriptor* fallback = nullptr;
  for (const auto& d : index.manifests) {
    if (!d.platform) continue;
    const Platform& p = *d.platform;
    if (p.os != want.os || p.architecture != want.architecture) continue;
    if (p.variant == want.variant) return d;
    // No variant asked for: take the first entry of the right os/arch.
    if (want.variant.empty() && !fallback) fallback = &d;
  }
  if (fallback) return *fallback;
  throw Error("no matching manifest for " + want.string() + " in the manifest list entries");
}

ImageConfig parse_image_config(std::string_view body) {
  ImageConfig c;
  c.json = json::parse(body, nullptr, false);
  if (c.json.is_discarded() || !c.json.is_object()) throw Error("image config is not a JSON object");
  c.created = json_string(c.json, "created");
  c.platform = normalize(Platform{json_string(c.json, "os"), json_string(c.json, "architecture"),
                                  json_string(c.json, "variant")});
  auto rootfs = c.json.find("rootfs");
  if (rootfs == c.json.end() || !rootfs->is_object()) throw Error("image config has no rootfs");
  auto ids = rootfs->find("diff_ids");
  if (ids == rootfs->end() || !ids->is_array()) throw Error("image config has no rootfs.diff_ids");
  for (auto& id : *ids) {
    if (!id.is_string() || !is_valid_digest(id.get<std::string>()))
      throw Error("image config has an invalid diff_id");
    c.diff_ids.push_back(id.get<std::string>());
  }
  return c;
}

Compression detect_compression(std::string_view head) {
  auto b = [&](std::size_t i) { return i < head.size() ? static_cast<unsigned char>(head[i]) : 0u; };
  if (b(0) == 0x1f && b(1) == 0x8b) return Compression::gzip;
  if (b(0) == 0x28 && b(1) == 0xb5 && b(2) == 0x2f && b(3) == 0xfd) return Compression::zstd;
  return Compression::none;
}

std::string_view compression_name(Compression c) {
  switch (c) {
    case Compression::gzip: return "gzip";
    case Compression::zstd: return "zstd";
    case Compression::none: break;
  }
  return "none";
}

bool is_layer_media_type(std::string_view mt) {
  return mt == media_type::oci_layer || mt == media_type::oci_layer_gzip || mt == media_type::oci_layer_zstd ||
         mt == media_type::docker_layer || mt == media_type::docker_layer_gzip ||
         mt == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" ||
         mt == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
}

std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> out;
  for (const auto& d : diff_ids) out.push_back(out.empty() ? d : sha256_digest(out.back() + " " + d));
  return out;
}

}  // namespace cppcker
