// DHCPv4 messages (RFC 2131 section 2, options RFC 2132): a checked parse of
// what a client sends into a Dhcp4 summary, and a writer for replies.
//
// Layout (RFC 2131 figure 1): a fixed 236-byte BOOTP header, the magic
// cookie 99.130.83.99, then options as code/length/value (0 is padding
// without a length, 255 ends the list). With option 52 ("overload") the
// `file` and `sname` fields carry options too (RFC 2132 section 9.3).
//
// parse() accepts only BOOTREQUEST over Ethernet (htype 1, hlen 6) with the
// cookie; an option whose length runs past its field, or a known option of
// the wrong length, makes the whole message malformed (Drop::bad_dhcp).
// Unknown options are skipped; of a repeated option the first one counts.
#pragma once

#include "netstack/wire/bytes.hpp"
#include "netstack/wire/drop.hpp"

#include "common/expected.hpp"
#include <cstring>
#include <optional>
#include <span>

namespace ferry::wire {

struct Dhcp4 {
  // Field offsets of the fixed header.
  static constexpr size_t kOp = 0, kHtype = 1, kHlen = 2, kHops = 3, kXid = 4, kSecs = 8, kFlags = 10, kCiaddr = 12,
                          kYiaddr = 16, kSiaddr = 20, kGiaddr = 24, kChaddr = 28, kSname = 44, kFile = 108,
                          kCookie = 236, kOptions = 240;
  static constexpr size_t kSnameLen = 64, kFileLen = 128, kChaddrLen = 16;
  static constexpr uint32_t kMagic = 0x63825363;
  static constexpr uint16_t kServerPort = 67, kClientPort = 68;
  static constexpr uint8_t kBootRequest = 1, kBootReply = 2;
  static constexpr uint16_t kBroadcastFlag = 0x8000;  // RFC 2131 figure 2
  // Replies are padded to the minimum BOOTP message (RFC 1542 section 2.1:
  // some relays and clients drop shorter ones).
  static constexpr size_t kMinReply = 300;

  // Message types (option 53, RFC 2132 section 9.6).
  enum : uint8_t { kDiscover = 1, kOffer, kRequest, kDecline, kAck, kNak, kRelease, kInform };
  // Option codes.
  enum : uint8_t {
    kOptPad = 0, kOptSubnetMask = 1, kOptRouter = 3, kOptDns = 6, kOptMtu = 26, kOptRequestedIp = 50,
    kOptLeaseTime = 51, kOptOverload = 52, kOptMsgType = 53, kOptServerId = 54, kOptMessage = 56, kOptEnd = 255
  };

  uint8_t op = 0;
  uint32_t xid = 0;
  uint16_t flags = 0;
  Ip4 ciaddr, yiaddr, siaddr, giaddr;
  Mac chaddr;
  uint8_t msg_type = 0;  // 0: none (plain BOOTP)
  std::optional<Ip4> requested_ip, server_id;

  bool broadcast() const { return flags & kBroadcastFlag; }

  static ferry::Expected<Dhcp4, Drop> parse(std::span<const uint8_t> b) {
    if (b.size() < kOptions) return ferry::unexpected(Drop::bad_dhcp);
    const uint8_t* p = b.data();
    if (p[kOp] != kBootRequest || p[kHtype] != 1 || p[kHlen] != 6 || load32(p + kCookie) != kMagic)
      return ferry::unexpected(Drop::bad_dhcp);
    Dhcp4 m;
    m.op = p[kOp];
    m.xid = load32(p + kXid);
    m.flags = load16(p + kFlags);
    m.ciaddr = Ip4::load(p + kCiaddr);
    m.yiaddr = Ip4::load(p + kYiaddr);
    m.siaddr = Ip4::load(p + kSiaddr);
    m.giaddr = Ip4::load(p + kGiaddr);
    m.chaddr = Mac::load(p + kChaddr);
    uint8_t overload = 0;
    if (!m.options(b.subspan(kOptions), &overload)) return ferry::unexpected(Drop::bad_dhcp);
    if ((overload & 1) && !m.options(b.subspan(kFile, kFileLen), nullptr)) return ferry::unexpected(Drop::bad_dhcp);
    if ((overload & 2) && !m.options(b.subspan(kSname, kSnameLen), nullptr)) return ferry::unexpected(Drop::bad_dhcp);
    return m;
  }

 private:
  // Reads one options field; `overload` is where option 52 may appear (the
  // main field only). False when malformed.
  bool options(std::span<const uint8_t> f, uint8_t* overload) {
    size_t i = 0;
    bool seen_type = false, seen_req = false, seen_sid = false, seen_ovl = false;
    while (i < f.size()) {
      const uint8_t code = f[i];
      if (code == kOptEnd) return true;
      if (code == kOptPad) {
        ++i;
        continue;
      }
      if (i + 2 > f.size()) return false;
      const size_t len = f[i + 1];
      if (i + 2 + len > f.size()) return false;
      const uint8_t* v = f.data() + i + 2;
      switch (code) {
        case kOptMsgType:
          if (len != 1) return false;
          if (!seen_type) msg_type = v[0];
          seen_type = true;
          break;
        case kOptRequestedIp:
          if (len != 4) return false;
          if (!seen_req) requested_ip = Ip4::load(v);
          seen_req = true;
          break;
        case kOptServerId:
          if (len != 4) return false;
          if (!seen_sid) server_id = Ip4::load(v);
          seen_sid = true;
          break;
        case kOptOverload:
          if (len != 1 || !overload || v[0] > 3) return false;
          if (!seen_ovl) *overload = v[0];
          seen_ovl = true;
          break;
        default: break;  // not ours to act on
      }
      i += 2 + len;
    }
    // No end option, but every option was whole: accepted (lenient, as
    // common servers are).
    return true;
  }
};

// Writes a reply into a buffer of at least kMinReply + room for options
// (callers use the emitter's frame buffer, which is far larger): the fixed
// header first, then options, then finish() adds the end option and padding
// and returns the message length.
class Dhcp4Writer {
 public:
  explicit Dhcp4Writer(uint8_t* p) : p_(p) {}

  void header(uint32_t xid, uint16_t flags, Ip4 ciaddr, Ip4 yiaddr, Ip4 siaddr, Ip4 giaddr, const Mac& chaddr) {
    std::memset(p_, 0, Dhcp4::kOptions);
    p_[Dhcp4::kOp] = Dhcp4::kBootReply;
    p_[Dhcp4::kHtype] = 1;
    p_[Dhcp4::kHlen] = 6;
    store32(p_ + Dhcp4::kXid, xid);
    store16(p_ + Dhcp4::kFlags, flags);
    ciaddr.store(p_ + Dhcp4::kCiaddr);
    yiaddr.store(p_ + Dhcp4::kYiaddr);
    siaddr.store(p_ + Dhcp4::kSiaddr);
    giaddr.store(p_ + Dhcp4::kGiaddr);
    chaddr.store(p_ + Dhcp4::kChaddr);
    store32(p_ + Dhcp4::kCookie, Dhcp4::kMagic);
    n_ = Dhcp4::kOptions;
  }
  void opt(uint8_t code, const void* v, uint8_t len) {
    p_[n_] = code;
    p_[n_ + 1] = len;
    std::memcpy(p_ + n_ + 2, v, len);
    n_ += 2u + len;
  }
  void opt_u8(uint8_t code, uint8_t v) { opt(code, &v, 1); }
  void opt_u16(uint8_t code, uint16_t v) {
    uint8_t b[2];
    store16(b, v);
    opt(code, b, 2);
  }
  void opt_u32(uint8_t code, uint32_t v) {
    uint8_t b[4];
    store32(b, v);
    opt(code, b, 4);
  }
  void opt_ip(uint8_t code, Ip4 a) { opt_u32(code, a.v); }
  size_t finish() {
    p_[n_++] = Dhcp4::kOptEnd;
    if (n_ < Dhcp4::kMinReply) {
      std::memset(p_ + n_, 0, Dhcp4::kMinReply - n_);
      n_ = Dhcp4::kMinReply;
    }
    return n_;
  }

 private:
  uint8_t* p_;
  size_t n_ = 0;
};

}  // namespace ferry::wire
