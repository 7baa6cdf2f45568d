#!/usr/bin/env bash
# ferry-dns started directly (as netavark would) on a hand-written config
# directory, inside one network namespace this test creates. "Containers" are
# addresses on that namespace's loopback; dig -b picks the asker's address.
# Upstream is a dnsmasq on that namespace's loopback.
#
# Checks what the netavark test cannot reach: CLI and start-up errors (port
# in use), inherited fds closed, a bad config line reported with file:line
# and the rest served, an internal network (%int) getting no upstream
# answers, -f, truncation and TCP retry, EDNS0, FORMERR/NOTIMP and dropped
# garbage, idle TCP closed, SIGHUP adding and removing names and listeners,
# SIGTERM removing the pid file.
. "${FERRY_TESTS_LIB:-$(dirname "$0")/../lib}/common.sh"
ft_require_root
for tool in dig dnsmasq python3; do
  if ! command -v "$tool" >/dev/null; then echo "SKIP: $tool not installed"; exit 77; fi
done
: "${FERRY_DNS:?FERRY_DNS must point at the ferry-dns binary}"

# --- CLI ----------------------------------------------------------------------
ft_check "--help exits 0 and documents --config" bash -c "'$FERRY_DNS' --help | grep -q -- --config"
ft_check "--version exits 0" bash -c "'$FERRY_DNS' --version | grep -q ferry-dns"
ft_check "no subcommand is a usage error" bash -c "! '$FERRY_DNS' --config /nonexistent 2>/dev/null"

# ft_netns runs in a $(...) subshell, so its clean-up registration is lost:
# register the deletion again in this shell.
NS=$(ft_netns dns) && ft_on_exit "ip netns del $NS"
# Foreground only: a background `in_ns ... &` would leave $! naming a subshell.
in_ns() { ip netns exec "$NS" "$@"; }
for a in 10.99.1.1 10.99.1.2 10.99.1.3 10.99.2.1 10.99.2.2; do in_ns ip addr add "$a/32" dev lo; done

export FERRY_DNS_RESOLV_CONF=$FT_TMP/resolv.conf
export FERRY_DNS_LOG_FILE=$FT_TMP/ferry-dns.log
echo "nameserver 127.0.0.1" > "$FERRY_DNS_RESOLV_CONF"
ip netns exec "$NS" dnsmasq --no-daemon --no-resolv --no-hosts --user=root --listen-address=127.0.0.1 --bind-interfaces \
  --port=53 --host-record=upstream.test,192.0.2.7 > "$FT_TMP/dnsmasq.log" 2>&1 &
DNSMASQ=$!
ft_on_exit "ft_kill $DNSMASQ"
ft_wait_for in_ns dig +short +time=1 +tries=1 @127.0.0.1 upstream.test

CONF=$FT_TMP/conf
mkdir -p "$CONF"
big_ips=$(seq -s, -f '10.99.3.%g' 1 40)
cat > "$CONF/net1" <<EOF
10.99.1.1
ida 10.99.1.2  alpha
this line is broken
idb 10.99.1.3  beta,BetaAlias
idbig $big_ips  big
EOF
printf '10.99.2.1\nidi 10.99.2.2  inner\n' > "$CONF/inet%int"

# --- start-up errors ------------------------------------------------------------
ip netns exec "$NS" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.99.2.1", 53))
print("bound", flush=True); time.sleep(60)' > "$FT_TMP/squatter.out" &
SQUATTER=$!
ft_on_exit "ft_kill $SQUATTER"
ft_wait_for grep -q bound "$FT_TMP/squatter.out"
set +e
err=$(in_ns "$FERRY_DNS" --config "$CONF" -p 53 -f example.internal run 2>&1)
rc=$?
set -e
ft_check "port in use: non-zero exit" test "$rc" -ne 0
ft_check "port in use: clear message" bash -c "grep -q '10.99.2.1:53.*in use' <<< '$err'"
ft_check "port in use: no pid file" test ! -e "$CONF/aardvark.pid"
ft_kill "$SQUATTER"

# --- start ------------------------------------------------------------------------
exec 9> "$FT_TMP/inherited"
ft_check "starts" in_ns "$FERRY_DNS" --config "$CONF" -p 53 -f example.internal run
exec 9>&-
PID=$(cat "$CONF/aardvark.pid" 2>/dev/null || true)
case "$PID" in
  [1-9]*) ft_on_exit "ft_kill $PID" ;;
  *) echo "FAIL: no pid file after start-up"; exit 1 ;;
esac
ft_check "pid file names a live process" test -d "/proc/$PID"
ft_check "inherited fd 9 closed in the server" \
  bash -c "! ls -l /proc/$PID/fd/ | grep -q '$FT_TMP/inherited'"
ft_check "...while the check itself can see open files" \
  bash -c "ls -l /proc/$PID/fd/ | grep -q 'socket:'"
ft_expect_eq "daemon does not hold the caller's directory" / "$(readlink "/proc/$PID/cwd")"
ft_check "bad line reported with file:line" grep -q "$CONF/net1:3:" "$FERRY_DNS_LOG_FILE"

q() {  # source name [dig args] -> sorted answers
  local src=$1 server=$2; shift 2
  in_ns dig +short +time=3 +tries=1 -b "$src" "@$server" "$@" 2>&1 | sort
}
status() {
  local src=$1 server=$2; shift 2
  in_ns dig +time=3 +tries=1 -b "$src" "@$server" "$@" 2>&1 | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'
}
ft_expect_eq "lines after the bad one served" 10.99.1.3 "$(q 10.99.1.2 10.99.1.1 betaalias)"
ft_expect_eq "-f domain stripped" 10.99.1.2 "$(q 10.99.1.3 10.99.1.1 ALPHA.example.internal)"
ft_expect_eq "-f domain: unknown is NXDOMAIN" NXDOMAIN "$(status 10.99.1.3 10.99.1.1 nope.example.internal)"
ft_expect_eq "forwarded for an ordinary network" 192.0.2.7 "$(q 10.99.1.2 10.99.1.1 upstream.test)"
ft_expect_eq "internal network: own names answered" 10.99.2.2 "$(q 10.99.2.2 10.99.2.1 inner)"
ft_expect_eq "internal network: no upstream answers" NXDOMAIN "$(status 10.99.2.2 10.99.2.1 upstream.test)"
ft_check "internal network: ordinary network's names invisible" \
  bash -c "! ip netns exec $NS dig +short +time=3 -b 10.99.2.2 @10.99.2.1 alpha | grep -q 10.99"

# --- size limits, EDNS0 --------------------------------------------------------------
ft_check "40 records over plain UDP: TC set" \
  bash -c "ip netns exec $NS dig +noedns +ignore +time=3 -b 10.99.1.2 @10.99.1.1 big | grep -q 'flags: qr aa tc'"
ft_expect_eq "dig retries over TCP and gets all 40" 40 "$(q 10.99.1.2 10.99.1.1 +noedns big | grep -c '^10.99.3.')"
ft_expect_eq "EDNS0 4096: all 40 over UDP" 40 \
  "$(q 10.99.1.2 10.99.1.1 +bufsize=4096 +ignore big | grep -c '^10.99.3.')"
ft_check "EDNS0 echoed in the reply" \
  bash -c "ip netns exec $NS dig +time=3 -b 10.99.1.2 @10.99.1.1 alpha | grep -q 'EDNS: version: 0'"
ft_expect_eq "EDNS version 1 gets BADVERS" BADVERS \
  "$(status 10.99.1.2 10.99.1.1 +edns=1 +noednsneg alpha)"

# --- bad input ------------------------------------------------------------------------
cat > "$FT_TMP/raw.py" <<'EOF'
# Sends raw UDP payloads from 10.99.1.2 and prints each reply's rcode (or
# "none" when nothing came back within a second).
import socket, struct, sys
cases = {
    "truncated-question": struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + b"\x05alp",
    "runt": b"\x01\x02\x03\x04\x05",
    "status-opcode": struct.pack(">HHHHHH", 0x4343, 0x1100, 1, 0, 0, 0) + b"\x05alpha\x00\x00\x01\x00\x01",
    "pointer-loop": struct.pack(">HHHHHH", 0x4444, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01",
    "response": struct.pack(">HHHHHH", 0x4545, 0x8100, 1, 0, 0, 0) + b"\x05alpha\x00\x00\x01\x00\x01",
}
for name in sys.argv[1:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.99.1.2", 0)); s.settimeout(1)
    s.sendto(cases[name], ("10.99.1.1", 53))
    try:
        d, _ = s.recvfrom(4096)
        print(name, "id=%04x" % struct.unpack(">H", d[:2])[0], "rcode=%d" % (d[3] & 15))
    except socket.timeout:
        print(name, "none")
EOF
raw=$(in_ns python3 "$FT_TMP/raw.py" truncated-question runt status-opcode pointer-loop response)
ft_log "$raw"
ft_check "truncated question: FORMERR with the query's id" grep -q 'truncated-question id=4242 rcode=1' <<< "$raw"
ft_check "runt datagram dropped" grep -q 'runt none' <<< "$raw"
ft_check "opcode STATUS: NOTIMP" grep -q 'status-opcode id=4343 rcode=4' <<< "$raw"
ft_check "pointer loop: FORMERR" grep -q 'pointer-loop id=4444 rcode=1' <<< "$raw"
ft_check "a response is never answered" grep -q 'response none' <<< "$raw"
ft_check "server alive after bad input" test -d "/proc/$PID"

idle=$(ip netns exec "$NS" python3 -c '
import socket, time
s = socket.create_connection(("10.99.1.1", 53), timeout=10)
t = time.monotonic()
try:
    print("closed" if s.recv(1) == b"" else "data")
except socket.timeout:
    print("still-open")
')
ft_expect_eq "idle TCP connection closed by the server" closed "$idle"

# --- SIGHUP, SIGTERM ----------------------------------------------------------------------
printf '10.99.1.1\nida 10.99.1.2  alpha\nidg 10.99.1.3  gamma\n' > "$CONF/net1.new"
mv "$CONF/net1.new" "$CONF/net1"
rm "$CONF/inet%int"
kill -HUP "$PID"
ft_check "SIGHUP: new name served" ft_wait_for bash -c "ip netns exec $NS dig +short +time=1 -b 10.99.1.2 @10.99.1.1 gamma | grep -qx 10.99.1.3"
ft_expect_eq "SIGHUP: removed name gone" NXDOMAIN "$(status 10.99.1.2 10.99.1.1 beta.example.internal)"
ft_check "SIGHUP: listener of the removed network closed" \
  bash -c "! ip netns exec $NS dig +time=1 +tries=1 -b 10.99.2.2 @10.99.2.1 inner >/dev/null"
kill -TERM "$PID"
ft_check "SIGTERM: pid file removed" ft_wait_for test ! -e "$CONF/aardvark.pid"
ft_done
