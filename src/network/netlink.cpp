#include "cppcker/network/netlink.hpp"

#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "cppcker/util/error.hpp"
#include "cppcker/util/fd.hpp"

namespace cppcker {

namespace {

// libnl returns negative NLE_* codes; its message says what went wrong.
void check_nl(int rc, const std::string& what) {
  if (rc < 0) throw Error(what + ": " + ::nl_geterror(rc), 125);
}

template <typename T, void (*Free)(T*)>
struct NlPtr {
  T* p = nullptr;
  NlPtr() = default;
  explicit NlPtr(T* ptr) : p(ptr) {}
  ~NlPtr() {
    if (p) Free(p);
  }
  NlPtr(const NlPtr&) = delete;
  NlPtr& operator=(const NlPtr&) = delete;
  T* get() const { return p; }
};
using LinkPtr = NlPtr<rtnl_link, rtnl_link_put>;
using AddrPtr = NlPtr<nl_addr, nl_addr_put>;
using RtAddrPtr = NlPtr<rtnl_addr, rtnl_addr_put>;
using RoutePtr = NlPtr<rtnl_route, rtnl_route_put>;

AddrPtr parse_nl_addr(const std::string& text) {
  nl_addr* a = nullptr;
  check_nl(::nl_addr_parse(text.c_str(), AF_INET, &a), "parse address " + text);
  return AddrPtr(a);
}

}  // namespace

Netlink::Netlink() {
  sock_ = ::nl_socket_alloc();
  if (!sock_) throw Error("netlink: out of memory", 125);
  int rc = ::nl_connect(sock_, NETLINK_ROUTE);
  if (rc < 0) {
    ::nl_socket_free(sock_);
    check_nl(rc, "netlink connect");
  }
}

Netlink::~Netlink() { ::nl_socket_free(sock_); }

int Netlink::link_index(const std::string& name) {
  rtnl_link* link = nullptr;
  int rc = ::rtnl_link_get_kernel(sock_, 0, name.c_str(), &link);
  if (rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV) return 0;
  check_nl(rc, "look up link " + name);
  LinkPtr held(link);
  return ::rtnl_link_get_ifindex(link);
}

void Netlink::ensure_bridge(const std::string& name, const Ipv4Net& gateway) {
  if (!link_exists(name)) {
    int rc = ::rtnl_link_bridge_add(sock_, name.c_str());
    if (rc != -NLE_EXIST) check_nl(rc, "create bridge " + name);
  }
  RtAddrPtr addr(::rtnl_addr_alloc());
  auto local = parse_nl_addr(gateway.str());
  ::rtnl_addr_set_ifindex(addr.get(), link_index(name));
  ::rtnl_addr_set_local(addr.get(), local.get());
  int rc = ::rtnl_addr_add(sock_, addr.get(), 0);
  if (rc != -NLE_EXIST) check_nl(rc, "address bridge " + name);
  set_up(name);
}

void Netlink::create_veth(const std::string& host_name, const std::string& bridge, const std::string& peer_name,
                          int peer_netns_fd, const std::string& peer_mac) {
  int master = link_index(bridge);
  if (master == 0) throw Error("bridge " + bridge + " is missing", 125);
  LinkPtr link(::rtnl_link_veth_alloc());
  if (!link.get()) throw Error("netlink: out of memory", 125);
  ::rtnl_link_set_name(link.get(), host_name.c_str());
  ::rtnl_link_set_master(link.get(), master);
  ::rtnl_link_set_flags(link.get(), IFF_UP);
  rtnl_link* peer = ::rtnl_link_veth_get_peer(link.get());
  LinkPtr peer_held(peer);
  ::rtnl_link_set_name(peer, peer_name.c_str());
  ::rtnl_link_set_ns_fd(peer, peer_netns_fd);
  auto mac = AddrPtr([&] {
    nl_addr* a = nullptr;
    check_nl(::nl_addr_parse(peer_mac.c_str(), AF_LLC, &a), "parse MAC " + peer_mac);
    return a;
  }());
  ::rtnl_link_set_addr(peer, mac.get());
  check_nl(::rtnl_link_add(sock_, link.get(), NLM_F_CREATE | NLM_F_EXCL), "create veth " + host_name);
}

void Netlink::set_up(const std::string& name) {
  rtnl_link* link = nullptr;
  check_nl(::rtnl_link_get_kernel(sock_, 0, name.c_str(), &link), "look up link " + name);
  LinkPtr held(link);
  if (::rtnl_link_get_flags(link) & IFF_UP) return;
  LinkPtr change(::rtnl_link_alloc());
  ::rtnl_link_set_flags(change.get(), IFF_UP);
  check_nl(::rtnl_link_change(sock_, link, change.get(), 0), "set " + name + " up");
}

void Netlink::add_address(const std::string& link, const Ipv4Net& address) {
  RtAddrPtr addr(::rtnl_addr_alloc());
  auto local = parse_nl_addr(address.str());
  ::rtnl_addr_set_ifindex(addr.get(), link_index(link));
  ::rtnl_addr_set_local(addr.get(), local.get());
  check_nl(::rtnl_addr_add(sock_, addr.get(), 0), "add address " + address.str() + " to " + link);
}

void Netlink::add_default_route(const std::string& link, Ipv4 gateway) {
  RoutePtr route(::rtnl_route_alloc());
  auto dst = parse_nl_addr("0.0.0.0/0");
  auto gw = parse_nl_addr(format_ipv4(gateway));
  ::rtnl_route_set_family(route.get(), AF_INET);
  ::rtnl_route_set_dst(route.get(), dst.get());
  rtnl_nexthop* nh = ::rtnl_route_nh_alloc();
  ::rtnl_route_nh_set_gateway(nh, gw.get());
  ::rtnl_route_nh_set_ifindex(nh, link_index(link));
  ::rtnl_route_add_nexthop(route.get(), nh);  // the route owns it now
  check_nl(::rtnl_route_add(sock_, route.get(), NLM_F_CREATE), "add default route via " + format_ipv4(gateway));
}

bool Netlink::delete_link(const std::string& name) {
  if (!link_exists(name)) return false;
  LinkPtr link(::rtnl_link_alloc());
  ::rtnl_link_set_name(link.get(), name.c_str());
  int rc = ::rtnl_link_delete(sock_, link.get());
  if (rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV) return false;
  check_nl(rc, "delete link " + name);
  return true;
}

int bridge_port_count(const std::string& name) {
  std::error_code ec;
  int n = 0;
  // brif/ lists the ports of a bridge; a name with '/' or ".." could leave /sys/class/net.
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") return 0;
  for (auto it = std::filesystem::directory_iterator("/sys/class/net/" + name + "/brif", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

void set_link_up_ioctl(const std::string& name) {
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) throw_errno("socket");
  ifreq req{};
  std::strncpy(req.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &req) != 0) throw_errno("get flags of " + name);
  req.ifr_flags |= IFF_UP;
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &req) != 0) throw_errno("set " + name + " up");
}

}  // namespace cppcker
