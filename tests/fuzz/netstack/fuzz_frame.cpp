// Fuzz target: the data plane's entry point. Each input is a sequence of
// frames from the container (2-byte big-endian length, then the frame with
// its virtio-net header), fed to a Stack with fake sockets. After the frames,
// every socket the stack opened reports readiness once, so reply paths run
// too. Built as a unit test over the seed corpus (tests/fuzz/meson.build) and
// with libFuzzer under clang.
#include "../../unit/fakes.hpp"
#include "netstack/core/stack.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry;
  // Small bounds and a deny rule, so that the policy and every bound
  // (docs/security.md) are reached by short inputs.
  core::NetConfig cfg;
  cfg.ipv6 = true;  // NDP, DHCPv6 and IPv6 translation too
  (void)cfg.egress.add(false, "192.0.2.0/25");
  (void)cfg.egress.add(false, "127.0.0.1/32:22");
  test::FakeHost host;
  test::FakeTap tap;
  test::SeqRandom rng;
  core::Limits limits;
  limits.tcp_flows = 64;
  limits.tcp_half_open = 8;
  limits.dgram_flows = 64;
  limits.dgram_per_port = 4;
  limits.dns_queries = 4;
  limits.reasm_slots = 4;
  core::Stack stack(cfg, host, tap, rng, true, limits);
  uint64_t now = 1;
  size_t i = 0;
  while (i + 2 <= size) {
    const size_t len = size_t(data[i]) << 8 | data[i + 1];
    i += 2;
    const size_t n = len < size - i ? len : size - i;
    stack.on_frame(std::span<const uint8_t>(data + i, n), now);
    i += n;
    now += 7;
    stack.flush(now);
  }
  for (auto& [fd, s] : host.socks) {
    if (s.closed) continue;
    s.rx = "reply";
    s.eof = true;
    s.dgrams_in.push_back("reply");
    stack.on_socket(s.token, core::kEvIn | core::kEvOut, now);
  }
  stack.on_timer(now + 100000);
  stack.flush(now);
  return 0;
}
