#!/usr/bin/env bash
# ferry's lifecycle and the basic paths, rootless: --ready-fd, --configure,
# ping to the gateway, a page fetched from a host loopback server through the
# gateway, half-closed connections that still get their answer, a refused
# connection reported at once, --disable-host-loopback,
# exit on --exit-fd, on SIGTERM, and when the namespace goes away.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
ft_install_ferry

# --- ready fd, configure, ping, fetch -----------------------------------------
ft_start_container
"${FT_AS_USER[@]}" "$FERRY_BIN" --configure --mtu 65520 -r 3 "$CPID" tap0 3>"$FT_SHARED/ready" >"$FT_TMP/ferry.log" 2>&1 &
FERRY_PID=$!
ft_on_exit "ft_kill $FERRY_PID"
ft_check "--ready-fd receives \"1\"" ft_wait_for grep -qx 1 "$FT_SHARED/ready"
ft_expect_eq "guest address" "10.0.2.100/24" "$(ft_in_ctr ip -4 -o addr show dev tap0 | awk '{print $4}')"
ft_expect_eq "default route via the gateway" "default via 10.0.2.2 dev tap0" "$(ft_in_ctr ip route show default | awk '{print $1,$2,$3,$4,$5}')"
ft_expect_eq "MTU" "65520" "$(ft_in_ctr ip -o link show dev tap0 | grep -o 'mtu [0-9]*' | cut -d' ' -f2)"
ft_check "ping to the gateway" ft_in_ctr ping -c 2 -W 2 10.0.2.2

port=$(ft_free_port)
mkdir -p "$FT_TMP/www"
echo "hello from the host" >"$FT_TMP/www/index.html"
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$FT_TMP/www" >/dev/null 2>&1 &
web=$!
ft_on_exit "ft_kill $web"
ft_wait_for python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))"
page=$(ft_in_ctr sh -c "printf 'GET /index.html HTTP/1.0\r\n\r\n' | socat -t 5 - TCP:10.0.2.2:$port" | tail -n 1)
ft_expect_eq "page fetched from the host through the gateway" "hello from the host" "$page"

digest_port=$(ft_free_port)
"$NETTOOL" serve-digest 127.0.0.1 "$digest_port" &
ft_on_exit "ft_kill $!"
ft_wait_for ft_listening "$digest_port"
ft_check "the container half-closes: its FIN reaches the host, the answer still comes back (20 connections)" \
  ft_in_ctr "$NETTOOL" half-close 10.0.2.2 "$digest_port" 20

closed=$(ft_free_port)
ms=$(ft_in_ctr "$NETTOOL" connect-refused 10.0.2.2 "$closed") || ft_fail "refused: $ms"
ft_check "connection to a closed host port refused within 100 ms (took ${ms} ms)" test "${ms:-999}" -lt 100

# --- SIGTERM ends ferry ------------------------------------------------------------
kill -TERM "$FERRY_PID"
ft_check "ferry exits on SIGTERM" ft_wait_for sh -c "! kill -0 $FERRY_PID"
ft_kill "$CPID"

# --- --disable-host-loopback ---------------------------------------------------------
ft_start_container
ft_start_ferry --configure --disable-host-loopback
echo_port=$(ft_free_port)
"$NETTOOL" serve-echo "$echo_port" &
echo_pid=$!
ft_on_exit "ft_kill $echo_pid"
ft_wait_for python3 -c "import socket; socket.create_connection(('127.0.0.1', $echo_port))"
if ft_in_ctr "$NETTOOL" short-conns 10.0.2.2 "$echo_port" 1 >/dev/null 2>&1; then
  ft_fail "host loopback reachable through the gateway despite --disable-host-loopback"
else
  ft_pass "host loopback unreachable with --disable-host-loopback"
fi
ft_check "the gateway still answers ping with --disable-host-loopback" ft_in_ctr ping -c 1 -W 2 10.0.2.2

# --- the namespace goes away: ferry exits ------------------------------------------
ft_kill "$CPID"
ft_check "ferry exits when the container's namespace is gone" ft_wait_for sh -c "! kill -0 $FERRY_PID"

# --- --exit-fd ----------------------------------------------------------------------------
ft_start_container
mkfifo "$FT_TMP/exitfifo"
exec 7<>"$FT_TMP/exitfifo"
"${FT_AS_USER[@]}" "$FERRY_BIN" --configure -e 4 "$CPID" tap0 4<"$FT_TMP/exitfifo" 7>&- >"$FT_TMP/ferry2.log" 2>&1 &
FERRY_PID=$!
ft_on_exit "ft_kill $FERRY_PID"
ft_wait_for ft_in_ctr sh -c 'ip -4 addr show dev tap0 | grep -q inet'
sleep 0.5
ft_check "ferry keeps running while the exit fd is open" kill -0 "$FERRY_PID"
exec 7>&-
ft_check "ferry exits when the exit fd closes" ft_wait_for sh -c "! kill -0 $FERRY_PID"

# --- bad flags -------------------------------------------------------------------------------
out=$("$FERRY_BIN" --cidr 10.0.2.100/24 1 2>&1 || true)
ft_check "bad --cidr names the problem" grep -q "CIDR needs to be a network address like 10.0.2.0/24, not like 10.0.2.100/24" <<<"$out"
out=$("$FERRY_BIN" --no-such-flag 1 2>&1 || true)
ft_check "unknown flag is named" grep -q "unknown option: --no-such-flag" <<<"$out"
out=$("$FERRY_BIN" --mtu 70000 1 2>&1 || true)
ft_check "bad MTU is named" grep -q "MTU must be 68-65521: 70000" <<<"$out"
out=$("$FERRY_BIN" --busy-poll 5000 1 2>&1 || true)
ft_check "bad --busy-poll is named" grep -q "busy-poll must be 0-1000 microseconds: 5000" <<<"$out"
ft_check "--help lists --disable-host-loopback (podman's probe)" sh -c "'$FERRY_BIN' --help | grep -q -- --disable-host-loopback"
ft_check "--version reports SLIRP_CONFIG_VERSION_MAX" sh -c "'$FERRY_BIN' --version | grep -q 'SLIRP_CONFIG_VERSION_MAX: 4'"
ft_done
