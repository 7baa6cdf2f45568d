#!/usr/bin/env bash
# --outbound-addr: host sockets of container flows take the given source
# address. The test builds its own "internet" (a namespace behind a veth,
# 198.18.N.0/29), gives the host a second address on that veth (.3) and an
# interface of its own with 198.19.N.1, and asks a server in the namespace which
# source address it sees: the host's .1 by default, .3 with
# --outbound-addr=198.18.N.3 (TCP, UDP, and ping through an ICMP echo
# socket, which the remote host answers only from .3), that interface's address with
# --outbound-addr=<dummy name>. Connections to the gateway keep going to
# the host's 127.0.0.1 from 127.0.0.1. Bad values fail at start-up with a
# message naming the problem.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
ft_install_ferry

ft_remote_host far
far=$FT_REMOTE_NS
far_ip=$FT_REMOTE_IP
n=${far_ip#198.18.}; n=${n%.2}
veth=$(ip -o -4 addr show | awk -v a="$FT_HOST_IP/29" '$4 == a {print $2}')
second=198.18.$n.3
ip addr add "$second/29" dev "$veth"
dummy=ob$FT_ID
dummy_ip=198.19.$n.1
# (A veth pair with both ends on the host: the dummy driver may be missing.)
ip link add "$dummy" type veth peer name "obp$FT_ID"
ft_on_exit "ip link del $dummy"
ip addr add "$dummy_ip/32" dev "$dummy"
ip link set "obp$FT_ID" up
ip link set "$dummy" up

# Servers that answer with the address they see the client at (after
# reading its line, so socat never writes to an exited reply process).
ip netns exec "$far" python3 "$NETTOOL" serve-peer 7000 >/dev/null 2>&1 &
tcp_srv=$!
ft_on_exit "ft_kill $tcp_srv"
ip netns exec "$far" socat UDP-RECVFROM:7001,fork 'SYSTEM:read x; echo $SOCAT_PEERADDR' &
udp_srv=$!
ft_on_exit "ft_kill $udp_srv"
lport=$(ft_free_port)
socat TCP-LISTEN:"$lport",bind=127.0.0.1,fork,reuseaddr 'SYSTEM:read x; echo $SOCAT_PEERADDR' &
lo_srv=$!
ft_on_exit "ft_kill $lo_srv"
ft_wait_for ip netns exec "$far" sh -c 'ss -Htln "sport = :7000" | grep -q .'
# The remote host answers ping only from the second address, so that a
# reply shows which source the host's ICMP echo socket used.
ip netns exec "$far" nft -f - <<EOF
table ip outbound_test {
  chain input {
    type filter hook input priority 0;
    icmp type echo-request ip saddr != $second drop
  }
}
EOF
ft_wait_for ft_listening "$lport"

tcp_peer() { ft_in_ctr sh -c "echo hi | socat -t 3 - TCP:$far_ip:7000" | head -n 1; }
udp_peer() { ft_in_ctr sh -c "echo hi | socat -t 3 - UDP:$far_ip:7001" | head -n 1; }
gw_peer() { ft_in_ctr sh -c "echo hi | socat -t 3 - TCP:10.0.2.2:$lport" | head -n 1; }
restart() {
  [ -n "${FERRY_PID:-}" ] && ft_kill "$FERRY_PID"
  [ -n "${CPID:-}" ] && ft_kill "$CPID"
  ft_start_container
  ft_start_ferry --configure "$@"
}

restart
ft_expect_eq "by default the remote host sees the host's address" "$FT_HOST_IP" "$(tcp_peer)"
if ft_in_ctr ping -c 1 -W 1 "$far_ip" >/dev/null 2>&1; then
  ft_fail "ping from the host's own address should be dropped by the remote host's filter"
else
  ft_pass "by default ping leaves from the host's address (filtered remotely)"
fi

restart --outbound-addr="$second"
ft_expect_eq "TCP with --outbound-addr=$second" "$second" "$(tcp_peer)"
ft_expect_eq "UDP with --outbound-addr=$second" "$second" "$(udp_peer)"
ft_expect_eq "the gateway still reaches the host's 127.0.0.1 from loopback" "127.0.0.1" "$(gw_peer)"
ft_check "ping with --outbound-addr=$second leaves from it" ft_in_ctr ping -c 1 -W 2 "$far_ip"

restart --outbound-addr="$dummy"
ft_expect_eq "TCP with --outbound-addr=$dummy (an interface name)" "$dummy_ip" "$(tcp_peer)"
ft_expect_eq "UDP with --outbound-addr=$dummy" "$dummy_ip" "$(udp_peer)"
ft_kill "$FERRY_PID"

# Bad values: ferry refuses to start and says why.
bad() {  # expected-text option
  local out rc=0
  out=$(ft_as_user "$FERRY_BIN" --configure "$2" "$CPID" tap0 2>&1) || rc=$?
  if [ "$rc" -ne 0 ] && grep -q -- "$1" <<<"$out"; then
    ft_pass "$2 is refused: $(head -n 1 <<<"$out")"
  else
    ft_fail "$2: expected an error with '$1', got rc=$rc: $out"
  fi
}
bad "no interface named 'nosuch$FT_ID'" --outbound-addr=nosuch$FT_ID
bad "not an address of this host" --outbound-addr=198.18.$n.6
bad "loopback" --outbound-addr=127.0.0.1
bad "multicast" --outbound-addr=224.0.0.1
bad "has to be an IPv6 address" --outbound-addr6=nosuch$FT_ID
bad "interface $dummy has .*IPv6 address" --outbound-addr6=$dummy
bad "link-local" --outbound-addr6=fe80::1
ft_done
