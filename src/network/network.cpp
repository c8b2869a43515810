#include "cppcker/network/network.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <regex>
#include <thread>

#include "cppcker/network/nat.hpp"
#include "cppcker/network/netlink.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"
#include "cppcker/util/sha256.hpp"

namespace cppcker {

using nlohmann::json;

NetworkConfig NetworkConfig::from_json(const json& j) {
  NetworkConfig c;
  if (j.contains("bridge")) c.bridge = j["bridge"].get<std::string>();
  if (j.contains("bip")) c.bip = Ipv4Net::parse(j["bip"].get<std::string>());
  if (j.contains("nft-table")) c.nft_table = j["nft-table"].get<std::string>();
  if (j.contains("default-address-pools") && !j["default-address-pools"].empty()) {
    const json& p = j["default-address-pools"][0];
    c.pool = Ipv4Net::parse(p.at("base").get<std::string>());
    c.pool_size = p.value("size", 24);
  }
  return c;
}

json NetworkConfig::to_json() const {
  return {{"bridge", bridge},
          {"bip", bip.str()},
          {"nft-table", nft_table},
          {"default-address-pools", json::array({{{"base", pool.str()}, {"size", pool_size}}})}};
}

NetworkConfig NetworkConfig::parse(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error("invalid config file: not a JSON object");
  NetworkConfig c;
  try {
    c = from_json(j);
  } catch (const json::exception& e) {
    throw Error(std::string("invalid config file: ") + e.what());
  }
  if (c.bridge.empty() || c.bridge.size() > 15) throw Error("invalid config file: bridge name must be 1 to 15 characters");
  if (!std::regex_match(c.nft_table, std::regex("^[a-zA-Z_][a-zA-Z0-9_]*$")))
    throw Error("invalid config file: nft-table must be a plain identifier");
  if (c.bip.prefix < 8 || c.bip.prefix > 30 || c.bip.address == c.bip.network() || c.bip.address == c.bip.broadcast())
    throw Error("invalid config file: bip must be an address inside its subnet, e.g. 172.29.0.1/16");
  if (c.pool_size < c.pool.prefix || c.pool_size > 30) throw Error("invalid config file: bad default-address-pools size");
  return c;
}

NetworkConfig NetworkConfig::load(const fs::path& path, bool required) {
  auto text = read_file_if_exists(path);
  if (!text) {
    if (required) throw Error("config file " + path.string() + " not found");
    return {};
  }
  return parse(*text);
}

json NetworkRecord::to_json() const {
  return {{"name", name},       {"id", id},           {"bridge", bridge}, {"gateway", gateway.str()},
          {"nft_table", nft_table}, {"created", created}, {"builtin", builtin}, {"driver", driver}};
}

NetworkRecord NetworkRecord::from_json(const json& j) {
  NetworkRecord r;
  r.name = j.at("name");
  r.id = j.at("id");
  r.bridge = j.at("bridge");
  r.gateway = j.at("gateway").get<std::string>().empty() ? Ipv4Net{} : Ipv4Net::parse(j.at("gateway"));
  r.nft_table = j.value("nft_table", "cppcker");
  r.created = j.value("created", "");
  r.builtin = j.value("builtin", false);
  r.driver = j.value("driver", "bridge");
  return r;
}

json Endpoint::to_json() const {
  json p = json::array();
  for (const auto& b : ports) p.push_back(b.to_json());
  return {{"network", network}, {"network_id", network_id}, {"bridge", bridge},   {"nft_table", nft_table},
          {"address", address.str()}, {"gateway", format_ipv4(gateway)}, {"mac", mac}, {"host_veth", host_veth},
          {"netns", netns},     {"ports", p},         {"interface", interface}, {"aliases", aliases}};
}

Endpoint Endpoint::from_json(const json& j) {
  Endpoint e;
  e.network = j.at("network");
  e.network_id = j.value("network_id", "");
  e.bridge = j.value("bridge", "");
  e.nft_table = j.value("nft_table", "");
  e.address = Ipv4Net::parse(j.at("address"));
  e.gateway = parse_ipv4(j.at("gateway"));
  e.mac = j.value("mac", "");
  e.host_veth = j.value("host_veth", "");
  e.netns = j.value("netns", "");
  e.interface = j.value("interface", "eth0");
  e.aliases = j.value("aliases", std::vector<std::string>{});
  for (const auto& p : j.value("ports", json::array())) e.ports.push_back(PortBinding::from_json(p));
  return e;
}

std::string host_veth_name(const std::string& container_id) { return "veth" + container_id.substr(0, 11); }

std::string host_veth_name(const std::string& container_id, int index) {
  std::string suffix = "x" + std::to_string(index);
  return "veth" + container_id.substr(0, 11 - suffix.size()) + suffix;
}

json NetworkAttachment::to_json() const { return {{"network", network}, {"ip", ip}, {"aliases", aliases}}; }

NetworkAttachment NetworkAttachment::from_json(const json& j) {
  NetworkAttachment a;
  a.network = j.at("network");
  a.ip = j.value("ip", "");
  a.aliases = j.value("aliases", std::vector<std::string>{});
  return a;
}

namespace {

constexpr std::string_view kDefaultNetwork = "bridge";  // not a std::string: no constructor per exec

// Deterministic 64-hex ID for the default network (FNV-1a over four seeds): every process computes the
// same one without a lock or a random source.
std::string stable_id(const std::string& text) {
  std::string out;
  for (std::uint64_t seed : {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull, 0x9e3779b97f4a7c15ull, 0x2545f4914f6cdd1dull}) {
    std::uint64_t h = seed;
    for (unsigned char ch : text) h = (h ^ ch) * 0x100000001b3ull;
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    out += buf;
  }
  return out;
}

json read_json_or(const fs::path& path, json fallback) {
  auto text = read_file_if_exists(path);
  if (!text) return fallback;
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded()) throw Error("corrupt network state " + path.string());
  return j;
}

bool valid_network_name(const std::string& name) {
  static const std::regex re("^[a-zA-Z0-9][a-zA-Z0-9_.-]*$");
  return std::regex_match(name, re) && name.size() <= 64;
}

// The subnets of this host's interfaces, which a new network must not overlap.
std::vector<Ipv4Net> host_subnets() {
  std::vector<Ipv4Net> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || !a->ifa_netmask) continue;
    Ipv4Net n;
    n.address = ntohl(reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr.s_addr);
    n.prefix = __builtin_popcount(ntohl(reinterpret_cast<sockaddr_in*>(a->ifa_netmask)->sin_addr.s_addr));
    out.push_back(n);
  }
  ::freeifaddrs(list);
  return out;
}

// A host port nobody listens on now, from the ephemeral range the kernel hands out.
int free_host_port(const std::string& proto, const std::vector<int>& taken) {
  for (int attempt = 0; attempt < 64; ++attempt) {
    UniqueFd s(::socket(AF_INET, (proto == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0));
    if (!s) throw_errno("socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    socklen_t len = sizeof a;
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw_errno("find a free host port");
    int port = ntohs(a.sin_port);
    if (std::find(taken.begin(), taken.end(), port) == taken.end()) return port;
  }
  throw Error("no free host port found", 125);
}

// No port on the bridge, or none left after a moment: the veth of a container just removed goes with its
// dying namespace, which the kernel cleans up in the background; ports that stay belong to running ones.
bool bridge_idle(const std::string& bridge) {
  for (int i = 0; i < 250; ++i) {  // up to 5 s: a loaded machine may take that long
    if (bridge_port_count(bridge) == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

void write_sysctl(const std::string& key, const std::string& value) {
  std::string path = "/proc/sys/" + key;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd || ::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
    throw_errno("set " + key);
}

}  // namespace

NetworkStore::NetworkStore(fs::path root, NetworkConfig config) : root_(std::move(root)), config_(std::move(config)) {}

FileLock NetworkStore::lock() const {
  make_dirs(dir());
  return FileLock(dir() / ".lock");
}

bool NetworkStore::container_exists(const std::string& id) const {
  return fs::exists(root_ / "containers" / id / "container.json");
}

std::optional<NetworkRecord> NetworkStore::load(const std::string& name) const {
  auto text = read_file_if_exists(dir() / (name + ".json"));
  if (!text) return std::nullopt;
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded()) throw Error("corrupt network record " + name);
  return NetworkRecord::from_json(j);
}

NetworkRecord NetworkStore::default_network() const {
  if (auto r = load(std::string(kDefaultNetwork))) return *r;
  NetworkRecord r;
  r.name = kDefaultNetwork;
  r.id = stable_id(fs::absolute(root_).string() + "\n" + config_.bridge);
  r.bridge = config_.bridge;
  r.gateway = config_.bip;
  r.nft_table = config_.nft_table;
  r.created = format_rfc3339(now());
  r.builtin = true;
  make_dirs(dir());
  write_file_atomic(dir() / (r.name + ".json"), r.to_json().dump(2));
  return r;
}

bool is_predefined_non_bridge(const std::string& name) { return name == "host" || name == "none"; }

NetworkRecord predefined_network(const std::string& name) {
  if (!is_predefined_non_bridge(name)) throw Error("network " + name + " not found");
  NetworkRecord r;
  r.name = name;
  r.id = digest_hex(sha256_digest("cppcker predefined network " + name));  // the same in every root, no file
  r.builtin = true;
  r.driver = name == "host" ? "host" : "null";
  r.created = "0001-01-01T00:00:00Z";  // Go's zero time: they exist from the start, no file records them
  return r;
}

std::vector<NetworkRecord> NetworkStore::list() const {
  std::vector<NetworkRecord> out = bridge_networks();
  out.push_back(predefined_network("host"));
  out.push_back(predefined_network("none"));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

std::vector<NetworkRecord> NetworkStore::bridge_networks() const {
  std::vector<NetworkRecord> out{default_network()};
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir(), ec)) {
    std::string file = e.path().filename();
    if (file.front() == '.' || !file.ends_with(".json") || file.ends_with(".ipam.json") || file == "ports.json")
      continue;
    std::string name = file.substr(0, file.size() - 5);
    if (name == kDefaultNetwork) continue;
    if (auto r = load(name)) out.push_back(*r);
  }
  std::sort(out.begin() + 1, out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

NetworkRecord NetworkStore::get(const std::string& key) const {
  // By name straight from its file (the start path asks this); IDs and prefixes need the whole list.
  if (key == kDefaultNetwork) return default_network();
  if (is_predefined_non_bridge(key)) return predefined_network(key);
  if (valid_network_name(key))
    if (auto r = load(key)) return *r;
  auto all = list();
  for (const auto& n : all)
    if (n.name == key || n.id == key) return n;
  std::vector<const NetworkRecord*> matches;
  for (const auto& n : all)
    if (!key.empty() && n.id.compare(0, key.size(), key) == 0) matches.push_back(&n);
  if (matches.size() == 1) return *matches.front();
  throw Error("network " + key + " not found");
}

NetworkRecord NetworkStore::create(const std::string& name, const std::string& subnet_text,
                                   const std::string& gateway_text) const {
  if (!valid_network_name(name) || name == "host" || name == "none" || name == kDefaultNetwork)
    throw Error(name == "host" || name == "none" || name == kDefaultNetwork
                    ? "operation is not permitted on predefined " + name + " network"
                    : "invalid network name: " + name);
  auto guard = lock();
  auto existing = bridge_networks();
  for (const auto& n : existing)
    if (n.name == name) throw Error("network with name " + name + " already exists");
  std::vector<Ipv4Net> used;
  for (const auto& n : existing) used.push_back(n.gateway);
  Ipv4Net subnet;
  if (!subnet_text.empty()) {
    subnet = Ipv4Net::parse(subnet_text);
    if (subnet.prefix < 8 || subnet.prefix > 30) throw Error("invalid subnet " + subnet_text + ": use a prefix from /8 to /30");
    subnet.address = subnet.network();
    for (const auto& u : used)
      if (u.overlaps(subnet)) throw Error("invalid pool request: Pool overlaps with other one on this address space");
  } else {
    for (const auto& h : host_subnets()) used.push_back(h);
    bool found = false;
    std::uint64_t step = std::uint64_t{1} << (32 - config_.pool_size);
    for (std::uint64_t a = config_.pool.network(); a + step - 1 <= config_.pool.broadcast(); a += step) {
      Ipv4Net candidate{static_cast<Ipv4>(a), config_.pool_size};
      if (std::none_of(used.begin(), used.end(), [&](const Ipv4Net& u) { return u.overlaps(candidate); })) {
        subnet = candidate;
        found = true;
        break;
      }
    }
    if (!found) throw Error("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network");
  }
  Ipv4Net gateway = subnet;
  gateway.address = gateway_text.empty() ? subnet.network() + 1 : parse_ipv4(gateway_text);
  if (!subnet.contains(gateway.address) || gateway.address == subnet.network() || gateway.address == subnet.broadcast())
    throw Error("no matching subnet for gateway " + gateway_text);
  NetworkRecord r;
  r.name = name;
  r.id = random_hex(32);
  r.bridge = "br-" + r.id.substr(0, 12);
  r.gateway = gateway;
  r.nft_table = config_.nft_table;
  r.created = format_rfc3339(now());
  ensure_infrastructure(r);
  write_file_atomic(dir() / (name + ".json"), r.to_json().dump(2));
  return r;
}

std::vector<std::pair<Ipv4, std::string>> NetworkStore::members(const std::string& network) const {
  std::vector<std::pair<Ipv4, std::string>> out;
  json ipam = read_json_or(dir() / (network + ".ipam.json"), json::object());
  for (auto& [ip, id] : ipam.items())
    if (container_exists(id.get<std::string>())) out.emplace_back(parse_ipv4(ip), id.get<std::string>());
  return out;
}

void NetworkStore::remove(const std::string& key) const {
  auto guard = lock();
  NetworkRecord r = get(key);
  if (r.builtin) throw Error(r.name + " is a pre-defined network and cannot be removed");
  if (!members(r.name).empty())
    throw Error("error while removing network: network " + r.name + " id " + r.id + " has active endpoints");
  Netlink nl;
  dismantle(r, nl);
  std::error_code ec;
  fs::remove(dir() / (r.name + ".json"), ec);
}

void NetworkStore::dismantle(const NetworkRecord& r, Netlink& nl) const {
  nl.delete_link(r.bridge);
  NatTable(r.nft_table).remove_network(r.gateway);  // a missing table or element is fine
  std::error_code ec;
  fs::remove(dir() / (r.name + ".ipam.json"), ec);
}

std::vector<std::string> NetworkStore::prune() const {
  auto guard = lock();
  std::vector<std::string> removed;
  std::vector<std::string> tables;
  Netlink nl;
  for (const auto& r : bridge_networks()) {
    if (std::find(tables.begin(), tables.end(), r.nft_table) == tables.end()) tables.push_back(r.nft_table);
    if (!members(r.name).empty()) continue;
    // No container of this root is on it, but the default bridge is shared with every other root on the
    // host: ports on it are their running containers' veths, and it stays with its subnet in the table.
    if (r.builtin && !bridge_idle(r.bridge)) continue;
    dismantle(r, nl);
    if (!r.builtin) {
      std::error_code ec;
      fs::remove(dir() / (r.name + ".json"), ec);
      removed.push_back(r.name);
    }
  }
  // A table still holding a subnet or a port serves a network (of this root or another): kept.
  for (const auto& t : tables) {
    NatTable nat(t);
    if (!nat.in_use()) nat.drop();
  }
  return removed;
}

Endpoint NetworkStore::reserve(const NetworkRecord& network, const std::string& container_id,
                               const std::vector<PortBinding>& wanted, std::optional<Ipv4> ip) const {
  auto guard = lock();
  // Addresses: the container's own one again, else the lowest free one; entries of removed containers go.
  fs::path ipam_path = dir() / (network.name + ".ipam.json");
  json ipam = read_json_or(ipam_path, json::object());
  json kept = json::object();
  std::optional<Ipv4> mine;
  for (auto& [ip, id] : ipam.items()) {
    std::string owner = id.get<std::string>();
    if (owner == container_id && !mine) mine = parse_ipv4(ip);
    if (owner == container_id || container_exists(owner)) kept[ip] = owner;
  }
  const Ipv4Net& subnet = network.gateway;
  if (ip) {
    if (!subnet.contains(*ip) || *ip == subnet.network() || *ip == subnet.broadcast())
      throw Error("Invalid address " + format_ipv4(*ip) + ": It does not belong to any of this network's subnets", 125);
    std::string key = format_ipv4(*ip);
    if (*ip == subnet.address || (kept.contains(key) && kept[key] != container_id)) throw Error("Address already in use", 125);
    if (mine && *mine != *ip) kept.erase(format_ipv4(*mine));
    mine = ip;
    kept[key] = container_id;
  }
  if (!mine) {
    for (Ipv4 a = subnet.network() + 1; a < subnet.broadcast(); ++a) {
      if (a == subnet.address || kept.contains(format_ipv4(a))) continue;
      mine = a;
      break;
    }
    if (!mine) throw Error("no available IPv4 addresses on this network's address pools: " + network.name, 125);
    kept[format_ipv4(*mine)] = container_id;
  }

  // Host ports: across all networks, a (proto, port) pair is taken by one address or by all of them.
  fs::path ports_path = dir() / "ports.json";
  json ports = read_json_or(ports_path, json::array());
  json ports_kept = json::array();
  // Entries are the container's on one network (its published one): a connected network's reserve keeps them.
  auto same_network = [](const json& p, const std::string& name) { return p.value("Network", name) == name; };
  for (const auto& p : ports) {
    const std::string owner = p.value("Container", "");
    if (owner == container_id ? !same_network(p, network.name) : container_exists(owner)) ports_kept.push_back(p);
  }
  Endpoint e;
  for (auto b : wanted) {
    auto clashes = [&](const PortBinding& x) {
      for (const auto& p : ports_kept) {
        if (p.value("Proto", "") != x.proto || p.value("HostPort", 0) != x.host_port) continue;
        std::string ip = p.value("HostIp", "");
        if (ip.empty() || x.host_ip.empty() || ip == x.host_ip) return true;
      }
      return false;
    };
    if (b.host_port == 0) {
      std::vector<int> taken;
      for (const auto& p : ports_kept) taken.push_back(p.value("HostPort", 0));
      do {
        b.host_port = free_host_port(b.proto, taken);
        taken.push_back(b.host_port);
      } while (clashes(b));
    } else if (clashes(b)) {
      throw Error(b.allocated_message(), 125);
    }
    json entry = b.to_json();
    entry["Container"] = container_id;
    entry["Network"] = network.name;
    ports_kept.push_back(entry);
    e.ports.push_back(b);
  }
  // Unchanged files (a restart, no ports) are not written again: this runs on every bridged start.
  if (kept != ipam) write_file_atomic(ipam_path, kept.dump(), 0644, Durability::unsynced);
  if (ports_kept != ports) write_file_atomic(ports_path, ports_kept.dump(), 0644, Durability::unsynced);

  e.network = network.name;
  e.network_id = network.id;
  e.bridge = network.bridge;
  e.nft_table = network.nft_table;
  e.address = {*mine, subnet.prefix};
  e.gateway = subnet.address;
  e.mac = mac_for_container(container_id);
  e.host_veth = host_veth_name(container_id);
  return e;
}

void NetworkStore::release(const std::string& network, const std::string& container_id) const {
  auto guard = lock();
  fs::path ipam_path = dir() / (network + ".ipam.json");
  json ipam = read_json_or(ipam_path, json::object());
  json kept = json::object();
  for (auto& [ip, id] : ipam.items())
    if (id != container_id) kept[ip] = id;
  if (kept.size() != ipam.size()) write_file_atomic(ipam_path, kept.dump(), 0644, Durability::unsynced);
  fs::path ports_path = dir() / "ports.json";
  json ports = read_json_or(ports_path, json::array());
  json ports_kept = json::array();
  for (const auto& p : ports)
    if (p.value("Container", "") != container_id || p.value("Network", network) != network) ports_kept.push_back(p);
  if (ports_kept.size() != ports.size()) write_file_atomic(ports_path, ports_kept.dump(), 0644, Durability::unsynced);
}

std::vector<std::string> NetworkStore::release_everywhere(const std::string& container_id) const {
  std::vector<std::string> out;
  for (const auto& n : bridge_networks()) {
    json ipam = read_json_or(dir() / (n.name + ".ipam.json"), json::object());
    for (auto& [ip, id] : ipam.items())
      if (id == container_id) {
        release(n.name, container_id);
        out.push_back(n.name);
        break;
      }
  }
  return out;
}

void NetworkStore::ensure_infrastructure(const NetworkRecord& network) const {
  Netlink nl;
  if (nl.link_exists(network.bridge)) return;  // the bridge is made last, so everything else is there
  // A lock of its own: `network create` calls this holding the store lock, the setup-veth stage does not.
  make_dirs(dir());
  FileLock guard(dir() / ".infrastructure.lock");
  if (nl.link_exists(network.bridge)) return;
  NatTable(network.nft_table).ensure(network.gateway);
  // Forwarding, for traffic between the bridge and the rest of the world (published ports reached from
  // other hosts, outbound NAT). Docker turns it on at daemon start; cppcker when it first makes a bridge.
  write_sysctl("net/ipv4/ip_forward", "1");
  nl.ensure_bridge(network.bridge, network.gateway);
  // DNAT of connections the host makes to 127.0.0.1:<published port> sends 127.0.0.1-sourced packets
  // onto the bridge; the kernel drops those unless route_localnet is set on it.
  write_sysctl("net/ipv4/conf/" + network.bridge + "/route_localnet", "1");
}

}  // namespace cppcker
