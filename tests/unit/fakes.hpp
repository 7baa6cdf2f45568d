// Fakes of the translator's system interfaces (netstack/core/host.hpp) and
// frame builders/parsers, so that the netstack core can be driven by packet
// scripts without a kernel: "the container sends this segment, expect these
// frames and these socket operations".
#pragma once

#include "netstack/core/host.hpp"
#include "netstack/wire/arp.hpp"
#include "netstack/wire/checksum.hpp"
#include "netstack/wire/ethernet.hpp"
#include "netstack/wire/icmp.hpp"
#include "netstack/wire/ipv4.hpp"
#include "netstack/wire/ipv6.hpp"
#include "netstack/wire/tcp.hpp"
#include "netstack/wire/udp.hpp"
#include "netstack/wire/vnet.hpp"

#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ferry::test {

using Bytes = std::vector<uint8_t>;

struct FakeSocket {
  enum Kind { tcp, udp, icmp } kind = tcp;
  core::SockAddr4 dst;   // the IPv4 destination (IPv4-mapped dst6)
  core::SockAddr dst6;   // the destination of either family
  bool connecting = true;
  int connect_errno = 0;  // reported by connect_result
  std::string sent;       // what ferry wrote (container -> host)
  size_t space = 1 << 20; // what send() takes before -EAGAIN
  std::string rx;         // bytes from the host peer not yet discarded
  size_t peek_off = 0;
  bool eof = false;
  int rx_errno = 0;
  bool shut_wr = false, closed = false, reset = false;
  size_t unread_at_close = 0;  // rx left at close(): a real socket would send a reset, not a FIN
  uint64_t token = 0;
  bool watch_in = false, watch_out = false;
  std::deque<std::string> dgrams_in;
  std::vector<std::string> dgrams_out;
  std::vector<size_t> send_batches;  // datagrams per dgram_send_many call
  int send_errno = 0;                // the next dgram_send_many fails with it (once)
  bool refuse_gso = false;           // dgram_send_many clears gso, as a path without offload
  bool gso_seen = false;             // gso was still allowed on the last call
  size_t discarded = 0;
  int rewinds = 0;
  int recv_calls = 0;
  int space_calls = 0;  // send_space(): the window measured
  int peek_calls = 0;
  int adopted = 0;
};

class FakeHost : public core::Host {
 public:
  std::map<int, FakeSocket> socks;
  int next_fd = 100;
  int connect_fail = 0;   // tcp_connect returns -connect_fail at once
  int icmp_fail = 0;
  bool have_dns = true;
  wire::Ip4 dns{127, 0, 0, 53};
  size_t closed_count = 0;

  FakeSocket& sock(int fd) { return socks.at(fd); }
  // The most recently opened socket.
  int last_fd() const { return socks.empty() ? -1 : socks.rbegin()->first; }
  size_t open_count() const {
    size_t n = 0;
    for (auto& [fd, s] : socks) n += !s.closed;
    return n;
  }

  int tcp_connect(core::SockAddr dst) override {
    if (connect_fail) return -connect_fail;
    int fd = next_fd++;
    FakeSocket s;
    s.dst = {dst.addr.v4(), dst.port};
    s.dst6 = dst;
    socks[fd] = s;
    return fd;
  }
  int adopt_tcp(int fd) override {
    ++sock(fd).adopted;
    return 0;
  }
  int connect_result(int fd) override {
    auto& s = sock(fd);
    s.connecting = false;
    return -s.connect_errno;
  }
  ssize_t send(int fd, const uint8_t* p, size_t n) override {
    auto& s = sock(fd);
    if (s.rx_errno) return -s.rx_errno;
    size_t k = std::min(n, s.space);
    if (k == 0 && n) return -EAGAIN;
    s.sent.append(reinterpret_cast<const char*>(p), k);
    s.space -= k;
    return ssize_t(k);
  }
  ssize_t peek(int fd, uint8_t* p, size_t n) override {
    auto& s = sock(fd);
    ++s.peek_calls;
    // As tcp_recvmsg: data still queued comes before a pending error.
    if (s.peek_off < s.rx.size()) {
      size_t k = std::min(n, s.rx.size() - s.peek_off);
      std::memcpy(p, s.rx.data() + s.peek_off, k);
      s.peek_off += k;
      return ssize_t(k);
    }
    if (s.rx_errno) return -s.rx_errno;
    return s.eof ? 0 : -EAGAIN;
  }
  void rewind_peek(int fd) override {
    sock(fd).peek_off = 0;
    ++sock(fd).rewinds;
  }
  void discard(int fd, size_t n) override {
    auto& s = sock(fd);
    s.rx.erase(0, n);
    s.peek_off -= std::min(n, s.peek_off);
    s.discarded += n;
  }
  size_t send_space(int fd) override {
    ++sock(fd).space_calls;
    return sock(fd).space;
  }
  void shutdown_write(int fd) override { sock(fd).shut_wr = true; }
  void close(int fd, bool reset) override {
    auto& s = sock(fd);
    s.closed = true;
    s.reset = reset;
    s.unread_at_close = s.rx.size();
    ++closed_count;
  }
  int udp_open(core::SockAddr dst) override {
    int fd = next_fd++;
    FakeSocket s;
    s.kind = FakeSocket::udp;
    s.dst = {dst.addr.v4(), dst.port};
    s.dst6 = dst;
    s.connecting = false;
    socks[fd] = s;
    return fd;
  }
  int icmp_open(const wire::Ip6& dst) override {
    if (icmp_fail) return -icmp_fail;
    int fd = next_fd++;
    FakeSocket s;
    s.kind = FakeSocket::icmp;
    s.dst = {dst.v4(), 0};
    s.dst6 = {dst, 0};
    s.connecting = false;
    socks[fd] = s;
    return fd;
  }
  ssize_t dgram_send(int fd, const uint8_t* p, size_t n) override {
    sock(fd).dgrams_out.emplace_back(reinterpret_cast<const char*>(p), n);
    return ssize_t(n);
  }
  int dgram_send_many(int fd, std::span<const MsgBuf> msgs, bool& gso) override {
    auto& s = sock(fd);
    if (s.send_errno) return -std::exchange(s.send_errno, 0);
    if (s.refuse_gso) gso = false;
    s.gso_seen = gso;
    s.send_batches.push_back(msgs.size());
    for (auto& m : msgs) s.dgrams_out.emplace_back(reinterpret_cast<const char*>(m.data), m.len);
    return int(msgs.size());
  }
  int dgram_recv_many(int fd, std::span<MsgBuf> bufs) override {
    auto& s = sock(fd);
    ++s.recv_calls;
    int n = 0;
    for (auto& b : bufs) {
      if (s.dgrams_in.empty()) break;
      auto d = s.dgrams_in.front();
      s.dgrams_in.pop_front();
      b.len = std::min(b.cap, d.size());
      std::memcpy(b.data, d.data(), b.len);
      ++n;
    }
    return n ? n : -EAGAIN;
  }
  bool dns_upstream(wire::Ip4& out) override {
    out = dns;
    return have_dns;
  }
  void watch(int fd, uint64_t token, bool in, bool out) override {
    auto& s = sock(fd);
    s.token = token;
    s.watch_in |= in;
    s.watch_out |= out;
  }
};

class FakeTap : public core::TapOut {
 public:
  std::vector<Bytes> frames;
  void send_frame(std::span<const uint8_t> f) override { frames.emplace_back(f.begin(), f.end()); }
  Bytes pop() {
    Bytes f = frames.front();
    frames.erase(frames.begin());
    return f;
  }
};

class SeqRandom : public core::Random {
 public:
  uint32_t v = 1000000;
  uint32_t next() override { return v; }
};

// A parsed frame towards the container.
struct Seen {
  wire::VnetHdr vnet;
  wire::Eth eth;
  std::optional<wire::Arp> arp;
  wire::Ip4Hdr ip;
  std::optional<wire::TcpHdr> tcp;
  std::optional<wire::UdpHdr> udp;
  std::optional<wire::IcmpHdr> icmp;
  std::string payload;
  bool l4_checksum_ok = false;
};

// The virtio-net header (if any) and Ethernet header of a frame towards the
// container; returns what follows them.
inline std::span<const uint8_t> parse_link(const Bytes& frame, bool vnet, wire::VnetHdr& vh, wire::Eth& eth) {
  std::span<const uint8_t> f(frame);
  if (vnet) {
    vh = wire::VnetHdr::load(f.data());
    f = f.subspan(wire::VnetHdr::kLen);
  }
  eth = *wire::Eth::parse(f);
  return f.subspan(wire::Eth::kLen);
}

inline Seen parse_out(const Bytes& frame, bool vnet) {
  Seen s;
  std::span<const uint8_t> f = parse_link(frame, vnet, s.vnet, s.eth);
  if (s.eth.type == wire::Eth::kArp) {
    s.arp = wire::Arp::parse(f);
    return s;
  }
  s.ip = *wire::Ip4Hdr::parse(f);
  auto l4 = f.subspan(s.ip.header_len, s.ip.total_len - s.ip.header_len);
  uint64_t ps = wire::pseudo_header_sum(s.ip.src, s.ip.dst, s.ip.proto, uint32_t(l4.size()));
  if (s.ip.proto == wire::Ip4Hdr::kTcp) {
    s.tcp = *wire::TcpHdr::parse(l4);
    s.payload.assign(reinterpret_cast<const char*>(l4.data()) + s.tcp->header_len, l4.size() - s.tcp->header_len);
    if (s.vnet.flags & wire::VnetHdr::kNeedsCsum)
      s.l4_checksum_ok = s.tcp->checksum == uint16_t(~wire::csum_fold(ps));
    else
      s.l4_checksum_ok = wire::csum_fold(wire::csum_partial(l4.data(), l4.size(), ps)) == 0;
  } else if (s.ip.proto == wire::Ip4Hdr::kUdp) {
    s.udp = *wire::UdpHdr::parse(l4);
    s.payload.assign(reinterpret_cast<const char*>(l4.data()) + 8, l4.size() - 8);
    s.l4_checksum_ok = (s.vnet.flags & wire::VnetHdr::kNeedsCsum) ||
                       wire::csum_fold(wire::csum_partial(l4.data(), l4.size(), ps)) == 0;
  } else if (s.ip.proto == wire::Ip4Hdr::kIcmp) {
    s.icmp = *wire::IcmpHdr::parse(l4);
    s.payload.assign(reinterpret_cast<const char*>(l4.data()) + 8, l4.size() - 8);
    s.l4_checksum_ok = wire::checksum(l4.data(), l4.size()) == 0;
  }
  return s;
}

// A parsed IPv6 frame towards the container.
struct Seen6 {
  wire::VnetHdr vnet;
  wire::Eth eth;
  wire::Ip6Hdr ip;
  std::optional<wire::TcpHdr> tcp;
  std::optional<wire::UdpHdr> udp;
  std::string payload;
  bool l4_checksum_ok = false;
};

inline Seen6 parse_out6(const Bytes& frame, bool vnet) {
  Seen6 s;
  std::span<const uint8_t> f = parse_link(frame, vnet, s.vnet, s.eth);
  if (s.eth.type != wire::Eth::kIpv6) return s;
  s.ip = *wire::Ip6Hdr::parse(f);
  auto l4 = f.subspan(wire::Ip6Hdr::kLen, s.ip.payload_len);
  const uint64_t ps = wire::pseudo_header_sum6(s.ip.src, s.ip.dst, s.ip.next, uint32_t(l4.size()));
  const bool offloaded = s.vnet.flags & wire::VnetHdr::kNeedsCsum;
  if (s.ip.next == wire::Ip6Hdr::kTcp) {
    s.tcp = *wire::TcpHdr::parse(l4);
    s.payload.assign(reinterpret_cast<const char*>(l4.data()) + s.tcp->header_len, l4.size() - s.tcp->header_len);
    s.l4_checksum_ok = offloaded ? s.tcp->checksum == uint16_t(~wire::csum_fold(ps))
                                 : wire::csum_fold(wire::csum_partial(l4.data(), l4.size(), ps)) == 0;
  } else if (s.ip.next == wire::Ip6Hdr::kUdp) {
    s.udp = *wire::UdpHdr::parse(l4);
    s.payload.assign(reinterpret_cast<const char*>(l4.data()) + 8, l4.size() - 8);
    s.l4_checksum_ok = offloaded || wire::csum_fold(wire::csum_partial(l4.data(), l4.size(), ps)) == 0;
  }
  return s;
}

// Builds frames as the container would send them (full checksums, no
// offload flags, so the translator verifies them).
struct FrameBuilder {
  bool vnet = false;
  wire::Mac guest_mac{{0x02, 0, 0, 0, 0, 0x64}};
  wire::Mac gw_mac{{0x52, 0x55, 10, 0, 2, 2}};

  Bytes wrap(uint16_t ethertype, const Bytes& body) const {
    Bytes f(vnet ? wire::VnetHdr::kLen : 0);
    size_t off = f.size();
    f.resize(off + wire::Eth::kLen);
    wire::Eth{gw_mac, guest_mac, ethertype}.emit(f.data() + off);
    f.insert(f.end(), body.begin(), body.end());
    return f;
  }
  Bytes ipv4(wire::Ip4 src, wire::Ip4 dst, uint8_t proto, const Bytes& l4, uint16_t frag = 0, uint16_t id = 1) const {
    Bytes b(20);
    wire::Ip4Hdr h;
    h.total_len = uint16_t(20 + l4.size());
    h.proto = proto;
    h.src = src;
    h.dst = dst;
    h.frag = frag;
    h.id = id;
    h.emit(b.data());
    b.insert(b.end(), l4.begin(), l4.end());
    return wrap(wire::Eth::kIpv4, b);
  }
  Bytes tcp_l4(wire::Ip4 src, wire::Ip4 dst, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
               uint8_t flags, uint16_t window, const std::string& payload = {}, int mss = -1, int wscale = -1) const {
    wire::TcpHdr t;
    t.sport = sport;
    t.dport = dport;
    t.seq = seq;
    t.ack = ack;
    t.flags = flags;
    t.window = window;
    t.mss = mss;
    t.wscale = wscale;
    Bytes l4(60);
    size_t hl = t.emit(l4.data());
    l4.resize(hl);
    l4.insert(l4.end(), payload.begin(), payload.end());
    uint64_t ps = wire::pseudo_header_sum(src, dst, wire::Ip4Hdr::kTcp, uint32_t(l4.size()));
    wire::store16(l4.data() + 16, wire::csum_fold(wire::csum_partial(l4.data(), l4.size(), ps)));
    return l4;
  }
  Bytes tcp(wire::Ip4 src, wire::Ip4 dst, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
            uint16_t window, const std::string& payload = {}, int mss = -1, int wscale = -1) const {
    return ipv4(src, dst, wire::Ip4Hdr::kTcp, tcp_l4(src, dst, sport, dport, seq, ack, flags, window, payload, mss, wscale));
  }
  Bytes udp(wire::Ip4 src, wire::Ip4 dst, uint16_t sport, uint16_t dport, const std::string& payload) const {
    Bytes l4(8);
    wire::UdpHdr{sport, dport, uint16_t(8 + payload.size()), 0}.emit(l4.data());
    l4.insert(l4.end(), payload.begin(), payload.end());
    uint64_t ps = wire::pseudo_header_sum(src, dst, wire::Ip4Hdr::kUdp, uint32_t(l4.size()));
    uint16_t c = wire::csum_fold(wire::csum_partial(l4.data(), l4.size(), ps));
    wire::store16(l4.data() + 6, c ? c : 0xffff);
    return ipv4(src, dst, wire::Ip4Hdr::kUdp, l4);
  }
  Bytes echo(wire::Ip4 src, wire::Ip4 dst, uint16_t id, uint16_t seq, const std::string& payload) const {
    Bytes l4(8);
    wire::IcmpHdr{wire::IcmpHdr::kEchoRequest, 0, 0, id, seq}.emit(l4.data());
    l4.insert(l4.end(), payload.begin(), payload.end());
    wire::store16(l4.data() + 2, wire::checksum(l4.data(), l4.size()));
    return ipv4(src, dst, wire::Ip4Hdr::kIcmp, l4);
  }
  // IPv6: the same segments and datagrams, checksummed over the IPv6
  // pseudo-header.
  Bytes ipv6(const wire::Ip6& src, const wire::Ip6& dst, uint8_t next, const Bytes& l4, uint8_t hop = 64) const {
    Bytes b(wire::Ip6Hdr::kLen);
    wire::Ip6Hdr h;
    h.payload_len = uint16_t(l4.size());
    h.next = next;
    h.hop_limit = hop;
    h.src = src;
    h.dst = dst;
    h.emit(b.data());
    b.insert(b.end(), l4.begin(), l4.end());
    return wrap(wire::Eth::kIpv6, b);
  }
  Bytes tcp6(const wire::Ip6& src, const wire::Ip6& dst, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
             uint8_t flags, uint16_t window, const std::string& payload = {}, int mss = -1, int wscale = -1) const {
    Bytes l4 = tcp_l4(wire::Ip4(), wire::Ip4(), sport, dport, seq, ack, flags, window, payload, mss, wscale);
    wire::store16(l4.data() + 16, 0);
    const uint64_t ps = wire::pseudo_header_sum6(src, dst, wire::Ip6Hdr::kTcp, uint32_t(l4.size()));
    wire::store16(l4.data() + 16, wire::csum_fold(wire::csum_partial(l4.data(), l4.size(), ps)));
    return ipv6(src, dst, wire::Ip6Hdr::kTcp, l4);
  }
  Bytes udp6(const wire::Ip6& src, const wire::Ip6& dst, uint16_t sport, uint16_t dport,
             const std::string& payload) const {
    Bytes l4(8);
    wire::UdpHdr{sport, dport, uint16_t(8 + payload.size()), 0}.emit(l4.data());
    l4.insert(l4.end(), payload.begin(), payload.end());
    const uint64_t ps = wire::pseudo_header_sum6(src, dst, wire::Ip6Hdr::kUdp, uint32_t(l4.size()));
    const uint16_t c = wire::csum_fold(wire::csum_partial(l4.data(), l4.size(), ps));
    wire::store16(l4.data() + 6, c ? c : 0xffff);
    return ipv6(src, dst, wire::Ip6Hdr::kUdp, l4);
  }
  // Duplicate address detection (RFC 4862 5.4.2): a neighbour solicitation
  // from the unspecified address for the tentative address, to its
  // solicited-node multicast group.
  Bytes dad(const wire::Ip6& tentative) const {
    Bytes l4(24, 0);
    l4[0] = wire::Icmp6::kNeighborSolicit;
    tentative.store(l4.data() + 8);
    wire::Ip6 group;
    group.b[0] = 0xff;
    group.b[1] = 0x02;
    group.b[11] = 1;
    group.b[12] = 0xff;
    std::memcpy(group.b + 13, tentative.b + 13, 3);
    const uint64_t ps = wire::pseudo_header_sum6(wire::Ip6(), group, wire::Ip6Hdr::kIcmp6, uint32_t(l4.size()));
    wire::store16(l4.data() + 2, wire::csum_fold(wire::csum_partial(l4.data(), l4.size(), ps)));
    return ipv6(wire::Ip6(), group, wire::Ip6Hdr::kIcmp6, l4, 255);
  }
  Bytes arp_request(wire::Ip4 spa, wire::Ip4 tpa) const {
    wire::Arp a;
    a.op = wire::Arp::kRequest;
    a.sha = guest_mac;
    a.spa = spa;
    a.tpa = tpa;
    Bytes b(wire::Arp::kLen);
    a.emit(b.data());
    Bytes f(vnet ? wire::VnetHdr::kLen : 0);
    size_t off = f.size();
    f.resize(off + wire::Eth::kLen);
    wire::Mac bc;
    std::memset(bc.b, 0xff, 6);
    wire::Eth{bc, guest_mac, wire::Eth::kArp}.emit(f.data() + off);
    f.insert(f.end(), b.begin(), b.end());
    return f;
  }
};

}  // namespace ferry::test
