// Google Benchmark microbenchmarks of ferry's hot paths, on the pure netstack
// core (no kernel, no sockets): the Internet checksum, parsing one frame's
// headers (virtio-net, Ethernet, IPv4, TCP), the flow-table lookup, and the
// cost of translating one TCP segment in each direction through core::Stack
// driven by the unit tests' fakes (tests/unit/fakes.hpp): container -> host
// (a data segment from the tap becomes a host socket write and an ACK) and
// host -> container (socket bytes become tap frames, then the container's ACK
// discards them). Frames are built once; per iteration only sequence/ack
// numbers are patched, with the TCP checksum updated incrementally (RFC 1624),
// so what is timed is the translator, not the test's frame builder.
//   build-rel/perf/ferry-micro [--benchmark_filter=REGEX]
// Figures are per call on this machine; compare before/after on one machine.
#include "../tests/unit/fakes.hpp"
#include "netstack/core/flow_index.hpp"
#include "netstack/core/stack.hpp"

#include <benchmark/benchmark.h>

#include <memory>
#include <random>

using namespace ferry;
using namespace ferry::test;
using wire::TcpHdr;

namespace {

const wire::Ip4 kGuest(10, 0, 2, 100), kRemote(192, 0, 2, 7);

// --- checksum --------------------------------------------------------------

void BM_Checksum(benchmark::State& st) {
  std::vector<uint8_t> buf(size_t(st.range(0)));
  std::mt19937 r(1);
  for (auto& b : buf) b = uint8_t(r());
  for (auto _ : st) {
    uint64_t s = wire::csum_partial(buf.data(), buf.size(), 0);
    benchmark::DoNotOptimize(wire::csum_fold(s));
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * st.range(0));
}
BENCHMARK(BM_Checksum)->Arg(20)->Arg(64)->Arg(1460)->Arg(65483);

// --- frame parse -----------------------------------------------------------

void BM_ParseTcpFrame(benchmark::State& st) {
  FrameBuilder fb;
  fb.vnet = true;
  Bytes f = fb.tcp(kGuest, kRemote, 40000, 80, 1, 1, TcpHdr::kAck, 65535, std::string(1460, 'x'));
  for (auto _ : st) {
    std::span<const uint8_t> s(f);
    auto vh = wire::VnetHdr::load(s.data());
    s = s.subspan(wire::VnetHdr::kLen);
    auto eth = wire::Eth::parse(s);
    s = s.subspan(wire::Eth::kLen);
    auto ip = wire::Ip4Hdr::parse(s);
    auto tcp = TcpHdr::parse(s.subspan(ip->header_len, ip->total_len - ip->header_len));
    benchmark::DoNotOptimize(vh);
    benchmark::DoNotOptimize(eth);
    benchmark::DoNotOptimize(tcp);
  }
}
BENCHMARK(BM_ParseTcpFrame);

// --- flow lookup -----------------------------------------------------------

core::FlowKey key_of(uint32_t i) {
  core::FlowKey k;
  k.caddr = wire::Ip6::mapped(kGuest);
  k.daddr = wire::Ip6::mapped(wire::Ip4(127, 0, 0, 1));
  k.cport = uint16_t(1024 + i % 60000);
  k.dport = uint16_t(80 + i / 60000);
  k.proto = 6;
  return k;
}

// Hits in a table holding N flows (capacity 16,384, ferry's default).
void BM_FlowLookupHit(benchmark::State& st) {
  const uint32_t n = uint32_t(st.range(0));
  core::FlowIndex idx(16384);
  std::vector<core::FlowKey> keys;
  for (uint32_t i = 0; i < n; ++i) {
    keys.push_back(key_of(i));
    idx.insert(keys.back(), int32_t(i));
  }
  uint32_t i = 0;
  for (auto _ : st) {
    benchmark::DoNotOptimize(idx.find(keys[i]));
    i = (i + 7919) % n;
  }
}
BENCHMARK(BM_FlowLookupHit)->Arg(16)->Arg(10000)->Arg(16384);

void BM_FlowLookupMiss(benchmark::State& st) {
  core::FlowIndex idx(16384);
  for (uint32_t i = 0; i < uint32_t(st.range(0)); ++i) idx.insert(key_of(i), int32_t(i));
  uint32_t i = 0;
  for (auto _ : st) benchmark::DoNotOptimize(idx.find(key_of(200000 + (i++ & 0xffff))));
}
BENCHMARK(BM_FlowLookupMiss)->Arg(10000);

// --- per-segment translation -----------------------------------------------

// RFC 1624 incremental update of a one's-complement checksum at `csum` for a
// 32-bit field changing from `from` to `to` (both in host order).
void patch32(uint8_t* field, uint8_t* csum, uint32_t to) {
  uint32_t from = wire::load32(field);
  uint32_t sum = uint16_t(~wire::load16(csum));
  sum += uint16_t(~(from >> 16)) + uint16_t(~(from & 0xffff));
  sum += (to >> 16) + (to & 0xffff);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  wire::store16(csum, uint16_t(~sum));
  wire::store32(field, to);
}

// Frames to the container are only counted, not kept (the fake tap of the
// unit tests copies each one).
class CountingTap : public core::TapOut {
 public:
  size_t frames = 0, bytes = 0;
  void send_frame(std::span<const uint8_t> f) override {
    ++frames;
    bytes += f.size();
  }
};

// One established flow from the container to kRemote:80, as the unit tests
// make it. vnet: the tap carries virtio-net headers (production); the
// container's frames then say "checksum valid" as a TSO-capable guest's do.
struct Flow {
  core::NetConfig cfg;
  FakeHost host;
  CountingTap tap;
  SeqRandom rng;
  FrameBuilder fb;
  std::unique_ptr<core::Stack> stack;
  uint64_t now = 1000;
  uint32_t cseq = 5000, hseq = 0;
  int fd = -1;
  size_t l3off;

  explicit Flow(bool vnet, uint32_t mtu) {
    fb.vnet = vnet;
    cfg.mtu = mtu;
    l3off = (vnet ? wire::VnetHdr::kLen : 0) + wire::Eth::kLen;
    stack = std::make_unique<core::Stack>(cfg, host, tap, rng, vnet);
    stack->on_timer(now);
    in(fb.tcp(kGuest, kRemote, 40000, 80, cseq++, 0, TcpHdr::kSyn, 65535, {}, int(mtu - 40), 7));
    fd = host.last_fd();
    stack->on_socket(host.sock(fd).token, core::kEvOut, now);
    stack->flush(now);
    hseq = rng.v + 1;  // SeqRandom: the ISN is its fixed value
    in(fb.tcp(kGuest, kRemote, 40000, 80, cseq, hseq, TcpHdr::kAck, 65535));
    if (!host.sock(fd).watch_in) throw std::runtime_error("flow not established");
  }
  void in(const Bytes& f) {
    stack->on_frame(f, now);
    stack->flush(now);
  }
  // A frame whose checksum the stack will verify (vnet flags 0), or trust
  // (kDataValid).
  Bytes segment(const std::string& payload, bool trusted) {
    Bytes f = fb.tcp(kGuest, kRemote, 40000, 80, cseq, hseq, TcpHdr::kAck | TcpHdr::kPsh, 65535, payload);
    if (trusted && fb.vnet) f[0] = wire::VnetHdr::kDataValid;
    return f;
  }
  uint8_t* tcp_field(Bytes& f, size_t off) { return f.data() + l3off + 20 + off; }
};

// Container -> host: one data segment of range(0) bytes per iteration. Arg 1:
// 1 = checksum trusted (virtio-net DATA_VALID), 0 = verified by ferry.
void BM_SegmentToHost(benchmark::State& st) {
  const size_t len = size_t(st.range(0));
  const bool trusted = st.range(1) != 0;
  Flow fl(true, 65520);
  Bytes f = fl.segment(std::string(len, 'c'), trusted);
  auto& sock = fl.host.sock(fl.fd);
  for (auto _ : st) {
    fl.stack->on_frame(f, fl.now);
    fl.stack->flush(fl.now);
    fl.cseq += uint32_t(len);
    patch32(fl.tcp_field(f, 4), fl.tcp_field(f, 16), fl.cseq);
    sock.sent.clear();
    sock.space = 1 << 30;
  }
  if (fl.stack->counters().tcp_flows_opened != 1 || fl.tap.frames == 0) st.SkipWithError("segments not translated");
  st.SetBytesProcessed(int64_t(st.iterations() * len));
}
BENCHMARK(BM_SegmentToHost)->Args({1460, 0})->Args({1460, 1})->Args({65000, 0})->Args({65000, 1});

// Host -> container: range(0) bytes become readable on the host socket, ferry
// peeks them and sends frames (TSO-sized with vnet, MSS-sized without), then
// the container acknowledges all of it and ferry discards it from the socket.
void BM_SegmentToContainer(benchmark::State& st) {
  const size_t len = size_t(st.range(0));
  const bool vnet = st.range(1) != 0;
  Flow fl(vnet, vnet ? 65520 : 1500);
  Bytes ack = fl.fb.tcp(kGuest, kRemote, 40000, 80, fl.cseq, fl.hseq, TcpHdr::kAck, 65535);
  const std::string data(len, 'h');
  auto& sock = fl.host.sock(fl.fd);
  for (auto _ : st) {
    sock.rx = data;
    fl.stack->on_socket(sock.token, core::kEvIn, fl.now);
    fl.stack->flush(fl.now);
    fl.hseq += uint32_t(len);
    patch32(fl.tcp_field(ack, 8), fl.tcp_field(ack, 16), fl.hseq);
    fl.stack->on_frame(ack, fl.now);
    fl.stack->flush(fl.now);
  }
  if (sock.discarded != st.iterations() * len) st.SkipWithError("data not acknowledged and discarded");
  st.SetBytesProcessed(int64_t(st.iterations() * len));
  st.counters["frames/iter"] = double(fl.tap.frames) / double(st.iterations());
}
BENCHMARK(BM_SegmentToContainer)->Args({1460, 0})->Args({65000, 0})->Args({65000, 1});

}  // namespace

BENCHMARK_MAIN();
