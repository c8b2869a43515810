#pragma once
// Networks under the state root: networks/<name>.json (the network), networks/<name>.ipam.json (address
// -> container) and networks/ports.json (published host ports), all written atomically under
// networks/.lock. The default network "bridge" comes from the config file; others from `network create`.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cppcker/network/address.hpp"
#include "cppcker/util/fs.hpp"

namespace cppcker {

class Netlink;

// From the config file (default /etc/cppcker/config.json), with Docker's daemon.json names:
//   { "bridge": "cppcker0", "bip": "172.29.0.1/16", "nft-table": "cppcker",
//     "default-address-pools": [{"base": "172.30.0.0/16", "size": 24}] }
struct NetworkConfig {
  std::string bridge = "cppcker0";
  Ipv4Net bip = Ipv4Net::parse("172.29.0.1/16");
  std::string nft_table = "cppcker";
  Ipv4Net pool = Ipv4Net::parse("172.30.0.0/16");
  int pool_size = 24;
  // Missing file: defaults, unless `required`. Malformed: Error.
  static NetworkConfig load(const fs::path& path, bool required);
  // from_json, then the values checked.
  static NetworkConfig parse(const std::string& json_text);
  // The config file's shape and names, in both directions: how a stage is handed the config the CLI read
  // and checked. from_json fills what is missing with the defaults and checks no value (json::exception on
  // a wrong type).
  nlohmann::json to_json() const;
  static NetworkConfig from_json(const nlohmann::json& j);
};

struct NetworkRecord {
  std::string name;
  std::string id;  // 64 hex
  std::string bridge;
  Ipv4Net gateway;  // the bridge's address with the subnet's prefix
  std::string nft_table;
  std::string created;
  bool builtin = false;  // a predefined network: the default "bridge", "host", "none"
  std::string driver = "bridge";  // "host" and "null" for the predefined host and none networks

  nlohmann::json to_json() const;
  static NetworkRecord from_json(const nlohmann::json& j);
};

// A user network a container joins beyond its --network (`network connect`), at every start.
struct NetworkAttachment {
  std::string network;  // its name
  std::string ip;       // --ip; "" = any free address
  std::vector<std::string> aliases;  // --alias: more names its peers on this network know it by

  nlohmann::json to_json() const;
  static NetworkAttachment from_json(const nlohmann::json& j);
};

// A container's place on a network, kept in its record while it runs.
struct Endpoint {
  std::string network;
  std::string interface = "eth0";  // its name inside the container: eth0 for --network, eth1... connected ones
  std::vector<std::string> aliases;
  std::string network_id;
  std::string bridge;
  std::string nft_table;
  Ipv4Net address;  // the container's address with the subnet's prefix
  Ipv4 gateway = 0;
  std::string mac;
  std::string host_veth;
  std::string netns;  // bind mount that keeps the namespace alive (set by the runtime, which owns the path)
  std::vector<PortBinding> ports;  // host ports resolved (never 0 here)

  nlohmann::json to_json() const;
  static Endpoint from_json(const nlohmann::json& j);
};

// The predefined "host" and "none" networks (a container joins them with --network host|none).
bool is_predefined_non_bridge(const std::string& name);
NetworkRecord predefined_network(const std::string& name);  // "host" or "none"

// Names that follow from the container ID alone, so that cleanup after a crash needs no record.
std::string host_veth_name(const std::string& container_id);  // "veth" + 11 hex: 15 characters
// The host side of a connected network's veth (eth<index> inside, index >= 1): "veth" + hex + "x" + index,
// 15 characters at most; the "x" keeps it apart from every primary name.
std::string host_veth_name(const std::string& container_id, int index);

class NetworkStore {
 public:
  NetworkStore(fs::path root, NetworkConfig config);
  const fs::path& root() const { return root_; }
  const NetworkConfig& config() const { return config_; }

  FileLock lock() const;
  // Every network, sorted by name as `network ls` shows them: the default bridge, the predefined
  // "host" and "none" (driver host / null, no bridge) and the user networks.
  std::vector<NetworkRecord> list() const;
  // By name, full ID or unique ID prefix (host and none too). Error("network X not found").
  NetworkRecord get(const std::string& name_or_id) const;
  // `network create`: a bridge named br-<12 hex of the ID>, a free /size subnet of the pool unless given.
  NetworkRecord create(const std::string& name, const std::string& subnet, const std::string& gateway) const;
  // Removes a user network without containers (its bridge and its subnet's NAT rule too).
  void remove(const std::string& name_or_id) const;
  // Removes the networks nobody uses: user networks, and the kernel objects of the default one (its
  // bridge; the NAT table when no network of this table is left). Returns the names of removed networks.
  // The default bridge and the NAT table are shared by every state root on the host with the same config:
  // a bridge with ports (another root's running containers) and a table that still holds another root's
  // subnets or ports are kept.
  std::vector<std::string> prune() const;

  // Under the lock: an address for `container_id` (its old one if it has one), and host ports for
  // `ports` (0 = a free one). An address or host port whose container record is gone is free again.
  // `ip`: this address (--ip) or Error("Address already in use") / Error("Invalid address ...").
  Endpoint reserve(const NetworkRecord& network, const std::string& container_id,
                   const std::vector<PortBinding>& ports, std::optional<Ipv4> ip = std::nullopt) const;
  void release(const std::string& network, const std::string& container_id) const;
  // Releases the container's address on every bridge network (whatever its record still knows); returns
  // the names of the networks that had one.
  std::vector<std::string> release_everywhere(const std::string& container_id) const;
  // Live containers on `network`: address -> container ID.
  std::vector<std::pair<Ipv4, std::string>> members(const std::string& network) const;

  // Makes the bridge, its NAT and forwarding ready (idempotent; called by the setup-veth stage).
  void ensure_infrastructure(const NetworkRecord& network) const;

 private:
  bool container_exists(const std::string& id) const;
  // A network's bridge, its subnet in the NAT table and its address file (not its record).
  void dismantle(const NetworkRecord& network, Netlink& nl) const;
  NetworkRecord default_network() const;  // writes its record on first use (caller holds the lock)
  // The bridge networks (the default first): what IPAM, create and prune work on.
  std::vector<NetworkRecord> bridge_networks() const;
  std::optional<NetworkRecord> load(const std::string& name) const;
  fs::path dir() const { return root_ / "networks"; }
  fs::path root_;
  NetworkConfig config_;
};

}  // namespace cppcker
