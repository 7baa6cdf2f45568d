// The virtio-net header that the tap prepends to every frame when opened with
// IFF_VNET_HDR (linux/virtio_net.h). With TUNSETOFFLOAD(TUN_F_CSUM|TUN_F_TSO4|
// TUN_F_TSO6) the container's kernel hands us TCP segments of up to 64 KiB with
// an unfinished checksum (NEEDS_CSUM) and accepts the same from us: one frame,
// one system call per 64 KiB instead of per MTU, and no checksum work on
// either side. Fields are little-endian (virtio 1.0 with a modern tap).
#pragma once

#include <cstdint>
#include <cstring>

namespace ferry::wire {

struct VnetHdr {
  static constexpr uint8_t kNeedsCsum = 1;   // VIRTIO_NET_HDR_F_NEEDS_CSUM
  static constexpr uint8_t kDataValid = 2;   // VIRTIO_NET_HDR_F_DATA_VALID
  static constexpr uint8_t kGsoNone = 0;
  static constexpr uint8_t kGsoTcpv4 = 1;
  static constexpr uint8_t kGsoUdp = 3;
  static constexpr uint8_t kGsoTcpv6 = 4;
  static constexpr uint8_t kGsoEcn = 0x80;
  static constexpr size_t kLen = 10;

  uint8_t flags = 0;
  uint8_t gso_type = kGsoNone;
  uint16_t hdr_len = 0;
  uint16_t gso_size = 0;
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;

  static VnetHdr load(const uint8_t* p) {
    VnetHdr h;
    h.flags = p[0];
    h.gso_type = p[1];
    h.hdr_len = uint16_t(p[2] | p[3] << 8);
    h.gso_size = uint16_t(p[4] | p[5] << 8);
    h.csum_start = uint16_t(p[6] | p[7] << 8);
    h.csum_offset = uint16_t(p[8] | p[9] << 8);
    return h;
  }
  void store(uint8_t* p) const {
    p[0] = flags;
    p[1] = gso_type;
    p[2] = uint8_t(hdr_len); p[3] = uint8_t(hdr_len >> 8);
    p[4] = uint8_t(gso_size); p[5] = uint8_t(gso_size >> 8);
    p[6] = uint8_t(csum_start); p[7] = uint8_t(csum_start >> 8);
    p[8] = uint8_t(csum_offset); p[9] = uint8_t(csum_offset >> 8);
  }
};

}  // namespace ferry::wire
