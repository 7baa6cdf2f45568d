// The ferry-dns server: Boost.Asio UDP and TCP listeners on every listen
// address of every network file, single-threaded on one io_context.
//
// How it works:
//  - load() reads the config directory into a Resolver (shared_ptr to const,
//    swapped whole on reload, so a query in flight keeps the table it
//    started with) and then opens a UDP socket and a TCP acceptor per listen
//    address that is new, closing those of addresses that are gone. Sockets
//    use IP_FREEBIND so an IPv6 address still in DAD can be bound.
//  - Each UDP socket runs a receive loop: handle_query() decides; local
//    answers are sent at once, forwarded queries run in their own coroutine
//    so the loop never waits on an upstream.
//  - Each TCP connection reads length-prefixed messages (RFC 1035 4.2.2) and
//    answers them in order; a connection idle for 3 s is closed (RFC 7766
//    6.2.3 recommends a short idle timeout).
//  - Limits: at most kMaxInflight forwarded queries and kMaxTcpClients TCP
//    connections at a time; beyond that, queries are dropped and
//    connections closed.
#pragma once

#include "resolver.hpp"
#include "upstream.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace ferry::dns {

struct ServerOptions {
  std::filesystem::path config_dir;
  uint16_t port = 53;
  std::string search_domain = kDefaultSearchDomain;
  std::filesystem::path resolv_conf = "/etc/resolv.conf";
  bool sandbox = true;  // main.cpp: --no-sandbox clears it
  UpstreamOptions upstream;
  std::chrono::milliseconds tcp_idle{3000};
};

class Server {
 public:
  static constexpr size_t kMaxInflight = 1024;
  static constexpr size_t kMaxTcpClients = 256;

  Server(boost::asio::io_context& io, ServerOptions opts);
  ~Server();

  // Reads the config and opens the listeners. On the first load a listener
  // that cannot be opened is an error (returned as a message); on a reload
  // it is logged and the others keep serving.
  std::optional<std::string> load(bool first);
  bool has_networks() const { return resolver_ && !resolver_->empty(); }
  // Closes every listener; loops end once their pending operations finish.
  void close_all();

 private:
  struct Listener {
    std::shared_ptr<boost::asio::ip::udp::socket> udp;
    std::shared_ptr<boost::asio::ip::tcp::acceptor> tcp;
  };
  std::optional<std::string> open_listener(const IpAddress& a, Listener& l);
  boost::asio::awaitable<void> udp_loop(std::shared_ptr<boost::asio::ip::udp::socket> s);
  boost::asio::awaitable<void> udp_forward(std::shared_ptr<boost::asio::ip::udp::socket> s,
                                           boost::asio::ip::udp::endpoint client, Bytes query, Outcome o);
  boost::asio::awaitable<void> tcp_accept_loop(std::shared_ptr<boost::asio::ip::tcp::acceptor> a);
  boost::asio::awaitable<void> tcp_session(boost::asio::ip::tcp::socket s);
  std::vector<IpAddress> upstreams_without_self(std::vector<IpAddress> servers) const;

  boost::asio::io_context& io_;
  ServerOptions opts_;
  std::shared_ptr<const Resolver> resolver_;
  HostResolvConf host_;
  std::map<IpAddress, Listener> listeners_;
  size_t inflight_ = 0;
  size_t tcp_clients_ = 0;
};

}  // namespace ferry::dns
