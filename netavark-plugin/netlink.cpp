// rtnetlink through libnl-route-3, sysctls, namespaces; see netlink.hpp.
#include "netlink.hpp"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace ferry::bridge {

namespace {

// Owners of libnl objects: each frees with its own function.
struct LinkPut {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
struct AddrPut {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
struct RtAddrPut {
  void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
};
struct RoutePut {
  void operator()(rtnl_route* r) const { rtnl_route_put(r); }
};
struct CacheFree {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
using LinkPtr = std::unique_ptr<rtnl_link, LinkPut>;
using NlAddrPtr = std::unique_ptr<nl_addr, AddrPut>;

Result<bool> nlfail(const std::string& what, int err) {
  return ferry::unexpected(what + ": " + nl_geterror(err));
}

NlAddrPtr to_nl(const IpAddr& a, int prefix) {
  NlAddrPtr p(nl_addr_build(a.v6 ? AF_INET6 : AF_INET, a.b.data(), a.v6 ? 16 : 4));
  if (p) nl_addr_set_prefixlen(p.get(), prefix);
  return p;
}

LinkPtr get_link(nl_sock* sk, const std::string& name) {
  rtnl_link* l = nullptr;
  if (rtnl_link_get_kernel(sk, 0, name.c_str(), &l) < 0) return nullptr;
  return LinkPtr(l);
}

Result<std::unique_ptr<Rtnl>> open_socket_here(std::function<Result<std::unique_ptr<Rtnl>>(nl_sock*)> wrap) {
  nl_sock* sk = nl_socket_alloc();
  if (!sk) return ferry::unexpected("netlink: out of memory");
  if (int err = nl_connect(sk, NETLINK_ROUTE); err < 0) {
    nl_socket_free(sk);
    return ferry::unexpected(std::string("netlink: cannot connect: ") + nl_geterror(err));
  }
  return wrap(sk);
}

}  // namespace

Result<std::unique_ptr<Rtnl>> Rtnl::open() {
  return open_socket_here([](nl_sock* sk) { return Result<std::unique_ptr<Rtnl>>(std::unique_ptr<Rtnl>(new Rtnl(sk))); });
}

Result<std::unique_ptr<Rtnl>> Rtnl::open_in(int netns_fd) {
  Result<std::unique_ptr<Rtnl>> r = ferry::unexpected(std::string("netlink: not opened"));
  auto res = run_in_netns(netns_fd, [&]() -> Result<bool> {
    r = open();
    return true;
  });
  if (!res) return ferry::unexpected(res.error());
  return r;
}

Rtnl::~Rtnl() { nl_socket_free(sk_); }

std::optional<int> Rtnl::ifindex(const std::string& name) {
  auto l = get_link(sk_, name);
  if (!l) return std::nullopt;
  return rtnl_link_get_ifindex(l.get());
}

std::string Rtnl::kind(const std::string& name) {
  auto l = get_link(sk_, name);
  if (!l) return "";
  const char* t = rtnl_link_get_type(l.get());
  return t ? t : "device";
}

Result<bool> Rtnl::ensure_bridge(const std::string& name, std::optional<uint32_t> mtu) {
  if (auto k = kind(name); !k.empty()) {
    if (k != "bridge") return ferry::unexpected("network_interface: " + name + " exists and is a " + k + ", not a bridge");
    return false;
  }
  LinkPtr l(rtnl_link_bridge_alloc());
  if (!l) return ferry::unexpected("netlink: out of memory");
  rtnl_link_set_name(l.get(), name.c_str());
  if (mtu) rtnl_link_set_mtu(l.get(), *mtu);
  if (int err = rtnl_link_add(sk_, l.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0)
    return nlfail("cannot create bridge " + name, err);
  return true;
}

Result<bool> Rtnl::add_veth(const std::string& host, const std::string& peer, int peer_netns_fd,
                            const std::optional<std::array<uint8_t, 6>>& peer_mac, std::optional<uint32_t> mtu) {
  LinkPtr l(rtnl_link_veth_alloc());
  if (!l) return ferry::unexpected("netlink: out of memory");
  LinkPtr p(rtnl_link_veth_get_peer(l.get()));
  rtnl_link_set_name(l.get(), host.c_str());
  rtnl_link_set_name(p.get(), peer.c_str());
  rtnl_link_set_ns_fd(p.get(), peer_netns_fd);
  if (mtu) {
    rtnl_link_set_mtu(l.get(), *mtu);
    rtnl_link_set_mtu(p.get(), *mtu);
  }
  if (peer_mac) {
    NlAddrPtr a(nl_addr_build(AF_LLC, peer_mac->data(), 6));
    rtnl_link_set_addr(p.get(), a.get());
  }
  if (int err = rtnl_link_add(sk_, l.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0)
    return nlfail("cannot create veth pair " + host + " / " + peer, err);
  return true;
}

Result<bool> Rtnl::set_up(const std::string& name, int master_ifindex) {
  auto l = get_link(sk_, name);
  if (!l) return ferry::unexpected("link " + name + " not found");
  LinkPtr change(rtnl_link_alloc());
  if (master_ifindex > 0) rtnl_link_set_master(change.get(), master_ifindex);
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (int err = rtnl_link_change(sk_, l.get(), change.get(), 0); err < 0) return nlfail("cannot set " + name + " up", err);
  return true;
}

bool Rtnl::is_up(const std::string& name) {
  auto l = get_link(sk_, name);
  return l && (rtnl_link_get_flags(l.get()) & IFF_UP);
}

Result<bool> Rtnl::set_down(const std::string& name) {
  auto l = get_link(sk_, name);
  if (!l) return true;
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_unset_flags(change.get(), IFF_UP);
  if (int err = rtnl_link_change(sk_, l.get(), change.get(), 0); err < 0) return nlfail("cannot set " + name + " down", err);
  return true;
}

Result<bool> Rtnl::add_address(const std::string& name, const IpNet& a) {
  auto idx = ifindex(name);
  if (!idx) return ferry::unexpected("link " + name + " not found");
  std::unique_ptr<rtnl_addr, RtAddrPut> ra(rtnl_addr_alloc());
  auto local = to_nl(a.addr, a.prefix);
  rtnl_addr_set_ifindex(ra.get(), *idx);
  rtnl_addr_set_local(ra.get(), local.get());
  rtnl_addr_set_prefixlen(ra.get(), a.prefix);
  // The address is ours alone (we allocated it): skip duplicate address
  // detection so that it is usable at once (RFC 4862 5.4 allows this).
  if (a.addr.v6) rtnl_addr_set_flags(ra.get(), IFA_F_NODAD);
  // IPv4: the broadcast address of the subnet, as `ip addr add ... brd +`
  // and netavark set it.
  NlAddrPtr brd;
  if (!a.addr.v6 && a.prefix < 31) {
    brd = to_nl(last_of(a.addr, a.prefix), 32);
    rtnl_addr_set_broadcast(ra.get(), brd.get());
  }
  int err = rtnl_addr_add(sk_, ra.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err == -NLE_EXIST) return true;
  if (err < 0) return nlfail("cannot add address " + a.str() + " to " + name, err);
  return true;
}

Result<bool> Rtnl::add_route(const std::string& name, const PlannedRoute& r) {
  auto idx = ifindex(name);
  if (!idx) return ferry::unexpected("link " + name + " not found");
  std::unique_ptr<rtnl_route, RoutePut> rt(rtnl_route_alloc());
  auto dst = to_nl(r.destination.addr, r.destination.prefix);
  auto gw = to_nl(r.gateway, r.gateway.bits());
  rtnl_route_set_family(rt.get(), r.destination.addr.v6 ? AF_INET6 : AF_INET);
  rtnl_route_set_dst(rt.get(), dst.get());
  rtnl_route_set_table(rt.get(), RT_TABLE_MAIN);
  rtnl_route_set_scope(rt.get(), RT_SCOPE_UNIVERSE);
  // Static routes with metric 100 unless given: netavark's choice, so both
  // drivers produce the same table.
  rtnl_route_set_protocol(rt.get(), RTPROT_STATIC);
  rtnl_route_set_priority(rt.get(), r.metric.value_or(kDefaultRouteMetric));
  rtnl_nexthop* nh = rtnl_route_nh_alloc();  // owned by the route once added
  rtnl_route_nh_set_ifindex(nh, *idx);
  rtnl_route_nh_set_gateway(nh, gw.get());
  rtnl_route_add_nexthop(rt.get(), nh);
  int err = rtnl_route_add(sk_, rt.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err == -NLE_EXIST) return true;
  if (err < 0) return nlfail("cannot add route " + r.destination.str() + " via " + r.gateway.str(), err);
  return true;
}

Result<bool> Rtnl::delete_link(const std::string& name) {
  auto l = get_link(sk_, name);
  if (!l) return true;
  int err = rtnl_link_delete(sk_, l.get());
  if (err < 0 && err != -NLE_NODEV && err != -NLE_OBJ_NOTFOUND) return nlfail("cannot delete " + name, err);
  return true;
}

Result<int> Rtnl::port_count(const std::string& bridge) {
  auto idx = ifindex(bridge);
  if (!idx) return 0;
  nl_cache* c = nullptr;
  if (int err = rtnl_link_alloc_cache(sk_, AF_UNSPEC, &c); err < 0)
    return ferry::unexpected(std::string("cannot list links: ") + nl_geterror(err));
  std::unique_ptr<nl_cache, CacheFree> cache(c);
  int n = 0;
  for (nl_object* o = nl_cache_get_first(c); o; o = nl_cache_get_next(o)) {
    if (rtnl_link_get_master(reinterpret_cast<rtnl_link*>(o)) == *idx) ++n;
  }
  return n;
}

Result<std::string> Rtnl::mac(const std::string& name) {
  auto l = get_link(sk_, name);
  if (!l) return ferry::unexpected("link " + name + " not found");
  nl_addr* a = rtnl_link_get_addr(l.get());
  if (!a || nl_addr_get_len(a) != 6) return ferry::unexpected("link " + name + " has no MAC address");
  std::array<uint8_t, 6> m{};
  std::memcpy(m.data(), nl_addr_get_binary_addr(a), 6);
  return mac_str(m);
}

Result<bool> run_in_netns(int netns_fd, const std::function<Result<bool>()>& fn) {
  Result<bool> out = ferry::unexpected(std::string("namespace thread did not run"));
  std::thread t([&] {
    // This thread alone moves; the rest of the process stays in the host.
    if (setns(netns_fd, CLONE_NEWNET) != 0) {
      out = ferry::unexpected(std::string("cannot enter the container network namespace: ") + std::strerror(errno));
      return;
    }
    out = fn();
  });
  t.join();
  return out;
}

Result<bool> write_sysctl(const Sysctl& s) {
  const std::string& value = s.value;
  std::string path = "/proc/sys/" + s.name;
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    if (s.optional_entry && errno == ENOENT) return true;
    return ferry::unexpected("cannot open " + path + ": " + std::strerror(errno));
  }
  ssize_t w = write(fd, value.data(), value.size());
  int e = errno;
  close(fd);
  if (w != static_cast<ssize_t>(value.size())) return ferry::unexpected("cannot write " + path + ": " + std::strerror(e));
  return true;
}

}  // namespace ferry::bridge
