#pragma once
// A container's network, from the runtime's side: which namespace it joins, the stages that build a
// bridged one (setup-netns, setup-veth), its /etc/hosts and /etc/resolv.conf, and the teardown.
#include <optional>
#include <string>
#include <vector>

#include "cppcker/network/network.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/util/fd.hpp"

namespace cppcker {

enum class NetworkMode { bridge, none, host, container };
NetworkMode network_mode(const std::string& network);  // "bridge" and user network names: bridge
// Checks a --network value against the store (user networks must exist). Throws Error (125).
void validate_network(const NetworkStore& networks, const ContainerStore& containers, const std::string& network);

// The network side of a start. begin() reserves the address and ports, runs the setup-netns stage and
// starts setup-veth in the background (it runs while the container's child starts); netns() is the
// namespace the child joins (-1: a new empty one, or the host's for --network host); finish() waits for
// setup-veth. If the start fails, the destructor tears down what was made. begin() also binds the host
// side of every published port in the host's namespace (Docker's userland proxy does): a port the host
// already uses is refused with Docker's error; take_host_ports() hands the bound sockets to whoever keeps
// the container (they keep the ports from being taken while it runs).
class NetworkSetup {
 public:
  NetworkSetup(const NetworkStore& networks, const ContainerStore& containers, Container& c);
  ~NetworkSetup();
  NetworkSetup(const NetworkSetup&) = delete;
  NetworkSetup& operator=(const NetworkSetup&) = delete;

  void begin();
  int netns() const { return netns_.get(); }
  void finish();
  void commit() { committed_ = true; }  // the container runs: teardown is its owner's job now
  std::vector<UniqueFd> take_host_ports() { return std::move(host_ports_); }

 private:
  const NetworkStore& networks_;
  const ContainerStore& containers_;
  Container& c_;
  UniqueFd netns_;
  pid_t veth_stage_ = -1;
  UniqueFd veth_stage_err_;
  std::vector<UniqueFd> host_ports_;
  bool committed_ = false;
};

// Removes the container's veth, namespace mount, port rules and address (whatever of them exists, also
// after a crash) and updates the /etc/hosts of its peers on a user network. Clears c.state.net. With
// `keep_address` the IPAM entry stays the container's (a restart under its policy asks for it again).
void teardown_network(const NetworkStore& networks, const ContainerStore& containers, Container& c,
                      bool keep_address = false);

// Every endpoint of a running container: the primary one (`net`, eth0) first, then the connected ones.
std::vector<Endpoint> container_endpoints(const ContainerState& s);
// Its endpoint on `network` (by name), or nullptr.
const Endpoint* endpoint_on(const ContainerState& s, const std::string& network);

// `network connect`: the container joins `a.network` (a bridge network) now if it runs (a veth named
// eth1, eth2, ... inside, an address of that network, the peers' /etc/hosts), and at each later start.
// Errors as Docker's (125 is not used: they are the daemon's "Error response" cases, exit 1).
void connect_network(const NetworkStore& networks, const ContainerStore& containers, const std::string& container,
                     NetworkAttachment a);
// `network disconnect`: undoes a connect. The network given at run (--network) stays: cppcker cannot
// run a container without it.
void disconnect_network(const NetworkStore& networks, const ContainerStore& containers, const std::string& container,
                        const std::string& network);

// The container's /etc/hosts and /etc/resolv.conf, as Docker writes them.
std::string hosts_file(const Container& c, const std::vector<Container>& peers);
// The other containers on c's user network (none on the default bridge: no name resolution there).
std::vector<Container> network_peers(const NetworkStore& networks, const ContainerStore& containers, const Container& c);
std::string resolv_conf(const ContainerSpec& spec);

// Hidden stages (main dispatches to them). setup-netns <path>: a new network namespace with lo up, bind
// mounted on <path>. setup-veth <json>: the bridge (once), the veth pair, eth0's address and route, and
// the published ports' DNAT. Both print one error line and exit 125 on failure.
int setup_netns_stage(const std::string& path);
int setup_veth_stage(const std::string& request_json);

}  // namespace cppcker
