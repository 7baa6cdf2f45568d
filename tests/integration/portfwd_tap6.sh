#!/usr/bin/env bash
# The IPv6 tap path of published ports (--enable-ipv6): a client that reaches
# a published port over IPv6 from off the host's loopback is translated
# through the tap to the container's own IPv6 address (the one it took by
# SLAAC, which ferry learns from duplicate address detection), so the
# container sees the client's real IPv6 address; the host itself on its own
# IPv6 address shows as the gateway fd00::2; a client on [::1] is spliced and
# shows as ::1. Data stays intact; UDP forwards likewise. The "remote" client
# lives in a namespace of the test's own behind a veth pair, with IPv6
# addresses from fd42:N::/64 (unique-local, the test's own).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
ft_install_ferry
SIZE=${FT_TAP_FWD_BYTES:-268435456}

ft_remote_host client6
cl=$FT_REMOTE_NS
n=$((RANDOM % 4000 + 1))
host6=fd42:$n::1
cl6=fd42:$n::2
ip -6 addr add "$host6/64" dev "$FT_REMOTE_VETH" nodad
ip -n "$cl" -6 addr add "$cl6/64" dev eth0 nodad
ft_wait_for ping -6 -c 1 -W 1 "$cl6"

port=$(ft_free_port)
uport=$(ft_free_port udp)
ft_start_container
ft_start_ferry --configure --mtu 65520 --enable-ipv6 -t "$port:7003" -u "$uport:7004"
"${FT_AS_USER[@]}" nsenter --target "$CPID" --user --net --preserve-credentials -- "$NETTOOL" serve-peer6 7003 &
ft_on_exit "ft_kill $!"
"${FT_AS_USER[@]}" nsenter --target "$CPID" --user --net --preserve-credentials -- "$NETTOOL" udp-serve :: 7004 &
ft_on_exit "ft_kill $!"
ft_wait_for ft_in_ctr sh -c 'ss -Htln "sport = :7003" | grep -q .'
ft_wait_for ft_in_ctr sh -c 'ss -Hunl "sport = :7004" | grep -q .'
# The SLAAC address leaves its tentative state once duplicate address
# detection is over; by then ferry has seen the detection's solicitation.
ft_check "the container has its SLAAC address in fd00::/64" \
  ft_wait_for ft_in_ctr sh -c 'ip -6 addr show dev tap0 scope global | grep "inet6 fd00::" | grep -vq tentative'
guest6=$(ft_in_ctr ip -6 addr show dev tap0 scope global | awk '/inet6 fd00::/ {sub("/.*", "", $2); print $2; exit}')
ft_log "container's IPv6 address: $guest6"

first_line() { socat -t 2 - "$@" </dev/null 2>/dev/null | head -n 1; }
ft_expect_eq "a remote IPv6 client is seen with its own address (IPv6 tap path)" "$cl6" \
  "$(ip netns exec "$cl" sh -c "socat -t 2 - TCP6:[$host6]:$port </dev/null | head -n 1")"
ft_expect_eq "the host on its own IPv6 address is seen as the gateway fd00::2" "fd00::2" \
  "$(first_line "TCP6:[$host6]:$port,bind=[$host6]")"
ft_expect_eq "a client on the host's ::1 is spliced and seen as ::1" "::1" "$(first_line "TCP6:[::1]:$port")"
ft_expect_eq "an IPv4 remote client still takes the IPv4 tap path" "::ffff:$FT_REMOTE_IP" \
  "$(ip netns exec "$cl" sh -c "socat -t 2 - TCP:$FT_HOST_IP:$port </dev/null | head -n 1")"

# Data through the IPv6 tap path, both ways at once (the server echoes).
ip netns exec "$cl" bash -c "head -c $SIZE /dev/urandom | tee >(sha256sum | cut -d' ' -f1 >$FT_TMP/sent) |
  socat -t 30 - TCP6:[$host6]:$port | tail -c +$(( ${#cl6} + 2 )) | sha256sum | cut -d' ' -f1 >$FT_TMP/back"
ft_expect_eq "$((SIZE >> 20)) MiB echoed through the IPv6 tap path intact (SHA-256)" \
  "$(cat "$FT_TMP/sent")" "$(cat "$FT_TMP/back")"

# UDP: the container sees the remote client's IPv6 address and port; the
# host's own IPv6 address as the gateway; data echoes intact.
seen=$(ip netns exec "$cl" "$NETTOOL" udp-whoami "$host6" "$uport" || true)
ft_check "a remote IPv6 UDP client is seen with its own address ('$seen')" grep -q "^$cl6 " <<<"$seen"
seen=$(python3 - "$host6" "$uport" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0)); s.settimeout(2)
s.sendto(b"whoami", (sys.argv[1], int(sys.argv[2]))); print(s.recv(100).decode())
PY
) || true
ft_check "the host on its own IPv6 address is seen as fd00::2 over UDP ('$seen')" grep -q "^fd00::2 " <<<"$seen"
out=$(ip netns exec "$cl" "$NETTOOL" udp-transfer "$host6" "$uport" 67108864 60000 2>&1) || true
ft_check "64 MiB in 60000-byte datagrams through the IPv6 UDP tap path, intact ($out)" grep -q 'echoed intact' <<<"$out"
out=$(ip netns exec "$cl" "$NETTOOL" udp-transfer "$host6" "$uport" 8388608 1400 2>&1) || true
ft_check "8 MiB in 1400-byte datagrams through the IPv6 UDP tap path, intact ($out)" grep -q 'echoed intact' <<<"$out"
counters=$(ft_counters)
grep -E "tcp_flows_inbound|udp_flows_inbound|tcp_retransmits|drop_" <<<"$counters" || true
ft_check "the connections and flows went through the translator (tcp_flows_inbound, udp_flows_inbound)" \
  sh -c "echo '$counters' | grep -q '^tcp_flows_inbound [1-9]' && echo '$counters' | grep -q '^udp_flows_inbound [1-9]'"
ft_done
