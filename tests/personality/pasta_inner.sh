#!/usr/bin/env bash
# The rootless part of pasta.sh, run as root of a user namespace of the test
# user's, in a mount namespace of its own (so that a netns can be bound to a
# file, as podman 5 does). Env: PASTA (ferry as pasta), RESOLV (a resolv.conf
# naming the test's resolver), NETTOOL.
. "$(dirname "$0")/common.sh"

# new_ns NAME: a network namespace bound to $FT_TMP/netns/NAME; sets NS.
new_ns() {
  mkdir -p "$FT_TMP/netns"
  NS="$FT_TMP/netns/$1"
  touch "$NS"
  unshare --net="$NS" ip link set lo up
  ft_on_exit "umount $NS; rm -f $NS"
}
in_ns() { nsenter --net="$NS" "$@"; }
# drop_ns: what podman does when the container goes: the netns file goes.
drop_ns() { umount "$NS" && rm -f "$NS"; }
gone() { ! kill -0 "$1" 2>/dev/null; }

# --- podman 5's argv, with -a/-n/-g from pasta_options --------------------------------
new_ns ctr1
host_port=$(ft_free_port)
socat "TCP-LISTEN:$host_port,bind=127.0.0.1,reuseaddr,fork" SYSTEM:"echo hello-from-host" &
ft_on_exit "ft_kill $!"
ft_wait_for ft_listening "$host_port"
pub=$(ft_free_port)
upub=$(ft_free_port)
tns=$(ft_free_port)
host_uport=$(ft_free_port)
"$NETTOOL" udp-serve 127.0.0.1 "$host_uport" &
ft_on_exit "ft_kill $!"
set +e
"$PASTA" --config-net -a 10.77.0.2 -n 24 -g 10.77.0.1 --resolv-conf "$RESOLV" --pid "$FT_TMP/pasta1.pid" \
  -t "127.0.0.1/$pub-$pub:8080-8080" --dns-forward 169.254.1.1 -u "$upub:8053" -T "$tns:$host_port" -U "$host_uport" \
  --quiet --netns "$NS" --map-guest-addr 169.254.1.2 >"$FT_TMP/out1" 2>&1
rc=$?
set -e
cat "$FT_TMP/out1"
ft_expect_eq "pasta returns 0 once the namespace is ready" 0 "$rc"
pid=$(cat "$FT_TMP/pasta1.pid" 2>/dev/null || echo 0)
ft_on_exit "ft_kill $pid"
ft_check "the daemon runs on after the foreground process exited" kill -0 "$pid"
ft_check "configured at exit: address 10.77.0.2/24 (ip addr)" sh -c "nsenter --net=$NS ip -4 addr | grep -q 'inet 10.77.0.2/24'"
ft_check "configured at exit: default route via 10.77.0.1" sh -c "nsenter --net=$NS ip route | grep -q 'default via 10.77.0.1'"
ft_check "configured at exit: MTU 65520" sh -c "nsenter --net=$NS ip link | grep -q 'mtu 65520'"
ft_expect_eq "the gateway leads to the host's 127.0.0.1" "hello-from-host" \
  "$(in_ns socat -T 5 - "TCP:10.77.0.1:$host_port" </dev/null 2>&1)"
ft_expect_eq "--map-guest-addr 169.254.1.2 leads to the host's 127.0.0.1" "hello-from-host" \
  "$(in_ns socat -T 5 - "TCP:169.254.1.2:$host_port" </dev/null 2>&1)"
ft_expect_eq "--dns-forward 169.254.1.1 answers through the host's resolver" "192.0.2.55" \
  "$(in_ns dig +time=2 +tries=2 +short @169.254.1.1 ferry-test.example A 2>&1)"
nsenter --net="$NS" socat TCP-LISTEN:8080,reuseaddr,fork SYSTEM:"echo hello-from-ctr" &
ft_on_exit "ft_kill $!"
ft_wait_for in_ns sh -c 'ss -Htln "sport = :8080" | grep -q .'
ft_expect_eq "-t 127.0.0.1/$pub-$pub:8080-8080 reaches the container" "hello-from-ctr" \
  "$(socat -T 5 - "TCP:127.0.0.1:$pub" </dev/null 2>&1)"
nsenter --net="$NS" "$NETTOOL" udp-serve 127.0.0.1 8053 &
ft_on_exit "ft_kill $!"
ft_wait_for in_ns sh -c 'ss -Hunl "sport = :8053" | grep -q .'
ft_check "-u $upub:8053 reaches the container's UDP service" "$NETTOOL" udp-roundtrip 127.0.0.1 "$upub" 10
ft_expect_eq "-T $tns:$host_port: the namespace's 127.0.0.1:$tns leads to the host's 127.0.0.1:$host_port" \
  "hello-from-host" "$(in_ns socat -T 5 - "TCP:127.0.0.1:$tns" </dev/null 2>&1)"
ft_check "-U $host_uport: the namespace's UDP 127.0.0.1:$host_uport leads to the host's" \
  in_ns "$NETTOOL" udp-roundtrip 127.0.0.1 "$host_uport" 10
drop_ns
ft_check "pasta quits when the netns file is removed" ft_wait_for gone "$pid"

# --- --no-map-gw: the gateway no longer leads to the host -----------------------------
new_ns ctr2
"$PASTA" --config-net -a 10.78.0.2 -n 255.255.255.0 -g 10.78.0.1 --pid "$FT_TMP/pasta2.pid" -I eth7 --mtu 1500 \
  -t none -u none -T none -U none --no-map-gw --quiet --netns "$NS"
pid=$(cat "$FT_TMP/pasta2.pid")
ft_on_exit "ft_kill $pid"
ft_check "-I eth7 names the interface, --mtu 1500 sets its MTU" sh -c "nsenter --net=$NS ip link show eth7 | grep -q 'mtu 1500'"
if in_ns socat -T 3 - "TCP:10.78.0.1:$host_port,connect-timeout=3" </dev/null >/dev/null 2>&1; then
  ft_fail "--no-map-gw: the gateway still reaches the host's loopback"
else
  ft_pass "--no-map-gw: the gateway does not reach the host's loopback"
fi
drop_ns
ft_check "pasta quits when the netns file is removed (2)" ft_wait_for gone "$pid"

# --- no -a/-n/-g: the host's address and default route are copied --------------------
# Only inspected: no traffic goes to the copied addresses.
read -r hif hgw < <(ip -4 route show default | awk '{ for (i = 1; i < NF; i++) { if ($i == "dev") d = $(i+1); if ($i == "via") g = $(i+1) } print d, g; exit }')
if [ -n "${hif:-}" ]; then
  haddr=$(ip -4 -o addr show dev "$hif" | awk '{ print $4; exit }')
  new_ns ctr3
  "$PASTA" --config-net --pid "$FT_TMP/pasta3.pid" -t none -u none -T none -U none --quiet --netns "$NS"
  pid=$(cat "$FT_TMP/pasta3.pid")
  ft_on_exit "ft_kill $pid"
  ft_check "copied: $haddr on $hif in the namespace" sh -c "nsenter --net=$NS ip -4 -o addr show dev $hif | grep -q 'inet $haddr '"
  ft_check "copied: default route via $hgw" sh -c "nsenter --net=$NS ip route | grep -q 'default via $hgw dev $hif'"
  drop_ns
  ft_check "pasta quits when the netns file is removed (3)" ft_wait_for gone "$pid"
else
  ft_log "the host has no IPv4 default route: address copy not tested"
fi

# --- failures: non-zero with a message ------------------------------------------------
set +e
err=$("$PASTA" --config-net -a 10.79.0.2 -n 24 -g 10.79.0.1 --quiet --netns "$FT_TMP/netns/missing" 2>&1)
rc=$?
set -e
ft_check "a missing netns: non-zero ($rc) naming it ($err)" sh -c "[ $rc -ne 0 ] && echo '$err' | grep -q missing"
err=$("$PASTA" --config-net -a 10.79.0.2 -n 24 -g 10.79.0.1 -u 70000 --netns "$FT_TMP/netns/x" 2>&1 || true)
ft_check "a malformed -u spec is refused naming it ($err)" grep -q -- "-u: .*70000" <<<"$err"
ft_done
