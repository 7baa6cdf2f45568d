// --outbound-addr / --outbound-addr6 (slirp4netns): the source address of
// the host sockets that carry container flows. The value is an address, or
// the name of a host interface, which stands for its first address of that
// family (getifaddrs(3), read once at start-up, as slirp4netns does).
#pragma once

#include "netstack/wire/bytes.hpp"

#include "common/expected.hpp"
#include <string>
#include <string_view>

namespace ferry::io {

// `what` names the option in error messages ("--outbound-addr").
ferry::Expected<wire::Ip4, std::string> resolve_outbound4(std::string_view value, std::string_view what);
ferry::Expected<wire::Ip6, std::string> resolve_outbound6(std::string_view value, std::string_view what);

}  // namespace ferry::io
