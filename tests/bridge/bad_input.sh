#!/usr/bin/env bash
# Bad setup input in real namespaces: each case must answer with an error
# JSON naming the problem, exit non-zero, and leave nothing half-made - no
# bridge, no veth, nothing in the container namespace, no nftables table, no
# member state. One case fails inside the kernel after the bridge and veth
# exist (IPv6 disabled in the container), so the roll-back is exercised too.
. "$(dirname "$0")/../lib/common.sh"
ft_require_root
B=${FERRY_BRIDGE:?FERRY_BRIDGE must name the built ferry-bridge}
export FERRY_BRIDGE_STATE_DIR="$FT_TMP/state"

# ft_netns registers its clean-up in the calling shell, so it is not run in $(...).
ft_netns host >/dev/null; HOST=host-$FT_ID; ft_netns ctr >/dev/null; CTR=ctr-$FT_ID
BR="fb$FT_ID"; BR=${BR:0:15}
NETID="bad$FT_ID"

jget() { python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }
BASE='{"container_id":"c1","container_name":"c1","port_mappings":[{"container_port":80,"host_ip":"","host_port":8080,"protocol":"tcp","range":1}],
 "network":{"name":"badnet","id":"'$NETID'","driver":"ferry-bridge","network_interface":"'$BR'",
   "subnets":[{"subnet":"10.124.0.0/24","gateway":"10.124.0.1"}],"ipv6_enabled":false,"internal":false,"dns_enabled":false},
 "network_options":{"interface_name":"eth0"}}'
mutate() { python3 -c 'import json,sys; j=json.loads(sys.argv[1]); exec(sys.argv[2]); print(json.dumps(j))' "$BASE" "$1"; }

links() { ip -n "$1" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort | xargs; }
HOST_BEFORE=$(links "$HOST"); CTR_BEFORE=$(links "$CTR")

# nothing_made WHAT: the namespaces are as before the failed setup.
nothing_made() {
  ft_expect_eq "$1: host links unchanged" "$HOST_BEFORE" "$(links "$HOST")"
  ft_expect_eq "$1: container links unchanged" "$CTR_BEFORE" "$(links "$CTR")"
  ft_check "$1: no nftables table" sh -c "! ip netns exec $HOST nft list tables | grep -q ferry_bridge"
  ft_check "$1: no member state" sh -c "! ls $FERRY_BRIDGE_STATE_DIR/*.json 2>/dev/null | grep -q ."
}

# bad_setup WHAT EXPECTED-PREFIX INPUT [NETNS]
bad_setup() {
  local out rc=0
  out=$(ip netns exec "$HOST" "$B" setup "${4:-/run/netns/$CTR}" <<<"$3" 2>"$FT_TMP/stderr") || rc=$?
  ft_check "$1: non-zero exit" [ "$rc" -ne 0 ]
  local msg
  msg=$(jget "$out" 'j["error"]' 2>/dev/null || echo "NOT-AN-ERROR: $out")
  ft_check "$1: error starts with '$2' (got: $msg)" [ "${msg#"$2"}" != "$msg" ]
  nothing_made "$1"
}

bad_setup "missing interface_name" "network_options.interface_name: missing required field" \
  "$(mutate 'del j["network_options"]["interface_name"]')"
bad_setup "missing container_id" "container_id: missing required field" "$(mutate 'del j["container_id"]')"
bad_setup "missing subnets" "network.subnets: at least one subnet" "$(mutate 'del j["network"]["subnets"]')"
bad_setup "bad subnet" "network.subnets[0].subnet: \"10.124.0.0/40\"" \
  "$(mutate 'j["network"]["subnets"][0]["subnet"]="10.124.0.0/40"')"
bad_setup "static IP outside the subnet" "network_options.static_ips[0]: 10.125.0.9 is not in any subnet" \
  "$(mutate 'j["network_options"]["static_ips"]=["10.125.0.9"]')"
bad_setup "static IP is the gateway" "network_options.static_ips[0]: 10.124.0.1 is the gateway" \
  "$(mutate 'j["network_options"]["static_ips"]=["10.124.0.1"]')"
bad_setup "bad MAC" "network_options.static_mac:" "$(mutate 'j["network_options"]["static_mac"]="zz:00:00:00:00:01"')"
bad_setup "bad port protocol" "port_mappings[0].protocol:" "$(mutate 'j["port_mappings"][0]["protocol"]="gre"')"
bad_setup "netns does not exist" "cannot open network namespace" "$BASE" "/run/netns/none-$FT_ID"

# The interface name already exists in the container.
ip -n "$CTR" link add eth0 type veth peer name "p$FT_ID"
CTR_BEFORE=$(links "$CTR")
bad_setup "interface name exists in the container" "network_options.interface_name: eth0 already exists" "$BASE"
ip -n "$CTR" link del eth0
CTR_BEFORE=$(links "$CTR")

# The bridge name is taken by a link that is not a bridge.
ip -n "$HOST" link add "$BR" type veth peer name "p$FT_ID"
HOST_BEFORE=$(links "$HOST")
bad_setup "bridge name taken by a non-bridge" "network.network_interface: $BR exists and is a veth" "$BASE"
ip -n "$HOST" link del "$BR"
HOST_BEFORE=$(links "$HOST")

# The kernel refuses half-way: IPv6 is disabled for new links in the
# container, so adding the IPv6 address fails after the bridge and the veth
# pair were made. Both must be rolled back.
ip netns exec "$CTR" sysctl -q -w net.ipv6.conf.default.disable_ipv6=1
bad_setup "kernel refuses an address (roll-back)" "cannot add address fd24::" \
  "$(mutate 'j["network"]["subnets"].append({"subnet":"fd24::/64"})')"
ip netns exec "$CTR" sysctl -q -w net.ipv6.conf.default.disable_ipv6=0

# After all that, the same input sets up fine and tears down clean.
echo "$BASE" >"$FT_TMP/base.json"
ft_on_exit "ip netns exec $HOST $B teardown /run/netns/$CTR < $FT_TMP/base.json"
ft_check "good input still sets up" sh -c "ip netns exec $HOST $B setup /run/netns/$CTR <$FT_TMP/base.json >/dev/null"
ft_check "and tears down" sh -c "ip netns exec $HOST $B teardown /run/netns/$CTR <$FT_TMP/base.json"
nothing_made "after a good setup and teardown"

ft_done
