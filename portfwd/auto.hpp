// pasta's `-t auto` / `-u auto`: publish, on the same port of the host, every
// port that something in the container listens on (TCP) or is bound to
// (UDP), following changes. Once a second the namespace agent reads the
// container's /proc/net/{tcp,udp}{,6}; ports that appeared get a forward
// through the Binder (IPv4 and, unless disabled, IPv6 wildcard listeners,
// as an explicit `-t PORT` would), ports that disappeared lose theirs (open
// connections go on). A port the host cannot bind (in use, privileged) is
// logged once and left alone until it disappears from the container.
#pragma once

#include "netstack/io/loop.hpp"
#include "netstack/io/tap.hpp"
#include "portfwd/api.hpp"

#include <bitset>
#include <cstdint>
#include <map>
#include <vector>

namespace ferry::portfwd {

class AutoForwarder : public io::EventSink {
 public:
  static constexpr uint8_t kKind = 5;  // no tokens: flush() only
  static constexpr uint64_t kScanMs = 1000;

  AutoForwarder(io::Loop& loop, io::NsAgent& agent, Binder& binder, wire::Ip4 guest, bool ipv6);
  ~AutoForwarder() override;

  void enable(Proto p) { (p == Proto::tcp ? tcp_ : udp_).on = true; }
  bool enabled() const { return tcp_.on || udp_.on; }
  // One scan now (also what flush() does once a second).
  void scan();

  void on_event(uint64_t, uint32_t, uint64_t) override {}
  void flush() override;

 private:
  struct PerProto {
    bool on = false;
    std::map<uint16_t, std::vector<Binder::Handle>> open;
    std::bitset<65536> failed;  // could not bind: not retried while it stays
  };
  void scan(Proto p, PerProto& s);

  io::NsAgent& agent_;
  Binder& binder_;
  wire::Ip4 guest_;
  bool ipv6_;
  PerProto tcp_, udp_;
  uint64_t next_scan_ = 0;
};

}  // namespace ferry::portfwd
