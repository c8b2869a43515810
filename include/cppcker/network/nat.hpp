#pragma once
// cppcker's own nftables table (libnftables): masquerade for its networks, DNAT for published ports.
// Nothing outside this table is read or changed. Layout (created whole, in one transaction):
//
//   table ip <name> {
//     set networks    { type ipv4_addr; flags interval; }              the bridges' subnets
//     map ports_any   { proto . host port          : container ip . port }   -p 8080:80
//     map ports_addr  { host ip . proto . host port : container ip . port }  -p 127.0.0.1:8080:80
//     chain prerouting / output (nat): traffic to a local address -> DNAT through the maps; `output`
//       covers connections from the host itself, 127.0.0.1 included
//     chain postrouting (nat): masquerade what leaves a network for elsewhere, and what comes from
//       127.0.0.0/8 into a network (after DNAT from the host; needs route_localnet on the bridge)
//   }
// Ports are map elements, so a container's rules are added and deleted by key, never by rule handle.
#include <string>

#include "cppcker/network/address.hpp"

struct nft_ctx;

namespace cppcker {

class NatTable {
 public:
  explicit NatTable(std::string table);
  ~NatTable();
  NatTable(const NatTable&) = delete;
  NatTable& operator=(const NatTable&) = delete;

  bool exists();
  // Creates the table when it is missing (callers serialise with the networks lock) and adds `subnet`.
  void ensure(const Ipv4Net& subnet);
  void remove_network(const Ipv4Net& subnet);  // missing: fine
  // Throws Error("... port is already allocated") when the host side is taken.
  void add_port(const PortBinding& binding, Ipv4 container_ip);
  void remove_port(const PortBinding& binding);  // missing: fine
  void drop();                                   // the whole table; missing: fine
  // Whether any network subnet or published port is still in the table (of any state root: the table
  // is shared by every root on the host that uses the same config). A missing table: false.
  bool in_use();
  // `nft list table` output, for tests and debugging.
  std::string list();

 private:
  // Runs nft commands. False instead of an Error when the failure is the tolerated one: the object is
  // missing (deleting what is gone) or already there (adding what exists).
  enum class Tolerate { nothing, missing, existing };
  bool run(const std::string& commands, Tolerate tolerate = Tolerate::nothing);
  std::string table_;
  nft_ctx* ctx_ = nullptr;
};

}  // namespace cppcker
