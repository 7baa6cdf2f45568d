#!/usr/bin/env bash
# UDP port forwarding, rootless: -u from the command line and add_hostfwd with
# proto udp through the API socket. Host clients on the loopback are relayed
# to the container's loopback (a service bound only to 127.0.0.1 answers) or,
# when nothing listens there, to its address; replies reach the right client
# among 200 at once; 1 GiB (large datagrams) and 16 MiB (1400-byte datagrams)
# echo intact; removing a forward stops new clients while a flow in progress
# goes on; a port in use is refused with its cause. And `-t auto`: a port the
# container starts listening on is published on the host's same port, and
# unpublished when the container stops listening.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
ft_install_ferry
SIZE=${FT_TRANSFER_BYTES:-1073741824}

api() {  # api JSON -> the reply
  printf '%s' "$1" | socat -t 5 - "UNIX-CONNECT:$FT_SHARED/api.sock"
}
ctr_udp_bound() {  # ctr_udp_bound PORT: a UDP socket is bound to PORT in the container
  ft_wait_for ft_in_ctr sh -c "ss -Hunl 'sport = :$1' | grep -q ."
}

lo_port=$(ft_free_port)
guest_port=$(ft_free_port)
dual_port=$(ft_free_port)
v6_port=$(ft_free_port)
ft_start_container
ft_start_ferry --configure --mtu 65520 --api-socket "$FT_SHARED/api.sock" \
  -u "127.0.0.1/$lo_port:7101" -u "127.0.0.1/$guest_port:7102" -u "$dual_port:7103" -u "::1/$v6_port:7101" \
  -t auto

# Container services: one on its loopback only, one on its address only.
"${FT_AS_USER[@]}" nsenter --target "$CPID" --user --net --preserve-credentials -- "$NETTOOL" udp-serve 127.0.0.1 7101 &
ft_on_exit "ft_kill $!"
"${FT_AS_USER[@]}" nsenter --target "$CPID" --user --net --preserve-credentials -- "$NETTOOL" udp-serve 10.0.2.100 7102 &
ft_on_exit "ft_kill $!"
"${FT_AS_USER[@]}" nsenter --target "$CPID" --user --net --preserve-credentials -- "$NETTOOL" udp-serve ::1 7103 &
ft_on_exit "ft_kill $!"
ctr_udp_bound 7101
ctr_udp_bound 7102
ctr_udp_bound 7103

seen=$("$NETTOOL" udp-whoami 127.0.0.1 "$lo_port" || true)
ft_check "-u forward reaches a service bound to the container's 127.0.0.1 (seen as '$seen')" grep -q '^127.0.0.1 ' <<<"$seen"
seen=$("$NETTOOL" udp-whoami 127.0.0.1 "$guest_port" || true)
ft_check "a service bound only to the guest address is reached after the loopback refuses (seen as '$seen')" \
  grep -q '^10.0.2.100 ' <<<"$seen"
seen=$("$NETTOOL" udp-whoami ::1 "$dual_port" || true)
ft_check "a forward without an address listens on IPv6 too: ::1 reaches the container's ::1 ('$seen')" grep -q '^::1 ' <<<"$seen"
seen=$("$NETTOOL" udp-whoami ::1 "$v6_port" || true)
ft_check "an IPv6 listener reaches an IPv4-only service (falls back to 127.0.0.1: '$seen')" grep -q '^127.0.0.1 ' <<<"$seen"
ft_check "200 UDP clients at once, each answered with its own datagrams" "$NETTOOL" udp-clients 127.0.0.1 "$lo_port" 200

out=$("$NETTOOL" udp-transfer 127.0.0.1 "$lo_port" "$SIZE" 60000 2>&1) || true
ft_check "$SIZE bytes in 60000-byte datagrams each way through the forward, intact ($out)" grep -q 'echoed intact' <<<"$out"
out=$("$NETTOOL" udp-transfer 127.0.0.1 "$lo_port" 16777216 1400 2>&1) || true
ft_check "16 MiB in 1400-byte datagrams each way, intact ($out)" grep -q 'echoed intact' <<<"$out"

# --- the API -----------------------------------------------------------------------
api_port=$(ft_free_port)
reply=$(api "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"udp\",\"host_addr\":\"127.0.0.1\",\"host_port\":$api_port,\"guest_addr\":\"\",\"guest_port\":7101}}")
ft_expect_eq "add_hostfwd udp answers with id 1" '{"return":{"id":1}}' "$reply"
ft_expect_eq "list_hostfwd shows the UDP forward" \
  "{\"entries\":[{\"id\":1,\"proto\":\"udp\",\"host_addr\":\"127.0.0.1\",\"host_port\":$api_port,\"guest_addr\":\"10.0.2.100\",\"guest_port\":7101}]}" \
  "$(api '{"execute":"list_hostfwd"}')"
ft_check "a datagram through the API forward comes back" "$NETTOOL" udp-roundtrip 127.0.0.1 "$api_port" 20
reply=$(api "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"udp\",\"host_addr\":\"127.0.0.1\",\"host_port\":$api_port,\"guest_addr\":\"\",\"guest_port\":7101}}")
ft_check "a UDP port in use is refused with its cause ($reply)" grep -q 'slirp_add_hostxfwd failed.*Address already in use' <<<"$reply"

# A flow in progress outlives the removal of its forward; new clients get nothing.
python3 - "$api_port" >"$FT_TMP/hold.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.settimeout(3)
s.send(b"before"); assert s.recv(100) == b"before"
print("connected", flush=True)
time.sleep(2)
s.send(b"after"); assert s.recv(100) == b"after"
print("still answered", flush=True)
PY
hold=$!
ft_wait_for grep -q connected "$FT_TMP/hold.out"
ft_expect_eq "remove_hostfwd" '{"return":{}}' "$(api '{"execute":"remove_hostfwd","arguments":{"id":1}}')"
if "$NETTOOL" udp-whoami 127.0.0.1 "$api_port" >/dev/null 2>&1; then
  ft_fail "a new client is still answered after remove_hostfwd"
else
  ft_pass "new clients get no answer after remove_hostfwd"
fi
ft_check "a flow in progress before the removal goes on" wait "$hold"

# --- -t auto -------------------------------------------------------------------------
auto_port=$(ft_free_port)
"${FT_AS_USER[@]}" nsenter --target "$CPID" --user --net --preserve-credentials -- "$NETTOOL" serve-echo "$auto_port" &
auto_srv=$!
ft_on_exit "ft_kill $auto_srv"
ft_check "-t auto publishes a port the container starts listening on" \
  ft_wait_for "$NETTOOL" short-conns 127.0.0.1 "$auto_port" 3
ft_kill "$auto_srv"
ft_check "-t auto unpublishes it when the container stops listening" \
  ft_wait_for sh -c "! ss -Htln 'sport = :$auto_port' | grep -q ."

counters=$(ft_counters)
if grep -q 'datagram_too_long\|udp_send_failed' <<<"$counters"; then
  ft_fail "ferry dropped forwarded UDP: $counters"
else
  ft_pass "ferry counts no drops for forwarded UDP"
fi
ft_done
