#!/usr/bin/env bash
# DHCP on the tap: a rootless container whose tap ferry does NOT configure
# runs busybox udhcpc, which must get what slirp4netns hands out (10.0.2.15/24,
# router 10.0.2.2, DNS 10.0.2.3, and the MTU ferry runs with); with that
# configuration the container reaches a service on the host's 127.0.0.1
# through the gateway. A second client run asks for another address and
# still gets its lease, then releases it.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
ft_install_ferry
command -v busybox >/dev/null || { echo "SKIP: busybox is not installed (scripts/setup.sh installs busybox-static)"; exit 77; }

# udhcpc's event script: applies the lease with ip(8) and records what it
# was given. The container shares the host's mount namespace, so the DNS
# servers go to a file of the test, not to /etc/resolv.conf.
script="$FT_SHARED/udhcpc.script"
cat >"$script" <<'EOF'
#!/bin/sh
out=$(dirname "$0")
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    : >"$out/resolv"
    for d in $dns; do echo "nameserver $d" >>"$out/resolv"; done
    echo "ip=$ip mask=$mask router=$router dns=$dns mtu=$mtu lease=$lease serverid=$serverid" >"$out/lease"
    ;;
esac
EOF
chmod 0755 "$script"

ft_start_container
"${FT_AS_USER[@]}" "$FERRY_BIN" --mtu 65520 "$CPID" tap0 >"$FT_TMP/ferry.log" 2>&1 &
FERRY_PID=$!
ft_on_exit "ft_kill $FERRY_PID"
if ! ft_wait_for ft_in_ctr ip link show dev tap0; then
  echo "ferry did not create tap0; its log:"
  cat "$FT_TMP/ferry.log"
  exit 1
fi
ft_expect_eq "without --configure tap0 has no address" "" "$(ft_in_ctr ip -4 -o addr show dev tap0)"

ft_in_ctr ip link set lo up
ft_in_ctr ip link set tap0 up
if ft_in_ctr busybox udhcpc -i tap0 -f -q -n -t 5 -T 1 -s "$script" >"$FT_TMP/udhcpc.log" 2>&1; then
  ft_pass "udhcpc obtained a lease"
else
  ft_fail "udhcpc obtained no lease"
  cat "$FT_TMP/udhcpc.log"
fi
cat "$FT_SHARED/lease" 2>/dev/null || true
ft_expect_eq "leased address" "10.0.2.15/24" "$(ft_in_ctr ip -4 -o addr show dev tap0 | awk '{print $4}')"
ft_expect_eq "default route via the gateway" "default via 10.0.2.2 dev tap0" \
  "$(ft_in_ctr ip route show default | awk '{print $1,$2,$3,$4,$5}')"
ft_expect_eq "DNS server" "nameserver 10.0.2.3" "$(cat "$FT_SHARED/resolv" 2>/dev/null)"
ft_check "server id is the gateway, lease 86400 s" grep -q "lease=86400 serverid=10.0.2.2" "$FT_SHARED/lease"
ft_expect_eq "MTU from the DHCP option" "65520" \
  "$(ft_in_ctr ip -o link show dev tap0 | grep -o 'mtu [0-9]*' | cut -d' ' -f2)"

# With the lease applied, the host's loopback is reachable through the gateway.
port=$(ft_free_port)
mkdir -p "$FT_TMP/www"
echo "hello over dhcp" >"$FT_TMP/www/index.html"
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$FT_TMP/www" >/dev/null 2>&1 &
web=$!
ft_on_exit "ft_kill $web"
ft_wait_for python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))"
page=$(ft_in_ctr sh -c "printf 'GET /index.html HTTP/1.0\r\n\r\n' | socat -t 5 - TCP:10.0.2.2:$port" | tail -n 1)
ft_expect_eq "TCP to the host's 127.0.0.1 through the gateway" "hello over dhcp" "$page"
ft_check "ping to the gateway" ft_in_ctr ping -c 1 -W 2 10.0.2.2

# Asking for an address that is not ours to give: the client is offered
# its lease again. Then SIGUSR2 makes udhcpc release the lease (RELEASE
# unicast to the server; busybox sends none when it quits with -q -R).
rm -f "$FT_SHARED/lease"
# (setpriv and nsenter exec, so $! is udhcpc itself.)
"${FT_AS_USER[@]}" nsenter --target "$CPID" --user --net --preserve-credentials -- \
  busybox udhcpc -i tap0 -f -t 5 -T 1 -r 10.0.2.99 -s "$script" >>"$FT_TMP/udhcpc.log" 2>&1 &
client=$!
ft_on_exit "ft_kill $client"
ft_check "asking for 10.0.2.99 still leases 10.0.2.15" ft_wait_for grep -q "^ip=10.0.2.15 " "$FT_SHARED/lease"
kill -USR2 "$client"
ft_check "the client released its lease" ft_wait_for grep -q "released" "$FT_TMP/udhcpc.log"
ft_kill "$client"

counters=$(ft_counters)
get() { echo "$counters" | awk -v k="$1" '$1 == k {print $2}'; }
ft_check "offers counted ($(get dhcp_offers))" test "$(get dhcp_offers)" -ge 2
ft_check "acks counted ($(get dhcp_acks))" test "$(get dhcp_acks)" -ge 2
ft_expect_eq "the release counted" "1" "$(get dhcp_releases)"
ft_expect_eq "no malformed DHCP" "" "$(get drop_bad_dhcp)"

# The reference: the same client behind slirp4netns gets the same lease
# (slirp4netns sends no MTU option, so that field is left out).
if command -v slirp4netns >/dev/null; then
  ours=$(sed 's/ mtu=[0-9]*//' "$FT_SHARED/lease")
  rm -f "$FT_SHARED/lease"
  ft_kill "$FERRY_PID"
  ft_kill "$CPID"
  ft_start_container
  "${FT_AS_USER[@]}" slirp4netns --mtu 65520 "$CPID" tap0 >"$FT_TMP/slirp4netns.log" 2>&1 &
  slirp=$!
  ft_on_exit "ft_kill $slirp"
  ft_wait_for ft_in_ctr ip link show dev tap0
  ft_in_ctr ip link set tap0 up
  ft_in_ctr busybox udhcpc -i tap0 -f -q -n -t 5 -T 1 -s "$script" >"$FT_TMP/udhcpc-slirp.log" 2>&1 || true
  ft_expect_eq "the same lease as slirp4netns gives" "$(sed 's/ mtu=[0-9]*//' "$FT_SHARED/lease" 2>/dev/null)" "$ours"
fi
ft_done
