// Addresses, -p parsing, the network config, and IPAM/host-port bookkeeping (no kernel objects made).
#include <gtest/gtest.h>

#include <set>

#include "cppcker/network/address.hpp"
#include "cppcker/network/network.hpp"
#include "cppcker/runtime/container.hpp"
#include "cppcker/runtime/networking.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/fs.hpp"

using namespace cppcker;

TEST(Ipv4, ParsesFormatsAndComputesSubnets) {
  EXPECT_EQ(format_ipv4(parse_ipv4("172.29.0.1")), "172.29.0.1");
  EXPECT_THROW(parse_ipv4("172.29.0"), Error);
  EXPECT_THROW(parse_ipv4("300.1.1.1"), Error);
  Ipv4Net n = Ipv4Net::parse("172.29.3.1/16");
  EXPECT_EQ(n.network_str(), "172.29.0.0/16");
  EXPECT_EQ(format_ipv4(n.broadcast()), "172.29.255.255");
  EXPECT_TRUE(n.contains(parse_ipv4("172.29.200.9")));
  EXPECT_FALSE(n.contains(parse_ipv4("172.30.0.1")));
  EXPECT_TRUE(n.overlaps(Ipv4Net::parse("172.29.8.0/24")));
  EXPECT_FALSE(n.overlaps(Ipv4Net::parse("10.0.0.0/8")));
  for (const char* bad : {"172.29.0.0", "172.29.0.0/33", "172.29.0.0/", "x/16", "172.29.0.0/1a"})
    EXPECT_THROW(Ipv4Net::parse(bad), Error) << bad;
}

TEST(Publish, DockerSyntax) {
  auto one = [](const std::string& s) {
    auto v = parse_publish(s);
    EXPECT_EQ(v.size(), 1u) << s;
    return v.at(0);
  };
  EXPECT_EQ(one("8080:80"), (PortBinding{"", 8080, 80, "tcp"}));
  EXPECT_EQ(one("80"), (PortBinding{"", 0, 80, "tcp"}));
  EXPECT_EQ(one("127.0.0.1:8080:80/udp"), (PortBinding{"127.0.0.1", 8080, 80, "udp"}));
  EXPECT_EQ(one("127.0.0.1::80"), (PortBinding{"127.0.0.1", 0, 80, "tcp"}));
  EXPECT_EQ(one("0.0.0.0:8080:80"), (PortBinding{"", 8080, 80, "tcp"}));
  auto range = parse_publish("8000-8002:80-82");
  ASSERT_EQ(range.size(), 3u);
  EXPECT_EQ(range[2], (PortBinding{"", 8002, 82, "tcp"}));
  for (const char* bad : {"", "0:80", "8080:65536", "a:80", "8080:80/sctp", "1.2.3:80:80", "1:2:3:4", "8000-8001:80-82"})
    EXPECT_THROW(parse_publish(bad), Error) << bad;
  EXPECT_EQ(parse_exposed_port("53/udp").container_key(), "53/udp");
  EXPECT_EQ(parse_exposed_port("80").container_key(), "80/tcp");
}

TEST(NetworkConfigTest, DefaultsAndDaemonJsonKeys) {
  NetworkConfig d = NetworkConfig::parse("{}");
  EXPECT_EQ(d.bridge, "cppcker0");
  EXPECT_EQ(d.bip.str(), "172.29.0.1/16");
  NetworkConfig c = NetworkConfig::parse(
      R"({"bridge":"br9","bip":"10.9.0.1/24","nft-table":"t9","default-address-pools":[{"base":"10.10.0.0/16","size":26}],
          "registry-mirrors":[]})");
  EXPECT_EQ(c.bridge, "br9");
  EXPECT_EQ(c.bip.str(), "10.9.0.1/24");
  EXPECT_EQ(c.nft_table, "t9");
  EXPECT_EQ(c.pool_size, 26);
  for (const char* bad : {R"({"bip":"10.9.0.0/24"})", R"({"bip":"nonsense"})", R"({"bridge":"a-name-far-too-long"})",
                          R"({"nft-table":"bad name"})", R"({"bridge":5})", "[1]"})
    EXPECT_THROW(NetworkConfig::parse(bad), Error) << bad;
}

TEST(NetworkConfigTest, ToJsonIsTheConfigFilesShapeAndRoundTrips) {
  NetworkConfig c;
  c.bridge = "br7";
  c.bip = Ipv4Net::parse("10.7.0.1/24");
  c.nft_table = "t7";
  c.pool = Ipv4Net::parse("10.8.0.0/16");
  c.pool_size = 28;
  // What a stage is handed is what the config file says, under the same names: parse() reads it back.
  for (const NetworkConfig& back : {NetworkConfig::from_json(c.to_json()), NetworkConfig::parse(c.to_json().dump())}) {
    EXPECT_EQ(back.bridge, "br7");
    EXPECT_EQ(back.bip.str(), "10.7.0.1/24");
    EXPECT_EQ(back.nft_table, "t7");
    EXPECT_EQ(back.pool.str(), "10.8.0.0/16");
    EXPECT_EQ(back.pool_size, 28);
  }
  EXPECT_EQ(c.to_json().at("nft-table"), "t7");
  EXPECT_EQ(c.to_json().at("default-address-pools").at(0).at("size"), 28);
  EXPECT_THROW(NetworkConfig::from_json(nlohmann::json{{"bridge", 5}}), nlohmann::json::exception);
}

TEST(ContainerFiles, ResolvConfHonoursFlagsAndHostsListsPeers) {
  ContainerSpec spec;
  spec.dns = {"10.0.0.53"};
  spec.dns_search = {"a.test", "b.test"};
  spec.dns_options = {"ndots:2"};
  EXPECT_EQ(resolv_conf(spec), "nameserver 10.0.0.53\nsearch a.test b.test\noptions ndots:2\n");

  Container c;
  c.id = std::string(64, 'a');
  c.name = "web";
  c.spec.hostname = c.id.substr(0, 12);
  c.spec.extra_hosts = {"db:10.1.2.3"};
  Endpoint e;
  e.network = "appnet";
  e.address = Ipv4Net::parse("10.5.0.2/24");
  c.state.net = e;
  Container peer = c;
  peer.id = std::string(64, 'b');
  peer.name = "cache";
  peer.spec.hostname = peer.id.substr(0, 12);
  peer.state.net->address = Ipv4Net::parse("10.5.0.3/24");
  std::string hosts = hosts_file(c, {peer});
  EXPECT_NE(hosts.find("127.0.0.1\tlocalhost\n"), std::string::npos);
  EXPECT_NE(hosts.find("10.1.2.3\tdb\n"), std::string::npos);
  EXPECT_NE(hosts.find("10.5.0.2\taaaaaaaaaaaa web\n"), std::string::npos) << hosts;
  EXPECT_NE(hosts.find("10.5.0.3\tcache bbbbbbbbbbbb\n"), std::string::npos) << hosts;
}

namespace {
struct IpamTest : ::testing::Test {
  fs::path root = fs::temp_directory_path() / ("cppcker-ipam-" + random_hex(6));
  NetworkStore store{root, NetworkConfig::parse(R"({"bip":"10.77.0.1/29"})")};
  ~IpamTest() override { remove_tree(root); }
  // A container record on disk is what makes an address "in use".
  std::string container() {
    std::string id = random_hex(32);
    make_dirs(root / "containers" / id);
    write_file_atomic(root / "containers" / id / "container.json", "{}");
    return id;
  }
};
}  // namespace

TEST_F(IpamTest, AddressesAreUniqueReusedByTheirOwnerAndFreedWithTheRecord) {
  NetworkRecord net = store.get("bridge");
  EXPECT_EQ(net.gateway.str(), "10.77.0.1/29");
  std::set<std::string> seen;
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {  // a /29 has .2 to .6 for containers
    ids.push_back(container());
    Endpoint e = store.reserve(net, ids.back(), {});
    EXPECT_TRUE(seen.insert(format_ipv4(e.address.address)).second);
    EXPECT_EQ(format_ipv4(e.gateway), "10.77.0.1");
    EXPECT_EQ(e.host_veth, "veth" + ids.back().substr(0, 11));
  }
  EXPECT_EQ(seen.count("10.77.0.1"), 0u);
  EXPECT_EQ(store.members("bridge").size(), 5u);
  std::string extra = container();
  try {
    store.reserve(net, extra, {});
    ADD_FAILURE() << "a sixth address in a /29";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no available IPv4 addresses"), std::string::npos);
  }
  // The same container asks again (a restart): the same address.
  EXPECT_EQ(store.reserve(net, ids[2], {}).address.str(), "10.77.0.4/29");
  // Released, and a record removed after a crash: both addresses are free again, lowest first.
  store.release("bridge", ids[0]);
  remove_tree(root / "containers" / ids[1]);
  EXPECT_EQ(store.reserve(net, extra, {}).address.str(), "10.77.0.2/29");
  EXPECT_EQ(store.reserve(net, container(), {}).address.str(), "10.77.0.3/29");
}

TEST_F(IpamTest, HostPortsClashAcrossContainersAndAddresses) {
  NetworkRecord net = store.get("bridge");
  std::string a = container(), b = container();
  Endpoint ea = store.reserve(net, a, {{"", 18080, 80, "tcp"}, {"127.0.0.1", 18081, 81, "tcp"}, {"", 0, 82, "udp"}});
  ASSERT_EQ(ea.ports.size(), 3u);
  EXPECT_GT(ea.ports[2].host_port, 0);
  auto clash = [&](PortBinding p) {
    try {
      store.reserve(net, b, {p});
      return std::string();
    } catch (const Error& e) {
      return std::string(e.what());
    }
  };
  EXPECT_EQ(clash({"", 18080, 80, "tcp"}), "Bind for 0.0.0.0:18080 failed: port is already allocated");
  EXPECT_EQ(clash({"127.0.0.1", 18080, 80, "tcp"}), "Bind for 127.0.0.1:18080 failed: port is already allocated");
  EXPECT_EQ(clash({"", 18081, 80, "tcp"}), "Bind for 0.0.0.0:18081 failed: port is already allocated");
  EXPECT_EQ(clash({"", 18080, 80, "udp"}), "");  // another protocol
  EXPECT_EQ(clash({"10.0.0.1", 18081, 80, "tcp"}), "");  // another address than a's 127.0.0.1
  store.release("bridge", a);
  EXPECT_EQ(clash({"", 18080, 80, "tcp"}), "");
}
