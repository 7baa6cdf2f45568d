// Fuzz target: the DHCPv4 message parser (wire/dhcp4.hpp) and the server
// behind it (core/dhcp4.hpp). Each input is one DHCP message (the UDP
// payload): it is parsed on its own, then sent twice through a Stack as a
// client's broadcast to port 67, so that leases made by the first pass meet
// the second (REQUEST after DISCOVER, RELEASE of a lease).
#include "../../unit/fakes.hpp"
#include "netstack/core/stack.hpp"
#include "netstack/wire/dhcp4.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

// Ethernet broadcast from the client's MAC, IPv4, UDP 68 -> 67 with no
// checksum (0), then the message.
std::vector<uint8_t> udp_frame(ferry::wire::Ip4 src, ferry::wire::Ip4 dst, std::span<const uint8_t> msg) {
  using namespace ferry::wire;
  std::vector<uint8_t> f(Eth::kLen + Ip4Hdr::kMinLen + UdpHdr::kLen + msg.size());
  const Mac bcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, client{{0x02, 0, 0, 0, 0, 0x64}};
  Eth{bcast, client, Eth::kIpv4}.emit(f.data());
  Ip4Hdr ip;
  ip.total_len = uint16_t(Ip4Hdr::kMinLen + UdpHdr::kLen + msg.size());
  ip.proto = Ip4Hdr::kUdp;
  ip.src = src;
  ip.dst = dst;
  ip.emit(f.data() + Eth::kLen);
  UdpHdr{68, 67, uint16_t(UdpHdr::kLen + msg.size()), 0}.emit(f.data() + Eth::kLen + Ip4Hdr::kMinLen);
  if (!msg.empty()) std::memcpy(f.data() + Eth::kLen + Ip4Hdr::kMinLen + UdpHdr::kLen, msg.data(), msg.size());
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry;
  if (size > 1400) return 0;
  std::span<const uint8_t> msg(data, size);
  if (auto m = wire::Dhcp4::parse(msg)) {
    volatile uint32_t sink = m->xid + m->msg_type + m->requested_ip.value_or(wire::Ip4()).v;
    (void)sink;
  }
  core::NetConfig cfg;
  test::FakeHost host;
  test::FakeTap tap;
  test::SeqRandom rng;
  core::Stack stack(cfg, host, tap, rng, false);
  const auto frame = udp_frame(wire::Ip4(), wire::Ip4(0xffffffffu), msg);
  stack.on_frame(frame, 1);
  stack.on_frame(frame, 2);
  stack.on_frame(udp_frame(wire::Ip4(10, 0, 2, 15), cfg.gateway, msg), 3);
  for (const auto& f : tap.frames) (void)test::parse_out(f, false);
  return 0;
}
