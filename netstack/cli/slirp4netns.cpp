// slirp4netns's command line (contracts.md section 1), for `ferry` and for
// ferry installed as `slirp4netns`, so that podman 4.x, rootlesskit and
// scripts can call it unchanged:
//
//   slirp4netns [OPTIONS] PID|PATH [TAPNAME]
//
// Parses with getopt_long into RunOptions, then run() (run.hpp) does the rest.
#include "common/log.hpp"
#include "netstack/cli/ferry_options.hpp"
#include "netstack/cli/personalities.hpp"
#include "netstack/cli/run.hpp"
#include "netstack/io/outbound.hpp"

#include <getopt.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace ferry::cli {
namespace {

// Podman greps this text for flags before passing them: list only flags that
// ferry really implements. --enable-sandbox and --enable-seccomp are listed
// so that podman passes them; ferry's sandbox is on anyway (docs/sandbox.md).
void print_help(const char* prog) {
  std::printf(
      "Usage: %s [OPTION]... PID|PATH [TAPNAME]\n"
      "User-mode networking for unprivileged network namespaces (slirp4netns-compatible).\n"
      "\n"
      "-c, --configure          bring up the interface\n"
      "-e, --exit-fd=FD         specify the FD for terminating %s\n"
      "-r, --ready-fd=FD        specify the FD to write to when the network is configured\n"
      "-m, --mtu=MTU            specify MTU (default=1500, max=65521)\n"
      "--cidr=CIDR              specify network address CIDR (default=10.0.2.0/24)\n"
      "--disable-host-loopback  prohibit connecting to 127.0.0.1:* on the host namespace\n"
      "-6, --enable-ipv6        enable IPv6 (fd00::/64 by router advertisement; gateway fd00::2, DNS fd00::3)\n"
      "--netns-type=TYPE        specify network namespace type ([path|pid], default=pid)\n"
      "--userns-path=PATH       specify user namespace path\n"
      "--disable-dns            disable built-in DNS (10.0.2.3 by default)\n"
      "--macaddress=MAC         specify the MAC address of the TAP (only valid with -c)\n"
      "--target-type=TYPE       specify the target type ([netns], default=netns)\n"
      "-a, --api-socket=PATH    specify API socket path\n"
      "--outbound-addr=IPv4     bind host sockets of container connections to IPv4 (an address or an interface name)\n"
      "--outbound-addr6=IPv6    the same for IPv6 connections (an address or an interface name)\n"
      "--enable-sandbox         accepted: ferry always runs sandboxed (own mount namespace, no capability\n"
      "                         but CAP_NET_BIND_SERVICE, no_new_privs)\n"
      "--enable-seccomp         accepted: ferry always applies its seccomp allow-list\n"
      "-t, --tcp-ports=SPEC     (ferry) publish container TCP ports, pasta syntax: 8080:80, 127.0.0.1/2222:22,\n"
      "                         1000-1010, ~1005; without an address on IPv4 and IPv6\n"
      "-u, --udp-ports=SPEC     (ferry) publish container UDP ports, same syntax\n"
      "--resolv-conf=PATH       (ferry) read upstream DNS servers from PATH (default=/etc/resolv.conf)\n"
      "--debug                  (ferry) log debug messages\n"
      "%s"
      "-h, --help               show this help and exit\n"
      "-v, --version            show version and exit\n"
      "\n"
      "Send SIGUSR1 to print counters (frames, flows, drops by reason) to stderr.\n",
      prog, prog, kFerryOptionsHelp);
}

void print_version(const char* prog) {
  if (std::strcmp(prog, "slirp4netns") == 0)
    std::printf("slirp4netns version 1.2.0 (ferry %s netstack, no libslirp)\n", kVersion);
  else
    std::printf("ferry version %s\nslirp4netns version 1.2.0 (compatible command line; ferry netstack, no libslirp)\n",
                kVersion);
  std::printf("commit: none\nSLIRP_CONFIG_VERSION_MAX: 4\n");
}

[[noreturn]] void usage_error(const char* prog, const std::string& msg) {
  std::fprintf(stderr, "%s: %s\n", prog, msg.c_str());
  std::fprintf(stderr, "Try '%s --help' for more information.\n", prog);
  std::exit(1);
}

}  // namespace

int slirp4netns_main(const char* prog, int argc, char** argv) {
  RunOptions o;
  core::NetConfig& cfg = o.cfg;
  bool configure = false, debug = false;
  long exit_fd = -1, ready_fd = -1;
  std::string netns_type = "pid", userns_path, cidr, macaddress, target_type = "netns";
  std::optional<std::string> outbound4, outbound6;

  enum { kCidr = 256, kDisableHostLoopback, kNetnsType, kUserns, kDisableDns, kMac, kTarget, kResolv, kDebug,
         kSandbox, kSeccomp, kApi, kIpv6, kOutbound, kOutbound6 };
  std::vector<option> opts = {
      {"configure", no_argument, nullptr, 'c'},
      {"exit-fd", required_argument, nullptr, 'e'},
      {"ready-fd", required_argument, nullptr, 'r'},
      {"mtu", required_argument, nullptr, 'm'},
      {"cidr", required_argument, nullptr, kCidr},
      {"disable-host-loopback", no_argument, nullptr, kDisableHostLoopback},
      {"netns-type", required_argument, nullptr, kNetnsType},
      {"userns-path", required_argument, nullptr, kUserns},
      {"disable-dns", no_argument, nullptr, kDisableDns},
      {"macaddress", required_argument, nullptr, kMac},
      {"target-type", required_argument, nullptr, kTarget},
      {"resolv-conf", required_argument, nullptr, kResolv},
      {"debug", no_argument, nullptr, kDebug},
      {"enable-sandbox", no_argument, nullptr, kSandbox},
      {"enable-seccomp", no_argument, nullptr, kSeccomp},
      {"api-socket", required_argument, nullptr, 'a'},
      {"tcp-ports", required_argument, nullptr, 't'},
      {"udp-ports", required_argument, nullptr, 'u'},
      {"enable-ipv6", no_argument, nullptr, '6'},
      {"outbound-addr", required_argument, nullptr, kOutbound},
      {"outbound-addr6", required_argument, nullptr, kOutbound6},
      {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, 'v'},
  };
  for (const option& h : ferry_options()) opts.push_back(h);
  opts.push_back({nullptr, 0, nullptr, 0});
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":ce:r:m:a:t:u:6hv", opts.data(), nullptr)) != -1) {
    switch (c) {
      case 'c': configure = true; break;
      case 'e':
        if (!parse_int(optarg, 0, INT32_MAX, exit_fd)) usage_error(prog, std::string("invalid --exit-fd: ") + optarg);
        break;
      case 'r':
        if (!parse_int(optarg, 0, INT32_MAX, ready_fd)) usage_error(prog, std::string("invalid --ready-fd: ") + optarg);
        break;
      case 'm': {
        long mtu;
        if (!parse_int(optarg, 68, 65521, mtu)) usage_error(prog, std::string("MTU must be 68-65521: ") + optarg);
        cfg.mtu = unsigned(mtu);
        break;
      }
      case kCidr: cidr = optarg; break;
      case kDisableHostLoopback: cfg.disable_host_loopback = true; break;
      case kNetnsType: netns_type = optarg; break;
      case kUserns: userns_path = optarg; break;
      case kDisableDns: cfg.disable_dns = true; break;
      case kMac: macaddress = optarg; break;
      case kTarget: target_type = optarg; break;
      case kResolv: cfg.resolv_conf = optarg; break;
      case kDebug: debug = true; break;
      case kSandbox:
      case kSeccomp:
        // Accepted silently: ferry's sandbox is always on (run.cpp).
        break;
      case 'a': o.api_socket = optarg; break;
      case 't':
      case 'u':
        if (auto r = o.port_specs.add(char(c), optarg); !r) usage_error(prog, r.error());
        break;
      case '6': cfg.ipv6 = true; break;
      case kOutbound: outbound4 = optarg; break;
      case kOutbound6: outbound6 = optarg; break;
      case 'h': print_help(prog); return 0;
      case 'v': print_version(prog); return 0;
      case ':': usage_error(prog, std::string("option requires an argument: ") + argv[optind - 1]);
      default:
        if (!is_ferry_option(c)) usage_error(prog, std::string("unknown option: ") + argv[optind - 1]);
        if (auto r = apply_ferry_option(c, optarg, o); !r) usage_error(prog, r.error());
    }
  }
  if (target_type == "bess") {
    usage_error(prog, "--target-type=bess (a BESS UNIX socket) is not supported by ferry; only --target-type=netns is");
  }
  if (target_type != "netns") usage_error(prog, "--target-type=" + target_type + " is not supported (only netns)");
  if (netns_type != "pid" && netns_type != "path") usage_error(prog, "--netns-type must be pid or path");
  if (!cidr.empty()) {
    if (auto r = core::apply_cidr(cfg, cidr); !r) usage_error(prog, r.error());
  }
  if (!macaddress.empty()) {
    if (!configure) usage_error(prog, "--macaddress can only be used with --configure");
    auto m = core::parse_mac(macaddress);
    if (!m) usage_error(prog, "invalid --macaddress: " + macaddress);
    cfg.guest_mac = m;
  }
  // Resolved now, in the host's namespace, where the sockets will be.
  if (outbound4) {
    auto a = io::resolve_outbound4(*outbound4, "--outbound-addr");
    if (!a) usage_error(prog, a.error());
    cfg.outbound_addr = *a;
  }
  if (outbound6) {
    auto a = io::resolve_outbound6(*outbound6, "--outbound-addr6");
    if (!a) usage_error(prog, a.error());
    cfg.outbound_addr6 = *a;
  }
  const int npos = argc - optind;
  if (npos < 1) usage_error(prog, "missing PID or PATH of the target");
  const std::string target = argv[optind];
  if (netns_type == "pid") {
    long pid;
    if (!parse_int(target.c_str(), 1, INT32_MAX, pid)) usage_error(prog, "PID must be a process id: " + target);
    o.req.pid = pid_t(pid);
  } else {
    o.req.netns_path = target;
  }
  if (npos >= 2) o.req.name = argv[optind + 1];
  if (npos > 2) std::fprintf(stderr, "%s: warning: ignoring extra arguments after %s\n", prog, argv[optind + 1]);
  o.req.userns_path = userns_path;
  o.req.configure = configure;
  o.exit_fd = int(exit_fd);
  o.ready_fd = int(ready_fd);

  log::init(prog, debug ? log::Level::debug : log::Level::normal);
  return run(o);
}

}  // namespace ferry::cli
