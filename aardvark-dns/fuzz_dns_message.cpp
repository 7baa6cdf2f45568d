// Fuzz target for the DNS message parser: feeds arbitrary bytes through the
// checked parse and the whole query path (handle_query against a small fixed
// config, as UDP and as TCP), and checks invariants: a successful parse
// re-parses after a response is built, and every reply is a well-formed
// message no longer than the client's limit.
#include "dns_wire.hpp"
#include "resolver.hpp"

#include <cstdlib>

using namespace ferry::dns;

namespace {
const Resolver& resolver() {
  static const Resolver r = [] {
    auto f = parse_network_file("podman", "10.89.0.1,fd00::1 192.0.2.53\n"
                                "c1 10.89.0.2 fd00::2 one,alias1\n"
                                "c2 10.89.0.3  two\n",
                                "fuzz");
    std::vector<NetworkConfig> nets;
    if (f.network) nets.push_back(*f.network);
    return Resolver(std::move(nets), kDefaultSearchDomain);
  }();
  return r;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> msg(data, size);
  auto parsed = parse(msg);
  (void)parse_header(msg);
  const IpAddress src = boost::asio::ip::make_address_v4("10.89.0.2");
  const IpAddress host[] = {boost::asio::ip::make_address_v4("127.0.0.1")};
  for (bool tcp : {false, true}) {
    Outcome o = handle_query(resolver(), msg, src, tcp, host);
    if (o.kind == Outcome::Kind::reply) {
      auto back = parse(o.reply);
      if (!back) std::abort();  // we emitted something we cannot read
      if (!back.value().header.qr) std::abort();
      if (!tcp && parsed && o.reply.size() > udp_limit(parsed.value())) std::abort();
    } else if (o.kind == Outcome::Kind::forward) {
      (void)finish_forward(o.query, msg.size() > 12 ? std::optional<Bytes>(Bytes(msg.begin(), msg.end()))
                                                    : std::nullopt,
                           tcp);
    }
  }
  return 0;
}
