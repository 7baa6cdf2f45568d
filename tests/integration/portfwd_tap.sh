#!/usr/bin/env bash
# The tap path of published ports: a client that is not on the host's
# loopback is translated through the tap, so the container sees its real
# address; the host itself on a non-loopback address is shown as the
# gateway; a loopback client is spliced and shows as 127.0.0.1. Data stays
# intact over the tap path. The "remote" client lives in a namespace of the
# test's own behind a veth pair (198.18.N.0/29).
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
ft_start_ferry --configure --mtu 65520 -t "$port:7003"
"${FT_AS_USER[@]}" nsenter --target "$CPID" --user --net --preserve-credentials -- "$NETTOOL" serve-peer 7003 &
ft_on_exit "ft_kill $!"
ft_wait_for ft_in_ctr sh -c 'ss -Htln "sport = :7003" | grep -q .'

first_line() { socat -t 2 - "$@" </dev/null 2>/dev/null | head -n 1; }
ft_expect_eq "a remote client is seen with its own address (tap path)" "$cl_ip" \
  "$(ip netns exec "$cl" sh -c "socat -t 2 - TCP:$host_ip:$port </dev/null | head -n 1")"
ft_expect_eq "the host on its own non-loopback address is seen as the gateway" "10.0.2.2" \
  "$(first_line "TCP:$host_ip:$port,bind=$host_ip")"
ft_expect_eq "a loopback client is spliced and seen as 127.0.0.1" "127.0.0.1" "$(first_line "TCP:127.0.0.1:$port")"

# Data through the tap path, both ways at once (the server echoes).
ip netns exec "$cl" bash -c "head -c $SIZE /dev/urandom | tee >(sha256sum | cut -d' ' -f1 >$FT_TMP/sent) |
  socat -t 30 - TCP:$host_ip:$port | tail -c +$(( ${#cl_ip} + 2 )) | sha256sum | cut -d' ' -f1 >$FT_TMP/back"
ft_expect_eq "$((SIZE >> 20)) MiB echoed through the tap path intact (SHA-256)" "$(cat "$FT_TMP/sent")" "$(cat "$FT_TMP/back")"
ft_counters | grep -E "tcp_flows_inbound|tcp_retransmits|drop_" || true
ft_done
