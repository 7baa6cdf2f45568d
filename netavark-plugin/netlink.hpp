// The kernel side of ferry-bridge: links, addresses and routes through
// libnl-route-3 (rtnetlink), sysctls through /proc/sys, and entering a
// container's network namespace.
//
// How it works: an Rtnl is one rtnetlink socket. A netlink socket belongs to
// the network namespace its creator was in when it was opened, so
// Rtnl::open_in(fd) opens it on a short-lived thread that has setns()'d into
// the container namespace (setns on a thread moves only that thread); the
// socket then keeps talking to that namespace from any thread. run_in_netns()
// runs other work (sysctls, which /proc resolves by the calling thread's
// namespace) the same way. The veth pair is created in one RTM_NEWLINK with the
// peer's IFLA_NET_NS_FD and final name, so the container end never shows up
// in the host under a temporary name. Every call returns an error value with
// libnl's message; "already there" and "already gone" are success where the
// caller asks for idempotence.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "plan.hpp"
#include "types.hpp"

struct nl_sock;

namespace ferry::bridge {

inline constexpr uint32_t kDefaultRouteMetric = 100;

// The rtnetlink operations setup and teardown use: Rtnl is the real one,
// tests/bridge/setup_test.cpp has an in-memory fake.
class Links {
 public:
  virtual ~Links() = default;
  virtual std::optional<int> ifindex(const std::string& name) = 0;
  // The link kind ("bridge", "veth", "device" for none given, "" for no link).
  virtual std::string kind(const std::string& name) = 0;
  // Creates a bridge; false when it already existed (and is a bridge).
  virtual Result<bool> ensure_bridge(const std::string& name, std::optional<uint32_t> mtu) = 0;
  // Host end `host` here, container end `peer` in namespace `peer_netns_fd`.
  virtual Result<bool> add_veth(const std::string& host, const std::string& peer, int peer_netns_fd,
                                const std::optional<std::array<uint8_t, 6>>& peer_mac,
                                std::optional<uint32_t> mtu) = 0;
  // Sets the master (when master_ifindex > 0) and brings the link up.
  virtual Result<bool> set_up(const std::string& name, int master_ifindex) = 0;
  virtual bool is_up(const std::string& name) = 0;
  virtual Result<bool> set_down(const std::string& name) = 0;
  // Adds addr/prefix (no DAD); already present is success.
  virtual Result<bool> add_address(const std::string& name, const IpNet& a) = 0;
  virtual Result<bool> add_route(const std::string& name, const PlannedRoute& r) = 0;
  // Deletes a link; absent is success.
  virtual Result<bool> delete_link(const std::string& name) = 0;
  // Number of links whose master is `bridge`.
  virtual Result<int> port_count(const std::string& bridge) = 0;
  virtual Result<std::string> mac(const std::string& name) = 0;
};

class Rtnl final : public Links {
 public:
  static Result<std::unique_ptr<Rtnl>> open();
  static Result<std::unique_ptr<Rtnl>> open_in(int netns_fd);
  ~Rtnl() override;
  Rtnl(const Rtnl&) = delete;
  Rtnl& operator=(const Rtnl&) = delete;

  std::optional<int> ifindex(const std::string& name) override;
  std::string kind(const std::string& name) override;
  Result<bool> ensure_bridge(const std::string& name, std::optional<uint32_t> mtu) override;
  Result<bool> add_veth(const std::string& host, const std::string& peer, int peer_netns_fd,
                        const std::optional<std::array<uint8_t, 6>>& peer_mac, std::optional<uint32_t> mtu) override;
  Result<bool> set_up(const std::string& name, int master_ifindex) override;
  bool is_up(const std::string& name) override;
  Result<bool> set_down(const std::string& name) override;
  Result<bool> add_address(const std::string& name, const IpNet& a) override;
  Result<bool> add_route(const std::string& name, const PlannedRoute& r) override;
  Result<bool> delete_link(const std::string& name) override;
  Result<int> port_count(const std::string& bridge) override;
  Result<std::string> mac(const std::string& name) override;

 private:
  explicit Rtnl(nl_sock* s) : sk_(s) {}
  nl_sock* sk_;
};

struct Sysctl {
  std::string name;  // below /proc/sys, e.g. "net/ipv4/ip_forward"
  std::string value;
  bool optional_entry = false;  // a missing entry (IPv6 off) is fine
};

// Runs fn on a new thread inside the namespace (fd from open(netns path)).
Result<bool> run_in_netns(int netns_fd, const std::function<Result<bool>()>& fn);

// Writes a sysctl of the calling thread's network namespace.
Result<bool> write_sysctl(const Sysctl& s);

}  // namespace ferry::bridge
