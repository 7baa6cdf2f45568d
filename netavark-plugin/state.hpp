// The members of one network, kept on disk between ferry-bridge runs: which
// container holds which addresses and port mappings. Allocation reads it to
// avoid addresses in use, the firewall is rendered from it, and teardown
// removes the bridge and the nftables table when its last member leaves.
//
// How it works: one JSON file per network id in the state directory
// ($FERRY_BRIDGE_STATE_DIR, else /run/ferry-bridge when writable, else
// $XDG_RUNTIME_DIR/ferry-bridge). NetworkLock holds an exclusive flock on
// "<id>.lock" for the whole of a setup or teardown, so concurrent runs for
// one network are serialised. A damaged state file is an error, never a crash
// (parse_state() is checked like any outside input).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "types.hpp"

namespace ferry::bridge {

struct Member {
  std::string interface_name;
  std::vector<IpAddr> ips;
  std::vector<PortMapping> ports;
};

struct NetworkState {
  std::string bridge;
  std::vector<IpNet> subnets;  // network subnets (prefix form) for masquerade
  std::map<std::string, Member> members;  // by container id
};

std::string state_dir();

Result<NetworkState> parse_state(std::string_view text);
std::string render_state(const NetworkState& s);

class NetworkLock {
 public:
  // Creates the state directory if needed, locks the network.
  static Result<std::unique_ptr<NetworkLock>> acquire(const std::string& dir, const std::string& network_id);
  ~NetworkLock();
  NetworkLock(const NetworkLock&) = delete;
  NetworkLock& operator=(const NetworkLock&) = delete;

  Result<NetworkState> load() const;  // empty state when no file
  Result<bool> save(const NetworkState& s) const;  // removes the file when there are no members

 private:
  NetworkLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;  // state file
};

}  // namespace ferry::bridge
