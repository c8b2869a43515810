#pragma once
// IPv4 addresses and subnets, and the port mappings of `-p`, with Docker's syntax and error wording.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cppcker {

// Host byte order, so that "the next address" is `+ 1`.
using Ipv4 = std::uint32_t;
Ipv4 parse_ipv4(const std::string& text);  // throws Error
std::string format_ipv4(Ipv4 address);

struct Ipv4Net {
  Ipv4 address = 0;  // as written: "172.29.0.1/16" keeps .1 (a gateway with its prefix)
  int prefix = 0;
  static Ipv4Net parse(const std::string& cidr);  // throws Error
  Ipv4 mask() const { return prefix == 0 ? 0 : ~Ipv4{0} << (32 - prefix); }
  Ipv4 network() const { return address & mask(); }
  Ipv4 broadcast() const { return network() | ~mask(); }
  bool contains(Ipv4 a) const { return (a & mask()) == network(); }
  bool overlaps(const Ipv4Net& other) const;
  std::string str() const;          // "172.29.0.1/16"
  std::string network_str() const;  // "172.29.0.0/16"
};

// One published port: `-p [hostIP:][hostPort:]containerPort[/proto]`. host_port 0 = any free port.
struct PortBinding {
  std::string host_ip;  // "" = every address of the host (shown as 0.0.0.0)
  int host_port = 0;
  int container_port = 0;
  std::string proto = "tcp";

  std::string container_key() const { return std::to_string(container_port) + "/" + proto; }  // "80/tcp"
  std::string shown_host_ip() const { return host_ip.empty() ? "0.0.0.0" : host_ip; }
  // Docker's words when another container holds the host side.
  std::string allocated_message() const {
    return "Bind for " + shown_host_ip() + ":" + std::to_string(host_port) + " failed: port is already allocated";
  }
  nlohmann::json to_json() const;
  static PortBinding from_json(const nlohmann::json& j);
  bool operator==(const PortBinding&) const = default;
};

// Parses one -p value; a range ("8000-8001:80-81") gives one binding per port.
std::vector<PortBinding> parse_publish(const std::string& spec);
// "80/tcp", "53/udp", "8080" (tcp), as in an image's ExposedPorts or --expose.
PortBinding parse_exposed_port(const std::string& spec);

// A locally administered MAC that is the same whenever the same container starts: 02: + 5 bytes of its ID.
std::string mac_for_container(const std::string& container_id);

}  // namespace cppcker
