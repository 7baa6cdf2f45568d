#!/usr/bin/env bash
# Endings of TCP connections through ferry: the host peer closes mid-stream
# and the container reads everything then EOF; the host half-closes and
# sees the container's close as a FIN; the container aborts with a
# reset and the host peer sees ECONNRESET; a UDP echo round trip; a DNS query
# to the DNS address answered by a resolver this test started on a loopback
# address of its own (never the machine's resolver).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
ft_install_ferry

# A resolver of the test's own, on 127.53.x.y:53, named in a resolv.conf
# that only this ferry reads.
dns_ip="127.53.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))"
"$NETTOOL" dns-serve "$dns_ip" 53 ferry-test.example 192.0.2.55 &
dns=$!
ft_on_exit "ft_kill $dns"
printf 'search example\nnameserver %s\n' "$dns_ip" >"$FT_SHARED/resolv.conf"

ft_start_container
ft_start_ferry --configure --resolv-conf "$FT_SHARED/resolv.conf"

port=$(ft_free_port)
"$NETTOOL" serve-send-close "$port" 3000000 >"$FT_TMP/send-close.out" &
srv=$!
ft_wait_for ft_listening "$port"
rto_before=$(ft_ctr_rto_count)
ft_check "host closes after 3 MB: the container reads them all, then EOF" ft_in_ctr "$NETTOOL" recv-eof 10.0.2.2 "$port" 3000000
wait "$srv" || true
sleep 1.5  # long enough for a retransmission timeout of an unacknowledged FIN
ft_expect_eq "the container's FIN after the host's is acknowledged (no RTO in LAST-ACK)" "$rto_before" "$(ft_ctr_rto_count)"

# The host half-closes (shutdown after its data) and waits for the end: the
# container reads everything and closes; ferry's close of the host socket,
# with both FINs through and nothing left unread, must reach it as a FIN.
port=$(ft_free_port)
"$NETTOOL" serve-send-shutdown "$port" 300000 >"$FT_TMP/shutdown.out" &
srv=$!
ft_wait_for ft_listening "$port"
ft_check "host shuts its side after 300 kB: the container reads them all, then EOF" ft_in_ctr "$NETTOOL" recv-eof 10.0.2.2 "$port" 300000
wait "$srv" || true
ft_expect_eq "the container's close reaches the half-closed host as a FIN, not a reset" "eof" "$(cat "$FT_TMP/shutdown.out")"

port=$(ft_free_port)
"$NETTOOL" serve-expect-reset "$port" >"$FT_TMP/reset.out" 2>&1 &
srv=$!
ft_wait_for ft_listening "$port"
ft_in_ctr "$NETTOOL" connect-reset 10.0.2.2 "$port" >/dev/null
wait "$srv" || true
ft_expect_eq "container resets: the host peer sees a reset" "reset" "$(cat "$FT_TMP/reset.out")"

uport=$(ft_free_port udp)
"$NETTOOL" udp-echo "$uport" &
usrv=$!
ft_on_exit "ft_kill $usrv"
sleep 0.2
ft_check "UDP echo round trip through the gateway (200 datagrams)" ft_in_ctr "$NETTOOL" udp-roundtrip 10.0.2.2 "$uport" 200

answer=$(ft_in_ctr dig +time=2 +tries=2 +short @10.0.2.3 ferry-test.example A)
ft_expect_eq "DNS query to 10.0.2.3 answered by the test's resolver" "192.0.2.55" "$answer"
answer=$(ft_in_ctr dig +time=2 +tries=1 +short @10.0.2.3 other.example A || true)
ft_expect_eq "other names get the resolver's own answer (none)" "" "$answer"
ft_done
