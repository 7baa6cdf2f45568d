// The slirp4netns API (`--api-socket`), pure: request text in, reply text
// out. No sockets here; api_server.hpp carries the text over a Unix socket.
//
// How it works: parse_request() checks one JSON request in the same order as
// slirp4netns 1.2's api.c and returns a Command or the literal error
// description slirp4netns would send ("bad request: ..."). ForwardRegistry
// executes commands: it keeps the forwards (ids from 1, never reused) and
// opens/closes their host side through a Binder, the interface the data plane
// implements. Replies are built with Boost.JSON in slirp4netns's field order
// and without spaces, e.g.
//   {"return":{"id":1}}
//   {"entries":[{"id":1,"proto":"tcp","host_addr":"0.0.0.0","host_port":8080,
//                "guest_addr":"10.0.2.100","guest_port":80}]}
//   {"return":{}}
//   {"error":{"desc":"bad request: unknown execute"}}
//
// Forwards of slirp4netns 1.2 may be IPv4, IPv6 or both ("proto" tcp/udp,
// tcp4/udp4, tcp6/udp6): with IPv6 enabled, a wildcard host_addr and a plain
// "tcp" open two listeners (0.0.0.0 and ::, the latter v6-only), and the list
// entry then carries host_addr6/guest_addr6 as well. Each listener is one
// Binder::open() call.
#pragma once

#include "common/expected.hpp"
#include "portfwd/spec.hpp"

#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ferry::portfwd {

// What the registry needs to know about the slirp4netns network.
struct ApiConfig {
  boost::asio::ip::address_v4 guest4 = boost::asio::ip::make_address_v4("10.0.2.100");
  // The guest's IPv6 address; set only with --enable-ipv6 (IPv6 forwards are
  // refused with "bad arguments.proto"/"bad arguments.host_addr" otherwise).
  std::optional<boost::asio::ip::address_v6> guest6;
};

// One API forward, as list_hostfwd shows it. At least one of the families is
// present; a family's host and guest address are present together.
struct HostFwd {
  Proto proto = Proto::tcp;
  std::optional<boost::asio::ip::address_v4> host4, guest4;
  std::optional<boost::asio::ip::address_v6> host6, guest6;
  std::uint16_t host_port = 0;
  std::uint16_t guest_port = 0;
  bool operator==(const HostFwd&) const = default;
};

// One host-side listener the data plane opens: listen on host_addr:host_port
// (proto), deliver what arrives to guest_addr:guest_port in the container.
struct Listener {
  Proto proto = Proto::tcp;
  boost::asio::ip::address host_addr;
  std::uint16_t host_port = 0;
  boost::asio::ip::address guest_addr;
  std::uint16_t guest_port = 0;
  bool v6only = false;  // IPV6_V6ONLY on an IPv6 listener
  bool operator==(const Listener&) const = default;
};

// The listeners a forward needs: the IPv4 one first, then the IPv6 one.
std::vector<Listener> listeners_of(const HostFwd& f);

// The data plane's side of port forwarding. The registry calls it from the
// control-plane thread, one call at a time (under the registry's mutex); an
// implementation that owns state on another thread must hand the call over
// itself (PostingBinder in api_server.hpp does that generically). open() binds and
// listens on the host; its error text is sent to the API client after
// "bad request: add_hostfwd: slirp_add_hostxfwd failed: ", so make it say the
// cause, e.g. "bind 0.0.0.0:80: Permission denied". close() stops accepting
// new connections/flows on the listener; connections already open finish
// normally. close() is called exactly once per handle open() returned.
class Binder {
 public:
  using Handle = std::uint64_t;
  virtual ~Binder() = default;
  virtual Expected<Handle, std::string> open(const Listener& l) = 0;
  virtual void close(Handle h) = 0;
};

struct AddHostfwd {
  HostFwd fwd;
};
struct ListHostfwd {};
struct RemoveHostfwd {
  std::int64_t id = 0;
};
using Command = std::variant<AddHostfwd, ListHostfwd, RemoveHostfwd>;

// Checks one request (the bytes before EOF or the first newline). On error
// returns the description slirp4netns sends, e.g.
// "bad request: add_hostfwd: bad arguments.proto".
Expected<Command, std::string> parse_request(std::string_view text, const ApiConfig& cfg);

// Reply builders (compact JSON, slirp4netns field order).
std::string error_reply(std::string_view desc);
std::string add_reply(std::int64_t id);
std::string remove_reply();
std::string list_reply(const std::vector<std::pair<std::int64_t, HostFwd>>& entries);

// The literal descriptions (slirp4netns 1.2 api.c), for callers and tests.
namespace desc {
inline constexpr std::string_view cannot_parse = "bad request: cannot parse JSON";
inline constexpr std::string_view not_object = "bad request: json_object() failed";
inline constexpr std::string_view no_execute = "bad request: no execute found";
inline constexpr std::string_view unknown_execute = "bad request: unknown execute";
inline constexpr std::string_view too_large = "bad request: too large message";
inline constexpr std::string_view bad_proto = "bad request: add_hostfwd: bad arguments.proto";
inline constexpr std::string_view bad_host_addr = "bad request: add_hostfwd: bad arguments.host_addr";
inline constexpr std::string_view bad_host_port = "bad request: add_hostfwd: bad arguments.host_port";
inline constexpr std::string_view bad_guest_addr = "bad request: add_hostfwd: bad arguments.guest_addr";
inline constexpr std::string_view bad_guest_port = "bad request: add_hostfwd: bad arguments.guest_port";
inline constexpr std::string_view add_failed = "bad request: add_hostfwd: slirp_add_hostxfwd failed";
inline constexpr std::string_view bad_id = "bad request: remove_hostfwd: bad arguments.id";
}  // namespace desc

// The forwards made through the API. Thread-safe: every public member takes
// the registry's mutex, so Binder calls never overlap.
class ForwardRegistry {
 public:
  ForwardRegistry(ApiConfig cfg, Binder& binder) : cfg_(std::move(cfg)), binder_(binder) {}
  ~ForwardRegistry();  // closes every remaining listener
  ForwardRegistry(const ForwardRegistry&) = delete;
  ForwardRegistry& operator=(const ForwardRegistry&) = delete;

  // One whole request -> one reply; never throws.
  std::string handle(std::string_view request);

  // The same operations without JSON, for the command line and tests.
  Expected<std::int64_t, std::string> add(const HostFwd& f);  // error: a description
  bool remove(std::int64_t id);
  std::vector<std::pair<std::int64_t, HostFwd>> list() const;

 private:
  struct Entry {
    HostFwd fwd;
    std::vector<Binder::Handle> handles;
  };
  Expected<std::int64_t, std::string> add_locked(const HostFwd& f);
  bool remove_locked(std::int64_t id);

  ApiConfig cfg_;
  Binder& binder_;
  mutable std::mutex mu_;
  std::int64_t next_id_ = 1;
  std::map<std::int64_t, Entry> entries_;  // ordered by id = order of addition
};

}  // namespace ferry::portfwd
