// The narrow interfaces between the translator (core/, pure logic) and the
// system: host sockets (Host) and the tap (TapOut). The real implementations
// live in io/ (system calls, io_uring); tests use fakes (tests/unit/fakes.hpp).
// The core never makes a system call itself, never blocks, and allocates
// nothing per packet.
#pragma once

#include "netstack/wire/bytes.hpp"

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>

namespace ferry::core {

struct SockAddr4 {
  wire::Ip4 addr;
  uint16_t port = 0;
};

// A host socket address of either family; IPv4 as ::ffff:a.b.c.d (the form
// flow keys use), so that one path serves both.
struct SockAddr {
  wire::Ip6 addr;
  uint16_t port = 0;
  bool is_v4() const { return addr.is_v4_mapped(); }
  static SockAddr v4(wire::Ip4 a, uint16_t port) { return {wire::Ip6::mapped(a), port}; }
};

// Events reported to Stack::on_socket (same bits as poll(2)).
enum : uint32_t {
  kEvIn = 0x001,     // POLLIN
  kEvOut = 0x004,    // POLLOUT
  kEvErr = 0x008,    // POLLERR
  kEvHup = 0x010,    // POLLHUP
  kEvRdHup = 0x2000  // POLLRDHUP
};

class Host {
 public:
  virtual ~Host() = default;

  // --- TCP ------------------------------------------------------------------
  // Starts a non-blocking connect. Returns the socket (completion is reported
  // as kEvOut) or -errno when the connect failed at once.
  virtual int tcp_connect(SockAddr dst) = 0;
  // Prepares a connected socket made elsewhere (a published port's accepted
  // connection) for translation, as tcp_connect() prepares its own (peek
  // offsets). 0 or -errno.
  virtual int adopt_tcp(int fd) = 0;
  // After kEvErr/kEvHup on a connecting socket: 0, or -errno of the failed
  // connect.
  virtual int connect_result(int fd) = 0;
  // Writes up to n bytes; returns bytes written (may be short) or -errno
  // (-EAGAIN when the socket buffer is full).
  virtual ssize_t send(int fd, const uint8_t* p, size_t n) = 0;
  // Copies received bytes without consuming them, continuing after the bytes
  // peeked before (SO_PEEK_OFF). 0 means end of stream after the last byte;
  // -EAGAIN means nothing more yet.
  virtual ssize_t peek(int fd, uint8_t* p, size_t n) = 0;
  // Next peek starts again at the oldest byte not yet discarded.
  virtual void rewind_peek(int fd) = 0;
  // Consumes n received bytes (the container acknowledged them).
  virtual void discard(int fd, size_t n) = 0;
  // How many bytes send() would take now without blocking (an estimate from
  // the socket's memory accounting; may be 0).
  virtual size_t send_space(int fd) = 0;
  virtual void shutdown_write(int fd) = 0;
  // Closes the socket; with reset, the peer sees an RST (SO_LINGER 0).
  virtual void close(int fd, bool reset) = 0;

  // --- Datagrams (UDP, ICMP echo) --------------------------------------------
  virtual int udp_open(SockAddr dst) = 0;        // a connected UDP socket or -errno
  // A connected ICMP (IPv4-mapped dst) or ICMPv6 echo socket, or -errno.
  virtual int icmp_open(const wire::Ip6& dst) = 0;
  virtual ssize_t dgram_send(int fd, const uint8_t* p, size_t n) = 0;
  // Receives up to bufs.size() datagrams in one call (recvmmsg); each
  // buffer's len is set. Returns how many, or -errno (-EAGAIN: none).
  struct MsgBuf {
    uint8_t* data = nullptr;
    size_t cap = 0;
    size_t len = 0;
  };
  virtual int dgram_recv_many(int fd, std::span<MsgBuf> bufs) = 0;
  // Sends datagrams of one socket in order, in one call: with `gso` and
  // sizes that allow it (at least two, all but the last of one size, 64 at
  // most and 64 KiB in all) as one UDP GSO send (UDP_SEGMENT, the kernel
  // cuts it), else with sendmmsg. Returns how many went out, or -errno for
  // the first. Clears `gso` when the kernel refuses segmentation on this
  // socket (a path without checksum offload, a datagram above its MTU), so
  // the caller stops asking; the datagrams then go out by sendmmsg.
  virtual int dgram_send_many(int fd, std::span<const MsgBuf> msgs, bool& gso) = 0;

  // --- Name service ------------------------------------------------------------
  // The first IPv4 nameserver of the host's resolv.conf (re-read when the file
  // changes), or nothing when there is none.
  virtual bool dns_upstream(wire::Ip4& out) = 0;

  // --- Readiness ---------------------------------------------------------------
  // in: report kEvIn/kEvRdHup/kEvHup/kEvErr for `token` until close();
  // out: report kEvOut once, the next time the socket is writable.
  virtual void watch(int fd, uint64_t token, bool in, bool out) = 0;
};

// Frames towards the container. `frame` starts with the virtio-net header
// when the tap has one. The call copies or sends the bytes before returning.
class TapOut {
 public:
  virtual ~TapOut() = default;
  virtual void send_frame(std::span<const uint8_t> frame) = 0;
};

// Injected randomness (initial sequence numbers, IP ids), so that tests are
// deterministic.
class Random {
 public:
  virtual ~Random() = default;
  virtual uint32_t next() = 0;
};

}  // namespace ferry::core
