#!/usr/bin/env bash
# ferry-bridge in a rootless network namespace, as podman runs it there: an
# unprivileged user (ferrytest, made by scripts/setup.sh) owns a user
# namespace and a network namespace (the rootless "host"); the containers are
# network namespaces of that user, given to ferry-bridge as /proc/PID/ns/net.
# Checks: setup works without any privilege outside the user namespace, two
# containers ping each other, no NAT or forwarding is set up (ferry connects
# the bridge to the outside there), teardown leaves nothing behind.
if [ "${1:-}" != --inside ]; then
  . "$(dirname "$0")/../lib/common.sh"
  ft_require_root  # to become the unprivileged user
  if ! id ferrytest >/dev/null 2>&1; then echo "SKIP: no user ferrytest (run scripts/setup.sh)"; exit 77; fi
  B=${FERRY_BRIDGE:?FERRY_BRIDGE must name the built ferry-bridge}
  cp "$0" "$FT_TMP/rootless.sh"; chmod 0755 "$FT_TMP/rootless.sh"
  # The checks run inside; their result is this test's result.
  runuser -u ferrytest -- env FERRY_BRIDGE="$B" FT_LIB="$(cd "$(dirname "$0")/../lib" && pwd)" \
    unshare --user --map-root-user --net bash "$FT_TMP/rootless.sh" --inside && exit 0 || exit $?
fi

# --- inside the user and network namespaces ---------------------------------------
. "$FT_LIB/common.sh"
B=$FERRY_BRIDGE
export FERRY_BRIDGE_STATE_DIR="$FT_TMP/state"
ft_expect_eq "running as root of a user namespace only" "0 $(id -u ferrytest 2>/dev/null || echo 1001) 1" \
  "$(awk '{print $1, $2, $3}' /proc/self/uid_map)"
ip link set lo up
BR="fbr$FT_ID"; BR=${BR:0:15}

# Two "containers": network namespaces held by sleeping processes.
unshare --net sleep 600 & PA=$!; ft_on_exit "ft_kill $PA"
unshare --net sleep 600 & PB=$!; ft_on_exit "ft_kill $PB"
ft_wait_for sh -c "[ \$(readlink /proc/$PA/ns/net) != \$(readlink /proc/self/ns/net) ]"
ft_wait_for sh -c "[ \$(readlink /proc/$PB/ns/net) != \$(readlink /proc/self/ns/net) ]"
in_ns() { local pid=$1; shift; nsenter --net="/proc/$pid/ns/net" "$@"; }

NETWORK=$("$B" create <<<'{"name":"rl","id":"rl'$FT_ID'","driver":"ferry-bridge","network_interface":"'$BR'",
  "subnets":[{"subnet":"10.127.0.0/24"}],"ipv6_enabled":false,"internal":false,"dns_enabled":false}')
for c in a b; do
  echo "{\"container_id\":\"$c\",\"container_name\":\"$c\",\"port_mappings\":[{\"container_port\":80,\"host_port\":8080,\"host_ip\":\"\",\"protocol\":\"tcp\",\"range\":1}],
    \"network\":$NETWORK,\"network_options\":{\"interface_name\":\"eth0\"}}" >"$FT_TMP/$c.json"
done
sed -i 's/"host_port":8080/"host_port":8081/' "$FT_TMP/b.json"
ft_check "setup A" sh -c "$B setup /proc/$PA/ns/net <$FT_TMP/a.json >$FT_TMP/a.out"
ft_check "setup B" sh -c "$B setup /proc/$PB/ns/net <$FT_TMP/b.json >$FT_TMP/b.out"
ft_check "A holds the address it was given" sh -c "nsenter --net=/proc/$PA/ns/net ip -br addr show eth0 | grep -q 10.127.0.2/24"
ft_check "A pings B" sh -c "nsenter --net=/proc/$PA/ns/net ping -q -c 2 -W 2 10.127.0.3 >/dev/null"
ft_check "B pings the gateway" sh -c "nsenter --net=/proc/$PB/ns/net ping -q -c 1 -W 2 10.127.0.1 >/dev/null"
ft_expect_eq "no forwarding turned on" 0 "$(cat /proc/sys/net/ipv4/ip_forward)"
if command -v nft >/dev/null; then
  ft_expect_eq "no nftables table" "" "$(nft list tables 2>/dev/null | grep ferry_bridge || true)"
fi
ft_check "teardown A" sh -c "$B teardown /proc/$PA/ns/net <$FT_TMP/a.json"
ft_check "teardown B" sh -c "$B teardown /proc/$PB/ns/net <$FT_TMP/b.json"
ft_expect_eq "nothing left but lo" lo "$(ip -o link show | awk -F': ' '{print $2}' | xargs)"
ft_expect_eq "A holds only lo" lo "$(in_ns "$PA" ip -o link show | awk -F': ' '{print $2}' | xargs)"
ft_done
