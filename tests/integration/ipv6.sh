#!/usr/bin/env bash
# IPv6 with --enable-ipv6, rootless: the container configures itself by SLAAC
# from ferry's router advertisement (address in fd00::/64, default route via
# fe80::2; ferry configures no IPv6 itself); ping6 to the gateway and DNS
# addresses is answered; TCP through the gateway fd00::2 reaches the host's
# ::1, 1 GiB intact each way; UDP likewise (large and small datagrams); DNS
# queries to fd00::3 are answered by the host's resolver; a published port
# listening on the host's ::1 reaches the container's ::1. A DHCPv6 client
# (ISC dhclient) gets fd00::100 and the DNS address from ferry.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
ft_install_ferry
SIZE=${FT_TRANSFER_BYTES:-1073741824}

dns_ip="127.53.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))"
"$NETTOOL" dns-serve "$dns_ip" 53 ferry-test.example 192.0.2.55 &
ft_on_exit "ft_kill $!"
printf 'nameserver %s\n' "$dns_ip" >"$FT_SHARED/resolv.conf"

fwd_port=$(ft_free_port)
ft_start_container
ft_start_ferry --configure --mtu 65520 --enable-ipv6 --resolv-conf "$FT_SHARED/resolv.conf" -t "::1/$fwd_port:7301"

ft_check "SLAAC: the container takes an address in fd00::/64 from the router advertisement" \
  ft_wait_for ft_in_ctr sh -c 'ip -6 addr show dev tap0 scope global | grep -q "inet6 fd00::"'
ft_check "SLAAC: default route via the gateway's link-local fe80::2" \
  ft_wait_for ft_in_ctr sh -c 'ip -6 route | grep -q "^default via fe80::2 dev tap0"'
ft_check "ping6 to the gateway fd00::2" ft_in_ctr ping -6 -c 2 -W 2 fd00::2
ft_check "ping6 to the DNS address fd00::3" ft_in_ctr ping -6 -c 1 -W 2 fd00::3

# --- DHCPv6 -------------------------------------------------------------------------
cat >"$FT_SHARED/dhcp6-script" <<'S'
#!/bin/sh
echo "reason=$reason address=$new_ip6_address dns=$new_dhcp6_name_servers" >>"$(dirname "$0")/dhcp6.out"
S
chmod 0755 "$FT_SHARED/dhcp6-script"
ft_in_ctr timeout 30 dhclient -6 -1 -lf "$FT_SHARED/lease6" -pf "$FT_SHARED/dhclient6.pid" \
  -sf "$FT_SHARED/dhcp6-script" tap0 >/dev/null 2>&1 || true
# Once bound, dhclient stays in the background to renew the lease; it would
# outlive the test and keep the container's namespace alive. End it on exit
# (by the PID it wrote, if that is still a dhclient).
ft_wait_for test -s "$FT_SHARED/dhclient6.pid" || true
dh6=$(cat "$FT_SHARED/dhclient6.pid" 2>/dev/null || true)
if [ -n "$dh6" ] && [ "$(cat "/proc/$dh6/comm" 2>/dev/null)" = dhclient ]; then ft_on_exit "ft_kill $dh6"; fi
ft_check "DHCPv6 (dhclient -6): bound to fd00::100 with DNS fd00::3 ($(tail -n 1 "$FT_SHARED/dhcp6.out" 2>/dev/null))" \
  grep -q '^reason=BOUND6 address=fd00::100 dns=fd00::3$' "$FT_SHARED/dhcp6.out"

# --- TCP: 1 GiB each way between the container and the host's ::1 ------------------
port=$(ft_free_port)
socat -u "TCP6-LISTEN:$port,bind=[::1],reuseaddr" - | sha256sum | cut -d' ' -f1 >"$FT_TMP/recv1" &
sink=$!
ft_wait_for ft_listening "$port"
ft_in_ctr bash -c "head -c $SIZE /dev/urandom | tee >(sha256sum | cut -d' ' -f1 >$FT_SHARED/sent1) | socat -u - TCP6:[fd00::2]:$port"
wait "$sink" || true
sleep 0.2
ft_expect_eq "$((SIZE >> 20)) MiB container -> host's ::1 over IPv6 intact (SHA-256)" \
  "$(cat "$FT_SHARED/sent1")" "$(cat "$FT_TMP/recv1")"

head -c "$SIZE" /dev/urandom >"$FT_TMP/blob" 2>/dev/null || true
sha256sum "$FT_TMP/blob" | cut -d' ' -f1 >"$FT_TMP/sent2"
socat -u "OPEN:$FT_TMP/blob" "TCP6-LISTEN:$port,bind=[::1],reuseaddr" &
src=$!
ft_wait_for ft_listening "$port"
ft_in_ctr bash -c "socat -u TCP6:[fd00::2]:$port - | sha256sum | cut -d' ' -f1 >$FT_SHARED/recv2"
wait "$src" || true
rm -f "$FT_TMP/blob"
ft_expect_eq "$((SIZE >> 20)) MiB host's ::1 -> container over IPv6 intact (SHA-256)" \
  "$(cat "$FT_TMP/sent2")" "$(cat "$FT_SHARED/recv2")"

# --- UDP ----------------------------------------------------------------------------
uport=$(ft_free_port udp)
"$NETTOOL" udp-serve ::1 "$uport" &
ft_on_exit "ft_kill $!"
sleep 0.2
out=$(ft_in_ctr "$NETTOOL" udp-transfer fd00::2 "$uport" 268435456 60000 2>&1) || true
ft_check "256 MiB in 60000-byte UDP datagrams to the host's ::1 and back, intact ($out)" grep -q 'echoed intact' <<<"$out"
out=$(ft_in_ctr "$NETTOOL" udp-transfer fd00::2 "$uport" 8388608 1400 2>&1) || true
ft_check "8 MiB in 1400-byte UDP datagrams over IPv6, intact ($out)" grep -q 'echoed intact' <<<"$out"

# --- DNS at fd00::3 ---------------------------------------------------------------------
answer=$(ft_in_ctr dig +time=2 +tries=2 +short @fd00::3 ferry-test.example A || true)
ft_expect_eq "DNS query to fd00::3 answered by the host's resolver" "192.0.2.55" "$answer"

# --- a published port on the host's ::1 ---------------------------------------------------
"${FT_AS_USER[@]}" nsenter --target "$CPID" --user --net --preserve-credentials -- \
  socat "TCP6-LISTEN:7301,bind=[::1],reuseaddr,fork" SYSTEM:"echo hello-v6" &
ft_on_exit "ft_kill $!"
ft_wait_for ft_in_ctr sh -c 'ss -Htln "sport = :7301" | grep -q .'
ft_expect_eq "-t ::1/$fwd_port:7301 reaches the container's ::1" "hello-v6" \
  "$(socat -T 5 - "TCP6:[::1]:$fwd_port" </dev/null 2>&1)"

counters=$(ft_counters)
grep -E "router_adverts|ndp_adverts|dhcp_|tcp_retransmits|drop_" <<<"$counters" || true
ft_check "ferry sent a router advertisement and neighbour advertisements" \
  sh -c "echo '$counters' | grep -q '^router_adverts [1-9]' && echo '$counters' | grep -q '^ndp_adverts [1-9]'"
ft_done
