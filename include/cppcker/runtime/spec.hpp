#pragma once
// The OCI runtime spec of a container: built from its record (the image's config and the run flags,
// already merged there) by one pure function, written to containers/<id>/config.json, executed by the
// runtime core (process.hpp) at every start.
#include <string>
#include <vector>

#include "cppcker/oci/runtime_spec.hpp"
#include "cppcker/runtime/container.hpp"

namespace cppcker {

// Where a container's files are; the spec names them.
struct ContainerPaths {
  std::string rootfs;                      // the overlay's mount point (containers/<id>/merged)
  std::string hostname, hosts, resolv_conf;
  std::string netns;                       // a bridged container's namespace (containers/<id>/netns)
  std::string volumes_dir;                 // <root>/volumes: a volume's data is <volumes_dir>/<name>/_data
};

// What the spec depends on beyond the record, read from the host by the caller (so that building is pure).
struct HostFacts {
  std::vector<std::string> capabilities;  // the host's bounding set: what --privileged hands out
  std::string architecture = "SCMP_ARCH_X86_64";
  unsigned kernel_major = 0, kernel_minor = 0;
  std::string default_seccomp_profile;    // the profile's JSON text
  std::vector<oci::Device> host_devices;  // the host's device nodes (needed for --privileged only)
};
HostFacts read_host_facts(bool privileged);

// The spec for `c`. Throws Error (125) for a setting that cannot be honoured: an invalid seccomp
// profile, an unknown capability, an invalid device rule.
oci::Spec build_spec(const Container& c, const ContainerPaths& paths, const HostFacts& host);
// Its namespaces alone (what the child is cloned into), the same as build_spec's.
std::vector<oci::Namespace> container_namespaces(const Container& c, const ContainerPaths& paths);

// The record's limits as the spec's resources, and back (the cgroup module takes ResourceLimits).
oci::Resources resources_from_limits(const ResourceLimits& limits);
ResourceLimits limits_from_resources(const oci::Resources& resources);

}  // namespace cppcker
