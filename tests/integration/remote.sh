#!/usr/bin/env bash
# Destinations other than the gateway keep their address: the test builds a
# small "internet" of its own - a network namespace reached from the host
# over a veth pair (198.18.N.0/29, the benchmarking range) - and the
# rootless container reaches it through ferry by TCP, UDP and ping (the
# last through an unprivileged ICMP echo socket on the host).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
ft_install_ferry

ft_remote_host far
far=$FT_REMOTE_NS
host_ip=$FT_HOST_IP
far_ip=$FT_REMOTE_IP
n=${far_ip#198.18.}; n=${n%.2}

ip netns exec "$far" socat TCP-LISTEN:7000,fork,reuseaddr EXEC:cat &
tcp_srv=$!
ft_on_exit "ft_kill $tcp_srv"
ip netns exec "$far" socat UDP-RECVFROM:7001,fork EXEC:cat &
udp_srv=$!
ft_on_exit "ft_kill $udp_srv"
ft_wait_for ip netns exec "$far" sh -c 'ss -Htln "sport = :7000" | grep -q .'

ft_start_container
ft_start_ferry --configure

ft_check "ping to a remote host through an ICMP echo socket" ft_in_ctr ping -c 2 -W 2 "$far_ip"
reply=$(ft_in_ctr sh -c "echo tcp-hello | socat -t 3 - TCP:$far_ip:7000")
ft_expect_eq "TCP to a remote host keeps its address" "tcp-hello" "$reply"
reply=$(ft_in_ctr sh -c "echo udp-hello | socat -t 3 - UDP:$far_ip:7001")
ft_expect_eq "UDP to a remote host keeps its address" "udp-hello" "$reply"
closed=7002
out=$(ft_in_ctr "$NETTOOL" connect-refused "$far_ip" "$closed" 2>&1) || true
ft_check "a closed remote port is refused at once (${out} ms)" test "${out:-999}" -lt 100 2>/dev/null
# 198.18.N.3 is on the veth's subnet but nobody answers ARP for it: the
# host's connect fails with EHOSTUNREACH, the container gets ICMP host
# unreachable and sees "No route to host".
gone=198.18.$n.3
err=$(ft_in_ctr python3 -c "
import socket, sys
try:
    socket.create_connection(('$gone', 7000), timeout=20)
except OSError as e:
    print(e.strerror)" 2>&1)
ft_expect_eq "an unreachable host is reported as unreachable" "No route to host" "$err"
ft_done
