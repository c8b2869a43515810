#include "cppcker/image/reference.hpp"

#include <cctype>
#include <vector>

#include "cppcker/util/error.hpp"
#include "cppcker/util/sha256.hpp"

namespace cppcker {
namespace {

constexpr std::string_view kDefaultDomain = "docker.io";
constexpr std::string_view kOfficialPrefix = "library/";
constexpr std::size_t kMaxNameLength = 255;

[[noreturn]] void invalid(std::string_view text, std::string_view why) {
  throw Error("invalid reference format: \"" + std::string(text) + "\": " + std::string(why));
}

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
bool valid_path_component(std::string_view c) {
  if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
  for (std::size_t i = 0; i < c.size();) {
    if (is_lower_alnum(c[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < c.size() && !is_lower_alnum(c[j])) ++j;
    std::string_view sep = c.substr(i, j - i);
    bool ok = sep == "." || sep == "_" || sep == "__" || sep.find_first_not_of('-') == std::string_view::npos;
    if (!ok) return false;
    i = j;
  }
  return true;
}

bool valid_domain_component(std::string_view c) {
  if (c.empty()) return false;
  auto alnum = [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) != 0; };
  if (!alnum(c.front()) || !alnum(c.back())) return false;
  for (char ch : c)
    if (!alnum(ch) && ch != '-') return false;
  return true;
}

bool valid_port(std::string_view p) {
  if (p.empty() || p.size() > 5) return false;
  for (char c : p)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

bool valid_domain(std::string_view d) {
  if (d.empty()) return false;
  if (d.front() == '[') {  // [ipv6]:port
    auto close = d.find(']');
    if (close == std::string_view::npos) return false;
    for (char c : d.substr(1, close - 1))
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':') return false;
    auto rest = d.substr(close + 1);
    return rest.empty() || (rest.front() == ':' && valid_port(rest.substr(1)));
  }
  auto colon = d.rfind(':');
  std::string_view host = d.substr(0, colon);
  if (colon != std::string_view::npos && !valid_port(d.substr(colon + 1))) return false;
  std::size_t start = 0;
  for (;;) {
    auto dot = host.find('.', start);
    if (!valid_domain_component(host.substr(start, dot - start))) return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

bool valid_tag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(t.front())) return false;
  for (char c : t)
    if (!word(c) && c != '.' && c != '-') return false;
  return true;
}

Reference parse_impl(std::string_view text, bool default_tag) {
  if (text.empty()) invalid(text, "empty reference");
  Reference ref;
  std::string_view rest = text;

  if (auto at = rest.find('@'); at != std::string_view::npos) {
    std::string_view digest = rest.substr(at + 1);
    if (digest.substr(0, 7) != "sha256:") invalid(text, "only sha256 digests are supported");
    if (!is_valid_digest(digest)) invalid(text, "digest must be sha256: followed by 64 lowercase hex digits");
    ref.digest = std::string(digest);
    rest = rest.substr(0, at);
  }
  // A tag is after the last ':' that follows the last '/' (a ':' before it is a port).
  auto slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    std::string_view tag = rest.substr(colon + 1);
    if (!valid_tag(tag)) invalid(text, "invalid tag \"" + std::string(tag) + "\"");
    ref.tag = std::string(tag);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) invalid(text, "missing repository name");

  std::string_view remainder = rest;
  auto first_slash = rest.find('/');
  if (first_slash != std::string_view::npos) {
    std::string_view first = rest.substr(0, first_slash);
    if (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
        first == "localhost" || first.front() == '[') {
      if (!valid_domain(first)) invalid(text, "invalid registry host \"" + std::string(first) + "\"");
      ref.domain = std::string(first);
      remainder = rest.substr(first_slash + 1);
    }
  }
  if (ref.domain.empty() || ref.domain == "index.docker.io") ref.domain = std::string(kDefaultDomain);

  std::size_t start = 0;
  for (;;) {
    auto next = remainder.find('/', start);
    std::string_view comp = remainder.substr(start, next - start);
    if (!valid_path_component(comp)) {
      bool has_upper = false;
      for (char c : comp) has_upper |= std::isupper(static_cast<unsigned char>(c)) != 0;
      if (has_upper) invalid(text, "repository name must be lowercase");
      invalid(text, "invalid repository name component \"" + std::string(comp) + "\"");
    }
    if (next == std::string_view::npos) break;
    start = next + 1;
  }
  ref.path = std::string(remainder);
  if (ref.domain == kDefaultDomain && ref.path.find('/') == std::string::npos)
    ref.path = std::string(kOfficialPrefix) + ref.path;
  if (ref.name().size() > kMaxNameLength) invalid(text, "repository name must not be longer than 255 characters");
  if (default_tag && ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

}  // namespace

Reference Reference::parse(std::string_view text) { return parse_impl(text, true); }
Reference Reference::parse_name_only(std::string_view text) { return parse_impl(text, false); }

std::string Reference::familiar_name() const {
  if (domain != kDefaultDomain) return name();
  if (path.compare(0, kOfficialPrefix.size(), kOfficialPrefix) == 0 &&
      path.find('/', kOfficialPrefix.size()) == std::string::npos)
    return path.substr(kOfficialPrefix.size());
  return path;
}

static std::string with_suffix(std::string base, const Reference& r) {
  if (!r.tag.empty()) base += ":" + r.tag;
  if (!r.digest.empty()) base += "@" + r.digest;
  return base;
}

std::string Reference::string() const { return with_suffix(name(), *this); }
std::string Reference::familiar_string() const { return with_suffix(familiar_name(), *this); }

std::string registry_host(std::string_view domain) {
  if (domain == kDefaultDomain) return "registry-1.docker.io";
  return std::string(domain);
}

}  // namespace cppcker
