// pasta's command line (contracts.md section 2), for ferry installed as
// `pasta`: what podman >= 4.4/5.x and rootlesskit 2 pass, e.g. podman 5's
//
//   pasta --config-net [-t|-u SPEC ...] --dns-forward 169.254.1.1 -t none -u none
//         -T none -U none [--no-map-gw] --quiet --netns PATH --map-guest-addr 169.254.1.2
//
// Addresses: -a/-n/-g give the container's address, prefix and gateway;
// without them the host's address and default gateway are copied (the
// interface of the host's IPv4 default route), as pasta does. The gateway
// address leads to the host's 127.0.0.1 unless --no-map-gw; --map-guest-addr
// ADDR leads there too; --dns-forward ADDR is the DNS forwarder's address.
//
// Daemonising: unless -f, the process forks at once; the child does the work
// and, once the namespace is configured and the forwards listen, tells the
// parent through a pipe, detaches (setsid, stdio to /dev/null or --log-file)
// and runs until the netns file is removed. Files it writes (--pid,
// --log-file) are opened before the sandbox (run.hpp). The parent exits 0
// then, or with the child's status (its errors already on stderr) when the
// child failed.
#include "common/log.hpp"
#include "netstack/cli/ferry_options.hpp"
#include "netstack/cli/personalities.hpp"
#include "netstack/cli/run.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace ferry::cli {
namespace {

void print_help() {
  std::printf(
      "Usage: pasta [OPTION]... [PID|PATH]\n"
      "ferry %s with pasta's command line: user-mode networking for a network namespace.\n"
      "\n"
      "  --config-net             configure the namespace's interface (address, route, MTU)\n"
      "  --netns PATH             target network namespace file (or give PID|PATH last)\n"
      "  --userns PATH            user namespace to join first\n"
      "  -I, --ns-ifname NAME     interface name in the namespace (default: the host's)\n"
      "  -a, --address ADDR       container IPv4 address (default: the host's)\n"
      "  -n, --netmask PREFIX     prefix length or netmask (default: the host's)\n"
      "  -g, --gateway ADDR       gateway (default: the host's default gateway)\n"
      "  -m, --mtu MTU            MTU (68-65521, default 65520)\n"
      "  -t, --tcp-ports SPEC     publish TCP ports: none, auto, PORT, A-B:C-D, ADDR/PORT, ~PORT\n"
      "                           (auto, the default: the ports bound in the namespace, followed)\n"
      "  -u, --udp-ports SPEC     publish UDP ports, same syntax\n"
      "  -T, -U SPEC              forward the namespace's loopback ports to the host's: none, PORT, A-B:C-D\n"
      "  --dns-forward ADDR       DNS queries to ADDR go to the host's resolvers\n"
      "  --map-guest-addr ADDR    connections to ADDR go to the host's 127.0.0.1\n"
      "  --no-map-gw              the gateway address does not lead to the host\n"
      "  -4, --ipv4-only          IPv4 listeners only for published ports\n"
      "  -f, --foreground         do not daemonise\n"
      "  -q, --quiet              log errors only\n"
      "  -d, --debug              log debug messages\n"
      "  -l, --log-file PATH      log to PATH once daemonised (default: nowhere)\n"
      "  -P, --pid PATH           write the daemon's PID to PATH\n"
      "  --resolv-conf PATH       (ferry) upstream DNS servers for --dns-forward (default=/etc/resolv.conf)\n"
      "  -h, --help               show this help and exit\n"
      "  --version                show version and exit\n"
      "ferry's own options (docs/security.md):\n%s",
      kVersion, kFerryOptionsHelp);
}

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "pasta: %s\n", msg.c_str());
  std::exit(1);
}

struct HostAddr {
  std::string ifname;
  wire::Ip4 addr, gateway;
  int prefix = 0;
};

// The host's IPv4 default route (/proc/net/route) and the first address of
// its interface (getifaddrs).
ferry::Expected<HostAddr, std::string> host_default() {
  std::ifstream f("/proc/net/route");
  if (!f) return ferry::unexpected(std::string("cannot read /proc/net/route: ") + strerror(errno));
  std::string line;
  std::getline(f, line);  // header
  HostAddr h;
  while (std::getline(f, line)) {
    std::istringstream ls(line);
    std::string ifname;
    unsigned dst = 0, gw = 0, flags = 0;
    ls >> ifname >> std::hex >> dst >> gw >> flags;
    if (ls && dst == 0 && (flags & 0x3) == 0x3) {  // RTF_UP | RTF_GATEWAY
      h.ifname = ifname;
      h.gateway = wire::Ip4(ntohl(gw));
      break;
    }
  }
  if (h.ifname.empty())
    return ferry::unexpected(std::string("the host has no IPv4 default route to copy; give -a, -n and -g"));
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) < 0) return ferry::unexpected(std::string("getifaddrs: ") + strerror(errno));
  bool found = false;
  for (ifaddrs* i = list; i && !found; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || h.ifname != i->ifa_name) continue;
    h.addr = wire::Ip4(ntohl(reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr));
    const uint32_t mask = i->ifa_netmask ? ntohl(reinterpret_cast<sockaddr_in*>(i->ifa_netmask)->sin_addr.s_addr) : 0;
    h.prefix = __builtin_popcount(mask);
    found = true;
  }
  freeifaddrs(list);
  if (!found) return ferry::unexpected("the host's default interface " + h.ifname + " has no IPv4 address to copy");
  return h;
}

wire::Ip4 need_ip4(const char* opt, const char* v) {
  auto a = core::parse_ip4(v);
  if (!a) usage_error(std::string("invalid ") + opt + " address: " + v);
  return *a;
}

// "24" or "255.255.255.0".
int parse_prefix(const char* v) {
  long n;
  if (parse_int(v, 0, 32, n)) return int(n);
  auto m = core::parse_ip4(v);
  if (m) {
    const int p = __builtin_popcount(m->v);
    if (p == 0 || m->v == ~uint32_t(0) << (32 - p)) return p;
  }
  usage_error(std::string("invalid -n/--netmask: ") + v + " (a prefix length 0-32 or a netmask)");
}

// Refuses -t forwards the forwarder cannot do yet, saying what.
void check_ports(const portfwd::PortSpecs& specs) {
  // -T/-U auto and all are refused while parsing.
  for (const auto& f : specs.forwards()) {
    if (!f.ifname.empty())
      usage_error(std::string(f.proto == portfwd::Proto::tcp ? "-t" : "-u") + " %" + f.ifname +
                  ": binding forwards to an interface is not implemented by ferry yet");
  }
}

}  // namespace

int pasta_main(int argc, char** argv) {
  RunOptions o;
  core::NetConfig& cfg = o.cfg;
  cfg.mtu = 65520;
  bool foreground = false, quiet = false, debug = false, no_map_gw = false;
  std::optional<wire::Ip4> addr, gateway, dns_forward;
  int prefix = -1;
  std::string netns, log_file, pid_file;

  enum { kConfigNet = 256, kNetns, kUserns, kDnsForward, kMapGuest, kNoMapGw, kVersionOpt, kResolv };
  std::vector<option> opts = {
      {"config-net", no_argument, nullptr, kConfigNet},
      {"netns", required_argument, nullptr, kNetns},
      {"userns", required_argument, nullptr, kUserns},
      {"ns-ifname", required_argument, nullptr, 'I'},
      {"address", required_argument, nullptr, 'a'},
      {"netmask", required_argument, nullptr, 'n'},
      {"gateway", required_argument, nullptr, 'g'},
      {"mtu", required_argument, nullptr, 'm'},
      {"tcp-ports", required_argument, nullptr, 't'},
      {"udp-ports", required_argument, nullptr, 'u'},
      {"tcp-ns", required_argument, nullptr, 'T'},
      {"udp-ns", required_argument, nullptr, 'U'},
      {"dns-forward", required_argument, nullptr, kDnsForward},
      {"map-guest-addr", required_argument, nullptr, kMapGuest},
      {"no-map-gw", no_argument, nullptr, kNoMapGw},
      {"ipv4-only", no_argument, nullptr, '4'},
      {"ipv6-only", no_argument, nullptr, '6'},
      {"foreground", no_argument, nullptr, 'f'},
      {"quiet", no_argument, nullptr, 'q'},
      {"debug", no_argument, nullptr, 'd'},
      {"log-file", required_argument, nullptr, 'l'},
      {"pid", required_argument, nullptr, 'P'},
      {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, kVersionOpt},
      {"resolv-conf", required_argument, nullptr, kResolv},
  };
  for (const option& h : ferry_options()) opts.push_back(h);
  opts.push_back({nullptr, 0, nullptr, 0});
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":I:a:n:g:m:t:u:T:U:46fqdl:P:h", opts.data(), nullptr)) != -1) {
    switch (c) {
      case kConfigNet: o.req.configure = true; break;
      case kNetns: netns = optarg; break;
      case kUserns: o.req.userns_path = optarg; break;
      case 'I': o.req.name = optarg; break;
      case 'a': addr = need_ip4("-a/--address", optarg); break;
      case 'n': prefix = parse_prefix(optarg); break;
      case 'g': gateway = need_ip4("-g/--gateway", optarg); break;
      case 'm': {
        long mtu;
        if (!parse_int(optarg, 68, 65521, mtu)) usage_error(std::string("--mtu must be 68-65521: ") + optarg);
        cfg.mtu = unsigned(mtu);
        break;
      }
      case 'T':
      case 'U':
        if (std::strcmp(optarg, "auto") == 0 || std::strcmp(optarg, "all") == 0)
          usage_error(std::string("-") + char(c) + " " + optarg +
                      ": following the host's ports into the namespace is not implemented by ferry; list the ports");
        [[fallthrough]];
      case 'u':
      case 't':
        if (auto r = o.port_specs.add(char(c), optarg); !r) usage_error(std::string("-") + char(c) + ": " + r.error());
        break;
      case kDnsForward: dns_forward = need_ip4("--dns-forward", optarg); break;
      case kMapGuest: o.map_to_loopback = need_ip4("--map-guest-addr", optarg); break;
      case kNoMapGw: no_map_gw = true; break;
      case '4': o.ipv6_listeners = false; break;
      case '6': usage_error("-6/--ipv6-only: ferry does not implement IPv6 yet");
      case 'f': foreground = true; break;
      case 'q': quiet = true; break;
      case 'd': debug = true; break;
      case 'l': log_file = optarg; break;
      case 'P': pid_file = optarg; break;
      case kResolv: cfg.resolv_conf = optarg; break;
      case 'h': print_help(); return 0;
      case kVersionOpt: std::printf("pasta (ferry %s, pasta-compatible command line)\n", kVersion); return 0;
      case ':': usage_error(std::string("option requires an argument: ") + argv[optind - 1]);
      default:
        if (!is_ferry_option(c)) usage_error(std::string("unknown or unsupported option: ") + argv[optind - 1]);
        if (auto r = apply_ferry_option(c, optarg, o); !r) usage_error(r.error());
    }
  }
  const int npos = argc - optind;
  if (npos > 1 || (npos == 1 && !netns.empty()))
    usage_error("give one target: --netns PATH, or a PID or PATH (running a command is not implemented by ferry)");
  if (npos == 1) {
    long pid;
    if (parse_int(argv[optind], 1, INT32_MAX, pid)) o.req.pid = pid_t(pid);
    else netns = argv[optind];
  }
  if (!netns.empty()) o.req.netns_path = netns;
  if (!o.req.pid && o.req.netns_path.empty())
    usage_error("no target namespace: give --netns PATH or a PID (starting a new namespace is not implemented by ferry)");
  check_ports(o.port_specs);
  // pasta's default for an option not given is `auto`; ferry applies it to
  // -t and -u (for -T and -U, not given means none).
  for (const char* letter : {"t", "u"})
    if (o.port_specs.mode(letter[0]) == portfwd::Mode::unset) (void)o.port_specs.add(letter[0], "auto");

  // Addresses: given, else the host's.
  std::string host_if;
  if (!addr || prefix < 0 || !gateway) {
    auto h = host_default();
    if (!h) usage_error(h.error());
    if (!addr) addr = h->addr;
    if (prefix < 0) prefix = h->prefix;
    if (!gateway) gateway = h->gateway;
    host_if = h->ifname;
  }
  if (prefix < 1 || prefix > 30) usage_error("the prefix length must be 1-30, not " + std::to_string(prefix));
  const uint32_t mask = ~uint32_t(0) << (32 - prefix);
  if ((addr->v & mask) != (gateway->v & mask) || *addr == *gateway)
    usage_error("gateway " + core::to_string(*gateway) + " must be another address in " + core::to_string(*addr) + "/" +
                std::to_string(prefix));
  cfg.guest = *addr;
  cfg.prefix = prefix;
  cfg.network = wire::Ip4(addr->v & mask);
  cfg.gateway = *gateway;
  cfg.dhcp_start = *addr;
  cfg.dhcp_leases = 1;  // pasta hands out the one address it copied
  cfg.gateway.store(cfg.gateway_mac.b + 2);
  if (dns_forward) {
    cfg.dns = *dns_forward;
  } else {
    cfg.dns = wire::Ip4();
    cfg.disable_dns = true;
  }
  cfg.disable_host_loopback = no_map_gw;
  if (o.req.name == "tap0" && !host_if.empty()) o.req.name = host_if;  // pasta's default: the host's name

  log::init("pasta", debug ? log::Level::debug : quiet ? log::Level::quiet : log::Level::normal);
  spdlog::debug("container {}/{} gateway {} dns {}", core::to_string(cfg.guest), cfg.prefix, core::to_string(cfg.gateway),
                dns_forward ? core::to_string(cfg.dns) : "none");

  int ready_pipe[2] = {-1, -1};
  if (!foreground) {
    if (pipe2(ready_pipe, O_CLOEXEC) < 0) usage_error(std::string("pipe: ") + strerror(errno));
    const pid_t child = fork();
    if (child < 0) usage_error(std::string("fork: ") + strerror(errno));
    if (child > 0) {
      close(ready_pipe[1]);
      char b = 0;
      ssize_t n;
      while ((n = read(ready_pipe[0], &b, 1)) < 0 && errno == EINTR) {
      }
      if (n == 1) return 0;
      int st = 0;
      while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
      }
      if (WIFEXITED(st) && WEXITSTATUS(st) != 0) return WEXITSTATUS(st);
      std::fprintf(stderr, "pasta: ferry stopped before the namespace was ready\n");
      return 1;
    }
    close(ready_pipe[0]);
    setsid();
  }
  // Files are opened before the sandbox hides them (run.hpp).
  int null_fd = -1, log_fd = -1;
  o.before_sandbox = [&] {
    if (!pid_file.empty()) {
      if (FILE* f = std::fopen(pid_file.c_str(), "w")) {
        std::fprintf(f, "%d\n", int(getpid()));
        std::fclose(f);
      } else {
        spdlog::warn("cannot write --pid {}: {}", pid_file, strerror(errno));
      }
    }
    if (foreground) return;
    null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    log_fd = log_file.empty() ? null_fd : open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  };
  o.on_ready = [&] {
    if (foreground) return;
    // Detach: the engine may wait for our stdout/stderr to close.
    if (null_fd >= 0) {
      dup2(null_fd, 0);
      dup2(null_fd, 1);
      dup2(log_fd >= 0 ? log_fd : null_fd, 2);
    }
    if (log_fd >= 0 && log_fd != null_fd) close(log_fd);
    if (null_fd > 2) close(null_fd);
    if (write(ready_pipe[1], "1", 1) != 1) {
    }
    close(ready_pipe[1]);
  };
  if (ready_pipe[1] >= 0) o.keep_fds.push_back(ready_pipe[1]);
  return run(o);
}

}  // namespace ferry::cli
