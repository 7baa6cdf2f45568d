// slirp4netns API requests and replies, and the registry of API forwards; see
// api.hpp. The order of the checks in parse_request() follows slirp4netns
// 1.2's api.c so that a request with several faults gets the same error.
// Where slirp4netns would crash or silently do nothing (no "arguments" object,
// a host_addr that is neither IPv4 nor IPv6, port 70000 truncated to 16 bits,
// a fractional id), ferry answers with the matching "bad arguments.X" error.
#include "portfwd/api.hpp"

#include <boost/json.hpp>

#include <cmath>
#include <exception>

namespace ferry::portfwd {

namespace json = boost::json;
using boost::asio::ip::address;
using boost::asio::ip::address_v4;
using boost::asio::ip::address_v6;

std::vector<Listener> listeners_of(const HostFwd& f) {
  std::vector<Listener> out;
  if (f.host4 && f.guest4)
    out.push_back({f.proto, address(*f.host4), f.host_port, address(*f.guest4), f.guest_port, false});
  if (f.host6 && f.guest6)
    out.push_back({f.proto, address(*f.host6), f.host_port, address(*f.guest6), f.guest_port, true});
  return out;
}

std::string error_reply(std::string_view d) {
  json::object inner;
  inner["desc"] = d;
  json::object o;
  o["error"] = std::move(inner);
  return json::serialize(o);
}

std::string add_reply(std::int64_t id) {
  json::object inner;
  inner["id"] = id;
  json::object o;
  o["return"] = std::move(inner);
  return json::serialize(o);
}

std::string remove_reply() {
  json::object o;
  o["return"] = json::object();
  return json::serialize(o);
}

std::string list_reply(const std::vector<std::pair<std::int64_t, HostFwd>>& entries) {
  json::array arr;
  for (const auto& [id, f] : entries) {
    json::object e;
    e["id"] = id;
    e["proto"] = to_string(f.proto);
    if (f.host4) e["host_addr"] = f.host4->to_string();
    if (f.host6) e["host_addr6"] = f.host6->to_string();
    e["host_port"] = f.host_port;
    if (f.guest4) e["guest_addr"] = f.guest4->to_string();
    if (f.guest6) e["guest_addr6"] = f.guest6->to_string();
    e["guest_port"] = f.guest_port;
    arr.push_back(std::move(e));
  }
  json::object o;
  o["entries"] = std::move(arr);
  return json::serialize(o);
}

namespace {

// obj.arguments.<key>, or null when any step is missing or not an object.
const json::value* argument(const json::object& root, std::string_view key) {
  const json::value* args = root.if_contains("arguments");
  if (!args || !args->is_object()) return nullptr;
  return args->as_object().if_contains(key);
}

// A JSON number with an integral value, as int64.
std::optional<std::int64_t> integral(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) {
    std::uint64_t u = v->get_uint64();
    if (u > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  if (v->is_double()) {
    double d = v->get_double();
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9.0e15) return std::nullopt;
    return static_cast<std::int64_t>(d);
  }
  return std::nullopt;
}

std::optional<std::uint16_t> port_arg(const json::object& root, std::string_view key) {
  auto n = integral(argument(root, key));
  if (!n || *n < 1 || *n > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(*n);
}

// A string argument; absent, non-string and "" all read as "".
std::string_view string_arg(const json::object& root, std::string_view key) {
  const json::value* v = argument(root, key);
  if (!v || !v->is_string()) return {};
  const json::string& s = v->get_string();
  return {s.data(), s.size()};
}

template <class A>
std::optional<A> parse_addr(std::string_view text);

template <>
std::optional<address_v4> parse_addr<address_v4>(std::string_view text) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address_v4(std::string(text), ec);
  if (ec) return std::nullopt;
  return a;
}

template <>
std::optional<address_v6> parse_addr<address_v6>(std::string_view text) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address_v6(std::string(text), ec);
  if (ec || a.scope_id() != 0) return std::nullopt;
  return a;
}

Expected<Command, std::string> parse_add(const json::object& root, const ApiConfig& cfg) {
  const bool ipv6_enabled = cfg.guest6.has_value();
  HostFwd f;
  bool v4 = false, v6 = false;

  std::string_view proto = string_arg(root, "proto");
  if (proto == "tcp" || proto == "tcp4" || proto == "tcp6") {
    f.proto = Proto::tcp;
  } else if (proto == "udp" || proto == "udp4" || proto == "udp6") {
    f.proto = Proto::udp;
  } else {
    return unexpected(std::string(desc::bad_proto));
  }

  std::string_view host = string_arg(root, "host_addr");
  if (host.empty()) host = "0.0.0.0";
  if (host == "0.0.0.0" || host == "::" || host == "::0") {
    // The wildcard listens on both families when IPv6 is enabled.
    v4 = true;
    v6 = ipv6_enabled;
    host = "0.0.0.0";
  } else if (host.find('.') != std::string_view::npos) {
    v4 = true;
  } else if (host.find(':') != std::string_view::npos) {
    if (!ipv6_enabled) return unexpected(std::string(desc::bad_host_addr));
    v6 = true;
  } else {
    return unexpected(std::string(desc::bad_host_addr));
  }

  if (proto.size() == 4) {
    if (proto[3] == '4') {
      v4 = true;
      v6 = false;
    } else {  // '6'
      if (!ipv6_enabled) return unexpected(std::string(desc::bad_proto));
      v4 = false;
      v6 = true;
    }
  }

  auto host_port = port_arg(root, "host_port");
  if (!host_port) return unexpected(std::string(desc::bad_host_port));
  auto guest_port = port_arg(root, "guest_port");
  if (!guest_port) return unexpected(std::string(desc::bad_guest_port));
  f.host_port = *host_port;
  f.guest_port = *guest_port;

  std::string_view guest = string_arg(root, "guest_addr");
  if (v4) {
    f.guest4 = guest.empty() ? std::optional<address_v4>(cfg.guest4) : parse_addr<address_v4>(guest);
    if (!f.guest4) return unexpected(std::string(desc::bad_guest_addr));
    f.host4 = parse_addr<address_v4>(host);
    if (!f.host4) return unexpected(std::string(desc::bad_host_addr));
  }
  if (v6) {
    f.guest6 = guest.empty() ? cfg.guest6 : parse_addr<address_v6>(guest);
    if (!f.guest6) return unexpected(std::string(desc::bad_guest_addr));
    f.host6 = parse_addr<address_v6>(host == "0.0.0.0" ? std::string_view("::") : host);
    if (!f.host6) return unexpected(std::string(desc::bad_host_addr));
  }
  return Command{AddHostfwd{f}};
}

}  // namespace

Expected<Command, std::string> parse_request(std::string_view text, const ApiConfig& cfg) {
  boost::system::error_code ec;
  json::value root = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec) return unexpected(std::string(desc::cannot_parse));
  if (!root.is_object()) return unexpected(std::string(desc::not_object));
  const json::object& obj = root.get_object();
  const json::value* execute = obj.if_contains("execute");
  if (!execute || !execute->is_string()) return unexpected(std::string(desc::no_execute));
  const json::string& ex = execute->get_string();
  if (ex == "add_hostfwd") return parse_add(obj, cfg);
  if (ex == "list_hostfwd") return Command{ListHostfwd{}};
  if (ex == "remove_hostfwd") {
    auto id = integral(argument(obj, "id"));
    // An id that can name no forward reads as "not found", like slirp4netns.
    return Command{RemoveHostfwd{id.value_or(0)}};
  }
  return unexpected(std::string(desc::unknown_execute));
}

ForwardRegistry::~ForwardRegistry() {
  std::lock_guard lock(mu_);
  for (auto& [id, e] : entries_)
    for (auto h : e.handles) binder_.close(h);
  entries_.clear();
}

std::string ForwardRegistry::handle(std::string_view request) {
  try {
    auto cmd = parse_request(request, cfg_);
    if (!cmd) return error_reply(cmd.error());
    std::lock_guard lock(mu_);
    if (auto* add = std::get_if<AddHostfwd>(&*cmd)) {
      auto id = add_locked(add->fwd);
      return id ? add_reply(*id) : error_reply(id.error());
    }
    if (auto* rm = std::get_if<RemoveHostfwd>(&*cmd))
      return remove_locked(rm->id) ? remove_reply() : error_reply(desc::bad_id);
    std::vector<std::pair<std::int64_t, HostFwd>> out;
    for (const auto& [id, e] : entries_) out.emplace_back(id, e.fwd);
    return list_reply(out);
  } catch (const std::exception& e) {
    return error_reply(std::string("bad request: internal error: ") + e.what());
  } catch (...) {
    return error_reply("bad request: internal error");
  }
}

Expected<std::int64_t, std::string> ForwardRegistry::add(const HostFwd& f) {
  std::lock_guard lock(mu_);
  return add_locked(f);
}

bool ForwardRegistry::remove(std::int64_t id) {
  std::lock_guard lock(mu_);
  return remove_locked(id);
}

std::vector<std::pair<std::int64_t, HostFwd>> ForwardRegistry::list() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::int64_t, HostFwd>> out;
  for (const auto& [id, e] : entries_) out.emplace_back(id, e.fwd);
  return out;
}

Expected<std::int64_t, std::string> ForwardRegistry::add_locked(const HostFwd& f) {
  auto ls = listeners_of(f);
  if (ls.empty() || f.host_port == 0 || f.guest_port == 0)
    return unexpected(std::string(desc::add_failed) + ": no address family or port");
  Entry e{f, {}};
  for (const auto& l : ls) {
    auto h = binder_.open(l);
    if (!h) {
      // All or nothing: a dual-stack forward whose second bind fails is gone.
      for (auto opened : e.handles) binder_.close(opened);
      return unexpected(std::string(desc::add_failed) + ": " + h.error());
    }
    e.handles.push_back(*h);
  }
  std::int64_t id = next_id_++;
  entries_.emplace(id, std::move(e));
  return id;
}

bool ForwardRegistry::remove_locked(std::int64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return false;
  for (auto h : it->second.handles) binder_.close(h);
  entries_.erase(it);
  return true;
}

}  // namespace ferry::portfwd
