// Several networks per container (network connect), the predefined host and none networks: the parts
// that need no kernel (records, IPAM, names, /etc/hosts).
#include <gtest/gtest.h>

#include "cppcker/network/network.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/runtime/networking.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

using namespace cppcker;

namespace {
struct NetworksTest : ::testing::Test {
  fs::path root = fs::temp_directory_path() / ("cppcker-nets-" + random_hex(6));
  NetworkStore store{root, NetworkConfig::parse(R"({"bip":"10.78.0.1/29"})")};
  ~NetworksTest() override { remove_tree(root); }
  std::string container() {
    std::string id = random_hex(32);
    make_dirs(root / "containers" / id);
    write_file_atomic(root / "containers" / id / "container.json", "{}");
    return id;
  }
  static std::string error_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
};
}  // namespace

TEST_F(NetworksTest, HostAndNoneAreListedWithStableIdsAndCannotBeRemovedOrCreated) {
  auto all = store.list();
  std::vector<std::string> names;
  for (const auto& n : all) names.push_back(n.name);
  EXPECT_EQ(names, (std::vector<std::string>{"bridge", "host", "none"}));
  NetworkRecord host = store.get("host"), none = store.get("none");
  EXPECT_EQ(host.driver, "host");
  EXPECT_EQ(none.driver, "null");
  EXPECT_EQ(store.get("bridge").driver, "bridge");
  EXPECT_EQ(host.id.size(), 64u);
  EXPECT_EQ(host.id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(host.id, none.id);
  // The same in another state root, and found by a prefix of the ID as `network inspect` does.
  NetworkStore other{root / "other", NetworkConfig{}};
  EXPECT_EQ(other.get("host").id, host.id);
  EXPECT_EQ(store.get(none.id.substr(0, 12)).name, "none");
  EXPECT_EQ(error_of([&] { store.remove("host"); }), "host is a pre-defined network and cannot be removed");
  EXPECT_EQ(error_of([&] { store.remove("none"); }), "none is a pre-defined network and cannot be removed");
  EXPECT_EQ(error_of([&] { store.create("host", "", ""); }), "operation is not permitted on predefined host network");
  // Nothing of them on disk: only the default network has a record.
  EXPECT_FALSE(fs::exists(root / "networks" / "host.json"));
}

TEST_F(NetworksTest, RequestedAddressIsReservedOnceAndMustBeInTheSubnet) {
  NetworkRecord net = store.get("bridge");
  std::string a = container(), b = container();
  EXPECT_EQ(store.reserve(net, a, {}, parse_ipv4("10.78.0.5")).address.str(), "10.78.0.5/29");
  EXPECT_EQ(store.reserve(net, a, {}, parse_ipv4("10.78.0.5")).address.str(), "10.78.0.5/29");  // its own again
  EXPECT_EQ(error_of([&] { store.reserve(net, b, {}, parse_ipv4("10.78.0.5")); }), "Address already in use");
  EXPECT_EQ(error_of([&] { store.reserve(net, b, {}, parse_ipv4("10.78.0.1")); }), "Address already in use");
  EXPECT_EQ(error_of([&] { store.reserve(net, b, {}, parse_ipv4("10.78.1.5")); }),
            "Invalid address 10.78.1.5: It does not belong to any of this network's subnets");
  // Without a request b gets the lowest free one; a's moves when it asks for another.
  EXPECT_EQ(store.reserve(net, b, {}).address.str(), "10.78.0.2/29");
  EXPECT_EQ(store.reserve(net, a, {}, parse_ipv4("10.78.0.6")).address.str(), "10.78.0.6/29");
  EXPECT_EQ(store.members("bridge").size(), 2u);
  EXPECT_EQ(store.release_everywhere(a), std::vector<std::string>{"bridge"});
  EXPECT_TRUE(store.release_everywhere(a).empty());
  EXPECT_EQ(store.members("bridge").size(), 1u);
}

TEST(ConnectedNetworks, VethNamesFitAndNeverMeetAPrimaryOne) {
  std::string id = std::string("0123456789abcdef") + std::string(48, 'f');
  for (int i : {1, 2, 9, 10, 99}) {
    std::string name = host_veth_name(id, i);
    EXPECT_LE(name.size(), 15u) << name;
    EXPECT_EQ(name.rfind("veth", 0), 0u);
    EXPECT_NE(name.find('x'), std::string::npos);  // a primary name is all hex after "veth"
    EXPECT_NE(name, host_veth_name(id, i + 1));
  }
}

TEST(ConnectedNetworks, RecordKeepsEveryEndpointAndReadsOldRecords) {
  Container c;
  c.id = std::string(64, 'a');
  c.name = "web";
  c.spec.network = "bridge";
  c.spec.extra_networks = {{"appnet", "10.5.0.9", {"svc", "api"}}};
  Endpoint primary;
  primary.network = "bridge";
  primary.address = Ipv4Net::parse("10.1.0.2/24");
  Endpoint extra;
  extra.network = "appnet";
  extra.interface = "eth1";
  extra.aliases = {"svc", "api"};
  extra.address = Ipv4Net::parse("10.5.0.9/24");
  c.state.net = primary;
  c.state.extra_nets = {extra};
  nlohmann::json j = c.to_json();
  ASSERT_EQ(j["state"]["networks"].size(), 2u);
  EXPECT_EQ(j["state"]["networks"][0]["network"], "bridge");
  EXPECT_EQ(j["state"]["net"]["network"], "bridge");  // kept for readers of one network
  Container back = Container::from_json(j);
  ASSERT_TRUE(back.state.net);
  EXPECT_EQ(back.state.net->interface, "eth0");
  ASSERT_EQ(back.state.extra_nets.size(), 1u);
  EXPECT_EQ(back.state.extra_nets[0].interface, "eth1");
  EXPECT_EQ(back.state.extra_nets[0].aliases, (std::vector<std::string>{"svc", "api"}));
  ASSERT_EQ(back.spec.extra_networks.size(), 1u);
  EXPECT_EQ(back.spec.extra_networks[0].ip, "10.5.0.9");
  EXPECT_EQ(container_endpoints(back.state).size(), 2u);
  ASSERT_NE(endpoint_on(back.state, "appnet"), nullptr);
  EXPECT_EQ(endpoint_on(back.state, "appnet")->address.str(), "10.5.0.9/24");
  EXPECT_EQ(endpoint_on(back.state, "other"), nullptr);

  // A record written before the list: `net` alone.
  j["state"].erase("networks");
  j["spec"].erase("extra_networks");
  Container old = Container::from_json(j);
  ASSERT_TRUE(old.state.net);
  EXPECT_EQ(old.state.net->network, "bridge");
  EXPECT_TRUE(old.state.extra_nets.empty());
  EXPECT_TRUE(old.spec.extra_networks.empty());
}

TEST(ConnectedNetworks, HostsFileNamesPeersOnAConnectedNetworkWithAliases) {
  Container c;
  c.id = std::string(64, 'a');
  c.name = "web";
  c.spec.hostname = c.id.substr(0, 12);
  Endpoint own;
  own.network = "bridge";
  own.address = Ipv4Net::parse("10.1.0.2/24");
  c.state.net = own;
  Endpoint own_extra;
  own_extra.network = "appnet";
  own_extra.interface = "eth1";
  own_extra.address = Ipv4Net::parse("10.5.0.2/24");
  c.state.extra_nets = {own_extra};

  Container peer;
  peer.id = std::string(64, 'b');
  peer.name = "db";
  peer.spec.hostname = peer.id.substr(0, 12);
  Endpoint p;
  p.network = "appnet";
  p.address = Ipv4Net::parse("10.5.0.3/24");
  p.aliases = {"database"};
  peer.state.net = p;
  std::string hosts = hosts_file(c, {peer});
  EXPECT_NE(hosts.find("10.1.0.2\taaaaaaaaaaaa\n"), std::string::npos) << hosts;  // own line: eth0's address
  EXPECT_NE(hosts.find("10.5.0.3\tdb bbbbbbbbbbbb database\n"), std::string::npos) << hosts;

  // A peer that shares no user network with c is not listed.
  peer.state.net->network = "elsewhere";
  EXPECT_EQ(hosts_file(c, {peer}).find("db"), std::string::npos);
}

TEST_F(NetworksTest, AConnectedNetworksReserveAndReleaseKeepThePublishedPorts) {
  NetworkRecord bridge = store.get("bridge");
  NetworkRecord extra = bridge;  // a second network as reserve() sees it: a name and a subnet
  extra.name = "appnet";
  extra.gateway = Ipv4Net::parse("10.79.0.1/29");
  std::string a = container(), b = container();
  PortBinding p;
  p.proto = "tcp";
  p.host_port = 18089;
  p.container_port = 80;
  store.reserve(bridge, a, {p});
  store.reserve(extra, a, {});  // at each start and at connect
  EXPECT_EQ(error_of([&] { store.reserve(bridge, b, {p}); }), p.allocated_message());
  store.release("appnet", a);  // disconnect
  EXPECT_EQ(error_of([&] { store.reserve(bridge, b, {p}); }), p.allocated_message());
  store.release("bridge", a);
  EXPECT_EQ(error_of([&] { store.reserve(bridge, b, {p}); }), "");
}
