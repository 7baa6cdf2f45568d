#!/usr/bin/env bash
# The egress policy and --disable-host-loopback through the real command
# line (docs/security.md): with --disable-host-loopback and an allow-list of
# one port of a test host (a namespace of this test's own), the allowed port
# works by TCP, every other destination is refused at once (RST), UDP to a
# denied port is dropped, the host's loopback behind the gateway is refused
# although a service listens there, ping to the gateway is still answered by
# ferry, and the counters name each refusal. A bad rule is a clear error.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
ft_install_ferry
ft_quiet() { "$@" >/dev/null 2>&1; }

err=$("$FERRY_BIN" --deny 10.0.0.1/8 1 2>&1 | head -n 1 || true)
ft_check "a bad rule is refused naming it ($err)" grep -q -- "--deny 10.0.0.1/8: host bits" <<<"$err"
err=$("$FERRY_BIN" --allow 'example.com:80' 1 2>&1 | head -n 1 || true)
ft_check "a name is not an address ($err)" grep -q "'example.com' is not an IPv4 or IPv6 address" <<<"$err"

ft_remote_host far
far=$FT_REMOTE_NS
far_ip=$FT_REMOTE_IP
ip netns exec "$far" socat TCP-LISTEN:7000,fork,reuseaddr EXEC:cat &
s1=$!
ft_on_exit "ft_kill $s1"
ip netns exec "$far" socat TCP-LISTEN:7001,fork,reuseaddr EXEC:cat &
s2=$!
ft_on_exit "ft_kill $s2"
ip netns exec "$far" socat UDP-RECVFROM:7002,fork EXEC:cat &
s3=$!
ft_on_exit "ft_kill $s3"
ip netns exec "$far" socat UDP-RECVFROM:7003,fork EXEC:cat &  # answers, but is not allowed
s4=$!
ft_on_exit "ft_kill $s4"
ft_wait_for ip netns exec "$far" sh -c 'ss -Htln "sport = :7001" | grep -q .'
host_port=$(ft_free_port)
"$NETTOOL" serve-echo "$host_port" &
hs=$!
ft_on_exit "ft_kill $hs"
ft_wait_for ft_listening "$host_port"

ft_start_container
ft_start_ferry --configure --enable-ipv6 --disable-host-loopback --allow "$far_ip/32:7000" --allow "$far_ip/32:7002"

reply=$(ft_in_ctr sh -c "echo allowed | socat -t 3 - TCP:$far_ip:7000")
ft_expect_eq "an allowed destination works" "allowed" "$reply"
reply=$(ft_in_ctr sh -c "echo udp-allowed | socat -t 3 - UDP:$far_ip:7002")
ft_expect_eq "an allowed UDP destination works" "udp-allowed" "$reply"
ft_check "another port of the same host is refused (allow-list: default deny)" \
  ft_quiet ft_in_ctr "$NETTOOL" connect-refused "$far_ip" 7001
ft_check "--disable-host-loopback: the gateway does not lead to the host's 127.0.0.1" \
  ft_quiet ft_in_ctr "$NETTOOL" connect-refused 10.0.2.2 "$host_port"
ft_check "the container configured IPv6 (SLAAC)" \
  ft_wait_for ft_in_ctr sh -c 'ip -6 route | grep -q "^default via fe80::2"'
socat "TCP6-LISTEN:$host_port,bind=[::1],reuseaddr,fork" SYSTEM:"echo reached" &
ft_on_exit "ft_kill $!"
reply=$(ft_in_ctr sh -c "socat -T 3 - TCP6:[fd00::2]:$host_port 2>&1 </dev/null" || true)
ft_check "--disable-host-loopback over IPv6: fd00::2 does not lead to the host's ::1 ($reply)" \
  sh -c "! echo '$reply' | grep -q reached && echo '$reply' | grep -qi 'refused'"
reply=$(ft_in_ctr sh -c "echo udp-denied | socat -t 1 - UDP:$far_ip:7003" 2>/dev/null || true)
ft_expect_eq "UDP to a denied port is dropped (its echo server never hears it)" "" "$reply"
ft_check "ping to the gateway is still answered by ferry" ft_quiet ft_in_ctr ping -q -c 1 -W 2 10.0.2.2

ctrs=$(ft_counters)
ctr() { awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }' <<<"$ctrs"; }
ft_check "refusals counted: policy_denied $(ctr drop_policy_denied) >= 2" test "$(ctr drop_policy_denied)" -ge 2
ft_check "the denied UDP datagram reached no host socket" test "$(ctr udp_flows_opened)" -eq 1
ft_check "refusals counted: host_loopback_disabled $(ctr drop_host_loopback_disabled) >= 1" \
  test "$(ctr drop_host_loopback_disabled)" -ge 1
ft_done
