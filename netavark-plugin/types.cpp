// Checked conversion of the plugin API's JSON; see types.hpp.
//
// Inside this file a bad field throws the private BadField, which the public
// parse_* functions catch and return as an error value; no exception leaves
// this file.
#include "types.hpp"

#include <cstdint>
#include <limits>

namespace json = boost::json;

namespace ferry::bridge {
namespace {

struct BadField {
  std::string msg;
};

[[noreturn]] void bad(const std::string& path, const std::string& what) { throw BadField{path + ": " + what}; }

std::string join(const std::string& where, std::string_view key) {
  return where.empty() ? std::string(key) : where + "." + std::string(key);
}

const char* kind_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return "a number";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
  }
  return "?";
}

const json::object& as_object(const json::value& v, const std::string& path) {
  if (!v.is_object()) bad(path.empty() ? "input" : path, std::string("expected an object, got ") + kind_name(v));
  return v.get_object();
}

// nullptr when the field is absent or null (netavark's Option<T>).
const json::value* optional(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return nullptr;
  return &it->value();
}

const json::value& required(const json::object& o, std::string_view key, const std::string& path) {
  auto it = o.find(key);
  if (it == o.end()) bad(path, "missing required field");
  if (it->value().is_null()) bad(path, "must not be null");
  return it->value();
}

std::string get_string(const json::value& v, const std::string& path) {
  if (!v.is_string()) bad(path, std::string("expected a string, got ") + kind_name(v));
  return std::string(v.get_string());
}

bool get_bool(const json::value& v, const std::string& path) {
  if (!v.is_bool()) bad(path, std::string("expected a boolean, got ") + kind_name(v));
  return v.get_bool();
}

uint64_t get_uint(const json::value& v, const std::string& path, uint64_t max) {
  uint64_t n = 0;
  if (v.is_uint64()) {
    n = v.get_uint64();
  } else if (v.is_int64() && v.get_int64() >= 0) {
    n = static_cast<uint64_t>(v.get_int64());
  } else {
    bad(path, std::string("expected a non-negative integer, got ") + (v.is_number() ? "a negative or fractional number" : kind_name(v)));
  }
  if (n > max) bad(path, std::to_string(n) + " is out of range (at most " + std::to_string(max) + ")");
  return n;
}

bool opt_bool(const json::object& o, std::string_view key, const std::string& where) {
  const json::value* v = optional(o, key);
  return v ? get_bool(*v, join(where, key)) : false;
}

IpAddr get_ip(const json::value& v, const std::string& path) {
  auto s = get_string(v, path);
  auto a = parse_ip(s);
  if (!a) bad(path, "\"" + s + "\" is not an IP address");
  return *a;
}

IpNet get_ipnet(const json::value& v, const std::string& path) {
  auto s = get_string(v, path);
  auto n = parse_ipnet(s);
  if (!n) bad(path, "\"" + s + "\" is not an address with a prefix length (CIDR, e.g. 10.88.0.0/16)");
  return *n;
}

const json::array& get_array(const json::value& v, const std::string& path) {
  if (!v.is_array()) bad(path, std::string("expected an array, got ") + kind_name(v));
  return v.get_array();
}

std::map<std::string, std::string> get_string_map(const json::value& v, const std::string& path) {
  std::map<std::string, std::string> m;
  for (const auto& kv : as_object(v, path)) {
    std::string k(kv.key());
    m[k] = get_string(kv.value(), path + "." + k);
  }
  return m;
}

std::string idx(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

Network network_from(const json::value& v, const std::string& where) {
  const auto& o = as_object(v, where);
  Network n;
  n.name = get_string(required(o, "name", join(where, "name")), join(where, "name"));
  n.id = get_string(required(o, "id", join(where, "id")), join(where, "id"));
  n.driver = get_string(required(o, "driver", join(where, "driver")), join(where, "driver"));
  if (auto* p = optional(o, "network_interface")) n.network_interface = get_string(*p, join(where, "network_interface"));
  n.ipv6_enabled = opt_bool(o, "ipv6_enabled", where);
  n.internal = opt_bool(o, "internal", where);
  n.dns_enabled = opt_bool(o, "dns_enabled", where);
  if (auto* p = optional(o, "options")) n.options = get_string_map(*p, join(where, "options"));
  if (auto* p = optional(o, "ipam_options")) n.ipam_options = get_string_map(*p, join(where, "ipam_options"));
  if (auto* p = optional(o, "subnets")) {
    std::string path = join(where, "subnets");
    const auto& arr = get_array(*p, path);
    for (size_t i = 0; i < arr.size(); ++i) {
      std::string sp = idx(path, i);
      const auto& so = as_object(arr[i], sp);
      Subnet s;
      s.subnet = get_ipnet(required(so, "subnet", sp + ".subnet"), sp + ".subnet");
      if (auto* g = optional(so, "gateway")) s.gateway = get_ip(*g, sp + ".gateway");
      if (auto* lr = optional(so, "lease_range")) {
        const auto& lo = as_object(*lr, sp + ".lease_range");
        LeaseRange r;
        if (auto* a = optional(lo, "start_ip")) r.start_ip = get_ip(*a, sp + ".lease_range.start_ip");
        if (auto* a = optional(lo, "end_ip")) r.end_ip = get_ip(*a, sp + ".lease_range.end_ip");
        s.lease_range = r;
      }
      n.subnets.push_back(s);
    }
  }
  if (auto* p = optional(o, "routes")) {
    std::string path = join(where, "routes");
    const auto& arr = get_array(*p, path);
    for (size_t i = 0; i < arr.size(); ++i) {
      std::string rp = idx(path, i);
      const auto& ro = as_object(arr[i], rp);
      Route r;
      r.destination = get_ipnet(required(ro, "destination", rp + ".destination"), rp + ".destination");
      r.gateway = get_ip(required(ro, "gateway", rp + ".gateway"), rp + ".gateway");
      if (auto* m = optional(ro, "metric"))
        r.metric = static_cast<uint32_t>(get_uint(*m, rp + ".metric", std::numeric_limits<uint32_t>::max()));
      n.routes.push_back(r);
    }
  }
  if (auto* p = optional(o, "network_dns_servers")) {
    std::string path = join(where, "network_dns_servers");
    const auto& arr = get_array(*p, path);
    for (size_t i = 0; i < arr.size(); ++i) n.network_dns_servers.push_back(get_ip(arr[i], idx(path, i)));
  }
  return n;
}

std::vector<std::string> split_protocols(const std::string& s, const std::string& path) {
  std::vector<std::string> out;
  if (s.empty()) return {"tcp"};  // netavark: unset means TCP
  size_t start = 0;
  while (true) {
    size_t comma = s.find(',', start);
    std::string p = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (p != "tcp" && p != "udp" && p != "sctp") bad(path, "unsupported protocol \"" + p + "\" (tcp, udp, sctp)");
    out.push_back(p);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

PortMapping port_from(const json::value& v, const std::string& path) {
  const auto& o = as_object(v, path);
  PortMapping m;
  m.container_port = static_cast<uint16_t>(get_uint(required(o, "container_port", path + ".container_port"), path + ".container_port", 65535));
  m.host_port = static_cast<uint16_t>(get_uint(required(o, "host_port", path + ".host_port"), path + ".host_port", 65535));
  if (m.container_port == 0) bad(path + ".container_port", "must not be 0");
  if (m.host_port == 0) bad(path + ".host_port", "must not be 0");
  if (auto* p = optional(o, "host_ip")) {
    m.host_ip = get_string(*p, path + ".host_ip");
    if (!m.host_ip.empty() && !parse_ip(m.host_ip)) bad(path + ".host_ip", "\"" + m.host_ip + "\" is not an IP address");
  }
  std::string proto;
  if (auto* p = optional(o, "protocol")) proto = get_string(*p, path + ".protocol");
  m.protocols = split_protocols(proto, path + ".protocol");
  if (auto* p = optional(o, "range")) m.range = static_cast<uint16_t>(get_uint(*p, path + ".range", 65535));
  if (m.range == 0) m.range = 1;
  if (m.container_port + m.range - 1 > 65535 || m.host_port + m.range - 1 > 65535)
    bad(path + ".range", "port + range goes past 65535");
  return m;
}

PerNetworkOptions options_from(const json::value& v, const std::string& path) {
  const auto& o = as_object(v, path);
  PerNetworkOptions p;
  p.interface_name = get_string(required(o, "interface_name", path + ".interface_name"), path + ".interface_name");
  if (!valid_ifname(p.interface_name))
    bad(path + ".interface_name", "\"" + p.interface_name + "\" is not a valid interface name (1-15 characters, no '/', ':' or spaces)");
  if (auto* a = optional(o, "aliases")) {
    const auto& arr = get_array(*a, path + ".aliases");
    for (size_t i = 0; i < arr.size(); ++i) p.aliases.push_back(get_string(arr[i], idx(path + ".aliases", i)));
  }
  if (auto* a = optional(o, "static_ips")) {
    const auto& arr = get_array(*a, path + ".static_ips");
    for (size_t i = 0; i < arr.size(); ++i) p.static_ips.push_back(get_ip(arr[i], idx(path + ".static_ips", i)));
  }
  if (auto* m = optional(o, "static_mac")) {
    auto s = get_string(*m, path + ".static_mac");
    if (!s.empty()) {
      p.static_mac = parse_mac(s);
      if (!p.static_mac) bad(path + ".static_mac", "\"" + s + "\" is not a unicast MAC address (aa:bb:cc:dd:ee:ff)");
    }
  }
  if (auto* m = optional(o, "options")) p.options = get_string_map(*m, path + ".options");
  return p;
}

}  // namespace

bool valid_ifname(std::string_view s) {
  if (s.empty() || s.size() > 15 || s == "." || s == "..") return false;
  for (char c : s) {
    if (c == '/' || c == ':' || c <= ' ' || c == 0x7f) return false;
  }
  return true;
}

Result<json::value> parse_json(std::string_view text) {
  boost::system::error_code ec;
  json::parse_options opt;
  opt.max_depth = 32;
  json::value v = json::parse(text, ec, {}, opt);
  if (ec) return ferry::unexpected("input is not valid JSON: " + ec.message());
  return v;
}

Result<Network> parse_network(const json::value& v, const std::string& where) {
  try {
    return network_from(v, where);
  } catch (const BadField& e) {
    return ferry::unexpected(e.msg);
  }
}

Result<NetworkPluginExec> parse_plugin_exec(const json::value& v) {
  try {
    const auto& o = as_object(v, "");
    NetworkPluginExec x;
    x.container_id = get_string(required(o, "container_id", "container_id"), "container_id");
    if (x.container_id.empty()) bad("container_id", "must not be empty");
    x.container_name = get_string(required(o, "container_name", "container_name"), "container_name");
    if (auto* p = optional(o, "port_mappings")) {
      const auto& arr = get_array(*p, "port_mappings");
      for (size_t i = 0; i < arr.size(); ++i) x.port_mappings.push_back(port_from(arr[i], idx("port_mappings", i)));
    }
    x.network = network_from(required(o, "network", "network"), "network");
    x.network_options = options_from(required(o, "network_options", "network_options"), "network_options");
    return x;
  } catch (const BadField& e) {
    return ferry::unexpected(e.msg);
  }
}

json::value to_json(const StatusBlock& s) {
  json::array subnets;
  for (const auto& a : s.subnets) {
    json::object o;
    o["ipnet"] = a.ipnet.str();
    if (a.gateway) o["gateway"] = a.gateway->str();
    subnets.push_back(std::move(o));
  }
  json::object iface;
  iface["mac_address"] = s.mac_address;
  iface["subnets"] = std::move(subnets);
  json::object ifaces;
  ifaces[s.interface_name] = std::move(iface);
  json::array dns;
  for (const auto& d : s.dns_server_ips) dns.push_back(json::string(d.str()));
  json::object out;
  out["dns_search_domains"] = json::array();
  out["dns_server_ips"] = std::move(dns);
  out["interfaces"] = std::move(ifaces);
  return out;
}

json::value error_json(std::string_view message) {
  json::object o;
  o["error"] = message;
  return o;
}

}  // namespace ferry::bridge
