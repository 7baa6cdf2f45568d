// ferryctl's command line, parsed without touching the system (pure, unit
// tested): `run` options, `-p [IP:]HOST:CTR[/PROTO]` port mappings, and
// `network create` options. Each parser returns ferry::Expected with a message
// that names the offending word, so main.cpp prints it as it is.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.hpp"

namespace ferry::engine {

// One -p mapping. host_ip is "" for every address.
struct PortMap {
  std::string host_ip;
  std::uint16_t host_port = 0;
  std::uint16_t ctr_port = 0;
  std::string proto = "tcp";
  bool operator==(const PortMap&) const = default;
};

// -p value: [IP:]HOST:CTR[/tcp|udp], an IPv6 IP in brackets
// ([::1]:8080:80; host_ip then holds it without them).
Expected<PortMap, std::string> parse_port(std::string_view spec);

// The pasta-syntax -t / -u value ferry takes for a mapping: "[IP/]HOST:CTR"
// (an IPv6 IP bare: "::1/8080:80").
std::string pasta_spec(const PortMap& p);

struct RunOptions {
  bool detach = false;
  std::string name;                  // "" = generated from the id
  std::string network = "ferry";     // ferry | host | none | a created network
  std::vector<PortMap> ports;
  std::vector<std::string> aliases;  // --network-alias: extra DNS names
  std::string rootfs;                // "" = the host's file system, read-write
  std::vector<std::string> env;      // K=V
  std::vector<std::string> cmd;
};

// Arguments after "run". The command starts after "--" or at the first word
// that is not an option.
Expected<RunOptions, std::string> parse_run(const std::vector<std::string>& args);

// Container and network names: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 63.
bool valid_name(std::string_view name);

struct NetworkCreateOptions {
  std::string name;
  std::string subnet;  // "" = the first free 10.89.N.0/24
  bool internal = false;
};
Expected<NetworkCreateOptions, std::string> parse_network_create(const std::vector<std::string>& args);

}  // namespace ferry::engine
