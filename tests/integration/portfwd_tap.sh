#!/usr/bin/env bash
# The tap path of published ports: a client that is not on the host's
# loopback is translated through the tap, so the container sees its real
# address; the host itself on a non-loopback address is shown as the
# gateway; a loopback client is spliced and shows as 127.0.0.1. Data stays
# intact over the tap path. The "remote" client lives in a namespace of the
# test's own behind a veth pair (198.18.N.0/29). The same for UDP forwards:
# replies go back to the right client, data echoes intact.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
ft_install_ferry
SIZE=${FT_TAP_FWD_BYTES:-268435456}

ft_remote_host client
cl=$FT_REMOTE_NS
host_ip=$FT_HOST_IP
cl_ip=$FT_REMOTE_IP

port=$(ft_free_port)
ft_start_container
uport=$(ft_free_port)
dport=$(ft_free_port)
ft_start_ferry --configure --mtu 65520 -t "$port:7003" -u "$uport:7004" -t "$dport:7005"
"${FT_AS_USER[@]}" nsenter --target "$CPID" --user --net --preserve-credentials -- "$NETTOOL" serve-peer 7003 &
ft_on_exit "ft_kill $!"
"${FT_AS_USER[@]}" nsenter --target "$CPID" --user --net --preserve-credentials -- "$NETTOOL" udp-serve 0.0.0.0 7004 &
ft_on_exit "ft_kill $!"
"${FT_AS_USER[@]}" nsenter --target "$CPID" --user --net --preserve-credentials -- "$NETTOOL" serve-digest 0.0.0.0 7005 &
ft_on_exit "ft_kill $!"
ft_wait_for ft_in_ctr sh -c 'ss -Htln "sport = :7003" | grep -q .'
ft_wait_for ft_in_ctr sh -c 'ss -Htln "sport = :7005" | grep -q .'
ft_wait_for ft_in_ctr sh -c 'ss -Hunl "sport = :7004" | grep -q .'

first_line() { socat -t 2 - "$@" </dev/null 2>/dev/null | head -n 1; }
ft_expect_eq "a remote client is seen with its own address (tap path)" "$cl_ip" \
  "$(ip netns exec "$cl" sh -c "socat -t 2 - TCP:$host_ip:$port </dev/null | head -n 1")"
ft_expect_eq "the host on its own non-loopback address is seen as the gateway" "10.0.2.2" \
  "$(first_line "TCP:$host_ip:$port,bind=$host_ip")"
ft_expect_eq "a loopback client is spliced and seen as 127.0.0.1" "127.0.0.1" "$(first_line "TCP:127.0.0.1:$port")"
ft_check "a remote client half-closes over the tap path and still gets the answer (20 connections)" \
  ip netns exec "$cl" "$NETTOOL" half-close "$host_ip" "$dport" 20

# Data through the tap path, both ways at once (the server echoes).
ip netns exec "$cl" bash -c "head -c $SIZE /dev/urandom | tee >(sha256sum | cut -d' ' -f1 >$FT_TMP/sent) |
  socat -t 30 - TCP:$host_ip:$port | tail -c +$(( ${#cl_ip} + 2 )) | sha256sum | cut -d' ' -f1 >$FT_TMP/back"
ft_expect_eq "$((SIZE >> 20)) MiB echoed through the tap path intact (SHA-256)" "$(cat "$FT_TMP/sent")" "$(cat "$FT_TMP/back")"
# UDP: the container sees the remote client's address and port, the host's
# own address as the gateway; 200 remote clients at once each get their own
# replies; data echoes intact in large and small datagrams.
seen=$(ip netns exec "$cl" "$NETTOOL" udp-whoami "$host_ip" "$uport" || true)
ft_check "a remote UDP client is seen with its own address ('$seen')" grep -q "^$cl_ip " <<<"$seen"
seen=$(python3 - "$host_ip" "$uport" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0)); s.settimeout(2)
s.sendto(b"whoami", (sys.argv[1], int(sys.argv[2]))); print(s.recv(100).decode())
PY
) || true
ft_check "the host on its own address is seen as the gateway over UDP ('$seen')" grep -q "^10.0.2.2 " <<<"$seen"
ft_check "200 remote UDP clients at once, each answered with its own datagrams" \
  ip netns exec "$cl" "$NETTOOL" udp-clients "$host_ip" "$uport" 200
out=$(ip netns exec "$cl" "$NETTOOL" udp-transfer "$host_ip" "$uport" "$SIZE" 60000 2>&1) || true
ft_check "$((SIZE >> 20)) MiB in 60000-byte datagrams through the UDP tap path, intact ($out)" grep -q 'echoed intact' <<<"$out"
out=$(ip netns exec "$cl" "$NETTOOL" udp-transfer "$host_ip" "$uport" 8388608 1400 2>&1) || true
ft_check "8 MiB in 1400-byte datagrams through the UDP tap path, intact ($out)" grep -q 'echoed intact' <<<"$out"
ft_counters | grep -E "tcp_flows_inbound|udp_flows_inbound|tcp_retransmits|drop_" || true
ft_done
