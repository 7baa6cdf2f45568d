// Rootful outbound NAT and port mappings for a ferry-bridge network, through
// nftables.
//
// How it works: each network owns one nftables table, `inet ferry_bridge_<id>`
// (table_name()). render_ruleset() turns the network's member state into the
// complete table - pure, unit-tested - and apply_ruleset() replaces the table with it
// in one nftables transaction ("add table; delete table; table {...}"), so
// the rules always match the members exactly and a repeated setup or teardown
// changes nothing. With no members left the table is deleted. The table has:
//   postrouting (nat): masquerade what leaves a subnet for another network;
//   prerouting/output (nat): DNAT of each port mapping to the container,
//     for packets to a local address (or to host_ip when given).
// Commands go through libnftables (Debian libnftables-dev) when the build
// found it, else through `nft -f -`.
#pragma once

#include <string>

#include "state.hpp"
#include "types.hpp"

namespace ferry::bridge {

std::string table_name(const std::string& network_id);

// The nft script that makes the table hold exactly `s` (or removes the table
// when `s` has no members).
std::string render_ruleset(const std::string& network_id, const NetworkState& s);

// Runs an nft script; the error carries nft's message.
Result<bool> nft_run(const std::string& script);

inline Result<bool> apply_ruleset(const std::string& network_id, const NetworkState& s) {
  return nft_run(render_ruleset(network_id, s));
}

}  // namespace ferry::bridge
