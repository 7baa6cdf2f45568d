#include "portfwd/auto.hpp"

#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <cstring>

namespace ferry::portfwd {

AutoForwarder::AutoForwarder(io::Loop& loop, io::NsAgent& agent, Binder& binder, wire::Ip4 guest, bool ipv6)
    : agent_(agent), binder_(binder), guest_(guest), ipv6_(ipv6) {
  loop.add_sink(kKind, this);
}

AutoForwarder::~AutoForwarder() {
  for (PerProto* s : {&tcp_, &udp_})
    for (auto& [port, handles] : s->open)
      for (auto h : handles) binder_.close(h);
}

void AutoForwarder::flush() {
  if (!enabled()) return;
  const uint64_t now = io::monotonic_ms();
  if (now < next_scan_) return;
  next_scan_ = now + kScanMs;
  scan();
}

void AutoForwarder::scan() {
  if (tcp_.on) scan(Proto::tcp, tcp_);
  if (udp_.on) scan(Proto::udp, udp_);
}

void AutoForwarder::scan(Proto p, PerProto& s) {
  auto bits = agent_.listening(p == Proto::tcp ? SOCK_STREAM : SOCK_DGRAM);
  if (!bits) {
    spdlog::debug("auto forwarding: cannot list the container's ports: {}", strerror(bits.error()));
    return;
  }
  const char opt = p == Proto::tcp ? 't' : 'u';
  auto bound = [&](uint32_t port) { return ((*bits)[port / 8] >> (port % 8)) & 1; };
  // Gone from the container: stop forwarding.
  for (auto it = s.open.begin(); it != s.open.end();) {
    if (bound(it->first)) {
      ++it;
      continue;
    }
    for (auto h : it->second) binder_.close(h);
    spdlog::debug("-{} auto: port {} no longer bound in the container", opt, it->first);
    it = s.open.erase(it);
  }
  for (uint32_t port = 1; port < 65536; ++port) {
    if (!bound(port)) {
      s.failed.reset(port);
      continue;
    }
    if (s.failed.test(port) || s.open.count(uint16_t(port))) continue;
    std::vector<Binder::Handle> handles;
    std::string error;
    for (bool v6 : {false, true}) {
      if (v6 && !ipv6_) break;
      Listener l;
      l.proto = p;
      l.host_addr = v6 ? boost::asio::ip::address(boost::asio::ip::address_v6::any())
                       : boost::asio::ip::address(boost::asio::ip::address_v4::any());
      l.v6only = v6;
      l.host_port = uint16_t(port);
      l.guest_addr = boost::asio::ip::address_v4(guest_.v);
      l.guest_port = uint16_t(port);
      if (auto h = binder_.open(l)) handles.push_back(*h);
      else if (!v6) error = h.error();  // IPv6 may simply be missing on the host
    }
    if (handles.empty()) {
      spdlog::info("-{} auto: port {} of the container not published: {}", opt, port, error);
      s.failed.set(port);
      continue;
    }
    spdlog::debug("-{} auto: publishing port {}", opt, port);
    s.open.emplace(uint16_t(port), std::move(handles));
  }
}

}  // namespace ferry::portfwd
