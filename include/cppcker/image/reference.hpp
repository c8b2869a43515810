#pragma once
// Image references normalised as Docker does:
//   alpine                 -> docker.io/library/alpine:latest
//   host:5000/team/app:1.2 -> host:5000/team/app:1.2
//   name@sha256:<hex>      -> pinned by digest (a tag may stand beside it and is then informational)
#include <string>
#include <string_view>

namespace cppcker {

struct Reference {
  std::string domain;  // "docker.io", "127.0.0.1:5000", "[::1]:5000"
  std::string path;    // "library/alpine"
  std::string tag;     // empty when only a digest was given
  std::string digest;  // "sha256:<hex>" or empty

  // Parses and normalises; a bare name gets tag "latest". Throws Error("invalid reference format...").
  static Reference parse(std::string_view text);
  // Like parse but keeps tag empty when none was given (for `images busybox` style filters).
  static Reference parse_name_only(std::string_view text);

  std::string name() const { return domain + "/" + path; }  // docker.io/library/alpine
  std::string familiar_name() const;                        // alpine
  std::string string() const;                               // docker.io/library/alpine:latest
  std::string familiar_string() const;                      // alpine:latest
  // The reference the registry is asked for: the digest when there is one, else the tag.
  std::string manifest_reference() const { return digest.empty() ? tag : digest; }
  bool operator==(const Reference&) const = default;
};

// The host that serves a registry domain ("docker.io" -> "registry-1.docker.io").
std::string registry_host(std::string_view domain);

}  // namespace cppcker
