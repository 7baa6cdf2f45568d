#!/usr/bin/env bash
# ferry-bridge in real namespaces. A "host" namespace stands in for the
# machine (ferry-bridge runs inside it, so its bridge, veths and nftables
# table exist only there) with two container namespaces, plus an "internet"
# namespace behind the host for outbound NAT. Checks:
#  - the StatusBlock matches what the container namespace holds (ip -j);
#  - the bridge holds the gateway and both host veths;
#  - the containers ping each other and move 100 MiB intact (sha256);
#  - outbound traffic is masqueraded, a port mapping reaches the container;
#  - teardown leaves no interface, address, rule or state behind, is
#    idempotent, and succeeds when the namespace is already gone.
. "$(dirname "$0")/../lib/common.sh"
ft_require_root
B=${FERRY_BRIDGE:?FERRY_BRIDGE must name the built ferry-bridge}
export FERRY_BRIDGE_STATE_DIR="$FT_TMP/state"

# ft_netns registers its clean-up in the calling shell, so it is not run in $(...).
ft_netns host >/dev/null; HOST=host-$FT_ID; ft_netns ctrA >/dev/null; A=ctrA-$FT_ID; ft_netns ctrB >/dev/null; C=ctrB-$FT_ID; ft_netns inet >/dev/null; NET=inet-$FT_ID
BR="fb$FT_ID"; BR=${BR:0:15}
NETID="ft$FT_ID"
TABLE="ferry_bridge_$NETID"
H() { ip netns exec "$HOST" "$@"; }
nsping() { ip netns exec "$1" ping -q "${@:2}" >/dev/null; }
# Uplink host <-> "internet" (TEST-NET-2), the host's default route.
ip link add "up$FT_ID" netns "$HOST" type veth peer name eth0 netns "$NET"
ip -n "$HOST" addr add 198.51.100.1/24 dev "up$FT_ID"; ip -n "$HOST" link set "up$FT_ID" up
ip -n "$NET" addr add 198.51.100.2/24 dev eth0; ip -n "$NET" link set eth0 up

jget() { python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }
network='{"name":"ftnet","id":"'$NETID'","driver":"ferry-bridge","network_interface":"'$BR'",
  "subnets":[{"subnet":"10.123.0.0/24","gateway":"10.123.0.1"},{"subnet":"fd23::/64"}],"ipv6_enabled":false,"internal":false,"dns_enabled":false}'
NETWORK=$("$B" create <<<"$network")
exec_json() {  # container_id interface extra-options-json port_mappings-json
  echo "{\"container_id\":\"$1\",\"container_name\":\"$1\",\"port_mappings\":$4,\"network\":$NETWORK,
        \"network_options\":{\"interface_name\":\"$2\"$3}}"
}
exec_json ctrA eth0 '' '[{"container_port":80,"host_ip":"","host_port":8080,"protocol":"tcp","range":1}]' >"$FT_TMP/a.json"
exec_json ctrB eth1 ',"static_ips":["10.123.0.77","fd23::77"],"static_mac":"02:12:34:56:78:9a"' 'null' >"$FT_TMP/b.json"
ft_on_exit "ip netns exec $HOST $B teardown /run/netns/$A < $FT_TMP/a.json"
ft_on_exit "ip netns exec $HOST $B teardown /run/netns/$C < $FT_TMP/b.json"

SA=$(H "$B" setup "/run/netns/$A" <"$FT_TMP/a.json")
ft_check "setup A succeeds" [ -n "$SA" ]
SB=$(H "$B" setup "/run/netns/$C" <"$FT_TMP/b.json")
ft_check "setup B succeeds" [ -n "$SB" ]

# --- StatusBlock == what the namespace holds ----------------------------------
# status_vs_ns NS STATUS IFNAME: compares interface, MAC, address/prefix, gateway.
status_vs_ns() {
  python3 - "$2" "$3" "$(ip -n "$1" -j addr show)" "$(ip -n "$1" -j route show)" "$(ip -n "$1" -6 -j route show)" <<'PY'
import json, sys
status, ifname = json.loads(sys.argv[1]), sys.argv[2]
addrs, routes = json.loads(sys.argv[3]), json.loads(sys.argv[4]) + json.loads(sys.argv[5])
ok = True
def check(what, want, got):
    global ok
    if want != got:
        print(f"mismatch {what}: status {want!r}, namespace {got!r}"); ok = False
check("interfaces", [ifname], list(status["interfaces"]))
link = [l for l in addrs if l["ifname"] == ifname]
check("link exists", 1, len(link))
link = link[0]
st = status["interfaces"][ifname]
check("mac", st["mac_address"], link["address"])
have = sorted(f'{a["local"]}/{a["prefixlen"]}' for a in link["addr_info"] if a["scope"] == "global")
check("addresses", sorted(s["ipnet"] for s in st["subnets"]), have)
gw = [r["gateway"] for r in routes if r["dst"] == "default" and r.get("dev") == ifname]
check("gateway", sorted({s["gateway"] for s in st["subnets"]}), sorted(gw))
check("link up", True, "UP" in link["flags"])
sys.exit(0 if ok else 1)
PY
}
ft_check "StatusBlock A matches ctrA" status_vs_ns "$A" "$SA" eth0
ft_check "StatusBlock B matches ctrB" status_vs_ns "$C" "$SB" eth1
IPA=$(jget "$SA" 'j["interfaces"]["eth0"]["subnets"][0]["ipnet"].split("/")[0]')
ft_expect_eq "A got the first free address" 10.123.0.2 "$IPA"
ft_expect_eq "B got its static addresses" "10.123.0.77/24 fd23::77/64" "$(jget "$SB" '" ".join(s["ipnet"] for s in j["interfaces"]["eth1"]["subnets"])')"
ft_expect_eq "A got IPv6 from the first free host" fd23::2/64 "$(jget "$SA" 'j["interfaces"]["eth0"]["subnets"][1]["ipnet"]')"
ft_expect_eq "B got its static MAC" 02:12:34:56:78:9a "$(jget "$SB" 'j["interfaces"]["eth1"]["mac_address"]')"

# --- host side ----------------------------------------------------------------
ft_check "bridge holds the gateway" sh -c "ip -n $HOST -j addr show dev $BR | grep -q '\"local\":\"10.123.0.1\"'"
ft_expect_eq "bridge has both veths as ports" 2 "$(ip -n "$HOST" -o link show master "$BR" | wc -l)"
ft_expect_eq "forwarding on in the host" 1 "$(H cat /proc/sys/net/ipv4/ip_forward)"

# --- traffic between the containers --------------------------------------------
ft_check "A pings B" nsping "$A" -c 2 -W 2 10.123.0.77
ft_check "B pings A" nsping "$C" -c 2 -W 2 "$IPA"
ft_check "A pings the gateway" nsping "$A" -c 1 -W 2 10.123.0.1
ft_check "A pings B over IPv6" nsping "$A" -6 -c 2 -W 2 fd23::77
ft_check "B pings the IPv6 gateway" nsping "$C" -6 -c 1 -W 2 fd23::1

# A third container asking for A's host port is refused, and nothing is made.
ft_netns ctrC >/dev/null; D=ctrC-$FT_ID
exec_json ctrC eth0 '' '[{"container_port":81,"host_ip":"","host_port":8080,"protocol":"tcp","range":1}]' >"$FT_TMP/d.json"
set +e; OUT=$(H "$B" setup "/run/netns/$D" <"$FT_TMP/d.json" 2>/dev/null); RC=$?; set -e
ft_check "a taken host port is refused" [ "$RC" -ne 0 ]
ft_expect_eq "the error names the port mapping" "port_mappings[0]: tcp host port 8080 is already forwarded to another container" \
  "$(jget "$OUT" 'j["error"]')"
ft_expect_eq "nothing made for the refused container" lo "$(ip -n "$D" -o link show | awk -F': ' '{print $2}' | xargs)"
ft_expect_eq "still two ports on the bridge" 2 "$(ip -n "$HOST" -o link show master "$BR" | wc -l)"
head -c $((100 * 1024 * 1024)) /dev/urandom >"$FT_TMP/src"
# Port 5001 in namespaces this test just made cannot be taken by anyone else.
ip netns exec "$C" socat -u TCP-LISTEN:5001,bind=10.123.0.77 CREATE:"$FT_TMP/dst" &
RX=$!; ft_on_exit "ft_kill $RX"
ft_wait_for sh -c "ip netns exec $C ss -ltn | grep -q 10.123.0.77:5001"
ip netns exec "$A" socat -u OPEN:"$FT_TMP/src" TCP:10.123.0.77:5001
wait "$RX" || true
ft_expect_eq "100 MiB A -> B intact" "$(sha256sum <"$FT_TMP/src" | cut -d' ' -f1)" "$(sha256sum <"$FT_TMP/dst" | cut -d' ' -f1)"
rm -f "$FT_TMP/src" "$FT_TMP/dst"

# --- outbound NAT and a port mapping (rootful) -----------------------------------
ip -n "$A" route get 198.51.100.2 >/dev/null
ip netns exec "$NET" socat TCP-LISTEN:7000,fork,reuseaddr SYSTEM:'echo $SOCAT_PEERADDR' &
SRV=$!; ft_on_exit "ft_kill $SRV"
ft_wait_for sh -c "ip netns exec $NET ss -ltn | grep -q :7000"
ft_expect_eq "outbound traffic is masqueraded to the host's address" 198.51.100.1 \
  "$(ip netns exec "$A" socat -T 5 - TCP:198.51.100.2:7000 </dev/null)"
ip netns exec "$A" socat TCP-LISTEN:80,fork,reuseaddr SYSTEM:'echo hello-from-A' &
WEB=$!; ft_on_exit "ft_kill $WEB"
ft_wait_for sh -c "ip netns exec $A ss -ltn | grep -q :80"
ft_expect_eq "port mapping host:8080 -> A:80 (from the internet)" hello-from-A \
  "$(ip netns exec "$NET" socat -T 5 - TCP:198.51.100.1:8080 </dev/null)"
ft_expect_eq "port mapping host:8080 -> A:80 (from the host)" hello-from-A \
  "$(H socat -T 5 - TCP:10.123.0.1:8080 </dev/null)"
ft_kill "$WEB"; ft_kill "$SRV"

# --- teardown --------------------------------------------------------------------
ft_check "teardown A" H "$B" teardown "/run/netns/$A" <"$FT_TMP/a.json"
ft_check "A's interface is gone" sh -c "! ip -n $A link show eth0 2>/dev/null"
ft_expect_eq "one port left on the bridge" 1 "$(ip -n "$HOST" -o link show master "$BR" | wc -l)"
ft_check "port mapping rule gone with A" sh -c "! ip netns exec $HOST nft list table inet $TABLE | grep -q dport"
ft_check "B still reaches the gateway" nsping "$C" -c 1 -W 2 10.123.0.1
ft_check "teardown A again is a no-op" H "$B" teardown "/run/netns/$A" <"$FT_TMP/a.json"
# The container's namespace goes away first (container exited): teardown
# must still succeed and remove everything.
ip netns del "$C"
ft_check "teardown B after its netns is gone" H "$B" teardown "/run/netns/$C" <"$FT_TMP/b.json"
ft_expect_eq "host has only lo and the uplink" "lo up$FT_ID" "$(ip -n "$HOST" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort | xargs)"
ft_check "no ferry nftables table left" sh -c "! ip netns exec $HOST nft list tables | grep -q ferry_bridge"
ft_check "no 10.123 address left in the host" sh -c "! ip -n $HOST addr | grep -q 10.123."
ft_check "no fd23: address left in the host" sh -c "! ip -n $HOST addr | grep -q fd23:"
ft_check "no state left" sh -c "! ls $FERRY_BRIDGE_STATE_DIR/*.json 2>/dev/null | grep -q ."
ft_check "teardown B again is a no-op" H "$B" teardown "/run/netns/$C" <"$FT_TMP/b.json"
ft_expect_eq "ctrA holds only lo" lo "$(ip -n "$A" -o link show | awk -F': ' '{print $2}' | xargs)"

ft_done
