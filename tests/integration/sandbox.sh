#!/usr/bin/env bash
# The process sandbox (docs/sandbox.md), from outside: rootless ferry for a
# container, with a -t forward, the API socket and DNS, shows in
# /proc/<pid>/status a seccomp filter, no_new_privs and no capability but
# CAP_NET_BIND_SERVICE; its mount namespace holds none of the host's /home,
# /root, /var, only the folders it needs; it stays in the host's network
# namespace; its namespace agent has a filter of its own. And ferry still
# works inside it: ping to the gateway, TCP to a host service on loopback,
# DNS through 10.0.2.3 to a dnsmasq of this test on a loopback address (and
# to a second one once resolv.conf is replaced by rename), a forward added
# through the API after start-up, SIGUSR1 counters,
# a clean exit when the container ends and on --exit-fd. Then ferry-dns: the
# same status fields, answers, a SIGHUP reload and SIGTERM removing its pid
# file, inside a network namespace of the test.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
for tool in dnsmasq dig socat; do
  if ! command -v "$tool" >/dev/null; then echo "SKIP: $tool not installed"; exit 77; fi
done
ft_install_ferry

# status_field PID NAME: the value of NAME: in /proc/PID/status.
status_field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# check_sandboxed WHAT PID: the kernel's view of the sandbox of PID.
check_sandboxed() {
  local what=$1 pid=$2
  ft_expect_eq "$what: seccomp filter mode" 2 "$(status_field "$pid" Seccomp)"
  ft_expect_eq "$what: no_new_privs" 1 "$(status_field "$pid" NoNewPrivs)"
  for c in CapEff CapPrm CapBnd; do
    ft_expect_eq "$what: $c only CAP_NET_BIND_SERVICE" 0000000000000400 "$(status_field "$pid" "$c")"
  done
  for c in CapInh CapAmb; do
    ft_expect_eq "$what: $c empty" 0000000000000000 "$(status_field "$pid" "$c")"
  done
  ft_check "$what: a mount namespace of its own" \
    test "$(readlink "/proc/$pid/ns/mnt")" != "$(readlink /proc/self/ns/mnt)"
  local top
  top=$(ls -A "/proc/$pid/root/" | tr '\n' ' ')
  for d in home root var usr etc; do
    if [ -e "/proc/$pid/root/$d" ]; then ft_fail "$what sees /$d (its root holds: $top)"; else ft_pass "$what does not see /$d"; fi
  done
  if awk '{ print $5 }' "/proc/$pid/mountinfo" | grep >/dev/null -E '^/(home|root|var|usr)(/|$)'; then
    ft_fail "$what: a host folder in its mountinfo: $(awk '{ print $5 }' "/proc/$pid/mountinfo" | tr '\n' ' ')"
  else
    ft_pass "$what: mountinfo names no /home, /root, /var, /usr"
  fi
}

dns_ip() { echo "127.53.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))"; }
# start_dnsmasq IP ANSWER: a resolver on IP:53 that knows sandbox.test.
start_dnsmasq() {
  dnsmasq --no-daemon --no-resolv --no-hosts --user=root --bind-interfaces --listen-address="$1" --port=53 \
    --host-record="sandbox.test,$2" >"$FT_TMP/dnsmasq-$1.log" 2>&1 &
  ft_on_exit "ft_kill $!"
  ft_wait_for dig +short +time=1 +tries=1 "@$1" sandbox.test
}
dns1=$(dns_ip)
dns2=$(dns_ip)
start_dnsmasq "$dns1" 192.0.2.61
start_dnsmasq "$dns2" 192.0.2.62
# resolv.conf in a folder of its own, replaced by rename later.
mkdir -p "$FT_SHARED/etc"
chmod 0755 "$FT_SHARED/etc"
echo "nameserver $dns1" >"$FT_SHARED/etc/resolv.conf"

host_port=$(ft_free_port)
"$NETTOOL" serve-echo "$host_port" &
ft_on_exit "ft_kill $!"
ft_wait_for ft_listening "$host_port"

cli_port=$(ft_free_port)
ft_start_container
exec 9>"$FT_TMP/inherited"  # a descriptor ferry inherits by mistake
ft_start_ferry --configure --enable-sandbox --enable-seccomp --api-socket "$FT_SHARED/api.sock" \
  --resolv-conf "$FT_SHARED/etc/resolv.conf" -t "127.0.0.1/$cli_port:7001"
exec 9>&-
"${FT_AS_USER[@]}" nsenter --target "$CPID" --user --net --preserve-credentials -- "$NETTOOL" serve-echo 7001 &
ft_on_exit "ft_kill $!"
ft_wait_for ft_in_ctr sh -c 'ss -Htln "sport = :7001" | grep -q .'

# --- the sandbox, as the kernel shows it ------------------------------------------
check_sandboxed ferry "$FERRY_PID"
agent=$(cat "/proc/$FERRY_PID/task/$FERRY_PID/children" 2>/dev/null | awk '{ print $1 }')
if [ -n "$agent" ]; then
  ft_expect_eq "the namespace agent ($agent): its own seccomp filter" 2 "$(status_field "$agent" Seccomp)"
  ft_expect_eq "the namespace agent: no_new_privs" 1 "$(status_field "$agent" NoNewPrivs)"
  ft_expect_eq "the namespace agent: CapEff only CAP_NET_BIND_SERVICE" 0000000000000400 "$(status_field "$agent" CapEff)"
  ft_expect_eq "the namespace agent: CapBnd only CAP_NET_BIND_SERVICE" 0000000000000400 "$(status_field "$agent" CapBnd)"
else
  ft_fail "ferry has no namespace agent child"
fi
ft_check "ferry stays in the host's network namespace" \
  test "$(readlink "/proc/$FERRY_PID/ns/net")" == "$(readlink /proc/self/ns/net)"
ft_check "ferry sees the folder of its resolv.conf" test -e "/proc/$FERRY_PID/root$FT_SHARED/etc/resolv.conf"
ft_check "--enable-sandbox/--enable-seccomp are accepted silently" bash -c "! grep -q 'enable-s' '$FT_TMP/ferry.log'"
ft_check "an inherited descriptor (9) is closed" bash -c "! ls -l /proc/$FERRY_PID/fd | grep -q '$FT_TMP/inherited'"

# --- ferry still works inside it --------------------------------------------------
ft_check "ping the gateway" ft_in_ctr ping -c 2 -W 2 10.0.2.2
ft_check "TCP to a host service on loopback (20 connections)" ft_in_ctr "$NETTOOL" short-conns 10.0.2.2 "$host_port" 20
ft_expect_eq "DNS through 10.0.2.3 to the test's dnsmasq" 192.0.2.61 \
  "$(ft_in_ctr dig +short +time=2 +tries=2 @10.0.2.3 sandbox.test A)"
echo "nameserver $dns2" >"$FT_SHARED/etc/resolv.conf.new"
mv "$FT_SHARED/etc/resolv.conf.new" "$FT_SHARED/etc/resolv.conf"
sleep 1.2  # ferry checks resolv.conf's mtime at most once a second
ft_check "resolv.conf replaced by rename: the new resolver answers" ft_wait_for \
  bash -c "[ \"\$(nsenter --target $CPID --user --net --preserve-credentials -- dig +short +time=1 +tries=1 @10.0.2.3 sandbox.test A)\" = 192.0.2.62 ]"
ft_check "-t forward from the command line" "$NETTOOL" short-conns 127.0.0.1 "$cli_port" 5
api_port=$(ft_free_port)
reply=$(printf '%s' "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_addr\":\"127.0.0.1\",\"host_port\":$api_port,\"guest_addr\":\"\",\"guest_port\":7001}}" |
  socat -t 5 - "UNIX-CONNECT:$FT_SHARED/api.sock")
ft_expect_eq "add_hostfwd through the API after the sandbox" '{"return":{"id":1}}' "$reply"
ft_check "the API's forward carries connections" "$NETTOOL" short-conns 127.0.0.1 "$api_port" 5
counters=$(ft_counters)
ft_check "SIGUSR1 prints counters" grep -q 'frames' <<<"$counters"
ft_check "ferry is alive after all that" kill -0 "$FERRY_PID"

# --- exit: the container ends ------------------------------------------------------
kill "$CPID"
rc=0
for ((i = 0; i < 100; i++)); do kill -0 "$FERRY_PID" 2>/dev/null || break; sleep 0.1; done
wait "$FERRY_PID" || rc=$?
ft_expect_eq "ferry exits 0 when the container ends (not killed by seccomp: 159)" 0 "$rc"
ft_check "the API socket file is removed at exit" test ! -e "$FT_SHARED/api.sock"
ft_check "no sanitizer or sandbox error in ferry's log" bash -c "! grep -Eq 'Sanitizer|sandbox:|runtime error' '$FT_TMP/ferry.log'"
grep -E 'Sanitizer|sandbox:|runtime error' "$FT_TMP/ferry.log" | head -5 || true

# --- exit: --exit-fd -----------------------------------------------------------------
ft_start_container
mkfifo "$FT_TMP/exit.fifo"
chmod 0666 "$FT_TMP/exit.fifo"
"${FT_AS_USER[@]}" sleep 1000 >"$FT_TMP/exit.fifo" &
holder=$!
ft_on_exit "ft_kill $holder"
"${FT_AS_USER[@]}" "$FERRY_BIN" --configure -e 3 "$CPID" tap0 3<"$FT_TMP/exit.fifo" >"$FT_TMP/ferry2.log" 2>&1 &
ferry2=$!
ft_on_exit "ft_kill $ferry2"
ft_check "second ferry (with --exit-fd) configures tap0" ft_wait_for ft_in_ctr sh -c 'ip -4 addr show dev tap0 | grep -q inet'
# The sandbox goes on once everything is up, just after the tap is
# configured: wait for it rather than race it.
seccomp_on() { [ "$(status_field "$ferry2" Seccomp)" = 2 ]; }
ft_check "second ferry is sandboxed too" ft_wait_for seccomp_on
kill "$holder"
rc=0
for ((i = 0; i < 100; i++)); do kill -0 "$ferry2" 2>/dev/null || break; sleep 0.1; done
wait "$ferry2" || rc=$?
ft_expect_eq "ferry exits 0 when its --exit-fd closes" 0 "$rc"
ft_check "no sanitizer or sandbox error in its log" bash -c "! grep -Eq 'Sanitizer|sandbox:|runtime error' '$FT_TMP/ferry2.log'"
grep -E 'Sanitizer|sandbox:|runtime error' "$FT_TMP/ferry2.log" | head -5 || true

# --- ferry-dns ----------------------------------------------------------------------
if [ -n "${FERRY_DNS:-}" ]; then
  NS=$(ft_netns sbdns) && ft_on_exit "ip netns del $NS"
  ip netns exec "$NS" ip addr add 10.99.7.1/32 dev lo
  ip netns exec "$NS" ip addr add 10.99.7.2/32 dev lo
  ip netns exec "$NS" dnsmasq --no-daemon --no-resolv --no-hosts --user=root --listen-address=127.0.0.1 \
    --bind-interfaces --port=53 --host-record=upstream.test,192.0.2.7 >"$FT_TMP/dnsmasq-ns.log" 2>&1 &
  ft_on_exit "ft_kill $!"
  ft_wait_for ip netns exec "$NS" dig +short +time=1 +tries=1 @127.0.0.1 upstream.test
  mkdir -p "$FT_TMP/dnsetc" "$FT_TMP/dnsconf"
  echo "nameserver 127.0.0.1" >"$FT_TMP/dnsetc/resolv.conf"
  printf '10.99.7.1\nida 10.99.7.2  alpha\n' >"$FT_TMP/dnsconf/net1"
  ft_check "ferry-dns starts" env FERRY_DNS_LOG_FILE="$FT_TMP/ferry-dns.log" \
    ip netns exec "$NS" "$FERRY_DNS" --config "$FT_TMP/dnsconf" --resolv-conf "$FT_TMP/dnsetc/resolv.conf" -p 53 run
  DPID=$(cat "$FT_TMP/dnsconf/aardvark.pid" 2>/dev/null || true)
  case "$DPID" in
    [1-9]*) ft_on_exit "ft_kill $DPID" ;;
    *) echo "FAIL: ferry-dns wrote no pid file; its log:"; cat "$FT_TMP/ferry-dns.log"; exit 1 ;;
  esac
  check_sandboxed ferry-dns "$DPID"
  dq() { ip netns exec "$NS" dig +short +time=2 +tries=1 -b 10.99.7.2 @10.99.7.1 "$@"; }
  ft_expect_eq "ferry-dns answers a container name" 10.99.7.2 "$(dq alpha.dns.podman A)"
  ft_expect_eq "ferry-dns forwards upstream" 192.0.2.7 "$(dq upstream.test A)"
  printf '10.99.7.1\nida 10.99.7.2  alpha\nidb 10.99.7.2  beta\n' >"$FT_TMP/dnsconf/net1.new"
  mv "$FT_TMP/dnsconf/net1.new" "$FT_TMP/dnsconf/net1"
  kill -HUP "$DPID"
  ft_check "SIGHUP reload: the new name is served" ft_wait_for bash -c "[ \"\$(ip netns exec $NS dig +short +time=1 -b 10.99.7.2 @10.99.7.1 beta.dns.podman A)\" = 10.99.7.2 ]"
  ft_check "ferry-dns alive after the reload" kill -0 "$DPID"
  kill -TERM "$DPID"
  ft_check "SIGTERM: pid file removed" ft_wait_for test ! -e "$FT_TMP/dnsconf/aardvark.pid"
  ft_check "ferry-dns logged no sanitizer or sandbox error" bash -c "! grep -Eq 'Sanitizer|sandbox:|runtime error' '$FT_TMP/ferry-dns.log'"
  grep -E 'Sanitizer|sandbox:|runtime error' "$FT_TMP/ferry-dns.log" | head -5 || true
else
  ft_log "FERRY_DNS not set: ferry-dns part skipped"
fi
# A seccomp kill is logged by the kernel (audit type=1326), even one at exit
# that no exit status shows (ferry-dns's, LeakSanitizer's).
kills=$(dmesg 2>/dev/null | grep 'type=1326' | grep -E " pid=(${FERRY_PID}|${ferry2}|${DPID:-0}|${agent:-0}) " || true)
ft_expect_eq "no seccomp kill in the kernel log" "" "$kills"
ft_done
