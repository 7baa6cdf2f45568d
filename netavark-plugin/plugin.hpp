// The four plugin API commands (contracts.md section 3) on top of the pure
// planning (plan.hpp) and the kernel calls (netlink.hpp, firewall.hpp).
//
// How it works: each command takes the already-parsed JSON from stdin and
// returns the JSON to print or an error message; main.cpp does the I/O.
//  - create: complete_network(), then writes the completed fields back into
//    the caller's object, so unknown fields (labels, created) and name, id and
//    driver pass through untouched.
//  - setup: validate and plan everything first; then, under the network's
//    lock, bridge -> veth pair (peer created straight into the netns under
//    interface_name) -> addresses, link up, routes -> member state ->
//    nftables. Each step that made something registers its undo; a failure
//    runs the undos in reverse, so bad input or a kernel refusal leaves
//    nothing half-made.
//  - teardown: delete the host veth (the kernel removes its peer, or already
//    did when the namespace went away), forget the member, re-render the
//    nftables table, and delete the bridge when no member and no port is
//    left. Every step is "already gone is fine", so teardown is idempotent.
#pragma once

#include <boost/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "netlink.hpp"
#include "plan.hpp"
#include "state.hpp"
#include "types.hpp"

namespace ferry::bridge {

boost::json::value info_json();
Result<boost::json::value> cmd_create(const boost::json::value& in);
Result<boost::json::value> cmd_setup(const std::string& netns_path, const boost::json::value& in);
Result<bool> cmd_teardown(const std::string& netns_path, const boost::json::value& in);

// Everything one setup touches outside its own memory: the host's and the
// container's links, sysctls in each, the firewall (null when rootless) and
// the member state file. cmd_setup passes the real ones; tests pass fakes.
struct SetupEnv {
  Links& host;
  Links& ctr;
  int netns_fd;  // the container namespace, for add_veth
  std::function<Result<bool>(const std::vector<Sysctl>&)> host_sysctls;
  std::function<Result<bool>(const std::vector<Sysctl>&)> ctr_sysctls;
  std::function<Result<bool>(const NetworkState&)> firewall;
  std::function<Result<bool>(const NetworkState&)> save;
};

// Carries out a plan (already checked against `state`, the network's members
// before this setup). On failure every step taken is undone in reverse.
Result<StatusBlock> execute_setup(const NetworkPluginExec& x, const SetupPlan& p, NetworkState state, SetupEnv& env);

// True when running as root of the initial user namespace (rootful podman):
// only then are nftables rules and forwarding sysctls ours to set.
bool is_rootful();

}  // namespace ferry::bridge
