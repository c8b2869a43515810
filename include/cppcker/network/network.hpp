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
  static NetworkConfig parse(const std::string& json_text);
};

struct NetworkRecord {
  std::string name;
  std::string id;  // 64 hex
  std::string bridge;
  Ipv4Net gateway;  // the bridge's address with the subnet's prefix
  std::string nft_table;
  std::string created;
  bool builtin = false;  // the default "bridge" network

  nlohmann::json to_json() const;
  static NetworkRecord from_json(const nlohmann::json& j);
};

// A container's place on a network, kept in its record while it runs.
struct Endpoint {
  std::string network;
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

// Names that follow from the container ID alone, so that cleanup after a crash needs no record.
std::string host_veth_name(const std::string& container_id);  // "veth" + 11 hex: 15 characters

class NetworkStore {
 public:
  NetworkStore(fs::path root, NetworkConfig config);
  const fs::path& root() const { return root_; }

  FileLock lock() const;
  // The default network and every user network, default first.
  std::vector<NetworkRecord> list() const;
  // By name, full ID or unique ID prefix. Error("network X not found").
  NetworkRecord get(const std::string& name_or_id) const;
  // `network create`: a bridge named br-<12 hex of the ID>, a free /size subnet of the pool unless given.
  NetworkRecord create(const std::string& name, const std::string& subnet, const std::string& gateway) const;
  // Removes a user network without containers (its bridge and its subnet's NAT rule too).
  void remove(const std::string& name_or_id) const;
  // Removes the networks nobody uses: user networks, and the kernel objects of the default one (its
  // bridge; the NAT table when no network of this table is left). Returns the names of removed networks.
  std::vector<std::string> prune() const;

  // Under the lock: an address for `container_id` (its old one if it has one), and host ports for
  // `ports` (0 = a free one). An address or host port whose container record is gone is free again.
  Endpoint reserve(const NetworkRecord& network, const std::string& container_id,
                   const std::vector<PortBinding>& ports) const;
  void release(const std::string& network, const std::string& container_id) const;
  // Live containers on `network`: address -> container ID.
  std::vector<std::pair<Ipv4, std::string>> members(const std::string& network) const;

  // Makes the bridge, its NAT and forwarding ready (idempotent; called by the setup-veth stage).
  void ensure_infrastructure(const NetworkRecord& network) const;

 private:
  bool container_exists(const std::string& id) const;
  // A network's bridge, its subnet in the NAT table and its address file (not its record).
  void dismantle(const NetworkRecord& network, Netlink& nl) const;
  NetworkRecord default_network() const;  // writes its record on first use (caller holds the lock)
  std::optional<NetworkRecord> load(const std::string& name) const;
  fs::path dir() const { return root_ / "networks"; }
  fs::path root_;
  NetworkConfig config_;
};

}  // namespace cppcker
