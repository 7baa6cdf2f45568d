#!/usr/bin/env bash
# Makes a fresh Debian 12 machine ready to build and test ferry. Run as root.
# Idempotent: installs only what is missing, and changes nothing twice.
#  - Debian packages for the build (meson, liburing, libnl, Boost, spdlog,
#    GoogleTest, Google Benchmark, libseccomp; clang with libFuzzer and
#    llvm-symbolizer for scripts/fuzz.sh) and for the tests (iproute2,
#    scapy for the hostile-container test, socat, iperf3, dnsmasq, dig,
#    netavark, aardvark-dns, busybox, uidmap, and rootless podman 4.3.1 with runc, conmon and rootlesskit for the
#    personality tests in tests/personality).
#  - /dev/net/tun mode 0666, as on ordinary distributions, so that a rootless
#    process can open it inside its user namespace.
#  - An unprivileged user, ferrytest, with subordinate uid/gid ranges: the
#    rootless tests run as that user.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "setup.sh: run as root (it installs Debian packages)" >&2
  exit 1
fi

packages=(
  build-essential meson ninja-build pkg-config python3
  liburing-dev libnl-3-dev libnl-route-3-dev libboost1.81-dev libboost-json1.81-dev
  libspdlog-dev libseccomp-dev libgtest-dev libgmock-dev libbenchmark-dev
  clang clang-14 libclang-rt-14-dev llvm-14
  iproute2 iputils-ping socat iperf3 dnsmasq-base dnsutils busybox-static isc-dhcp-client uidmap
  util-linux procps netavark aardvark-dns python3-scapy
  nftables libnftables-dev iptables dnsperf passt slirp4netns
  podman runc conmon rootlesskit golang-github-containers-common
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep >/dev/null "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -c /dev/net/tun ]; then
  mkdir -p /dev/net
  mknod /dev/net/tun c 10 200
fi
chmod 0666 /dev/net/tun

if ! id ferrytest >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash ferrytest
fi
for f in /etc/subuid /etc/subgid; do
  touch "$f"
  grep -q '^ferrytest:' "$f" || echo "ferrytest:300000:65536" >> "$f"
done
# Unprivileged ICMP echo sockets for everyone (ping through ferry).
sysctl -q -w net.ipv4.ping_group_range="0 2147483647" || true
