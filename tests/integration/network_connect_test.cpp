// network connect / disconnect on the real kernel (a second veth in a running container, its address and
// peers' /etc/hosts), the predefined host and none networks, `network prune` of two state roots sharing
// one bridge and NAT table, and `rm -f` of a container that does not exist. Traffic stays on the test's
// own bridges.
#include "cppcker/network/network.hpp"
#include "runtime_fixture.hpp"

namespace {

class NetworkConnectTest : public RuntimeTest {
 protected:
  std::string detached(std::vector<std::string> args) {
    args.insert(args.begin(), "-d");
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return trim(r.out);
  }
  // A user network with a subnet of this test's own (10.214.<octet>.0/24).
  std::string user_subnet_prefix() const { return "10.214." + std::to_string(subnet_third_octet_) + "."; }
  std::string create_user_network(const std::string& name) {
    auto r = cpk_({"network", "create", "--subnet", user_subnet_prefix() + "0/24", name});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(cpk_({"network", "inspect", name}).out)[0]["Options"]["com.docker.network.bridge.name"];
  }
  std::string ip_on(const std::string& container, const std::string& interface) {
    auto r = cpk_({"exec", container, "ip", "-o", "-4", "addr", "show", interface});
    std::smatch m;
    if (!std::regex_search(r.out, m, std::regex("inet ([0-9.]+)/"))) return "";
    return m[1];
  }
};

}  // namespace

TEST_F(NetworkConnectTest, RunningContainerJoinsASecondNetworkAndLeavesIt) {
  std::string net_bridge = create_user_network("appnet");
  detached({"--name", "db", "--network", "appnet", "img", "sh", "-c", "nc -l -p 7100 > /tmp/got; sleep 100"});
  std::string web = detached({"--name", "web", "img", "sleep", "100"});  // on the default bridge
  std::string db_ip = ip_on("db", "eth0");
  ASSERT_EQ(db_ip.rfind(user_subnet_prefix(), 0), 0u) << db_ip;
  EXPECT_EQ(cpk_({"exec", "web", "cat", "/etc/hosts"}).out.find("\tdb "), std::string::npos);

  auto connected = cpk_({"network", "connect", "--alias", "frontend", "appnet", "web"});
  ASSERT_EQ(connected.exit_code, 0) << connected.err;
  EXPECT_EQ(connected.out, "");
  std::string web_ip = ip_on("web", "eth1");
  ASSERT_EQ(web_ip.rfind(user_subnet_prefix(), 0), 0u) << web_ip;
  EXPECT_EQ(ip_on("web", "eth0").rfind(subnet_prefix(), 0), 0u) << "eth0 stays on the default bridge";
  EXPECT_TRUE(link_exists(cppcker::host_veth_name(web, 1)));
  // Both ways across the user network's bridge, by address and (through /etc/hosts) by name and alias.
  auto ping = cpk_({"exec", "web", "ping", "-c", "1", "-W", "2", "db"});
  EXPECT_EQ(ping.exit_code, 0) << ping.out << ping.err;
  EXPECT_EQ(cpk_({"exec", "db", "ping", "-c", "1", "-W", "2", "frontend"}).exit_code, 0);
  std::string db_hosts = cpk_({"exec", "db", "cat", "/etc/hosts"}).out;
  EXPECT_NE(db_hosts.find(web_ip + "\tweb " + web.substr(0, 12)), std::string::npos) << db_hosts;
  auto sent = cpk_({"exec", "web", "sh", "-c", "echo across | nc db 7100"});
  EXPECT_EQ(sent.exit_code, 0) << sent.err;
  EXPECT_TRUE(eventually([&] { return cpk_({"exec", "db", "cat", "/tmp/got"}).out == "across\n"; }));
  auto record = inspect("web");
  EXPECT_EQ(record["State"]["Running"], true);

  // Docker's errors.
  auto again = cpk_({"network", "connect", "appnet", "web"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("endpoint with name web already exists in network appnet"), std::string::npos) << again.err;
  auto host = cpk_({"network", "connect", "host", "web"});
  EXPECT_EQ(host.exit_code, 1);
  EXPECT_NE(host.err.find("container cannot be disconnected from host network or connected to host network"),
            std::string::npos)
      << host.err;
  auto nosuch = cpk_({"network", "connect", "nosuchnet", "web"});
  EXPECT_NE(nosuch.err.find("network nosuchnet not found"), std::string::npos) << nosuch.err;

  auto gone = cpk_({"network", "disconnect", "appnet", "web"});
  ASSERT_EQ(gone.exit_code, 0) << gone.err;
  EXPECT_NE(cpk_({"exec", "web", "ip", "link", "show", "eth1"}).exit_code, 0) << "eth1 still there";
  EXPECT_TRUE(eventually([&] { return !link_exists(cppcker::host_veth_name(web, 1)); }));
  EXPECT_EQ(cpk_({"exec", "db", "cat", "/etc/hosts"}).out.find("frontend"), std::string::npos);
  EXPECT_EQ(cpk_({"exec", "web", "cat", "/etc/hosts"}).out.find("\tdb "), std::string::npos) << "web still knows db";
  auto twice = cpk_({"network", "disconnect", "appnet", "web"});
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_NE(twice.err.find("container " + web + " is not connected to network appnet"), std::string::npos) << twice.err;

  // Connected again, then removed while running: every endpoint goes with it.
  ASSERT_EQ(cpk_({"network", "connect", "appnet", "web"}).exit_code, 0);
  ASSERT_EQ(cpk_({"rm", "-f", "web"}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return !link_exists(cppcker::host_veth_name(web, 1)); }));
  auto members = nlohmann::json::parse(cpk_({"network", "inspect", "appnet"}).out)[0]["Containers"];
  EXPECT_EQ(members.size(), 1u) << members.dump();
  ASSERT_EQ(cpk_({"rm", "-f", "db"}).exit_code, 0);
  EXPECT_EQ(cpk_({"network", "rm", "appnet"}).exit_code, 0);
  EXPECT_FALSE(link_exists(net_bridge));
}

TEST_F(NetworkConnectTest, StoppedContainerJoinsAtItsNextStartWithTheAddressAsked) {
  create_user_network("later");
  detached({"--name", "box", "img", "sleep", "100"});
  ASSERT_EQ(cpk_({"stop", "-t", "0", "box"}).exit_code, 0);
  std::string wanted = user_subnet_prefix() + "77";
  auto connected = cpk_({"network", "connect", "--ip", wanted, "later", "box"});
  ASSERT_EQ(connected.exit_code, 0) << connected.err;
  auto outside = cpk_({"network", "connect", "--ip", "10.99.0.5", "bridge", "box"});
  EXPECT_NE(outside.exit_code, 0);
  EXPECT_NE(outside.err.find("user specified IP address is supported on user defined networks only"), std::string::npos)
      << outside.err;
  ASSERT_EQ(cpk_({"start", "box"}).exit_code, 0);
  EXPECT_EQ(ip_on("box", "eth1"), wanted);
  EXPECT_EQ(ip_on("box", "eth0").rfind(subnet_prefix(), 0), 0u);
  // The default route stays on eth0 (the network given at run).
  EXPECT_NE(cpk_({"exec", "box", "ip", "route"}).out.find("default via " + subnet_prefix() + "1 dev eth0"),
            std::string::npos);
  // A restart keeps both.
  ASSERT_EQ(cpk_({"stop", "-t", "0", "box"}).exit_code, 0);
  ASSERT_EQ(cpk_({"start", "box"}).exit_code, 0);
  EXPECT_EQ(ip_on("box", "eth1"), wanted);
  // Disconnected while stopped: the next start has eth0 only.
  ASSERT_EQ(cpk_({"stop", "-t", "0", "box"}).exit_code, 0);
  ASSERT_EQ(cpk_({"network", "disconnect", "-f", "later", "box"}).exit_code, 0);
  ASSERT_EQ(cpk_({"start", "box"}).exit_code, 0);
  EXPECT_NE(cpk_({"exec", "box", "ip", "link", "show", "eth1"}).exit_code, 0);
  ASSERT_EQ(cpk_({"rm", "-f", "box"}).exit_code, 0);
  EXPECT_EQ(cpk_({"network", "rm", "later"}).exit_code, 0);
}

TEST_F(NetworkConnectTest, HostAndNoneArePredefinedNetworks) {
  auto ls = cpk_({"network", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_TRUE(std::regex_search(ls.out, std::regex("\n[0-9a-f]{12} +host +host +local\n"))) << ls.out;
  EXPECT_TRUE(std::regex_search(ls.out, std::regex("\n[0-9a-f]{12} +none +null +local\n"))) << ls.out;
  EXPECT_TRUE(std::regex_search(ls.out, std::regex("\n[0-9a-f]{12} +bridge +bridge +local\n"))) << ls.out;
  auto host = nlohmann::json::parse(cpk_({"network", "inspect", "host"}).out);
  ASSERT_EQ(host.size(), 1u);
  EXPECT_EQ(host[0]["Driver"], "host");
  EXPECT_EQ(host[0]["Name"], "host");
  EXPECT_EQ(cpk_({"network", "ls", "-q"}).out.find(host[0]["Id"].get<std::string>().substr(0, 12)) != std::string::npos,
            true);
  auto rm = cpk_({"network", "rm", "host"});
  EXPECT_EQ(rm.exit_code, 1);
  EXPECT_EQ(rm.err, "Error: host is a pre-defined network and cannot be removed\n");
  auto create = cpk_({"network", "create", "none"});
  EXPECT_NE(create.exit_code, 0);
  EXPECT_NE(create.err.find("operation is not permitted on predefined none network"), std::string::npos) << create.err;
}

TEST_F(NetworkConnectTest, PruneInOneRootKeepsTheBridgeAndTableAnotherRootUses) {
  // A second state root with the same config: the same default bridge and NAT table.
  ts::Cppcker other{tmp_.path / "other-root", cpk_.config};
  {  // the same image in it (load_image loads into cpk_'s root)
    ts::Cppcker mine = cpk_;
    cpk_ = other;
    load_image("img:latest", nlohmann::json{{"Cmd", {"sh"}}, {"Env", {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}}});
    cpk_ = mine;
  }
  auto started = other({"run", "--cgroup-parent", parent_, "-d", "--name", "elsewhere", "img", "sleep", "100"});
  ASSERT_EQ(started.exit_code, 0) << started.err;
  struct Cleanup {
    ts::Cppcker& root;
    ~Cleanup() {
      root({"rm", "-f", "elsewhere"});
      root({"network", "prune", "-f"});
    }
  } cleanup{other};
  ASSERT_TRUE(link_exists(bridge_));

  // This root has no container: its prune finds the bridge busy with the other root's veth.
  auto pruned = cpk_({"network", "prune", "-f"});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.err;
  EXPECT_TRUE(link_exists(bridge_)) << "the other root's bridge was removed";
  EXPECT_TRUE(cppcker::NatTable(nft_table_).exists()) << "the other root's NAT table was removed";
  EXPECT_NE(cppcker::NatTable(nft_table_).list().find(subnet_prefix() + "0/24"), std::string::npos)
      << "the other root's subnet left the NAT table";
  auto ping = other({"exec", "elsewhere", "ping", "-c", "1", "-W", "2", subnet_prefix() + "1"});
  EXPECT_EQ(ping.exit_code, 0) << ping.out << ping.err;

  // Once the other root's container is gone, its own prune removes both.
  ASSERT_EQ(other({"rm", "-f", "elsewhere"}).exit_code, 0);
  ASSERT_EQ(other({"network", "prune", "-f"}).exit_code, 0);
  EXPECT_FALSE(link_exists(bridge_));
  EXPECT_FALSE(cppcker::NatTable(nft_table_).exists());
  std::string mounts = cppcker::read_file("/proc/self/mountinfo");
  EXPECT_EQ(mounts.find((tmp_.path / "other-root").string()), std::string::npos);
}

TEST_F(NetworkConnectTest, RmForceOfAMissingContainerIsNoFailure) {
  auto forced = cpk_({"rm", "-f", "nosuch"});
  EXPECT_EQ(forced.exit_code, 0);
  EXPECT_EQ(forced.out, "");
  EXPECT_EQ(forced.err, "Error: No such container: nosuch\n");
  auto plain = cpk_({"rm", "nosuch"});
  EXPECT_EQ(plain.exit_code, 1);
  EXPECT_EQ(plain.err, "Error: No such container: nosuch\n");
  // Among others: the existing one goes, the missing one is reported, the exit is 0.
  detached({"--name", "real", "img", "sleep", "100"});
  auto mixed = cpk_({"rm", "-f", "nosuch", "real"});
  EXPECT_EQ(mixed.exit_code, 0) << mixed.err;
  EXPECT_EQ(mixed.out, "real\n");
  EXPECT_EQ(inspect("real"), nlohmann::json::object());
}
