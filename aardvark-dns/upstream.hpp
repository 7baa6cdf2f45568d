// Forwarding to upstream resolvers, and the host's resolv.conf.
//
// How it works: forward() is a Boost.Asio coroutine that tries each server in
// turn. For each it sends the client's query bytes unchanged over a fresh,
// connected UDP socket (a new random source port per query) and waits for a
// reply whose ID, QR bit and question match the query (RFC 5452 9.1 checks;
// anything else is ignored and the wait goes on). A reply with TC set is
// fetched again over TCP from the same server (RFC 1035 4.2.2 framing, RFC
// 7766 5). A timeout, an ICMP refusal or a TCP failure moves on to the next
// server; when all fail the caller answers SERVFAIL. Replies are returned
// byte for byte, so EDNS0 options and DNSSEC records pass through.
//
// HostResolvConf re-reads resolv.conf when its inode, size or mtime change,
// checked at most once a second, so an edited file takes effect without a
// restart.
#pragma once

#include "config.hpp"
#include "dns_wire.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <vector>

namespace ferry::dns {

struct UpstreamOptions {
  std::chrono::milliseconds udp_timeout{2000};
  std::chrono::milliseconds tcp_timeout{4000};
  uint16_t port = 53;
};

// True when `reply` answers `query`: same ID, QR set, same question
// (compared case-insensitively).
bool reply_matches(const Message& query, std::span<const uint8_t> reply);

// Tries `servers` in order; the reply, or nullopt when none answered.
boost::asio::awaitable<std::optional<Bytes>> forward(Bytes query, Message parsed, std::vector<IpAddress> servers,
                                                     UpstreamOptions opts);

class HostResolvConf {
 public:
  explicit HostResolvConf(std::filesystem::path path) : path_(std::move(path)) {}
  // Current nameservers, re-reading the file when it changed.
  const std::vector<IpAddress>& servers();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::vector<IpAddress> servers_;
  struct Stamp {
    ino_t ino = 0;
    off_t size = -1;
    long mtime_ns = 0;
    long ctime_ns = 0;
    bool operator==(const Stamp&) const = default;
  } stamp_;
  std::chrono::steady_clock::time_point next_check_{};
  bool loaded_ = false;
};

}  // namespace ferry::dns
