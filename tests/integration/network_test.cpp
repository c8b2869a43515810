// Bridge networking on the real kernel: veth pairs, the test's own bridge and nftables table, published
// ports, user networks, namespaces shared between containers. Traffic stays on this machine: loopback,
// the test's bridge and a network namespace the test makes; containers resolve no names over DNS.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <set>

#include "runtime_fixture.hpp"

namespace {

// One TCP exchange: connects to ip:port, sends `request`, returns all it reads until EOF (or timeout).
std::string tcp_exchange(const std::string& ip, int port, const std::string& request) {
  cppcker::UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  timeval tv{5, 0};
  ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return "connect failed: " + std::string(strerror(errno));
  if (::write(s.get(), request.data(), request.size()) < 0) return "write failed";
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(s.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

std::string http_get(const std::string& ip, int port, const std::string& path) {
  return tcp_exchange(ip, port, "GET " + path + " HTTP/1.0\r\nHost: test\r\n\r\n");
}

// A network namespace of the test's own, linked to the host by a veth pair (10.215.N.1 host side,
// 10.215.N.2 inside): "another host" that reaches the host's published ports. It is held by a child
// process (no `ip netns`, which would leave a /run/netns mount behind) and goes with it; removed even
// on failure.
struct TestNamespace {
  pid_t holder = -1;
  std::string host_if = "cpkth" + cppcker::random_hex(3);
  std::string host_ip, inner_ip;
  explicit TestNamespace(int n) : host_ip("10.215." + std::to_string(n) + ".1"), inner_ip("10.215." + std::to_string(n) + ".2") {
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    holder = ::fork();
    if (holder == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      char ok = ::unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
      if (::write(ready[1], &ok, 1) != 1) ::_exit(1);
      for (;;) ::pause();
    }
    ::close(ready[1]);
    char ok = 'n';
    if (::read(ready[0], &ok, 1) != 1 || ok != 'y') ADD_FAILURE() << "no network namespace for the test";
    ::close(ready[0]);
    sh({"ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", std::to_string(holder)});
    sh({"ip", "addr", "add", host_ip + "/30", "dev", host_if});
    sh({"ip", "link", "set", host_if, "up"});
    sh(inside({"ip", "addr", "add", inner_ip + "/30", "dev", "eth0"}));
    sh(inside({"ip", "link", "set", "eth0", "up"}));
    sh(inside({"ip", "link", "set", "lo", "up"}));
  }
  ~TestNamespace() {
    ts::run({"ip", "link", "del", host_if});
    if (holder > 0) {
      ::kill(holder, SIGKILL);
      ::waitpid(holder, nullptr, 0);
    }
  }
  std::vector<std::string> inside(std::vector<std::string> argv) const {
    argv.insert(argv.begin(), {"nsenter", "--net=/proc/" + std::to_string(holder) + "/ns/net", "--"});
    return argv;
  }
  ts::CommandResult exec(const std::vector<std::string>& argv) const { return ts::run(inside(argv)); }
  static void sh(const std::vector<std::string>& argv) {
    auto r = ts::run(argv);
    if (r.exit_code != 0) ADD_FAILURE() << argv[0] << " " << argv[1] << ": " << r.err;
  }
};

}  // namespace

class NetworkTest : public RuntimeTest {
 protected:
  std::string ip_of(const std::string& name) { return inspect(name)["NetworkSettings"]["IPAddress"]; }
  std::string detached(std::vector<std::string> args) {
    args.insert(args.begin(), "-d");
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return trim(r.out);
  }
  std::vector<std::string> veths() {
    std::vector<std::string> out;
    for (auto& e : fs::directory_iterator("/sys/class/net"))
      if (e.path().filename().string().rfind("veth", 0) == 0) out.push_back(e.path().filename());
    return out;
  }
};

TEST_F(NetworkTest, ContainersOnTheBridgeReachEachOtherAndTheHost) {
  std::string server = detached({"--name", "server", "img", "sh", "-c", "nc -l -p 7000 > /tmp/got; sleep 100"});
  detached({"--name", "client", "img", "sleep", "100"});
  std::string server_ip = ip_of("server");
  ASSERT_EQ(server_ip.rfind(subnet_prefix(), 0), 0u) << server_ip;
  EXPECT_NE(server_ip, ip_of("client"));
  auto ping = cpk_({"exec", "client", "ping", "-c", "1", "-W", "2", server_ip});
  EXPECT_EQ(ping.exit_code, 0) << ping.out << ping.err;
  auto sent = cpk_({"exec", "client", "sh", "-c", "echo over-the-bridge | nc " + server_ip + " 7000"});
  EXPECT_EQ(sent.exit_code, 0) << sent.err;
  EXPECT_TRUE(eventually([&] { return cpk_({"exec", "server", "cat", "/tmp/got"}).out == "over-the-bridge\n"; }));

  // A server of the test's on the bridge's own address: the container's default gateway.
  std::string gateway = subnet_prefix() + "1";
  EXPECT_EQ(inspect("client")["NetworkSettings"]["Gateway"], gateway);
  cppcker::UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  ::inet_pton(AF_INET, gateway.c_str(), &a.sin_addr);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << strerror(errno);
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  socklen_t len = sizeof a;
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  std::string received;
  std::thread accept_one([&] {
    pollfd p{listener.get(), POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) return;
    cppcker::UniqueFd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    char buf[256];
    ssize_t n;
    while ((n = ::read(conn.get(), buf, sizeof buf)) > 0) received.append(buf, static_cast<std::size_t>(n));
  });
  auto to_host = cpk_({"exec", "client", "sh", "-c", "echo to-the-host | nc " + gateway + " " + std::to_string(port)});
  accept_one.join();
  EXPECT_EQ(to_host.exit_code, 0) << to_host.err;
  EXPECT_EQ(received, "to-the-host\n");
}

TEST_F(NetworkTest, PublishedPortReachesHttpdFromLoopbackAndFromAnotherNamespace) {
  int host_port = ts::free_port();
  std::string id = detached({"--name", "web", "-p", std::to_string(host_port) + ":80", "img", "sh", "-c",
                             "mkdir /www && echo served-by-the-container > /www/index.html && httpd -f -p 80 -h /www"});
  std::string ip = ip_of("web");
  cppcker::NatTable nat(nft_table_);
  std::string rules = nat.list();
  EXPECT_NE(rules.find("tcp . " + std::to_string(host_port) + " : " + ip + " . 80"), std::string::npos) << rules;
  EXPECT_NE(rules.find("masquerade"), std::string::npos) << rules;
  EXPECT_EQ(cppcker::read_file("/proc/sys/net/ipv4/ip_forward"), "1\n");

  std::string page;
  EXPECT_TRUE(eventually([&] {
    page = http_get("127.0.0.1", host_port, "/index.html");
    return page.find("served-by-the-container") != std::string::npos;
  })) << page;

  TestNamespace other(subnet_third_octet_);
  // busybox's static wget crashes in a glibc resolver path here; nc speaks the HTTP just as well.
  auto from_other = other.exec({"/bin/busybox", "sh", "-c",
                                "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 5 " +
                                    other.host_ip + " " + std::to_string(host_port)});
  EXPECT_NE(from_other.out.find("served-by-the-container"), std::string::npos) << from_other.out << from_other.err;

  EXPECT_EQ(cpk_({"port", "web"}).out, "80/tcp -> 0.0.0.0:" + std::to_string(host_port) + "\n");
  EXPECT_NE(cpk_({"ps"}).out.find("0.0.0.0:" + std::to_string(host_port) + "->80/tcp"), std::string::npos);
  auto settings = inspect("web")["NetworkSettings"];
  EXPECT_EQ(settings["Ports"]["80/tcp"][0]["HostPort"], std::to_string(host_port));
  EXPECT_EQ(settings["MacAddress"], "02:" + id.substr(0, 2) + ":" + id.substr(2, 2) + ":" + id.substr(4, 2) + ":" +
                                        id.substr(6, 2) + ":" + id.substr(8, 2));

  // A second container cannot take the same host port.
  auto clash = run({"-p", std::to_string(host_port) + ":80", "img", "true"});
  EXPECT_EQ(clash.exit_code, 125);
  EXPECT_NE(clash.err.find("port is already allocated"), std::string::npos) << clash.err;

  ASSERT_EQ(cpk_({"rm", "-f", "web"}).exit_code, 0);
  rules = nat.list();
  EXPECT_EQ(rules.find(std::to_string(host_port)), std::string::npos) << "the DNAT rule outlived the container:\n" << rules;
  EXPECT_EQ(http_get("127.0.0.1", host_port, "/").find("served-by"), std::string::npos);
}

TEST_F(NetworkTest, PublishAllLoopbackBindingAndPortCommand) {
  std::string id = detached({"--name", "multi", "-P", "--expose", "90", "--expose", "91/udp", "-p", "127.0.0.1::92",
                             "img", "sleep", "100"});
  auto ports = inspect("multi")["NetworkSettings"]["Ports"];
  ASSERT_TRUE(ports.contains("90/tcp")) << ports.dump();
  ASSERT_TRUE(ports.contains("91/udp")) << ports.dump();
  ASSERT_TRUE(ports.contains("92/tcp")) << ports.dump();
  EXPECT_EQ(ports["92/tcp"][0]["HostIp"], "127.0.0.1");
  std::string p90 = ports["90/tcp"][0]["HostPort"];
  EXPECT_NE(p90, "0");
  EXPECT_EQ(cpk_({"port", "multi", "90"}).out, "0.0.0.0:" + p90 + "\n");
  auto missing = cpk_({"port", "multi", "7777"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("No public port '7777/tcp' published for multi"), std::string::npos) << missing.err;
  // The same IP and MAC when it starts again.
  std::string ip = ip_of("multi"), mac = inspect("multi")["NetworkSettings"]["MacAddress"];
  ASSERT_EQ(cpk_({"stop", "-t", "0", "multi"}).exit_code, 0);
  EXPECT_EQ(ip_of("multi"), "") << "a stopped container keeps no address";
  ASSERT_EQ(cpk_({"start", "multi"}).exit_code, 0);
  EXPECT_EQ(ip_of("multi"), ip);
  EXPECT_EQ(inspect("multi")["NetworkSettings"]["MacAddress"], mac);
}

TEST_F(NetworkTest, ThirtyContainersStartedInParallelGetThirtyAddresses) {
  std::vector<pid_t> clis;
  for (int i = 0; i < 30; ++i)
    clis.push_back(ts::spawn(run_argv({"-d", "--name", "par" + std::to_string(i), "img", "sleep", "100"}),
                             tmp_.path / ("par" + std::to_string(i) + ".log")));
  for (pid_t p : clis) {
    int status = 0;
    ::waitpid(p, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  std::set<std::string> addresses;
  for (int i = 0; i < 30; ++i) {
    std::string ip = ip_of("par" + std::to_string(i));
    EXPECT_EQ(ip.rfind(subnet_prefix(), 0), 0u) << ip;
    addresses.insert(ip);
  }
  EXPECT_EQ(addresses.size(), 30u);
  // Each answers on its own address from the host.
  auto ping = ts::run({"/bin/busybox", "ping", "-c", "1", "-W", "2", ip_of("par29")});
  EXPECT_EQ(ping.exit_code, 0) << ping.out;
}

TEST_F(NetworkTest, KillNineMidSetupThenRmForceLeavesNoVethNamespaceRuleOrAddress) {
  // The foreground CLI is the container's owner: killing it at moments from "just started" to "running"
  // leaves any mix of address, namespace mount, veth and DNAT rule; rm -f must remove all of them.
  int host_port = ts::free_port();
  for (int delay_ms : {2, 5, 10, 15, 20, 30, 45, 70, 120}) {
    pid_t cli = ts::spawn(run_argv({"-p", std::to_string(host_port) + ":80", "img", "sleep", "100"}),
                          tmp_.path / "kill.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(cli, SIGKILL);
    ::waitpid(cli, nullptr, 0);
    auto ids = cpk_({"ps", "-aq", "--no-trunc"});
    std::istringstream in(ids.out);
    for (std::string id; in >> id;) EXPECT_EQ(cpk_({"rm", "-f", id}).exit_code, 0) << id;
  }
  EXPECT_EQ(cpk_({"ps", "-aq"}).out, "");
  EXPECT_EQ(cppcker::read_file("/proc/self/mountinfo").find(cpk_.root.string()), std::string::npos);
  // (On a slow machine no start may have got as far as making the NAT table: then no rule is left either.)
  cppcker::NatTable nat(nft_table_);
  std::string rules = nat.exists() ? nat.list() : "";
  EXPECT_EQ(rules.find(std::to_string(host_port)), std::string::npos) << rules;
  // The kernel deletes a veth with its namespace, in the background: give it a moment.
  EXPECT_TRUE(eventually([&] {
    for (const auto& v : veths())
      if (fs::exists("/sys/class/net/" + v + "/master") &&
          fs::read_symlink("/sys/class/net/" + v + "/master").filename() == bridge_)
        return false;
    return true;
  })) << "a veth is still on the test's bridge";
  // Every address is free again: the next container gets the first one.
  detached({"--name", "after", "img", "sleep", "100"});
  EXPECT_EQ(ip_of("after"), subnet_prefix() + "2");
}

TEST_F(NetworkTest, ContainerModeSharesTheOtherContainersInterfaces) {
  detached({"--name", "owner", "img", "sleep", "100"});
  std::string ip = ip_of("owner");
  auto r = run({"--rm", "--network", "container:owner", "img", "ip", "-4", "addr", "show", "eth0"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(ip + "/24"), std::string::npos) << r.out;
  EXPECT_EQ(run({"--rm", "--network", "container:owner", "img", "hostname"}).out,
            inspect("owner")["Config"]["Hostname"].get<std::string>() + "\n");
  ASSERT_EQ(cpk_({"stop", "-t", "0", "owner"}).exit_code, 0);
  auto stopped = run({"--rm", "--network", "container:owner", "img", "true"});
  EXPECT_EQ(stopped.exit_code, 125);
  EXPECT_NE(stopped.err.find("cannot join network of a non running container"), std::string::npos) << stopped.err;
}

TEST_F(NetworkTest, UserNetworkMembersFindEachOtherByName) {
  std::string subnet = "10.214." + std::to_string(subnet_third_octet_) + ".0/24";
  auto created = cpk_({"network", "create", "--subnet", subnet, "testnet"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_NE(cpk_({"network", "ls"}).out.find("testnet"), std::string::npos);
  auto net = nlohmann::json::parse(cpk_({"network", "inspect", "testnet"}).out)[0];
  EXPECT_EQ(net["IPAM"]["Config"][0]["Subnet"], subnet);
  std::string net_bridge = net["Options"]["com.docker.network.bridge.name"];
  EXPECT_TRUE(link_exists(net_bridge));

  detached({"--name", "alpha", "--network", "testnet", "img", "sleep", "100"});
  detached({"--name", "beta", "--network", "testnet", "img", "sleep", "100"});
  auto ping = cpk_({"exec", "beta", "ping", "-c", "1", "-W", "2", "alpha"});
  EXPECT_EQ(ping.exit_code, 0) << ping.out << ping.err;
  // alpha started first; its /etc/hosts learnt of beta when beta came.
  EXPECT_NE(cpk_({"exec", "alpha", "cat", "/etc/hosts"}).out.find("\tbeta "), std::string::npos);
  EXPECT_EQ(cpk_({"exec", "alpha", "ping", "-c", "1", "-W", "2", "beta"}).exit_code, 0);
  // The default bridge is not this network: no route from it to testnet's members by name.
  EXPECT_NE(run({"--rm", "img", "ping", "-c", "1", "-W", "1", "alpha"}).exit_code, 0);

  auto busy = cpk_({"network", "rm", "testnet"});
  EXPECT_NE(busy.exit_code, 0);
  EXPECT_NE(busy.err.find("has active endpoints"), std::string::npos) << busy.err;
  ASSERT_EQ(cpk_({"rm", "-f", "beta"}).exit_code, 0);
  EXPECT_EQ(cpk_({"exec", "alpha", "cat", "/etc/hosts"}).out.find("beta"), std::string::npos);
  ASSERT_EQ(cpk_({"rm", "-f", "alpha"}).exit_code, 0);
  EXPECT_EQ(cpk_({"network", "rm", "testnet"}).exit_code, 0);
  EXPECT_FALSE(link_exists(net_bridge));
  EXPECT_NE(cpk_({"network", "rm", "bridge"}).exit_code, 0);
}

TEST_F(NetworkTest, ResolvConfHostsAndNetworkModes) {
  auto r = run({"--rm", "--dns", "127.0.0.1", "--dns-search", "example.test", "--add-host", "db.local:10.1.2.3",
                "-h", "boxname", "img", "sh", "-c", "cat /etc/resolv.conf; echo ---; cat /etc/hosts"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("nameserver 127.0.0.1\nsearch example.test\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("10.1.2.3\tdb.local\n"), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(subnet_prefix() + "[0-9]+\tboxname\n"))) << r.out;

  // Without --dns: the host's nameservers, loopback ones left out (this file is read, never queried).
  auto plain = run({"--rm", "img", "cat", "/etc/resolv.conf"});
  std::string host = cppcker::read_file("/etc/resolv.conf");
  EXPECT_EQ(plain.out.find("nameserver 127."), std::string::npos) << plain.out;
  std::smatch m;
  if (std::regex_search(host, m, std::regex("nameserver ((?!127\\.)[0-9.]+)"))) {
    EXPECT_NE(plain.out.find("nameserver " + m[1].str()), std::string::npos) << plain.out;
  }

  auto none = run({"--rm", "--network", "none", "img", "ip", "-o", "link"});
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_NE(none.out.find("lo: <LOOPBACK,UP"), std::string::npos) << none.out;
  EXPECT_EQ(none.out.find("eth0"), std::string::npos) << none.out;
  auto host_mode = run({"--rm", "--network", "host", "img", "cat", "/proc/net/dev"});
  EXPECT_NE(host_mode.out.find(bridge_), std::string::npos) << "host mode sees the host's interfaces";
}
