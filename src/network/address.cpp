#include "cppcker/network/address.hpp"

#include <arpa/inet.h>

#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker {

Ipv4 parse_ipv4(const std::string& text) {
  in_addr a{};
  if (::inet_pton(AF_INET, text.c_str(), &a) != 1) throw Error("invalid IPv4 address: " + text);
  return ntohl(a.s_addr);
}

std::string format_ipv4(Ipv4 address) {
  in_addr a{htonl(address)};
  char buf[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

Ipv4Net Ipv4Net::parse(const std::string& cidr) {
  auto slash = cidr.find('/');
  if (slash == std::string::npos) throw Error("invalid CIDR address: " + cidr);
  Ipv4Net n;
  try {
    n.address = parse_ipv4(cidr.substr(0, slash));
  } catch (const Error&) {
    throw Error("invalid CIDR address: " + cidr);
  }
  std::string p = cidr.substr(slash + 1);
  if (p.empty() || p.size() > 2 || p.find_first_not_of("0123456789") != std::string::npos || std::stoi(p) > 32)
    throw Error("invalid CIDR address: " + cidr);
  n.prefix = std::stoi(p);
  return n;
}

bool Ipv4Net::overlaps(const Ipv4Net& other) const { return contains(other.network()) || other.contains(network()); }

std::string Ipv4Net::str() const { return format_ipv4(address) + "/" + std::to_string(prefix); }
std::string Ipv4Net::network_str() const { return format_ipv4(network()) + "/" + std::to_string(prefix); }

nlohmann::json PortBinding::to_json() const {
  return {{"HostIp", host_ip}, {"HostPort", host_port}, {"ContainerPort", container_port}, {"Proto", proto}};
}

PortBinding PortBinding::from_json(const nlohmann::json& j) {
  return {j.value("HostIp", ""), j.value("HostPort", 0), j.value("ContainerPort", 0), j.value("Proto", "tcp")};
}

namespace {

// "80" or "8000-8010"; `what` names the value in errors.
std::pair<int, int> parse_port_range(const std::string& text, const std::string& spec, bool allow_empty) {
  if (text.empty() && allow_empty) return {0, 0};
  auto bad = [&] { return Error("invalid port specification: \"" + spec + "\"", 125); };
  auto one = [&](const std::string& s) {
    if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) throw bad();
    int v = std::stoi(s);
    if (v < 1 || v > 65535) throw bad();
    return v;
  };
  auto dash = text.find('-');
  if (dash == std::string::npos) {
    int v = one(text);
    return {v, v};
  }
  int lo = one(text.substr(0, dash)), hi = one(text.substr(dash + 1));
  if (hi < lo) throw bad();
  return {lo, hi};
}

std::string parse_proto(const std::string& text, const std::string& spec) {
  if (text == "tcp" || text == "udp") return text;
  throw Error("invalid proto: " + text + " in \"" + spec + "\"", 125);
}

}  // namespace

std::vector<PortBinding> parse_publish(const std::string& spec) {
  std::string rest = spec, proto = "tcp";
  if (auto slash = rest.rfind('/'); slash != std::string::npos) {
    proto = parse_proto(rest.substr(slash + 1), spec);
    rest = rest.substr(0, slash);
  }
  // [ip:][hostPort:]containerPort; the last ':' separates the container port.
  std::string host_ip, host_part, container_part;
  auto parts = split(rest, ':');
  if (parts.size() == 1) {
    container_part = parts[0];
  } else if (parts.size() == 2) {
    host_part = parts[0];
    container_part = parts[1];
  } else if (parts.size() == 3) {
    host_ip = parts[0];
    host_part = parts[1];
    container_part = parts[2];
  } else {
    throw Error("invalid port specification: \"" + spec + "\"", 125);
  }
  if (!host_ip.empty()) {
    try {
      parse_ipv4(host_ip);
    } catch (const Error&) {
      throw Error("invalid IP address: " + host_ip, 125);
    }
    if (host_ip == "0.0.0.0") host_ip.clear();
  }
  auto [c_lo, c_hi] = parse_port_range(container_part, spec, false);
  auto [h_lo, h_hi] = parse_port_range(host_part, spec, true);
  if (h_lo != 0 && h_hi - h_lo != c_hi - c_lo) {
    if (c_lo != c_hi) throw Error("invalid ranges specified for container and host Ports: " + spec, 125);
  }
  std::vector<PortBinding> out;
  for (int p = c_lo; p <= c_hi; ++p) {
    int host = h_lo == 0 ? 0 : (c_lo == c_hi ? h_lo : h_lo + (p - c_lo));
    out.push_back({host_ip, host, p, proto});
  }
  return out;
}

PortBinding parse_exposed_port(const std::string& spec) {
  std::string port = spec, proto = "tcp";
  if (auto slash = spec.find('/'); slash != std::string::npos) {
    port = spec.substr(0, slash);
    proto = parse_proto(spec.substr(slash + 1), spec);
  }
  auto [lo, hi] = parse_port_range(port, spec, false);
  (void)hi;
  return {"", 0, lo, proto};
}

std::string mac_for_container(const std::string& container_id) {
  std::string mac = "02";
  for (std::size_t i = 0; i < 10; i += 2) mac += ":" + container_id.substr(i, 2);
  return mac;
}

}  // namespace cppcker
