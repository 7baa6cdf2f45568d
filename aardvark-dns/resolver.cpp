// Pure answer logic of ferry-dns: see resolver.hpp for the rules.
#include "resolver.hpp"

#include <algorithm>
#include <cctype>

namespace ferry::dns {

namespace {

IpAddress normalise(const IpAddress& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  return a;
}

template <class T>
void push_unique(std::vector<T>& v, const T& x) {
  if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
}

}  // namespace

Resolver::Resolver(std::vector<NetworkConfig> networks, std::string search_domain)
    : networks_(std::move(networks)) {
  for (auto& c : search_domain) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!search_domain.empty() && search_domain.front() == '.') search_domain.erase(0, 1);
  while (!search_domain.empty() && search_domain.back() == '.') search_domain.pop_back();
  domain_ = std::move(search_domain);

  index_.resize(networks_.size());
  for (size_t n = 0; n < networks_.size(); ++n) {
    auto& idx = index_[n];
    for (const auto& c : networks_[n].containers) {
      std::vector<IpAddress> addrs = c.ipv4;
      addrs.insert(addrs.end(), c.ipv6.begin(), c.ipv6.end());
      for (const auto& name : c.names) {
        auto& v = idx.names[name];
        for (const auto& a : addrs) push_unique(v, a);
      }
      for (const auto& a : addrs) {
        auto& r = idx.reverse[a];
        for (const auto& name : c.names) push_unique(r, name);
        push_unique(member_of_[a], n);
        auto& s = ctr_servers_[a];
        for (const auto& d : c.dns_servers) push_unique(s, d);
      }
    }
  }
}

std::vector<IpAddress> Resolver::listen_ips() const {
  std::vector<IpAddress> out;
  for (const auto& n : networks_)
    for (const auto& a : n.listen_ips) push_unique(out, a);
  return out;
}

std::optional<IpAddress> Resolver::parse_reverse_name(const std::string& key) {
  constexpr std::string_view v4s = ".in-addr.arpa", v6s = ".ip6.arpa";
  std::string_view k = key;
  if (k.ends_with(v4s)) {
    k.remove_suffix(v4s.size());
    boost::asio::ip::address_v4::bytes_type b{};
    for (int i = 3; i >= 0; --i) {
      size_t dot = k.find('.');
      std::string_view part = k.substr(0, dot);
      if (part.empty() || part.size() > 3) return std::nullopt;
      unsigned v = 0;
      for (char c : part) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<unsigned>(c - '0');
      }
      if (v > 255) return std::nullopt;
      b[static_cast<size_t>(i)] = static_cast<uint8_t>(v);
      if (i == 0) {
        if (dot != std::string_view::npos) return std::nullopt;
      } else {
        if (dot == std::string_view::npos) return std::nullopt;
        k.remove_prefix(dot + 1);
      }
    }
    return IpAddress(boost::asio::ip::address_v4(b));
  }
  if (k.ends_with(v6s)) {
    k.remove_suffix(v6s.size());
    // 32 nibbles, least significant first: "x.x.x...x" = 63 characters.
    if (k.size() != 63) return std::nullopt;
    boost::asio::ip::address_v6::bytes_type b{};
    for (size_t i = 0; i < 32; ++i) {
      char c = k[i * 2];
      if (i < 31 && k[i * 2 + 1] != '.') return std::nullopt;
      unsigned v;
      if (c >= '0' && c <= '9') v = static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v = static_cast<unsigned>(c - 'a' + 10);
      else return std::nullopt;
      size_t nib = 31 - i;  // position from the most significant nibble
      b[nib / 2] = static_cast<uint8_t>(b[nib / 2] | (nib % 2 ? v : v << 4));
    }
    return IpAddress(boost::asio::ip::address_v6(b));
  }
  return std::nullopt;
}

Decision Resolver::resolve(const IpAddress& source_raw, const Question& q,
                           std::span<const IpAddress> host_servers) const {
  IpAddress source = normalise(source_raw);
  static const std::vector<size_t> kNone;
  auto member = member_of_.find(source);
  const std::vector<size_t>& nets = member != member_of_.end() ? member->second : kNone;
  bool internal = !nets.empty() && std::all_of(nets.begin(), nets.end(),
                                                [&](size_t n) { return networks_[n].internal; });

  Decision d;
  auto key_opt = q.name.lookup_key();
  bool local_class = q.qclass == kClassIN || q.qclass == 255;

  if (key_opt && local_class) {
    std::string key = *key_opt;
    // PTR: every name of that address on the asker's networks.
    if (q.qtype == rrtype::PTR) {
      if (auto addr = parse_reverse_name(key)) {
        std::vector<std::string> names;
        for (size_t n : nets) {
          auto it = index_[n].reverse.find(normalise(*addr));
          if (it == index_[n].reverse.end()) continue;
          for (const auto& name : it->second) push_unique(names, name);
        }
        if (!names.empty()) {
          d.authoritative = true;
          for (const auto& name : names) {
            LocalRecord r;
            r.owner = q.name;
            r.type = rrtype::PTR;
            r.ttl = 0;
            r.target = Name::from_text(name).value_or(Name{});
            d.records.push_back(std::move(r));
          }
          return d;
        }
      }
    }

    bool in_domain = false;
    if (!domain_.empty()) {
      if (key == domain_) {
        in_domain = true;
        key.clear();
      } else if (key.size() > domain_.size() && key.ends_with(domain_) &&
                 key[key.size() - domain_.size() - 1] == '.') {
        in_domain = true;
        key.resize(key.size() - domain_.size() - 1);
      }
    }
    bool found = false;
    std::vector<IpAddress> addrs;
    for (size_t n : nets) {
      auto it = index_[n].names.find(key);
      if (it == index_[n].names.end()) continue;
      found = true;
      for (const auto& a : it->second) push_unique(addrs, a);
    }
    if (found) {
      d.authoritative = true;
      for (const auto& a : addrs) {
        bool want = (a.is_v4() && (q.qtype == rrtype::A || q.qtype == rrtype::ANY)) ||
                    (a.is_v6() && (q.qtype == rrtype::AAAA || q.qtype == rrtype::ANY));
        if (!want) continue;
        LocalRecord r;
        r.owner = q.name;
        r.ttl = 0;
        if (a.is_v4()) {
          r.type = rrtype::A;
          auto b = a.to_v4().to_bytes();
          r.address.assign(b.begin(), b.end());
        } else {
          r.type = rrtype::AAAA;
          auto b = a.to_v6().to_bytes();
          r.address.assign(b.begin(), b.end());
        }
        d.records.push_back(std::move(r));
      }
      return d;
    }
    if (in_domain) {
      d.rcode = Rcode::nxdomain;
      d.authoritative = true;
      return d;
    }
  }

  if (internal) {
    d.rcode = Rcode::nxdomain;
    return d;
  }

  // Forward: the container's servers, else its networks', else the host's.
  d.kind = Decision::Kind::forward;
  if (auto it = ctr_servers_.find(source); it != ctr_servers_.end() && !it->second.empty()) {
    d.upstreams = it->second;
    return d;
  }
  for (size_t n : nets)
    for (const auto& s : networks_[n].dns_servers) push_unique(d.upstreams, s);
  if (d.upstreams.empty()) d.upstreams.assign(host_servers.begin(), host_servers.end());
  return d;
}

Outcome handle_query(const Resolver& r, std::span<const uint8_t> msg, const IpAddress& source, bool tcp,
                     std::span<const IpAddress> host_servers) {
  Outcome out;
  auto h = parse_header(msg);
  if (!h || h.value().qr) return out;  // drop
  auto parsed = parse(msg);
  if (!parsed) {
    out.kind = Outcome::Kind::reply;
    out.reply = build_error_from_header(h.value(), Rcode::formerr);
    return out;
  }
  Message& q = parsed.value();
  size_t limit = tcp ? 65535 : udp_limit(q);
  out.kind = Outcome::Kind::reply;
  if (q.header.opcode != 0) {
    out.reply = build_response(q, Rcode::notimp, false, {}, limit);
    return out;
  }
  if (q.questions.size() != 1) {
    out.reply = build_error_from_header(q.header, Rcode::formerr);
    return out;
  }
  if (q.edns && q.edns->version > 0) {  // BADVERS, RFC 6891 6.1.3
    out.reply = build_response(q, Rcode::noerror, false, {}, limit);
    return out;
  }
  Decision d = r.resolve(source, q.questions[0], host_servers);
  if (d.kind == Decision::Kind::answer) {
    out.reply = build_response(q, d.rcode, d.authoritative, d.records, limit);
    return out;
  }
  if (d.upstreams.empty()) {
    out.reply = build_response(q, Rcode::servfail, false, {}, limit);
    return out;
  }
  out.kind = Outcome::Kind::forward;
  out.upstreams = std::move(d.upstreams);
  out.query = std::move(q);
  return out;
}

Bytes finish_forward(const Message& query, const std::optional<Bytes>& reply, bool tcp) {
  size_t limit = tcp ? 65535 : udp_limit(query);
  if (!reply) return build_response(query, Rcode::servfail, false, {}, limit);
  if (reply->size() > limit) return truncate_relayed(query, *reply);
  return *reply;
}

}  // namespace ferry::dns
