// The answer logic of ferry-dns, pure: (source address, question) ->
// local answer, NXDOMAIN, or "forward to these servers". No sockets, no
// clock, so every rule below is a unit test.
//
// Rules (current aardvark-dns behaviour, design contracts section 4):
//  - The asker is identified by its source address: its networks are those
//    whose config lists that address for some container.
//  - A/AAAA for a name or alias of a container on one of those networks is
//    answered locally, TTL 0, AA set. Lookups are case-insensitive (RFC 4343)
//    and the search domain ("dns.podman" by default, -f) is stripped first.
//    A known name asked for another type gets NOERROR with no records
//    (NODATA, RFC 2308 2.2).
//  - PTR for an address of a container on those networks lists every name
//    and alias of that address.
//  - A name under the search domain that is not known is NXDOMAIN; so is any
//    unknown name asked by a container that is only on internal networks
//    (internal networks get no upstream answers).
//  - Everything else is forwarded: to the asking container's own servers,
//    else its networks' servers, else the host's resolv.conf servers.
#pragma once

#include "config.hpp"
#include "dns_wire.hpp"

#include <map>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace ferry::dns {

inline constexpr const char* kDefaultSearchDomain = "dns.podman";

struct Decision {
  enum class Kind { answer, forward };
  Kind kind = Kind::answer;
  Rcode rcode = Rcode::noerror;        // answer
  bool authoritative = false;          // answer
  std::vector<LocalRecord> records;    // answer
  std::vector<IpAddress> upstreams;    // forward, in the order to try
};

class Resolver {
 public:
  // `search_domain` like "dns.podman" or ".dns.podman"; empty disables
  // stripping and the NXDOMAIN rule for it.
  Resolver(std::vector<NetworkConfig> networks, std::string search_domain);

  Decision resolve(const IpAddress& source, const Question& q, std::span<const IpAddress> host_servers) const;

  // Every distinct listen address of every network.
  std::vector<IpAddress> listen_ips() const;
  const std::vector<NetworkConfig>& networks() const { return networks_; }
  bool empty() const { return networks_.empty(); }

  // "4.3.2.1.in-addr.arpa" / nibble ip6.arpa (lower-cased key) -> address.
  static std::optional<IpAddress> parse_reverse_name(const std::string& key);

 private:
  struct NetIndex {
    std::unordered_map<std::string, std::vector<IpAddress>> names;
    std::map<IpAddress, std::vector<std::string>> reverse;
  };
  std::vector<NetworkConfig> networks_;
  std::vector<NetIndex> index_;                                // parallel to networks_
  std::map<IpAddress, std::vector<size_t>> member_of_;         // container IP -> networks
  std::map<IpAddress, std::vector<IpAddress>> ctr_servers_;    // container IP -> its servers
  std::string domain_;                                         // lower-case, no dots at ends
};

// One incoming message, start to finish, still without sockets:
// untrusted bytes -> drop, a reply, or a query to forward.
struct Outcome {
  enum class Kind { drop, reply, forward };
  Kind kind = Kind::drop;
  Bytes reply;                      // reply
  Message query;                    // forward (parsed, for matching replies)
  std::vector<IpAddress> upstreams;  // forward
};

// RFC 1035 4.1.1: responses (QR set) and messages shorter than a header are
// dropped; an unparsable body is FORMERR; an opcode other than QUERY is
// NOTIMP; anything but exactly one question is FORMERR. `tcp` lifts the
// 512/EDNS size limit (RFC 1035 4.2.2).
Outcome handle_query(const Resolver& r, std::span<const uint8_t> msg, const IpAddress& source, bool tcp,
                     std::span<const IpAddress> host_servers);

// The client's reply once forwarding ended: the upstream answer unchanged,
// or header + question with TC when it exceeds the client's UDP limit, or
// SERVFAIL when no upstream answered (`reply` empty).
Bytes finish_forward(const Message& query, const std::optional<Bytes>& reply, bool tcp);

}  // namespace ferry::dns
