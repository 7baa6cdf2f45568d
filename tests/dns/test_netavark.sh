#!/usr/bin/env bash
# ferry-dns driven by Debian's real netavark 1.4.0 (--aardvark-binary), as
# podman would drive aardvark-dns. Everything lives in namespaces this test
# creates: "host-$FT_ID" plays the host (netavark runs there, so the bridges,
# their iptables rules and the DNS listener exist only there), and each
# container is a namespace of its own. Upstream resolvers are dnsmasq
# instances on the host namespace's loopback; ferry-dns finds them through
# FERRY_DNS_RESOLV_CONF, which netavark passes through to it.
#
# Checks: names and aliases resolve between containers over UDP and TCP,
# case-insensitively, with and without the dns.podman suffix; AAAA; PTR lists
# every name; NXDOMAIN for unknown names; a container on another network sees
# none of these names; other names are forwarded, failing over past a silent
# and a refusing upstream, or to the container's own server when it has one; an edited resolv.conf takes effect; after a
# teardown the name is gone; after the last one the server exits and removes
# its pid file.
. "${FERRY_TESTS_LIB:-$(dirname "$0")/../lib}/common.sh"
ft_require_root

NETAVARK=${NETAVARK:-/usr/lib/podman/netavark}
for tool in "$NETAVARK" dig dnsmasq iptables python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool not installed (scripts/setup.sh installs netavark dnsutils dnsmasq-base iptables)"
    exit 77
  fi
done
: "${FERRY_DNS:?FERRY_DNS must point at the ferry-dns binary}"

# ft_netns runs in a $(...) subshell here, so its clean-up registration is
# lost: register the deletion again in this shell.
HOST=$(ft_netns host) && ft_on_exit "ip netns del $HOST"
C1=$(ft_netns c1) && ft_on_exit "ip netns del $C1"
C2=$(ft_netns c2) && ft_on_exit "ip netns del $C2"
C3=$(ft_netns c3) && ft_on_exit "ip netns del $C3"
NVCONF=$FT_TMP/netavark
ADIR=$NVCONF/aardvark-dns
mkdir -p "$NVCONF"
export FERRY_DNS_RESOLV_CONF=$FT_TMP/resolv.conf
export FERRY_DNS_LOG_FILE=$FT_TMP/ferry-dns.log
export NETAVARK_FW=iptables

# --- upstream resolvers on the host namespace's loopback ------------------
# 127.0.0.3: accepts queries and never answers (timeout failover);
# 127.0.0.2: nothing listens (ICMP refusal); 127.0.0.1: dnsmasq.
ip netns exec "$HOST" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.3", 53))
print("ready", flush=True)
while True: s.recvfrom(4096)
' > "$FT_TMP/blackhole.out" &
BLACKHOLE=$!
ft_on_exit "ft_kill $BLACKHOLE"
start_dnsmasq() {  # address record...
  local addr=$1; shift
  local args=()
  local r
  for r in "$@"; do args+=("--host-record=$r"); done
  ip netns exec "$HOST" dnsmasq --no-daemon --no-resolv --no-hosts --user=root \
    --listen-address="$addr" --bind-interfaces --port=53 "${args[@]}" \
    > "$FT_TMP/dnsmasq-$addr.log" 2>&1 &
  echo $!
}
DNSMASQ1=$(start_dnsmasq 127.0.0.1 upstream.test,192.0.2.7)
ft_on_exit "ft_kill $DNSMASQ1"
DNSMASQ4=$(start_dnsmasq 127.0.0.4 upstream.test,192.0.2.44)
ft_on_exit "ft_kill $DNSMASQ4"
printf 'nameserver 127.0.0.3\nnameserver 127.0.0.2\nnameserver 127.0.0.1\n' > "$FERRY_DNS_RESOLV_CONF"
ft_wait_for ip netns exec "$HOST" dig +short +time=1 +tries=1 @127.0.0.1 upstream.test || ft_log "dnsmasq slow to start"
ft_wait_for grep -q ready "$FT_TMP/blackhole.out"

# --- netavark --------------------------------------------------------------
NET_A_ID=$(printf 'a%.0s' {1..64})
NET_B_ID=$(printf 'b%.0s' {1..64})
network_info() {  # name id bridge subnet4 gw4 [subnet6 gw6]
  local subnets="{\"subnet\":\"$4\",\"gateway\":\"$5\"}" v6=false
  if [ -n "${6:-}" ]; then subnets="$subnets,{\"subnet\":\"$6\",\"gateway\":\"$7\"}"; v6=true; fi
  echo "\"$1\":{\"name\":\"$1\",\"id\":\"$2\",\"driver\":\"bridge\",\"network_interface\":\"$3\",\"subnets\":[$subnets],\"ipv6_enabled\":$v6,\"internal\":false,\"dns_enabled\":true}"
}
NETA=$(network_info neta "$NET_A_ID" fdnsa0 10.89.41.0/24 10.89.41.1 fd41:89::/64 fd41:89::1)
NETB=$(network_info netb "$NET_B_ID" fdnsb0 10.89.42.0/24 10.89.42.1)
options() {  # ctrname ctrid net netinfo ips(json list) aliases(json list) [dns servers(json list)]
  cat <<EOF
{"container_id":"$2","container_name":"$1","port_mappings":[],"dns_servers":${7:-null},
 "networks":{"$3":{"static_ips":$5,"aliases":$6,"interface_name":"eth0"}},
 "network_info":{$4}}
EOF
}
options c1 c1-"$FT_ID" neta "$NETA" '["10.89.41.2","fd41:89::2"]' '["web","Alias1"]' > "$FT_TMP/c1.json"
options c2 c2-"$FT_ID" neta "$NETA" '["10.89.41.3","fd41:89::3"]' '["db"]' > "$FT_TMP/c2.json"
options c3 c3-"$FT_ID" netb "$NETB" '["10.89.42.2"]' '[]' '["127.0.0.4"]' > "$FT_TMP/c3.json"

# netavark 1.4.0 starts aardvark through `systemd-run -q --scope` when
# /run/systemd/system exists and systemd-run is on PATH; it looks it up in
# PATH only, so a PATH without /usr/bin makes it start ferry-dns directly,
# the same on a systemd VM as in a container (iptables is in /usr/sbin).
netavark() {  # setup|teardown container
  ip netns exec "$HOST" env PATH=/usr/sbin:/sbin "$NETAVARK" --config "$NVCONF" --rootless=false --aardvark-binary="$FERRY_DNS" \
    "$1" "/run/netns/$2-$FT_ID" < "$FT_TMP/$2.json" > "$FT_TMP/netavark-$1-$2.out" 2>&1
}
# A process that exited but was not reaped yet (zombie) counts as gone.
alive() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
kill_server() { [ -f "$ADIR/aardvark.pid" ] && ft_kill "$(cat "$ADIR/aardvark.pid")"; }
ft_on_exit kill_server

ft_check "netavark setup c1" netavark setup c1
PID=$(cat "$ADIR/aardvark.pid" 2>/dev/null || true)
case "$PID" in
  [1-9]*) ft_on_exit "ft_kill $PID" ;;
  *) echo "FAIL: no pid file once netavark setup returned"; cat "$FT_TMP/netavark-setup-c1.out"; exit 1 ;;
esac
ft_check "server process alive" alive "$PID"
ft_check "netavark setup c2" netavark setup c2
ft_check "netavark setup c3 (other network)" netavark setup c3
ft_expect_eq "one server for all networks" "$PID" "$(cat "$ADIR/aardvark.pid" 2>/dev/null)"
ft_log "config files:"; head -n 5 "$ADIR"/ne* | sed 's/^/#   /'

q() {  # ns server args... -> dig +short output, one line per record
  local ns=$1 server=$2; shift 2
  ip netns exec "$ns" dig +short +time=3 +tries=2 "@$server" "$@" 2>&1 | sort
}
status() {  # ns server args... -> rcode word
  local ns=$1 server=$2; shift 2
  ip netns exec "$ns" dig +time=3 +tries=2 "@$server" "$@" 2>&1 | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'
}

# --- names within a network ---------------------------------------------
ft_expect_eq "c1 -> c2 by name (udp)" "10.89.41.3" "$(q "$C1" 10.89.41.1 c2)"
ft_expect_eq "c1 -> c2 by name (tcp)" "10.89.41.3" "$(q "$C1" 10.89.41.1 +tcp c2)"
ft_expect_eq "c1 -> alias db, suffixed, upper case" "10.89.41.3" "$(q "$C1" 10.89.41.1 DB.dns.podman)"
ft_expect_eq "c2 -> c1 alias (tcp)" "10.89.41.2" "$(q "$C2" 10.89.41.1 +tcp alias1)"
ft_expect_eq "c2 -> c1 AAAA over the IPv6 listener" "fd41:89::2" "$(q "$C2" fd41:89::1 web AAAA)"
ft_expect_eq "PTR lists every name" "$(printf 'alias1.\nc1.\nweb.')" "$(q "$C2" 10.89.41.1 -x 10.89.41.2)"
ft_expect_eq "PTR over tcp for IPv6" "c2.
db." "$(q "$C1" 10.89.41.1 +tcp -x fd41:89::3)"
ft_expect_eq "unknown *.dns.podman is NXDOMAIN" NXDOMAIN "$(status "$C1" 10.89.41.1 nosuch.dns.podman)"
ttl=$(ip netns exec "$C1" dig +noall +answer @10.89.41.1 c2 | awk '{print $2}')
ft_expect_eq "TTL 0" 0 "$ttl"
aa=$(ip netns exec "$C1" dig @10.89.41.1 c2 | grep -c 'flags: qr aa' || true)
ft_expect_eq "local answers are authoritative" 1 "$aa"

# --- isolation between networks --------------------------------------------
ft_expect_eq "c3 (other network) gets NXDOMAIN for c1.dns.podman" NXDOMAIN \
  "$(status "$C3" 10.89.42.1 c1.dns.podman)"
ft_check "c3 does not get c1's address for the bare name" \
  bash -c "! ip netns exec $C3 dig +short +time=3 @10.89.42.1 c1 | grep -q 10.89.41"
ft_check "c1 does not get c3's address" \
  bash -c "! ip netns exec $C1 dig +short +time=3 @10.89.41.1 c3 | grep -q 10.89.42"

# --- forwarding -------------------------------------------------------------
ft_expect_eq "forwarded over udp past a silent and a refusing upstream" 192.0.2.7 \
  "$(q "$C1" 10.89.41.1 +tries=1 +time=8 upstream.test)"
ft_expect_eq "forwarded over tcp" 192.0.2.7 "$(q "$C2" 10.89.41.1 +tcp +tries=1 +time=8 upstream.test)"
ft_expect_eq "container's own DNS server preferred" 192.0.2.44 "$(q "$C3" 10.89.42.1 +tries=1 +time=8 upstream.test)"
ft_wait_for ip netns exec "$HOST" dig +short +time=1 +tries=1 @127.0.0.4 upstream.test
printf 'nameserver 127.0.0.4\n' > "$FERRY_DNS_RESOLV_CONF.new"
mv "$FERRY_DNS_RESOLV_CONF.new" "$FERRY_DNS_RESOLV_CONF"
ft_check "edited resolv.conf takes effect" \
  ft_wait_for bash -c "ip netns exec $C1 dig +short +time=2 @10.89.41.1 upstream.test | grep -qx 192.0.2.44"

# --- teardown ----------------------------------------------------------------
mac_before=$(ip -n "$HOST" -br link show fdnsa0 | awk '{print $3}')
ft_check "netavark teardown c2" netavark teardown c2
# The bridge takes the lowest MAC of its ports, so removing c2's veth can
# change it; c1's ARP entry for the gateway would then stay wrong until it
# expires. Not a DNS matter: forget it.
mac_after=$(ip -n "$HOST" -br link show fdnsa0 | awk '{print $3}')
ft_log "bridge MAC $mac_before -> $mac_after"
ip -n "$C1" neigh flush all
ft_check "c2 gone from the config file" bash -c "! grep -q c2-$FT_ID $ADIR/neta"
ft_check "c2's name gone after SIGHUP" \
  ft_wait_for bash -c "ip netns exec $C1 dig +time=2 @10.89.41.1 c2.dns.podman | grep -q NXDOMAIN"
ft_expect_eq "c1 still resolves itself" 10.89.41.2 "$(q "$C1" 10.89.41.1 c1)"
ft_check "server still running with networks left" alive "$PID"
ft_check "netavark teardown c1" netavark teardown c1
ft_check "netavark teardown c3" netavark teardown c3
ft_check "server exits after the last network" ft_wait_for eval "! alive $PID"
ft_check "pid file removed" test ! -e "$ADIR/aardvark.pid"
ft_check "no config error logged" bash -c "! grep -qi 'error' $FERRY_DNS_LOG_FILE"
ft_log "ferry-dns log:"; sed 's/^/#   /' "$FERRY_DNS_LOG_FILE" | tail -n 20
ft_done
