#!/usr/bin/env bash
# The same network and container options set up once by Debian's netavark
# (1.4.0, its built-in bridge driver) and once by ferry-bridge, each inside its
# own "host" namespace with its own container namespace, must give the same
# layout: bridge (kind, state, MTU, addresses), its veth port, the container
# interface (kind, state, MTU, MAC, addresses) and the container's routes.
# Host veth names differ by design (netavark lets the kernel pick vethN,
# ferry-bridge derives one from the ids) and are compared as "<veth>".
. "$(dirname "$0")/../lib/common.sh"
ft_require_root
B=${FERRY_BRIDGE:?FERRY_BRIDGE must name the built ferry-bridge}
NETAVARK=${NETAVARK:-/usr/lib/podman/netavark}
if [ ! -x "$NETAVARK" ]; then echo "SKIP: netavark not installed (apt-get install netavark iptables)"; exit 77; fi
if ! command -v iptables >/dev/null; then echo "SKIP: netavark's firewall driver needs iptables"; exit 77; fi
export FERRY_BRIDGE_STATE_DIR="$FT_TMP/state"

# ft_netns registers its clean-up in the calling shell, so it is not run in $(...).
ft_netns host >/dev/null; HA=host-$FT_ID; ft_netns ctrA >/dev/null; CA=ctrA-$FT_ID     # ferry-bridge
ft_netns hostB >/dev/null; HB=hostB-$FT_ID; ft_netns ctrB >/dev/null; CB=ctrB-$FT_ID    # netavark
BR="fb$FT_ID"; BR=${BR:0:15}
NETID="cmp$FT_ID"
mkdir -p "$FT_TMP/netavark"

network() {  # driver
  echo '{"name":"cmpnet","id":"'$NETID'","driver":"'$1'","network_interface":"'$BR'",
   "subnets":[{"subnet":"10.126.0.0/24","gateway":"10.126.0.1"},{"subnet":"fd26::/64","gateway":"fd26::1"}],
   "ipv6_enabled":true,"internal":false,"dns_enabled":false,"ipam_options":{"driver":"host-local"}}'
}
OPTS='{"interface_name":"eth0","static_ips":["10.126.0.5","fd26::5"],"static_mac":"02:26:00:00:00:05"}'
echo "{\"container_id\":\"c1\",\"container_name\":\"c1\",\"network\":$(network ferry-bridge),\"network_options\":$OPTS}" >"$FT_TMP/ferry.json"
echo "{\"container_id\":\"c1\",\"container_name\":\"c1\",\"networks\":{\"cmpnet\":$OPTS},\"network_info\":{\"cmpnet\":$(network bridge)}}" >"$FT_TMP/netavark.json"
ft_on_exit "ip netns exec $HA $B teardown /run/netns/$CA < $FT_TMP/ferry.json"
ft_on_exit "ip netns exec $HB $NETAVARK --config $FT_TMP/netavark --rootless=false teardown /run/netns/$CB < $FT_TMP/netavark.json"

ft_check "ferry-bridge setup" sh -c "ip netns exec $HA $B setup /run/netns/$CA <$FT_TMP/ferry.json >$FT_TMP/ferry.out"
ft_check "netavark setup" sh -c "ip netns exec $HB $NETAVARK --config $FT_TMP/netavark --rootless=false setup /run/netns/$CB <$FT_TMP/netavark.json >$FT_TMP/netavark.out"

# layout HOSTNS CTRNS: a normalised description, one fact per line.
layout() {
  python3 - "$BR" \
    "$(ip -n "$1" -d -j addr show)" "$(ip -n "$2" -d -j addr show)" \
    "$(ip -n "$2" -j route show)" "$(ip -n "$2" -6 -j route show)" <<'PY'
import json, sys
br = sys.argv[1]
host, ctr = json.loads(sys.argv[2]), json.loads(sys.argv[3])
routes = json.loads(sys.argv[4]) + json.loads(sys.argv[5])
out = []
def addrs(l):
    # Link-local addresses carry random interface ids; DAD state ("tentative")
    # is timing. Everything else must match.
    return sorted(f'{a["family"]} {a["local"]}/{a["prefixlen"]} brd={a.get("broadcast","-")} scope={a["scope"]}'
                  for a in l.get("addr_info", []) if a.get("scope") != "link")
def link(tag, l, mac=False):
    kind = l.get("linkinfo", {}).get("info_kind", "-")
    out.append(f'{tag}: kind={kind} up={"UP" in l["flags"]} mtu={l["mtu"]}' + (f' mac={l["address"]}' if mac else ""))
    out.extend(f'{tag}: addr {a}' for a in addrs(l))
bridge = [l for l in host if l["ifname"] == br]
out.append(f"host: bridges named {br}: {len(bridge)}")
if bridge:
    link("host bridge", bridge[0])
ports = [l for l in host if l.get("master") == br]
out.append(f"host: bridge ports: {len(ports)}")
for p in ports:
    link("host <veth>", p)
others = sorted(l["ifname"] for l in host if l["ifname"] != br and l.get("master") != br)
out.append(f"host: other links: {others}")
for l in ctr:
    link(f'ctr {l["ifname"].split("@")[0]}', l, mac=l["ifname"] != "lo")
for r in routes:
    if r["dst"].startswith("fe80") or r["dst"].startswith("ff00") or r.get("type") == "multicast":
        continue
    out.append(f'ctr route: {r["dst"]} via={r.get("gateway","-")} dev={r.get("dev")} proto={r.get("protocol","-")} '
               f'metric={r.get("metric","-")} scope={r.get("scope","-")} src={r.get("prefsrc","-")}')
print("\n".join(sorted(out)))
PY
}
layout "$HA" "$CA" >"$FT_TMP/ferry.layout"
layout "$HB" "$CB" >"$FT_TMP/netavark.layout"
cat "$FT_TMP/ferry.layout" | sed "s/^/# /"
if diff -u "$FT_TMP/netavark.layout" "$FT_TMP/ferry.layout"; then
  ft_pass "same layout as netavark ($(wc -l <"$FT_TMP/ferry.layout") facts)"
else
  ft_fail "layout differs from netavark's (diff above: - netavark, + ferry-bridge)"
fi
ft_check "layout is not empty" grep -q "ctr eth0: addr inet 10.126.0.5/24" "$FT_TMP/ferry.layout"
# Both StatusBlocks report the same interface, MAC and addresses.
norm_status() { python3 -c 'import json,sys; j=json.load(sys.stdin); j=j.get("cmpnet",j)
i=j["interfaces"]["eth0"]; print(i["mac_address"], sorted((s["ipnet"], s.get("gateway")) for s in i["subnets"]))'; }
ft_expect_eq "same StatusBlock as netavark" "$(norm_status <"$FT_TMP/netavark.out")" "$(norm_status <"$FT_TMP/ferry.out")"

# Both tear down to the same, empty host.
ft_check "ferry-bridge teardown" sh -c "ip netns exec $HA $B teardown /run/netns/$CA <$FT_TMP/ferry.json"
ft_check "netavark teardown" sh -c "ip netns exec $HB $NETAVARK --config $FT_TMP/netavark --rootless=false teardown /run/netns/$CB <$FT_TMP/netavark.json"
links() { ip -n "$1" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort | xargs; }
ft_expect_eq "netavark's host after teardown" lo "$(links "$HB")"
ft_expect_eq "ferry-bridge's host after teardown" lo "$(links "$HA")"
ft_expect_eq "ferry-bridge's container after teardown" lo "$(links "$CA")"
ft_done
