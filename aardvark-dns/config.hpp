// The aardvark-dns configuration directory, as netavark writes it
// (docs/dns.md and shared design contracts section 4).
//
// One file per network, named after the network; a name ending in "%int"
// marks an internal network. Line 1:
//   <listen IPs, comma-separated>[ <network DNS servers, comma-separated>]
// Then one line per container:
//   <ctrID> <IPv4 list> <IPv6 list> <names and aliases>[ <DNS servers>]
// Fields are separated by exactly one space: netavark writes an empty IPv4 or
// IPv6 list as an empty field ("id  fd00::2 name").
//
// Parsing is pure (a file name and its text in, a NetworkConfig and a list of
// diagnostics out). A container line that cannot be parsed is reported with
// file:line and skipped; a bad first line drops that file only. load_dir()
// reads every regular file of the directory except aardvark's own files.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::dns {

using IpAddress = boost::asio::ip::address;

struct ContainerEntry {
  std::string id;
  std::vector<IpAddress> ipv4;
  std::vector<IpAddress> ipv6;
  std::vector<std::string> names;  // lower-cased, without trailing dot
  std::vector<IpAddress> dns_servers;
};

struct NetworkConfig {
  std::string name;  // without the %int suffix
  bool internal = false;
  std::vector<IpAddress> listen_ips;
  std::vector<IpAddress> dns_servers;
  std::vector<ContainerEntry> containers;
};

struct Diagnostic {
  std::string file;
  int line = 0;
  std::string message;
  std::string to_string() const;  // "file:line: message"
};

struct FileResult {
  std::optional<NetworkConfig> network;
  std::vector<Diagnostic> diagnostics;
};

// `file_name` is the network file's name (network name, maybe with %int);
// `path` is only used in diagnostics.
FileResult parse_network_file(std::string_view file_name, std::string_view text, std::string_view path);

struct DirResult {
  std::vector<NetworkConfig> networks;
  std::vector<Diagnostic> diagnostics;
  bool dir_missing = false;
};

// Files skipped in the directory: aardvark's pid and lock files, hidden and
// temporary files.
bool is_network_file_name(std::string_view name);

// Reads the directory while holding a shared lock on "<dir>/../aardvark.lock"
// when that file exists (netavark holds it exclusively while it writes).
DirResult load_dir(const std::filesystem::path& dir);

// Parses "a,b,c" into addresses; nullopt on the first bad item. An empty
// string gives an empty list.
std::optional<std::vector<IpAddress>> parse_ip_list(std::string_view s);

// Nameservers from a resolv.conf text ("nameserver <ip>" lines, RFC-less
// format from resolv.conf(5)).
std::vector<IpAddress> parse_resolv_conf(std::string_view text);

}  // namespace ferry::dns
