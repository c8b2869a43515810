#pragma once
// Linux capabilities by name (Docker's --cap-add/--cap-drop) and their application in the container
// (bounding set, then effective/permitted/inheritable, then ambient).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cppcker/oci/runtime_spec.hpp"

namespace cppcker {

// Every capability this build knows, "CAP_CHOWN" ... "CAP_CHECKPOINT_RESTORE", in number order.
const std::vector<std::string>& known_capabilities();
// Docker's default set of 14.
const std::vector<std::string>& default_capabilities();
// The capabilities in this process's bounding set (what --privileged can hand out; the host may lack
// some, e.g. CAP_SYS_RESOURCE).
std::vector<std::string> host_capabilities();
std::optional<int> capability_number(std::string_view name);  // "CAP_CHOWN" -> 0

// Docker's spelling rules: with or without CAP_, any case ("net_admin" -> "CAP_NET_ADMIN"); "ALL" stays.
// Throws Error (125) "unknown capability: ..." for anything else.
std::string normalize_capability(std::string_view name);

// Docker's --cap-add/--cap-drop over `base`: drop ALL empties it first, add ALL takes every known one,
// a name both added and dropped is added (Docker's rule: adds win over a named drop, ALL drops first).
std::vector<std::string> adjust_capabilities(const std::vector<std::string>& base, const std::vector<std::string>& add,
                                             const std::vector<std::string>& drop);

// The process's capability sets as the spec gives them. A non-root user gets empty effective and
// permitted sets (Docker's rule); ambient stays empty; inheritable stays empty (CVE-2022-24769).
oci::Capabilities capability_sets(const std::vector<std::string>& caps, bool root_user);

// Bit masks (bit N = capability N) of a spec's sets; throws Error (125) for an unknown name.
struct CapabilityMasks {
  std::uint64_t bounding = 0, effective = 0, permitted = 0, inheritable = 0, ambient = 0;
};
CapabilityMasks capability_masks(const oci::Capabilities& caps);

// In the container, after the user switch (with PR_SET_KEEPCAPS): drops every capability outside
// `masks.bounding` from the bounding set, then sets effective/permitted/inheritable, then raises the
// ambient ones. Capabilities this process does not have itself are left out rather than failing.
// Throws SystemError.
void drop_bounding_set(std::uint64_t keep);
void apply_capability_sets(const CapabilityMasks& masks);
// This process's effective set (capget).
std::uint64_t effective_capabilities();

}  // namespace cppcker
