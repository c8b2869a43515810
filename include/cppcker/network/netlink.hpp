#pragma once
// Links, addresses and routes over rtnetlink (libnl-route-3): no `ip` command on the start path.
#include <memory>
#include <string>

#include "cppcker/network/address.hpp"

struct nl_sock;

namespace cppcker {

// A connected NETLINK_ROUTE socket of the network namespace this process is in when it is made.
class Netlink {
 public:
  Netlink();
  ~Netlink();
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;

  // 0 when there is no such link.
  int link_index(const std::string& name);
  bool link_exists(const std::string& name) { return link_index(name) != 0; }
  // A bridge named `name` with `gateway` ("172.29.0.1/16") as its address, up. An existing one is kept.
  void ensure_bridge(const std::string& name, const Ipv4Net& gateway);
  // A veth pair: `host_name` here, enslaved to `bridge` and up; its peer created directly in the network
  // namespace `peer_netns_fd` as `peer_name` with `peer_mac`.
  void create_veth(const std::string& host_name, const std::string& bridge, const std::string& peer_name,
                   int peer_netns_fd, const std::string& peer_mac);
  void set_up(const std::string& name);
  void add_address(const std::string& link, const Ipv4Net& address);
  void add_default_route(const std::string& link, Ipv4 gateway);
  // Deletes a link; false if there was none.
  bool delete_link(const std::string& name);

 private:
  nl_sock* sock_ = nullptr;
};

// The links enslaved to bridge `name` (veths of running containers, of any state root), from sysfs; 0 when
// there is no such bridge. The kernel's view is the truth about whether a shared bridge is in use.
int bridge_port_count(const std::string& name);

// Brings a link up with an ioctl, for `lo` in a fresh namespace (no netlink library needed for that).
void set_link_up_ioctl(const std::string& name);

}  // namespace cppcker
