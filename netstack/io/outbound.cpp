#include "netstack/io/outbound.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ferry::io {
namespace {

// The first address of `family` on interface `name`; for IPv6 a link-local
// one only when there is nothing else (binding to it needs a scope).
bool interface_addr(const std::string& name, int family, sockaddr_storage& out) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) < 0) return false;
  bool found = false, link_local = false;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != family || name != i->ifa_name) continue;
    const bool ll = family == AF_INET6 &&
                    IN6_IS_ADDR_LINKLOCAL(&reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_addr);
    if (found && (ll || !link_local)) continue;
    std::memcpy(&out, i->ifa_addr, family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
    found = true;
    link_local = ll;
    if (!ll) break;
  }
  freeifaddrs(list);
  return found;
}

// Whether a socket can be bound to the address: an address of this host.
ferry::Expected<void, std::string> try_bind(const sockaddr* sa, socklen_t len) {
  const int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ferry::unexpected(std::string("socket: ") + strerror(errno));
  const int r = bind(fd, sa, len);
  const int e = errno;
  close(fd);
  if (r < 0)
    return ferry::unexpected(std::string("cannot bind to it (") + strerror(e) +
                           (e == EADDRNOTAVAIL ? "): it is not an address of this host" : ")"));
  return {};
}

std::string to_text(int family, const void* a) {
  char buf[INET6_ADDRSTRLEN] = "";
  inet_ntop(family, a, buf, sizeof buf);
  return buf;
}

std::string prefix(std::string_view what, std::string_view value) {
  return std::string(what) + "=" + std::string(value) + ": ";
}

}  // namespace

ferry::Expected<wire::Ip4, std::string> resolve_outbound4(std::string_view value, std::string_view what) {
  const std::string v(value);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  if (inet_pton(AF_INET, v.c_str(), &sa.sin_addr) != 1) {
    if (v.empty() || v.size() >= IFNAMSIZ || if_nametoindex(v.c_str()) == 0)
      return ferry::unexpected(prefix(what, value) + "has to be an IPv4 address or the name of an interface (there is no interface named '" + v + "')");
    sockaddr_storage ss{};
    if (!interface_addr(v, AF_INET, ss))
      return ferry::unexpected(prefix(what, value) + "interface " + v + " has no IPv4 address");
    std::memcpy(&sa, &ss, sizeof sa);
  }
  const wire::Ip4 a(ntohl(sa.sin_addr.s_addr));
  if (a.is_unspecified() || a.is_multicast() || a.is_broadcast())
    return ferry::unexpected(prefix(what, value) + "0.0.0.0, broadcast and multicast addresses cannot be a source address");
  if (a.is_loopback())
    return ferry::unexpected(prefix(what, value) + "a loopback address (" + to_text(AF_INET, &sa.sin_addr) +
                           ") cannot be the source of connections that leave the host");
  if (auto r = try_bind(reinterpret_cast<const sockaddr*>(&sa), sizeof sa); !r)
    return ferry::unexpected(prefix(what, value) + r.error());
  return a;
}

ferry::Expected<wire::Ip6, std::string> resolve_outbound6(std::string_view value, std::string_view what) {
  const std::string v(value);
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  if (inet_pton(AF_INET6, v.c_str(), &sa.sin6_addr) != 1) {
    if (v.empty() || v.size() >= IFNAMSIZ || if_nametoindex(v.c_str()) == 0)
      return ferry::unexpected(prefix(what, value) + "has to be an IPv6 address or the name of an interface (there is no interface named '" + v + "')");
    sockaddr_storage ss{};
    if (!interface_addr(v, AF_INET6, ss))
      return ferry::unexpected(prefix(what, value) + "interface " + v + " has no IPv6 address");
    std::memcpy(&sa, &ss, sizeof sa);
    if (IN6_IS_ADDR_LINKLOCAL(&sa.sin6_addr))
      return ferry::unexpected(prefix(what, value) + "interface " + v + " has only a link-local IPv6 address");
  }
  const wire::Ip6 a = wire::Ip6::load(sa.sin6_addr.s6_addr);
  if (a.is_unspecified() || a.is_multicast() || a.is_v4_mapped())
    return ferry::unexpected(prefix(what, value) + "::, multicast and IPv4-mapped addresses cannot be a source address");
  if (a.is_loopback())
    return ferry::unexpected(prefix(what, value) + "a loopback address (::1) cannot be the source of connections that leave the host");
  if (a.is_link_local())
    return ferry::unexpected(prefix(what, value) + "a link-local address cannot be the source of routed connections");
  if (auto r = try_bind(reinterpret_cast<const sockaddr*>(&sa), sizeof sa); !r)
    return ferry::unexpected(prefix(what, value) + r.error());
  return a;
}

}  // namespace ferry::io
