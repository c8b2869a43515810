#include "cppcker/runtime/networking.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "cppcker/network/nat.hpp"
#include "cppcker/network/netlink.hpp"
#include "cppcker/runtime/restart.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/timing.hpp"

extern char** environ;

namespace cppcker {

using nlohmann::json;

NetworkMode network_mode(const std::string& network) {
  if (network == "none") return NetworkMode::none;
  if (network == "host") return NetworkMode::host;
  if (network.rfind("container:", 0) == 0) return NetworkMode::container;
  return NetworkMode::bridge;
}

void validate_network(const NetworkStore& networks, const ContainerStore& containers, const std::string& network) {
  switch (network_mode(network)) {
    case NetworkMode::none:
    case NetworkMode::host:
      return;
    case NetworkMode::container:
      try {
        containers.resolve(network.substr(10));
      } catch (const Error& e) {
        throw Error(e.what(), 125);
      }
      return;
    case NetworkMode::bridge:
      try {
        networks.get(network);
      } catch (const Error&) {
        throw Error("network " + network + " not found", 125);
      }
  }
}

namespace {

constexpr const char* kStageParentEnv = "CPPCKER_STAGE_PARENT";

// A stage whose owner is killed must not go on building a network nobody will tear down.
void stage_dies_with_parent() {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // It enters the container's network namespace: nothing there may reach this host binary (CVE-2019-5736).
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  const char* parent = std::getenv(kStageParentEnv);
  if (parent && std::atoi(parent) != ::getppid()) throw Error("the container's owner is gone");
}

// Starts `cppcker <stage> <arg>` (this very binary) with its stderr on a pipe.
pid_t spawn_stage(const char* stage, const std::string& arg, UniqueFd& err_read) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe");
  err_read.reset(p[0]);
  UniqueFd err_write(p[1]);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
  const char* argv[] = {"cppcker", stage, arg.c_str(), nullptr};
  // The stage dies with its parent (see stage_dies_with_parent); it learns the parent's pid from here.
  std::vector<std::string> env_strings = {std::string(kStageParentEnv) + "=" + std::to_string(::getpid())};
  for (char** e = environ; *e; ++e)
    if (std::string_view(*e).rfind(kStageParentEnv, 0) != 0) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, const_cast<char* const*>(argv), envp.data());
  ::posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw SystemError(std::string("start stage ") + stage, rc);
  return pid;
}

// Waits for a stage; its one error line becomes the Error.
void wait_stage(pid_t pid, UniqueFd& err_read, const char* stage) {
  std::string err = read_all(err_read.get(), stage);
  err_read.reset();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  while (!err.empty() && err.back() == '\n') err.pop_back();
  if (err.rfind("Error: ", 0) == 0) err.erase(0, 7);
  throw Error(err.empty() ? std::string(stage) + " failed" : err, 125);
}

std::vector<Container> peers_on(const NetworkStore& networks, const ContainerStore& containers,
                                const std::string& network, const std::string& except) {
  std::vector<Container> out;
  for (const auto& [ip, id] : networks.members(network)) {
    if (id == except) continue;
    auto peer = containers.load(id);
    if (peer && endpoint_on(peer->state, network)) out.push_back(*peer);
  }
  return out;
}

void write_hosts(const ContainerStore& containers, const Container& c, const std::string& text) {
  UniqueFd fd(::open((containers.dir(c.id) / "hosts").c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW));
  if (fd && ::write(fd.get(), text.data(), text.size()) < 0) {
    // A container that is going away at this moment; its own teardown refreshes the rest.
  }
}

// Rewrites the /etc/hosts of every container on `network` in place (a bind-mounted file keeps its inode).
void refresh_peer_hosts(const NetworkStore& networks, const ContainerStore& containers, const std::string& network) {
  auto guard = networks.lock();
  for (const auto& p : peers_on(networks, containers, network, ""))
    write_hosts(containers, p, hosts_file(p, network_peers(networks, containers, p)));
}

// Runs the setup-veth stage for `attachments` (network record, endpoint) and waits for it.
pid_t spawn_veth_stage(const NetworkStore& networks, const std::vector<std::pair<NetworkRecord, Endpoint>>& attachments,
                       UniqueFd& err) {
  json list = json::array();
  for (const auto& [n, e] : attachments) list.push_back({{"network", n.to_json()}, {"endpoint", e.to_json()}});
  json request = {{"root", networks.root().string()}, {"attachments", list}};
  return spawn_stage("setup-veth", request.dump(), err);
}

// A connected network's endpoint: eth<index> inside, its own host veth and MAC, the container's namespace.
void make_extra_endpoint(Endpoint& e, const Container& c, int index, const NetworkAttachment& a) {
  e.interface = "eth" + std::to_string(index);
  e.host_veth = host_veth_name(c.id, index);
  // Locally administered and unicast (bit 1 set, bit 0 clear) like eth0's 02:..., distinct per interface.
  char first[3];
  std::snprintf(first, sizeof first, "%02x", (0x02 + 4 * index) & 0xfe);
  e.mac = first + mac_for_container(c.id).substr(2);
  e.aliases = a.aliases;
  e.netns = c.state.net ? c.state.net->netns : "";
}

// The host side of each published port, bound in the host's network namespace (without SO_REUSEADDR)
// as Docker's userland proxy binds it: a port that something on the host already uses is refused before
// the container starts, instead of its traffic being taken silently by the DNAT rule; held, the port
// cannot be taken by anything else while the container runs. Not listening: nothing is accepted here.
std::vector<UniqueFd> hold_host_ports(const Container& c, const std::vector<PortBinding>& ports) {
  std::vector<UniqueFd> held;
  for (const auto& p : ports) {
    const bool udp = p.proto == "udp";
    if (!udp && p.proto != "tcp") continue;  // sctp: no socket to hold without the kernel module
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(p.host_port));
    if (::inet_pton(AF_INET, p.shown_host_ip().c_str(), &address.sin_addr) != 1)
      throw Error("invalid host IP address in port binding: " + p.host_ip, 125);
    UniqueFd fd(::socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("socket for port " + std::to_string(p.host_port));
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      std::string why = std::strerror(errno);
      if (!why.empty()) why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));  // Go's wording
      throw Error("driver failed programming external connectivity on endpoint " + c.name + " (" + c.id +
                      "): Error starting userland proxy: listen " + (udp ? "udp4 " : "tcp4 ") + p.shown_host_ip() + ":" +
                      std::to_string(p.host_port) + ": bind: " + why,
                  125);
    }
    held.push_back(std::move(fd));
  }
  return held;
}

}  // namespace

NetworkSetup::NetworkSetup(const NetworkStore& networks, const ContainerStore& containers, Container& c)
    : networks_(networks), containers_(containers), c_(c) {}

NetworkSetup::~NetworkSetup() {
  if (veth_stage_ > 0) {
    ::kill(veth_stage_, SIGKILL);
    ::waitpid(veth_stage_, nullptr, 0);
  }
  if (committed_) return;
  try {
    if (network_mode(c_.spec.network) == NetworkMode::bridge) teardown_network(networks_, containers_, c_);
  } catch (const Error&) {
    // The start's own error is what the user needs; `rm` retries the teardown.
  }
}

void NetworkSetup::begin() {
  switch (network_mode(c_.spec.network)) {
    case NetworkMode::none:
    case NetworkMode::host:
      return;
    case NetworkMode::container: {
      Container other = containers_.resolve(c_.spec.network.substr(10));
      ContainerState s = ContainerStore::observed_state(other);
      if (s.status != "running") throw Error("cannot join network of a non running container: " + other.id, 125);
      std::string path = other.state.net ? other.state.net->netns : "/proc/" + std::to_string(other.state.pid) + "/ns/net";
      netns_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!netns_) throw Error("cannot join network of container " + other.id + ": " + std::strerror(errno), 125);
      return;
    }
    case NetworkMode::bridge:
      break;
  }
  // What a crashed earlier run of it left (its record says so: it is saved before any stage runs).
  if (c_.state.net || !c_.state.extra_nets.empty()) teardown_network(networks_, containers_, c_);
  NetworkRecord network = networks_.get(c_.spec.network);
  c_.state.net = networks_.reserve(network, c_.id, c_.spec.ports);
  c_.state.net->netns = (containers_.dir(c_.id) / "netns").string();
  std::vector<std::pair<NetworkRecord, Endpoint>> attachments{{network, *c_.state.net}};
  // The networks `network connect` added: eth1, eth2, ... in the order they were connected.
  for (const auto& a : c_.spec.extra_networks) {
    NetworkRecord extra = networks_.get(a.network);
    std::optional<Ipv4> ip;
    if (!a.ip.empty()) ip = parse_ipv4(a.ip);
    Endpoint e = networks_.reserve(extra, c_.id, {}, ip);
    make_extra_endpoint(e, c_, static_cast<int>(c_.state.extra_nets.size()) + 1, a);
    c_.state.extra_nets.push_back(e);
    attachments.emplace_back(extra, e);
  }
  // From here on, rm -f finds what to tear down. Merged under the store lock: a stop during a restart's
  // back-off, or a connect, may have written the record meanwhile.
  save_owned(containers_, c_);
  host_ports_ = hold_host_ports(c_, c_.state.net->ports);
  UniqueFd err;
  pid_t stage = spawn_stage("setup-netns", c_.state.net->netns, err);
  wait_stage(stage, err, "setup-netns");
  netns_.reset(::open(c_.state.net->netns.c_str(), O_RDONLY | O_CLOEXEC));
  if (!netns_) throw_errno("open " + c_.state.net->netns);
  veth_stage_ = spawn_veth_stage(networks_, attachments, veth_stage_err_);
}

void NetworkSetup::finish() {
  if (veth_stage_ <= 0) return;
  pid_t stage = veth_stage_;
  veth_stage_ = -1;
  wait_stage(stage, veth_stage_err_, "setup-veth");
  for (const auto& e : container_endpoints(c_.state))
    if (e.network != "bridge") refresh_peer_hosts(networks_, containers_, e.network);
}

void teardown_network(const NetworkStore& networks, const ContainerStore& containers, Container& c, bool keep_address) {
  if (network_mode(c.spec.network) != NetworkMode::bridge) return;
  // `network connect`/`disconnect` change the record while its owner holds an older copy in memory:
  // the record on disk knows the connected networks (the owner saves `c` after this, keeping them).
  if (auto disk = containers.load(c.id)) {
    c.spec.extra_networks = disk->spec.extra_networks;
    for (const auto& e : disk->state.extra_nets)
      if (!endpoint_on(c.state, e.network)) c.state.extra_nets.push_back(e);
  }
  std::optional<Endpoint> e = c.state.net;
  if (e && !e->ports.empty()) {
    NatTable nat(e->nft_table);
    for (const auto& p : e->ports) nat.remove_port(p);
  }
  fs::path netns = containers.dir(c.id) / "netns";
  bool mounted = ::umount2(netns.c_str(), MNT_DETACH) == 0;
  if (!mounted && errno != EINVAL && errno != ENOENT) throw_errno("unmount " + netns.string());
  if (::unlink(netns.c_str()) != 0 && errno != ENOENT) throw_errno("remove " + netns.string());
  // With its last process gone and the mount released, the namespace dies and the kernel deletes the
  // veth pairs with it, in the background. Deleting them here would wait ~20 ms for RCU; that is only
  // worth it when no dying namespace will do it (by name, so that it works without a record).
  if (!mounted) {
    Netlink nl;
    nl.delete_link(host_veth_name(c.id));
    for (const auto& x : c.state.extra_nets) nl.delete_link(x.host_veth);
  }
  // Addresses on every network, also those a lost record no longer names; a restart under the
  // container's policy keeps them (reserve() gives the owner its own address again).
  std::vector<std::string> left;
  for (const auto& x : container_endpoints(c.state)) {
    if (!keep_address) networks.release(x.network, c.id);
    left.push_back(x.network);
  }
  if (!keep_address)
    for (const auto& n : networks.release_everywhere(c.id)) left.push_back(n);
  c.state.net.reset();
  c.state.extra_nets.clear();
  std::sort(left.begin(), left.end());
  left.erase(std::unique(left.begin(), left.end()), left.end());
  for (const auto& n : left)
    if (n != "bridge") refresh_peer_hosts(networks, containers, n);
}

namespace {

// The network given at run, resolved (it may have been written as an ID); nullopt when it is gone.
std::optional<NetworkRecord> primary_network(const NetworkStore& networks, const Container& c) {
  try {
    return networks.get(c.spec.network);
  } catch (const Error&) {
    return std::nullopt;
  }
}

// Writes only the record's network fields, under the store lock: its owner, `stop` and the health prober
// write the rest of it meanwhile, and a whole stale copy would undo what they wrote.
void save_networks(const ContainerStore& containers, const Container& c) {
  auto guard = containers.lock();
  auto on_disk = containers.load(c.id);
  if (!on_disk) throw Error("No such container: " + c.id);
  on_disk->spec.extra_networks = c.spec.extra_networks;
  on_disk->state.extra_nets = c.state.extra_nets;
  containers.save(*on_disk);
}

// The record as it is now: connects and disconnects of one container are serialised by its network.lock
// (two at once would each save a record without the other's change).
Container reloaded(const ContainerStore& containers, const Container& c) {
  auto fresh = containers.load(c.id);
  if (!fresh) throw Error("No such container: " + c.id);
  return *fresh;
}

}  // namespace

void connect_network(const NetworkStore& networks, const ContainerStore& containers, const std::string& container,
                     NetworkAttachment a) {
  Container c = containers.resolve(container);
  FileLock guard(containers.dir(c.id) / "network.lock");
  c = reloaded(containers, c);
  NetworkMode mode = network_mode(c.spec.network);
  if (a.network == "host" || mode == NetworkMode::host)
    throw Error("container cannot be disconnected from host network or connected to host network");
  if (mode == NetworkMode::container)
    throw Error("container sharing network namespace with another container or host cannot be connected to any other network");
  NetworkRecord network = networks.get(a.network);
  if (network.name == "none" || mode == NetworkMode::none)
    throw Error("container cannot be connected to multiple networks with one of the networks in private (none) mode");
  // The request itself first, then whether it is already done.
  std::optional<Ipv4> ip;
  if (!a.ip.empty()) {
    if (network.builtin) throw Error("user specified IP address is supported on user defined networks only");
    ip = parse_ipv4(a.ip);
    if (!network.gateway.contains(*ip))
      throw Error("Invalid address " + a.ip + ": It does not belong to any of this network's subnets");
  }
  if (!a.aliases.empty() && network.builtin)
    throw Error("network-scoped alias is supported only for containers in user defined networks");
  auto primary = primary_network(networks, c);
  bool connected = primary && primary->id == network.id;
  for (const auto& x : c.spec.extra_networks) connected = connected || x.network == network.name;
  if (connected) throw Error("endpoint with name " + c.name + " already exists in network " + network.name);
  a.network = network.name;

  const bool running = ContainerStore::observed_state(c).status == "running" && c.state.net;
  if (!running) {  // joined at its next start
    c.spec.extra_networks.push_back(a);
    save_networks(containers, c);
    return;
  }
  int index = 1;  // the lowest free ethN
  while (std::any_of(c.state.extra_nets.begin(), c.state.extra_nets.end(),
                     [&](const Endpoint& e) { return e.interface == "eth" + std::to_string(index); }))
    ++index;
  Endpoint e = networks.reserve(network, c.id, {}, ip);
  make_extra_endpoint(e, c, index, a);
  Container before = c;
  c.spec.extra_networks.push_back(a);
  c.state.extra_nets.push_back(e);
  save_networks(containers, c);  // from here on, rm finds the endpoint to tear down
  try {
    UniqueFd err;
    pid_t stage = spawn_veth_stage(networks, {{network, e}}, err);
    wait_stage(stage, err, "setup-veth");
  } catch (const Error&) {
    // Whatever half of it was made: its veth (the peer goes with it) and its address.
    try {
      Netlink().delete_link(e.host_veth);
      networks.release(network.name, c.id);
      save_networks(containers, before);
    } catch (const Error&) {
      // The connect's own error is what the user needs; rm tears down what is left.
    }
    throw;
  }
  refresh_peer_hosts(networks, containers, network.name);
}

void disconnect_network(const NetworkStore& networks, const ContainerStore& containers, const std::string& container,
                        const std::string& network_name) {
  Container c = containers.resolve(container);
  FileLock guard(containers.dir(c.id) / "network.lock");
  c = reloaded(containers, c);
  if (network_name == "host" || network_mode(c.spec.network) == NetworkMode::host)
    throw Error("container cannot be disconnected from host network or connected to host network");
  NetworkRecord network = networks.get(network_name);
  auto attached = std::find_if(c.spec.extra_networks.begin(), c.spec.extra_networks.end(),
                               [&](const NetworkAttachment& a) { return a.network == network.name; });
  if (attached == c.spec.extra_networks.end()) {
    auto primary = primary_network(networks, c);
    if (primary && primary->id == network.id && network_mode(c.spec.network) == NetworkMode::bridge)
      throw Error("container " + c.id + " was started with --network " + network.name +
                  ": cppcker cannot disconnect it from that network");
    throw Error("container " + c.id + " is not connected to network " + network.name);
  }
  c.spec.extra_networks.erase(attached);
  auto e = std::find_if(c.state.extra_nets.begin(), c.state.extra_nets.end(),
                        [&](const Endpoint& x) { return x.network == network.name; });
  if (e != c.state.extra_nets.end()) {
    // Deleting the host side deletes its peer inside the container too.
    Netlink().delete_link(e->host_veth);
    c.state.extra_nets.erase(e);
  }
  // Also when it is down: a restart's back-off keeps its addresses.
  networks.release(network.name, c.id);
  save_networks(containers, c);
  refresh_peer_hosts(networks, containers, network.name);
  // c is no longer among that network's members: its own file is rewritten here.
  if (c.state.net) write_hosts(containers, c, hosts_file(c, network_peers(networks, containers, c)));
}

std::vector<Endpoint> container_endpoints(const ContainerState& s) {
  std::vector<Endpoint> out;
  if (s.net) out.push_back(*s.net);
  out.insert(out.end(), s.extra_nets.begin(), s.extra_nets.end());
  return out;
}

const Endpoint* endpoint_on(const ContainerState& s, const std::string& network) {
  if (s.net && s.net->network == network) return &*s.net;
  for (const auto& e : s.extra_nets)
    if (e.network == network) return &e;
  return nullptr;
}

std::string hosts_file(const Container& c, const std::vector<Container>& peers) {
  std::string out = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  for (const auto& h : c.spec.extra_hosts) {
    auto colon = h.find(':');
    out += h.substr(colon + 1) + "\t" + h.substr(0, colon) + "\n";
  }
  const std::string short_id = c.id.substr(0, 12);
  if (c.state.net) {
    out += format_ipv4(c.state.net->address.address) + "\t" + c.spec.hostname;
    if (c.state.net->network != "bridge") out += " " + c.name + (c.spec.hostname != short_id ? " " + short_id : "");
    out += "\n";
  } else {
    out += "127.0.1.1\t" + c.spec.hostname + "\n";
  }
  // On a user network its members find each other by name (Docker does this with a DNS server; a
  // file kept current is enough here and sends no query anywhere).
  for (const auto& p : peers) {
    // The peer's address on a user network both are on (its first one, as c would reach it).
    const Endpoint* shared = nullptr;
    for (const auto& mine : container_endpoints(c.state))
      if (mine.network != "bridge" && (shared = endpoint_on(p.state, mine.network))) break;
    if (!shared) continue;
    out += format_ipv4(shared->address.address) + "\t" + p.name + " " + p.id.substr(0, 12);
    if (p.spec.hostname != p.id.substr(0, 12)) out += " " + p.spec.hostname;
    for (const auto& alias : shared->aliases) out += " " + alias;
    out += "\n";
  }
  return out;
}

std::string resolv_conf(const ContainerSpec& spec) {
  std::string host = read_file_if_exists("/etc/resolv.conf").value_or("");
  if (network_mode(spec.network) == NetworkMode::host && spec.dns.empty() && spec.dns_search.empty() &&
      spec.dns_options.empty())
    return host;
  std::vector<std::string> nameservers, search, options;
  std::istringstream in(host);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key, value;
    words >> key;
    if (key == "nameserver" && words >> value) {
      // A loopback nameserver of the host means nothing inside the container: dropped, as Docker does.
      if (value.rfind("127.", 0) != 0 && value != "::1") nameservers.push_back(value);
    } else if (key == "search" || key == "domain") {
      search.clear();
      while (words >> value) search.push_back(value);
    } else if (key == "options") {
      while (words >> value) options.push_back(value);
    }
  }
  if (!spec.dns.empty()) nameservers = spec.dns;
  if (!spec.dns_search.empty()) search = spec.dns_search;
  if (!spec.dns_options.empty()) options = spec.dns_options;
  if (nameservers.empty()) nameservers = {"8.8.8.8", "8.8.4.4"};  // Docker's fallback
  std::string out;
  for (const auto& n : nameservers) out += "nameserver " + n + "\n";
  if (!search.empty() && search != std::vector<std::string>{"."}) {
    out += "search";
    for (const auto& s : search) out += " " + s;
    out += "\n";
  }
  if (!options.empty()) {
    out += "options";
    for (const auto& o : options) out += " " + o;
    out += "\n";
  }
  return out;
}

std::vector<Container> network_peers(const NetworkStore& networks, const ContainerStore& containers,
                                     const Container& c) {
  std::vector<Container> out;
  for (const auto& e : container_endpoints(c.state)) {
    if (e.network == "bridge") continue;
    for (auto& p : peers_on(networks, containers, e.network, c.id))
      if (std::none_of(out.begin(), out.end(), [&](const Container& o) { return o.id == p.id; })) out.push_back(std::move(p));
  }
  return out;
}

// ---------------------------------------------------------------- stages

namespace {
int stage_failed(const std::exception& e) {
  // stdio, not iostreams: the library has no static constructors (see src/cli/main.cpp).
  std::fprintf(stderr, "Error: %s\n", e.what());
  return 125;
}
}  // namespace

int setup_netns_stage(const std::string& path) {
  timing_mark("setup-netns");
  try {
    stage_dies_with_parent();
    if (::unshare(CLONE_NEWNET) != 0) throw_errno("new network namespace");
    UniqueFd target(::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444));
    if (!target) throw_errno("create " + path);
    if (::mount("/proc/self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr) != 0)
      throw_errno("keep the network namespace at " + path);
    set_link_up_ioctl("lo");
    timing_mark("setup-netns-done");
    return 0;
  } catch (const std::exception& e) {
    return stage_failed(e);
  }
}

int setup_veth_stage(const std::string& request_json) {
  timing_mark("setup-veth");
  try {
    stage_dies_with_parent();
    json request = json::parse(request_json);
    NetworkStore store(request.at("root").get<std::string>(), NetworkConfig{});
    std::vector<Endpoint> endpoints;
    for (const auto& a : request.at("attachments")) {
      store.ensure_infrastructure(NetworkRecord::from_json(a.at("network")));
      endpoints.push_back(Endpoint::from_json(a.at("endpoint")));
    }
    if (endpoints.empty()) return 0;
    UniqueFd netns(::open(endpoints.front().netns.c_str(), O_RDONLY | O_CLOEXEC));
    if (!netns) throw_errno("open " + endpoints.front().netns);
    {
      Netlink host;
      for (const auto& e : endpoints) {
        host.create_veth(e.host_veth, e.bridge, e.interface, netns.get(), e.mac);
        if (!e.ports.empty()) {
          NatTable nat(e.nft_table);
          for (const auto& p : e.ports) nat.add_port(p, e.address.address);
        }
      }
    }
    if (::setns(netns.get(), CLONE_NEWNET) != 0) throw_errno("enter the container's network namespace");
    Netlink inside;
    for (const auto& e : endpoints) {
      inside.add_address(e.interface, e.address);
      inside.set_up(e.interface);
      // The default route goes through --network's gateway; a connected network serves its subnet only.
      if (e.interface == "eth0") inside.add_default_route(e.interface, e.gateway);
    }
    timing_mark("setup-veth-done");
    return 0;
  } catch (const std::exception& e) {
    return stage_failed(e);
  }
}

}  // namespace cppcker
