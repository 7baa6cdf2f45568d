// Port specs on the command line, in pasta's grammar (-t/-u/-T/-U), turned
// into a flat list of forwards. Pure: no sockets, no system calls.
//
// How it works: one option value is split at the first '/' into an optional
// bind part (ADDR, ADDR%IFNAME or %IFNAME) and a comma list of port items.
// Exclusions ("~A[-B]") are collected first, since pasta lets them come after
// the ranges they cut; then every other item ("A[-B][:C[-D]]") is checked,
// marked in a 65536-bit map of the option's ports to catch overlaps, and cut
// by the exclusions into contiguous pieces. An option value made only of
// exclusions means "every non-ephemeral port (1-49151) but these", as in pasta.
// `none`, `auto` and `all` set the option's mode instead (pasta accepts
// `auto` only in pasta mode and `all` only in passt mode; ferry accepts both:
// `auto` is recorded as a flag for the data plane, `all` is 1-49151).
//
// Several values of the same option accumulate (`-t 80 -t 443`) in a
// PortSpecs; as in pasta's conf_ports(), `none`/`auto`/`all` must then be the
// only value given for that option, and listening ports may not overlap.
// Unlike pasta (one port map per option), two values may listen on the same
// port when their bind addresses differ and neither is a wildcard, so that
// `-t 127.0.0.1/80 -t ::1/80` works.
//
// Direction: -t/-u listen on the host and connect into the container
// (inbound); -T/-U listen on the container's loopback and connect to the
// host's (outbound). In both cases the first range of "A-B:C-D" is the
// listening side.
#pragma once

#include "common/expected.hpp"

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::portfwd {

enum class Proto : std::uint8_t { tcp, udp };
const char* to_string(Proto p);

// Inbound: host -> container (-t, -u). Outbound: container -> host (-T, -U).
enum class Direction : std::uint8_t { inbound, outbound };

// How an option was given. `unset` means the option did not appear: the
// caller applies its default (pasta's default is `auto` for all four; podman
// always passes explicit values).
enum class Mode : std::uint8_t { unset, none, auto_, all, spec };
const char* to_string(Mode m);

// An inclusive, non-empty range of ports: first <= last.
struct PortRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  std::uint32_t size() const { return std::uint32_t{last} - first + 1; }
  bool operator==(const PortRange&) const = default;
};

// One contiguous forward after exclusions are applied. Port `host.first + i`
// maps to `container.first + i`; both ranges have the same size.
struct SpecForward {
  Proto proto = Proto::tcp;
  Direction direction = Direction::inbound;
  // Address to listen on; absent means every address of both families
  // (pasta binds 0.0.0.0 and :: then). Only -t/-u may carry one.
  std::optional<boost::asio::ip::address> bind_addr;
  // Interface to bind the listener to (SO_BINDTODEVICE); empty for none.
  std::string ifname;
  // Inbound: host ports (listening) and container ports (target).
  // Outbound: host ports are the target, container ports listen.
  PortRange host;
  PortRange container;
  bool operator==(const SpecForward&) const = default;
};

// The parsed value of one option letter.
struct OptionSpec {
  Mode mode = Mode::unset;
  std::vector<SpecForward> forwards;  // for spec and all
};

// Ports at or above this are left alone by `all` and by exclusion-only specs
// (pasta's PORT_EPHEMERAL_MIN).
inline constexpr std::uint16_t kEphemeralMin = 49152;

// Listening ports taken at an address (absent: every address).
struct PortClaim {
  std::optional<boost::asio::ip::address> addr;
  PortRange ports;
};

// Parses one value of option `letter` ('t', 'u', 'T' or 'U') on its own.
// Errors name the offending token:
//   "invalid port spec '70000': port out of range".
Expected<OptionSpec, std::string> parse_port_spec(char letter, std::string_view value);

// Accumulates every -t/-u/-T/-U value of one command line.
class PortSpecs {
 public:
  // Adds one option value; on error nothing is changed.
  Expected<void, std::string> add(char letter, std::string_view value);

  Mode mode(char letter) const;
  // All forwards of every option, in the order given.
  const std::vector<SpecForward>& forwards() const { return forwards_; }

 private:
  struct PerOption {
    Mode mode = Mode::unset;
    std::vector<PortClaim> claims;  // listening ports of earlier values
  };
  PerOption* slot(char letter);
  const PerOption* slot(char letter) const;
  PerOption t_, u_, T_, U_;
  std::vector<SpecForward> forwards_;
};

}  // namespace ferry::portfwd
