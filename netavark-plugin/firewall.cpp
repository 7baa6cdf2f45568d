// nftables rules for a ferry-bridge network; see firewall.hpp.
#include "firewall.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#ifdef FERRY_HAVE_LIBNFTABLES
#include <nftables/libnftables.h>
#endif

namespace ferry::bridge {

std::string table_name(const std::string& network_id) {
  std::string t = "ferry_bridge_";
  for (char c : network_id.substr(0, 32))
    t += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return t;
}

namespace {

std::string family_kw(const IpAddr& a) { return a.v6 ? "ip6" : "ip"; }

std::string dnat_target(const IpAddr& a, unsigned port) {
  return a.v6 ? "[" + a.str() + "]:" + std::to_string(port) : a.str() + ":" + std::to_string(port);
}

}  // namespace

std::string render_ruleset(const std::string& network_id, const NetworkState& s) {
  std::string t = "inet " + table_name(network_id);
  // "add" first so that "delete" never fails on a missing table.
  std::string out = "add table " + t + "\ndelete table " + t + "\n";
  if (s.members.empty()) return out;

  std::string post, dnat;
  for (const auto& sn : s.subnets) {
    std::string f = family_kw(sn.addr);
    // Multicast is not routed out, so it is not rewritten (as netavark).
    std::string mcast = sn.addr.v6 ? "ff00::/8" : "224.0.0.0/4";
    post += "    " + f + " saddr " + sn.str() + " " + f + " daddr != { " + sn.str() + ", " + mcast + " } masquerade\n";
  }
  for (const auto& [id, m] : s.members) {
    for (const auto& p : m.ports) {
      auto host_ip = parse_ip(p.host_ip);
      for (const auto& ip : m.ips) {
        if (host_ip && host_ip->v6 != ip.v6) continue;
        std::string match = host_ip ? family_kw(ip) + " daddr " + host_ip->str() : "fib daddr type local";
        for (const auto& proto : p.protocols) {
          for (unsigned i = 0; i < p.range; ++i) {
            dnat += "    " + match + " " + proto + " dport " + std::to_string(p.host_port + i) + " dnat " + family_kw(ip) +
                    " to " + dnat_target(ip, p.container_port + i) + " comment \"" + id.substr(0, 12) + "\"\n";
          }
        }
      }
    }
  }
  out += "table " + t + " {\n";
  out += "  chain postrouting {\n    type nat hook postrouting priority 100; policy accept;\n" + post + "  }\n";
  out += "  chain prerouting {\n    type nat hook prerouting priority -100; policy accept;\n" + dnat + "  }\n";
  out += "  chain output {\n    type nat hook output priority -100; policy accept;\n" + dnat + "  }\n";
  out += "}\n";
  return out;
}

#ifdef FERRY_HAVE_LIBNFTABLES
Result<bool> nft_run(const std::string& script) {
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!ctx) return ferry::unexpected("nftables: cannot create a context");
  nft_ctx_buffer_output(ctx);
  nft_ctx_buffer_error(ctx);
  int rc = nft_run_cmd_from_buffer(ctx, script.c_str());
  std::string err = nft_ctx_get_error_buffer(ctx);
  nft_ctx_free(ctx);
  if (rc != 0) return ferry::unexpected("nftables: " + err);
  return true;
}
#else
Result<bool> nft_run(const std::string& script) {
  // No libnftables at build time: feed the script to the nft command.
  int in[2];
  if (pipe2(in, O_CLOEXEC) != 0) return ferry::unexpected(std::string("pipe: ") + std::strerror(errno));
  pid_t pid = fork();
  if (pid < 0) return ferry::unexpected(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    dup2(in[0], 0);
    execlp("nft", "nft", "-f", "-", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(in[0]);
  ssize_t off = 0, len = static_cast<ssize_t>(script.size());
  while (off < len) {
    ssize_t w = write(in[1], script.data() + off, static_cast<size_t>(len - off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += w;
  }
  close(in[1]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return ferry::unexpected("nft -f - failed (exit " + std::to_string(WEXITSTATUS(status)) + "); see its message above");
  return true;
}
#endif

}  // namespace ferry::bridge
