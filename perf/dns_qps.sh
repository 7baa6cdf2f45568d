#!/usr/bin/env bash
# Side-by-side throughput of ferry-dns and Debian's aardvark-dns 1.4.0 on the
# same config, measured with dnsperf in one run (figures vary from machine to
# machine and run to run: only the ratio means something). Not a test: it
# asserts nothing about speed. Run as root:
#   FERRY_DNS=build/aardvark-dns/ferry-dns perf/dns_qps.sh [seconds]
# Needs dnsperf and aardvark-dns (Debian packages). Everything runs in a
# network namespace this script creates; the "containers" are addresses on
# its loopback and dnsperf sends from one of them (-a), so every query is
# answered locally (A for container names; no upstream involved).
. "$(dirname "$0")/../tests/lib/common.sh"
ft_require_root
AARDVARK=${AARDVARK:-/usr/lib/podman/aardvark-dns}
for tool in dnsperf "$AARDVARK"; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
: "${FERRY_DNS:?FERRY_DNS must point at the ferry-dns binary}"
SECONDS_EACH=${1:-10}

ft_netns dnsbench >/dev/null
NS=$FT_NETNS
for a in 10.98.0.1 10.98.0.2 10.98.1.1 10.98.1.2; do ip -n "$NS" addr add "$a/32" dev lo; done
echo "nameserver 127.0.0.1" > "$FT_TMP/resolv.conf"

# Same network file for both servers, each in its own directory and on its
# own listen address (10.98.0.1 ferry-dns, 10.98.1.1 aardvark-dns).
mkconf() {  # dir listen client
  mkdir -p "$1"
  {
    echo "$2"
    echo "client $3  client"
    for i in $(seq 1 50); do echo "ctr$i 10.97.$((i / 250)).$((i % 250 + 1))  ctr$i,alias$i"; done
  } > "$1/bench"
}
mkconf "$FT_TMP/ferry" 10.98.0.1 10.98.0.2
mkconf "$FT_TMP/aardvark" 10.98.1.1 10.98.1.2
for i in $(seq 1 50); do echo "ctr$i A"; echo "alias$i.dns.podman A"; done > "$FT_TMP/queries"

FERRY_DNS_RESOLV_CONF=$FT_TMP/resolv.conf ip netns exec "$NS" "$FERRY_DNS" --config "$FT_TMP/ferry" -p 53 run
ft_on_exit "ft_kill $(cat "$FT_TMP/ferry/aardvark.pid")"
ip netns exec "$NS" "$AARDVARK" --config "$FT_TMP/aardvark" -p 53 run > "$FT_TMP/aardvark.log" 2>&1 || true
ft_wait_for test -s "$FT_TMP/aardvark/aardvark.pid"
ft_on_exit "ft_kill $(cat "$FT_TMP/aardvark/aardvark.pid")"
ft_wait_for ip netns exec "$NS" dig +short +time=1 -b 10.98.1.2 @10.98.1.1 ctr1

qps() {  # server client
  ip netns exec "$NS" dnsperf -s "$1" -a "$2" -d "$FT_TMP/queries" -l "$SECONDS_EACH" -c 4 -q 200 2>&1 |
    tee -a "$FT_TMP/dnsperf.log" | awk '/Queries per second/ {print $4}'
}
lost() { awk '/Queries lost/ {print $3}' "$FT_TMP/dnsperf.log" | tail -n 1; }
ferry=$(qps 10.98.0.1 10.98.0.2); ferry_lost=$(lost)
aard=$(qps 10.98.1.1 10.98.1.2); aard_lost=$(lost)
echo "ferry-dns:    ${ferry:-?} queries/s (lost $ferry_lost)"
echo "aardvark-dns: ${aard:-?} queries/s (lost $aard_lost)"
if [ -n "$ferry" ] && [ -n "$aard" ]; then
  python3 -c "print('ratio ferry/aardvark: %.2f' % ($ferry / $aard))"
fi
