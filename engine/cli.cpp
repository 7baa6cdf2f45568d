// Pure parsers for ferryctl's command line; see cli.hpp.
#include "engine/cli.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace ferry::engine {
namespace {

bool parse_u16(std::string_view s, std::uint16_t& out) {
  if (s.empty() || s.size() > 5) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  unsigned v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  if (v == 0 || v > 65535) return false;
  out = std::uint16_t(v);
  return true;
}

bool valid_ipv4(const std::string& s) {
  in_addr a{};
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool valid_ipv6(const std::string& s) {
  in6_addr a{};
  return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

}  // namespace

Expected<PortMap, std::string> parse_port(std::string_view spec) {
  const std::string bad = "invalid port mapping '" + std::string(spec) + "'";
  PortMap p;
  std::string_view rest = spec;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    p.proto = std::string(rest.substr(slash + 1));
    rest = rest.substr(0, slash);
    if (p.proto != "tcp" && p.proto != "udp") return unexpected(bad + ": protocol must be tcp or udp");
  }
  // An IPv6 host address comes in brackets, as in podman: [::1]:8080:80.
  if (!rest.empty() && rest[0] == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
      return unexpected(bad + ": expected [IPv6]:HOST:CONTAINER");
    p.host_ip = std::string(rest.substr(1, close - 1));
    rest = rest.substr(close + 2);
    if (!valid_ipv6(p.host_ip)) return unexpected(bad + ": bad IPv6 host address '" + p.host_ip + "'");
    if (rest.find(':') == std::string_view::npos) return unexpected(bad + ": expected [IPv6]:HOST:CONTAINER");
  }
  const auto last = rest.rfind(':');
  if (last == std::string_view::npos) return unexpected(bad + ": expected [IP:]HOST:CONTAINER");
  const auto ctr = rest.substr(last + 1);
  auto host = rest.substr(0, last);
  if (auto c = host.rfind(':'); c != std::string_view::npos) {
    if (!p.host_ip.empty()) return unexpected(bad + ": expected [IPv6]:HOST:CONTAINER");
    p.host_ip = std::string(host.substr(0, c));
    host = host.substr(c + 1);
    if (!valid_ipv4(p.host_ip))
      return unexpected(bad + ": bad host address '" + p.host_ip + "' (IPv6 goes in brackets: [::1]:8080:80)");
  }
  if (!parse_u16(host, p.host_port)) return unexpected(bad + ": bad host port '" + std::string(host) + "'");
  if (!parse_u16(ctr, p.ctr_port)) return unexpected(bad + ": bad container port '" + std::string(ctr) + "'");
  return p;
}

std::string pasta_spec(const PortMap& p) {
  std::string s;
  if (!p.host_ip.empty()) s = p.host_ip + "/";
  return s + std::to_string(p.host_port) + ":" + std::to_string(p.ctr_port);
}

bool valid_name(std::string_view n) {
  if (n.empty() || n.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(n[0])) return false;
  for (char c : n)
    if (!alnum(c) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

Expected<RunOptions, std::string> parse_run(const std::vector<std::string>& args) {
  RunOptions o;
  std::size_t i = 0;
  // Options that take a value, as "--opt V" or "--opt=V".
  auto value = [&](const std::string& a, const std::string& opt, std::string& out) -> int {
    if (a == opt) {
      if (i + 1 >= args.size()) return -1;
      out = args[++i];
      return 1;
    }
    if (a.rfind(opt + "=", 0) == 0) {
      out = a.substr(opt.size() + 1);
      return 1;
    }
    return 0;
  };
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") { ++i; break; }
    if (a.empty() || a[0] != '-') break;
    if (a == "-d" || a == "--detach") { o.detach = true; continue; }
    std::string v;
    int r;
    if ((r = value(a, "--name", v)) != 0) {
      if (r < 0) return unexpected(std::string("--name needs a value"));
      if (!valid_name(v)) return unexpected("invalid container name '" + v + "': use letters, digits, '_', '.', '-'");
      o.name = v;
    } else if ((r = value(a, "--network", v)) != 0 || (r = value(a, "--net", v)) != 0) {
      if (r < 0) return unexpected(std::string("--network needs a value"));
      o.network = v;
    } else if ((r = value(a, "-p", v)) != 0 || (r = value(a, "--publish", v)) != 0) {
      if (r < 0) return unexpected(std::string("-p needs a value"));
      auto p = parse_port(v);
      if (!p) return unexpected(p.error());
      for (const auto& q : o.ports)
        if (q.host_port == p->host_port && q.proto == p->proto)
          return unexpected("host port " + std::to_string(q.host_port) + " is published twice");
      o.ports.push_back(*p);
    } else if ((r = value(a, "--network-alias", v)) != 0) {
      if (r < 0) return unexpected(std::string("--network-alias needs a value"));
      if (!valid_name(v)) return unexpected("invalid alias '" + v + "'");
      o.aliases.push_back(v);
    } else if ((r = value(a, "--rootfs", v)) != 0) {
      if (r < 0) return unexpected(std::string("--rootfs needs a value"));
      o.rootfs = v;
    } else if ((r = value(a, "--env", v)) != 0 || (r = value(a, "-e", v)) != 0) {
      if (r < 0) return unexpected(std::string("--env needs a value"));
      if (v.find('=') == std::string::npos || v[0] == '=') return unexpected("invalid --env '" + v + "': expected K=V");
      o.env.push_back(v);
    } else {
      return unexpected("unknown option '" + a + "' for run");
    }
  }
  for (; i < args.size(); ++i) o.cmd.push_back(args[i]);
  if (o.cmd.empty()) return unexpected(std::string("run: no command given (ferryctl run [OPTIONS] -- CMD...)"));
  if (!o.ports.empty() && (o.network == "host" || o.network == "none"))
    return unexpected("-p cannot be used with --network " + o.network);
  return o;
}

Expected<NetworkCreateOptions, std::string> parse_network_create(const std::vector<std::string>& args) {
  NetworkCreateOptions o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--internal") {
      o.internal = true;
    } else if (a == "--subnet") {
      if (i + 1 >= args.size()) return unexpected(std::string("--subnet needs a value"));
      o.subnet = args[++i];
    } else if (a.rfind("--subnet=", 0) == 0) {
      o.subnet = a.substr(9);
    } else if (!a.empty() && a[0] == '-') {
      return unexpected("unknown option '" + a + "' for network create");
    } else if (o.name.empty()) {
      o.name = a;
    } else {
      return unexpected("network create takes one name, got '" + a + "' too");
    }
  }
  if (o.name.empty()) return unexpected(std::string("network create: no name given"));
  if (!valid_name(o.name)) return unexpected("invalid network name '" + o.name + "'");
  if (o.name == "ferry" || o.name == "host" || o.name == "none")
    return unexpected("network name '" + o.name + "' is reserved");
  return o;
}

}  // namespace ferry::engine
