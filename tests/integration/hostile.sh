#!/usr/bin/env bash
# A hostile container cannot hurt the host, its neighbours, or ferry
# (docs/security.md). While a legitimate 1 GiB transfer runs from the
# container to a service on the host's 127.0.0.1 (through the gateway), the
# container's root writes crafted frames onto its tap with scapy
# (tests/tools/hostile.py): malformed headers and lengths, bad checksums,
# overlapping and never-completing fragments, a SYN flood to a host port
# from spoofed sources, a UDP datagram to each of the 65,535 ports of a test
# host (a namespace of this test's own), an ICMP flood, ARP spoofing of the
# gateway and NDP spoofing. Afterwards: the transfer arrived intact, ferry is
# alive and still serves, its descriptors and memory stay within the
# configured bounds, and its counters show the drops by reason. The egress
# policy (--deny) refuses what it names, through the real command line.
#
# FT_HOSTILE_BYTES overrides the transfer's size (default 1 GiB);
# FT_HOSTILE_MAX_RSS_MB the memory bound (default 128 MiB, 512 MiB under ASan,
# whose shadow memory and quarantine dominate).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
PY3=/usr/bin/python3  # Debian's, which has python3-scapy
if ! $PY3 -c 'import scapy' 2>/dev/null; then
  echo "SKIP: python3-scapy is not installed (scripts/setup.sh installs it)"
  exit 77
fi
ft_install_ferry
ft_quiet() { "$@" >/dev/null 2>&1; }
cp "$(dirname "$0")/../tools/hostile.py" "$FT_TMP/hostile.py"
chmod 0755 "$FT_TMP/hostile.py"
SIZE=${FT_HOSTILE_BYTES:-1073741824}
MAX_TCP=1024 MAX_UDP=512 HALF_OPEN=128 PER_PORT=128

ft_remote_host far  # the UDP scan's target; one TCP port listens, which the policy denies
ip netns exec "$FT_REMOTE_NS" socat TCP-LISTEN:9,fork,reuseaddr EXEC:cat &
far_srv=$!
ft_on_exit "ft_kill $far_srv"
ft_wait_for ip netns exec "$FT_REMOTE_NS" sh -c 'ss -Htln "sport = :9" | grep -q .'

# Host services on 127.0.0.1: the transfer's sink, a listener for the SYN
# flood (small backlog, never accepts), one the policy denies, a UDP echo.
sink_port=$(ft_free_port)
socat -u "TCP-LISTEN:$sink_port,bind=127.0.0.1,reuseaddr" - | sha256sum | cut -d' ' -f1 >"$FT_TMP/recv" &
sink=$!
ft_on_exit "ft_kill $sink"
flood_port=$(ft_free_port)
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16); time.sleep(100000)' "$flood_port" &
flood=$!
ft_on_exit "ft_kill $flood"
denied_port=$(ft_free_port)
"$NETTOOL" serve-echo "$denied_port" &
denied=$!
ft_on_exit "ft_kill $denied"
udp_port=$(ft_free_port udp)
"$NETTOOL" udp-echo "$udp_port" &
uecho=$!
ft_on_exit "ft_kill $uecho"
ft_wait_for ft_listening "$sink_port"
ft_wait_for ft_listening "$flood_port"
ft_wait_for ft_listening "$denied_port"

ft_start_container
ft_start_ferry --configure --mtu 65520 --enable-ipv6 --deny "$FT_REMOTE_IP/32:9" --deny "127.0.0.1/32:$denied_port" \
  --max-tcp-flows "$MAX_TCP" --max-tcp-half-open "$HALF_OPEN" --max-udp-flows "$MAX_UDP" \
  --max-udp-flows-per-port "$PER_PORT" --max-dns-queries 32

# The egress policy, before the flood fills the half-open table.
ft_check "--deny 127.0.0.1/32:PORT: connecting to the gateway's PORT is refused" \
  ft_quiet ft_in_ctr "$NETTOOL" connect-refused 10.0.2.2 "$denied_port"
ft_check "--deny ADDR/32:9: a listening port of the test host is refused" \
  ft_quiet ft_in_ctr "$NETTOOL" connect-refused "$FT_REMOTE_IP" 9

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$FERRY_PID/status"; }
ft_log "ferry before: VmRSS $(rss_kb) kB, $(ft_fd_count "$FERRY_PID") descriptors"

# The legitimate transfer, in the background.
rto_before=$(ft_ctr_rto_count)
t_start=$(date +%s.%N)
ft_in_ctr bash -c "head -c $SIZE /dev/urandom | tee >(sha256sum | cut -d' ' -f1 >$FT_SHARED/sent) |
  socat -u - TCP:10.0.2.2:$sink_port" >"$FT_TMP/transfer.log" 2>&1 &
transfer=$!
ft_on_exit "ft_kill $transfer"

# The attack, at the same time. HOME: scapy's cache, somewhere writable.
max_fds=0 max_rss=0
ft_in_ctr env HOME="$FT_SHARED" $PY3 "$FT_TMP/hostile.py" tap0 10.0.2.2 10.0.2.3 "$flood_port" "$FT_REMOTE_IP" \
  >"$FT_TMP/hostile.log" 2>&1 &
attack=$!
ft_on_exit "ft_kill $attack"
while kill -0 "$attack" 2>/dev/null || kill -0 "$transfer" 2>/dev/null; do
  n=$(ft_fd_count "$FERRY_PID" 2>/dev/null || echo 0)
  r=$(rss_kb 2>/dev/null || echo 0)
  [ "$n" -gt "$max_fds" ] && max_fds=$n
  [ "$r" -gt "$max_rss" ] && max_rss=$r
  sleep 0.2
done
attack_rc=0
wait "$attack" || attack_rc=$?
cat "$FT_TMP/hostile.log"
ft_expect_eq "hostile.py ran to the end" 0 "$attack_rc"
wait "$transfer" || true
wait "$sink" || true
ft_log "the transfer took $(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s; the container's retransmission timeouts: $(($(ft_ctr_rto_count) - rto_before))"
sleep 0.2
ft_expect_eq "$SIZE bytes container -> host intact during the attack (SHA-256)" "$(cat "$FT_SHARED/sent")" "$(cat "$FT_TMP/recv")"
ft_check "ferry is alive after the attack" kill -0 "$FERRY_PID"

ft_log "ferry peak during the attack: VmRSS $max_rss kB, $max_fds descriptors"
ft_check "descriptors stayed within the flow bounds ($max_fds <= $MAX_TCP + $MAX_UDP + 256)" \
  test "$max_fds" -le $((MAX_TCP + MAX_UDP + 256))
if ldd "$FERRY_BIN" | grep >/dev/null libasan; then default_rss_mb=512; else default_rss_mb=128; fi
max_rss_mb=${FT_HOSTILE_MAX_RSS_MB:-$default_rss_mb}
ft_check "memory stayed bounded (peak VmRSS $((max_rss / 1024)) MiB <= $max_rss_mb MiB)" \
  test "$max_rss" -le $((max_rss_mb * 1024))

# ferry still serves: ping and a UDP round trip.
ft_check "the gateway still answers ping" ft_quiet ft_in_ctr ping -q -c 1 -W 2 10.0.2.2
ft_check "a UDP round trip through the gateway still works" ft_in_ctr "$NETTOOL" udp-roundtrip 10.0.2.2 "$udp_port" 5

ctrs=$(ft_counters)
echo "$ctrs"
ctr() { awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }' <<<"$ctrs"; }
for reason in bad_ip_version bad_ip_header bad_ip_length bad_ip_checksum bad_tcp_header bad_tcp_checksum \
  bad_udp_header bad_udp_checksum bad_icmp_checksum fragment_overlap fragment_table_full fragment_dropped \
  tcp_half_open_full policy_denied; do
  ft_check "drops counted by reason: $reason ($(ctr "drop_$reason"))" test "$(ctr "drop_$reason")" -gt 0
done
# The UDP scan (65,535 ports from one source port): the per-port bound evicted,
# the table stayed small.
ft_check "UDP scan: flows of one source port evicted ($(ctr dgram_evicted_port))" \
  test "$(ctr dgram_evicted_port)" -ge $((65535 - 1 - PER_PORT))  # port 9 is denied: no flow
ft_check "UDP scan: flows left open within the bounds ($(ctr dgram_flows_active) <= $MAX_UDP)" \
  test "$(ctr dgram_flows_active)" -le "$MAX_UDP"
ft_check "NDP: malformed neighbour solicitations counted ($(ctr drop_bad_ndp))" test "$(ctr drop_bad_ndp)" -gt 0
ft_check "after the NDP spoofing ferry still answers for the IPv6 gateway (ping6 fd00::2)" \
  ft_quiet ft_in_ctr ping -6 -c 1 -W 2 fd00::2

ft_done
