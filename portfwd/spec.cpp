// pasta port-spec parser; see spec.hpp for the grammar and its semantics.
//
// Grammar of one option value (after pasta's conf.c, checked more strictly:
// numbers are plain decimal digits, port 0 is refused, empty items are errors):
//
//   value    = "none" | "auto" | "all" | [bind "/"] items
//   bind     = ADDR | ADDR "%" IFNAME | "%" IFNAME      (-t/-u only)
//   ADDR     = IPv4 dotted quad | IPv6 text, bare or in [brackets]
//   items    = item *("," item)
//   item     = "~" range | range [":" range]
//   range    = PORT ["-" PORT]                           (1 <= PORT <= 65535)
#include "portfwd/spec.hpp"

#include <bitset>
#include <charconv>
#include <memory>
#include <net/if.h>

namespace ferry::portfwd {

const char* to_string(Proto p) { return p == Proto::udp ? "udp" : "tcp"; }

const char* to_string(Mode m) {
  switch (m) {
    case Mode::unset: return "unset";
    case Mode::none: return "none";
    case Mode::auto_: return "auto";
    case Mode::all: return "all";
    case Mode::spec: return "spec";
  }
  return "?";
}

namespace {

using boost::asio::ip::address;

std::string bad(std::string_view token, std::string_view why) {
  std::string s = "invalid port spec '";
  s.append(token);
  s += "': ";
  s.append(why);
  return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads PORT at s[pos...]; advances pos. Errors are relative to `token`.
Expected<std::uint16_t, std::string> read_port(std::string_view s, std::size_t& pos,
                                               std::string_view token) {
  std::size_t start = pos;
  std::uint32_t v = 0;
  bool overflow = false;
  while (pos < s.size() && is_digit(s[pos])) {
    v = v * 10 + static_cast<std::uint32_t>(s[pos] - '0');
    if (v > 65535) {
      overflow = true;
      v = 65536;  // keep it bounded while the remaining digits are skipped
    }
    ++pos;
  }
  if (pos == start) {
    if (pos >= s.size()) return unexpected(bad(token, "expected a port number"));
    std::string why = "expected a port number, found '";
    why += s[pos];
    why += '\'';
    return unexpected(bad(token, why));
  }
  if (overflow) return unexpected(bad(token, "port out of range"));
  if (v == 0) return unexpected(bad(token, "port 0 cannot be forwarded"));
  return static_cast<std::uint16_t>(v);
}

// range = PORT ["-" PORT]
Expected<PortRange, std::string> read_range(std::string_view s, std::size_t& pos,
                                            std::string_view token) {
  auto first = read_port(s, pos, token);
  if (!first) return unexpected(first.error());
  PortRange r{*first, *first};
  if (pos < s.size() && s[pos] == '-') {
    ++pos;
    auto last = read_port(s, pos, token);
    if (!last) return unexpected(last.error());
    if (*last < *first) return unexpected(bad(token, "range ends before it starts"));
    r.last = *last;
  }
  return r;
}

std::vector<std::string_view> split_commas(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t comma = s.find(',', start);
    if (comma == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
}

Expected<address, std::string> parse_bind_addr(std::string_view text, std::string_view token) {
  std::string a(text);
  if (a.size() >= 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
  boost::system::error_code ec;
  if (a.find(':') != std::string::npos) {
    auto v6 = boost::asio::ip::make_address_v6(a, ec);
    // A scope id ("fe80::1%eth0") is written with '%', which is already the
    // interface separator here, so it can only be the bare address.
    if (!ec && v6.scope_id() == 0) return address(v6);
  } else {
    auto v4 = boost::asio::ip::make_address_v4(a, ec);
    if (!ec) return address(v4);
  }
  std::string why = "bad bind address '";
  why.append(text);
  why += '\'';
  return unexpected(bad(token, why));
}

bool is_wildcard(const std::optional<address>& a) { return !a || a->is_unspecified(); }

bool intersects(const PortRange& a, const PortRange& b) {
  return a.first <= b.last && b.first <= a.last;
}

// Whether listening on `ports` at `addr` would collide with a claim.
const PortClaim* find_conflict(const std::vector<PortClaim>& claims, const std::optional<address>& addr,
                           const PortRange& ports) {
  for (const auto& c : claims) {
    if (!intersects(c.ports, ports)) continue;
    if (is_wildcard(c.addr) || is_wildcard(addr) || *c.addr == *addr) return &c;
  }
  return nullptr;
}

Proto proto_of(char letter) { return (letter == 'u' || letter == 'U') ? Proto::udp : Proto::tcp; }
Direction direction_of(char letter) {
  return (letter == 'T' || letter == 'U') ? Direction::outbound : Direction::inbound;
}

// Parses one value; `claims` holds the option's earlier listening ports and
// receives the new ones (only on success: the caller passes a copy).
Expected<OptionSpec, std::string> parse_value(char letter, std::string_view value,
                                              std::vector<PortClaim>& claims) {
  if (letter != 't' && letter != 'u' && letter != 'T' && letter != 'U') {
    std::string why = "unknown option -";
    why += letter;
    return unexpected(bad(value, why));
  }
  OptionSpec out;
  if (value == "none") {
    out.mode = Mode::none;
    return out;
  }
  if (value == "auto") {
    out.mode = Mode::auto_;
    return out;
  }
  if (value.empty()) return unexpected(bad(value, "empty"));

  const Proto proto = proto_of(letter);
  const Direction dir = direction_of(letter);
  std::optional<address> addr;
  std::string ifname;
  std::string_view items_text = value;

  if (value == "all") {
    out.mode = Mode::all;
    items_text = {};
  } else {
    out.mode = Mode::spec;
    std::size_t slash = value.find('/');
    if (slash != std::string_view::npos) {
      if (dir == Direction::outbound)
        return unexpected(bad(value, "a bind address is only allowed with -t and -u"));
      std::string_view bind = value.substr(0, slash);
      items_text = value.substr(slash + 1);
      std::size_t pct = bind.find('%');
      std::string_view addr_text = bind.substr(0, pct);
      if (pct != std::string_view::npos) {
        ifname = std::string(bind.substr(pct + 1));
        if (ifname.empty()) return unexpected(bad(value, "empty interface name after '%'"));
        if (ifname.size() >= IF_NAMESIZE)
          return unexpected(bad(value, "interface name '" + ifname + "' too long"));
        for (char c : ifname)
          if (c == ' ' || c == '\t' || c == '\n' || c == ':' || c == '%')
            return unexpected(bad(value, "bad interface name '" + ifname + "'"));
      }
      if (!addr_text.empty() || pct == std::string_view::npos) {
        auto a = parse_bind_addr(addr_text, value);
        if (!a) return unexpected(a.error());
        addr = *a;
      }
    }
    if (items_text.empty()) return unexpected(bad(value, "no ports given"));
  }

  // Exclusions first: they may follow the ranges they cut.
  auto excluded = std::make_unique<std::bitset<65536>>();
  bool exclude_only = true;
  std::vector<std::string_view> items;
  if (!items_text.empty()) items = split_commas(items_text);
  for (auto item : items) {
    if (item.empty()) return unexpected(bad(value, "empty item in comma list"));
    if (item[0] != '~') {
      exclude_only = false;
      continue;
    }
    std::size_t pos = 1;
    auto r = read_range(item, pos, item);
    if (!r) return unexpected(r.error());
    if (pos != item.size()) return unexpected(bad(item, "unexpected text after the excluded range"));
    for (std::uint32_t p = r->first; p <= r->last; ++p) {
      if (excluded->test(p)) return unexpected(bad(item, "overlapping exclusion"));
      excluded->set(p);
    }
  }

  struct Item {
    std::string_view token;
    PortRange listen, target;
  };
  std::vector<Item> ranges;
  if (out.mode == Mode::all || exclude_only) {
    ranges.push_back({value, {1, kEphemeralMin - 1}, {1, kEphemeralMin - 1}});
  } else {
    for (auto item : items) {
      if (item[0] == '~') continue;
      std::size_t pos = 0;
      auto listen = read_range(item, pos, item);
      if (!listen) return unexpected(listen.error());
      PortRange target = *listen;
      if (pos < item.size() && item[pos] == ':') {
        ++pos;
        auto t = read_range(item, pos, item);
        if (!t) return unexpected(t.error());
        if (t->size() != listen->size())
          return unexpected(bad(item, "ranges differ in length (" + std::to_string(listen->size()) +
                                          " and " + std::to_string(t->size()) + " ports)"));
        target = *t;
      }
      if (pos != item.size()) {
        std::string why = "unexpected '";
        why += item[pos];
        why += '\'';
        return unexpected(bad(item, why));
      }
      ranges.push_back({item, *listen, target});
    }
  }

  // Cut each range by the exclusions into contiguous pieces.
  for (const auto& r : ranges) {
    std::uint32_t p = r.listen.first;
    while (p <= r.listen.last) {
      if (excluded->test(p)) {
        ++p;
        continue;
      }
      std::uint32_t q = p;
      while (q + 1 <= r.listen.last && !excluded->test(q + 1)) ++q;
      PortRange listen{static_cast<std::uint16_t>(p), static_cast<std::uint16_t>(q)};
      const std::uint32_t off = p - r.listen.first;
      PortRange target{static_cast<std::uint16_t>(r.target.first + off),
                       static_cast<std::uint16_t>(r.target.first + off + (q - p))};
      if (const PortClaim* c = find_conflict(claims, addr, listen)) {
        std::uint32_t port = std::max<std::uint32_t>(c->ports.first, listen.first);
        return unexpected(bad(r.token, "port " + std::to_string(port) + " is already forwarded"));
      }
      claims.push_back({addr, listen});
      SpecForward f;
      f.proto = proto;
      f.direction = dir;
      f.bind_addr = addr;
      f.ifname = ifname;
      if (dir == Direction::inbound) {
        f.host = listen;
        f.container = target;
      } else {
        f.container = listen;
        f.host = target;
      }
      out.forwards.push_back(std::move(f));
      p = q + 1;
    }
  }
  return out;
}

}  // namespace

Expected<OptionSpec, std::string> parse_port_spec(char letter, std::string_view value) {
  std::vector<PortClaim> claims;
  return parse_value(letter, value, claims);
}

PortSpecs::PerOption* PortSpecs::slot(char letter) {
  switch (letter) {
    case 't': return &t_;
    case 'u': return &u_;
    case 'T': return &T_;
    case 'U': return &U_;
    default: return nullptr;
  }
}

const PortSpecs::PerOption* PortSpecs::slot(char letter) const {
  return const_cast<PortSpecs*>(this)->slot(letter);
}

Mode PortSpecs::mode(char letter) const {
  const PerOption* opt = slot(letter);
  return opt ? opt->mode : Mode::unset;
}

Expected<void, std::string> PortSpecs::add(char letter, std::string_view value) {
  PerOption* opt = slot(letter);
  if (!opt) {
    std::string why = "unknown option -";
    why += letter;
    return unexpected(bad(value, why));
  }
  std::vector<PortClaim> claims = opt->claims;  // committed only on success
  auto parsed = parse_value(letter, value, claims);
  if (!parsed) return unexpected(parsed.error());
  // pasta: none/auto/all exclude any other value of the same option.
  if (opt->mode != Mode::unset && (opt->mode != Mode::spec || parsed->mode != Mode::spec)) {
    std::string why = "-";
    why += letter;
    why += ' ';
    why += to_string(parsed->mode == Mode::spec ? opt->mode : parsed->mode);
    why += " cannot be combined with other -";
    why += letter;
    why += " values";
    return unexpected(bad(value, why));
  }
  opt->mode = parsed->mode;
  opt->claims = std::move(claims);
  for (auto& f : parsed->forwards) forwards_.push_back(std::move(f));
  return {};
}

}  // namespace ferry::portfwd
