#include "netstack/core/reasm.hpp"

#include <cstring>

namespace ferry::core {

size_t Reassembler::in_progress() const {
  size_t n = 0;
  for (const auto& s : slots_) n += s.used;
  return n;
}

void Reassembler::expire(uint64_t now_ms, Counters& ctr) {
  for (auto& s : slots_)
    if (s.used && now_ms - s.started_ms >= timeout_ms_) {
      s.used = false;
      ctr.drop(wire::Drop::fragment_timeout);
    }
}

std::span<const uint8_t> Reassembler::add(const wire::Ip4Hdr& ip, std::span<const uint8_t> payload,
                                          uint64_t now_ms, Counters& ctr) {
  ++ctr.fragments_in;
  const uint32_t off = ip.frag_offset_bytes();
  const uint32_t len = uint32_t(payload.size());
  // Every fragment but the last carries a multiple of 8 bytes (RFC 791).
  if (off + len > kMaxPayload || (ip.more_fragments() && (len % 8 != 0 || len == 0))) {
    ctr.drop(wire::Drop::fragment_dropped);
    return {};
  }
  Slot* slot = nullptr;
  Slot* free_slot = nullptr;
  Slot* oldest = nullptr;
  for (auto& s : slots_) {
    if (s.used && s.src == ip.src.v && s.dst == ip.dst.v && s.id == ip.id && s.proto == ip.proto) {
      slot = &s;
      break;
    }
    if (!s.used && !free_slot) free_slot = &s;
    if (s.used && (!oldest || s.started_ms < oldest->started_ms)) oldest = &s;
  }
  if (!slot) {
    if (!free_slot) {  // table full: give up the oldest datagram
      ctr.drop(wire::Drop::fragment_table_full);
      oldest->used = false;
      free_slot = oldest;
    }
    slot = free_slot;
    slot->used = true;
    slot->src = ip.src.v;
    slot->dst = ip.dst.v;
    slot->id = ip.id;
    slot->proto = ip.proto;
    slot->started_ms = now_ms;
    slot->total = 0;
    slot->received = 0;
    slot->have.reset();
    if (!slot->buf) slot->buf = std::make_unique<uint8_t[]>(20 + kMaxPayload);
  }
  const uint32_t first = off / 8, last = (off + len + 7) / 8;  // blocks [first, last)
  bool overlap = false;
  for (uint32_t b = first; b < last; ++b) overlap |= slot->have.test(b);
  const bool bad_end = !ip.more_fragments() && slot->total && slot->total != off + len;
  const bool past_end = slot->total && off + len > slot->total;
  if (overlap || bad_end || past_end) {
    slot->used = false;
    ctr.drop(overlap ? wire::Drop::fragment_overlap : wire::Drop::fragment_dropped);
    return {};
  }
  for (uint32_t b = first; b < last; ++b) slot->have.set(b);
  std::memcpy(slot->buf.get() + 20 + off, payload.data(), len);
  slot->received += len;
  if (!ip.more_fragments()) slot->total = off + len;
  if (!slot->total || slot->received != slot->total) return {};

  slot->used = false;
  wire::Ip4Hdr whole = ip;
  whole.header_len = 20;
  whole.total_len = uint16_t(20 + slot->total);
  whole.frag = 0;
  whole.emit(slot->buf.get());
  ++ctr.datagrams_reassembled;
  return {slot->buf.get(), 20 + size_t(slot->total)};
}

}  // namespace ferry::core
