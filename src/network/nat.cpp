#include "cppcker/network/nat.hpp"

#include <nftables/libnftables.h>

#include "cppcker/util/error.hpp"

namespace cppcker {

NatTable::NatTable(std::string table) : table_(std::move(table)) {
  ctx_ = ::nft_ctx_new(NFT_CTX_DEFAULT);
  if (!ctx_) throw Error("nftables: cannot create a context", 125);
  ::nft_ctx_buffer_output(ctx_);
  ::nft_ctx_buffer_error(ctx_);
}

NatTable::~NatTable() { ::nft_ctx_free(ctx_); }

bool NatTable::run(const std::string& commands, Tolerate tolerate) {
  if (::nft_run_cmd_from_buffer(ctx_, commands.c_str()) == 0) return true;
  std::string err = ::nft_ctx_get_error_buffer(ctx_);
  // nft words a missing object either way, depending on the object and its version.
  if (tolerate == Tolerate::missing &&
      (err.find("No such file or directory") != std::string::npos || err.find("does not exist") != std::string::npos))
    return false;
  if (tolerate == Tolerate::existing && err.find("File exists") != std::string::npos) return false;
  throw Error("nftables: " + err.substr(0, err.find('\n')), 125);
}

bool NatTable::exists() {
  return run("list table ip " + table_, Tolerate::missing);
}

void NatTable::ensure(const Ipv4Net& subnet) {
  if (!exists()) {
    const std::string lookups =
        "    fib daddr type local dnat ip to ip daddr . meta l4proto . th dport map @ports_addr\n"
        "    fib daddr type local dnat ip to meta l4proto . th dport map @ports_any\n";
    run("table ip " + table_ + " {\n"
        "  set networks { type ipv4_addr; flags interval; }\n"
        "  map ports_any { type inet_proto . inet_service : ipv4_addr . inet_service; }\n"
        "  map ports_addr { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }\n"
        "  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n" + lookups + "  }\n"
        "  chain output {\n    type nat hook output priority -100; policy accept;\n" + lookups + "  }\n"
        "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n"
        "    ip saddr @networks ip daddr != @networks masquerade\n"
        "    ip saddr 127.0.0.0/8 ip daddr @networks masquerade\n"
        "  }\n"
        "}\n");
  }
  run("add element ip " + table_ + " networks { " + subnet.network_str() + " }", Tolerate::existing);
}

void NatTable::remove_network(const Ipv4Net& subnet) {
  run("delete element ip " + table_ + " networks { " + subnet.network_str() + " }", Tolerate::missing);
}

namespace {
std::string port_key(const PortBinding& b) {
  std::string key = b.proto + " . " + std::to_string(b.host_port);
  return b.host_ip.empty() ? key : b.host_ip + " . " + key;
}
}  // namespace

void NatTable::add_port(const PortBinding& b, Ipv4 container_ip) {
  std::string map = b.host_ip.empty() ? "ports_any" : "ports_addr";
  bool added = run("add element ip " + table_ + " " + map + " { " + port_key(b) + " : " + format_ipv4(container_ip) +
                       " . " + std::to_string(b.container_port) + " }",
                   Tolerate::existing);
  if (!added)
    throw Error(b.allocated_message(), 125);
}

void NatTable::remove_port(const PortBinding& b) {
  std::string map = b.host_ip.empty() ? "ports_any" : "ports_addr";
  run("delete element ip " + table_ + " " + map + " { " + port_key(b) + " }", Tolerate::missing);
}

void NatTable::drop() { run("delete table ip " + table_, Tolerate::missing); }

bool NatTable::in_use() {
  // The kernel's own state decides, as JSON (not the text format, whose wording may change).
  unsigned flags = ::nft_ctx_output_get_flags(ctx_);
  ::nft_ctx_output_set_flags(ctx_, flags | NFT_CTX_OUTPUT_JSON);
  bool listed = false;
  try {
    listed = run("list table ip " + table_, Tolerate::missing);
  } catch (...) {
    ::nft_ctx_output_set_flags(ctx_, flags);
    throw;
  }
  ::nft_ctx_output_set_flags(ctx_, flags);
  if (!listed) return false;
  auto j = nlohmann::json::parse(::nft_ctx_get_output_buffer(ctx_), nullptr, false);
  if (j.is_discarded() || !j.contains("nftables")) throw Error("nftables: unreadable listing of table " + table_, 125);
  for (const auto& item : j["nftables"])
    for (const char* kind : {"set", "map"})
      if (item.contains(kind) && item[kind].contains("elem") && !item[kind]["elem"].empty()) return true;
  return false;
}

std::string NatTable::list() {
  run("list table ip " + table_);
  return ::nft_ctx_get_output_buffer(ctx_);
}

}  // namespace cppcker
