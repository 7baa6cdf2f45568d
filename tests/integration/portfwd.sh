#!/usr/bin/env bash
# Publishing container ports on the host (the spliced loopback path), rootless:
# a -t forward from the command line and forwards added, listed and removed
# through the slirp4netns API socket; services bound only to the container's
# 127.0.0.1 are reachable; 1 GiB intact each way; 200 concurrent connections;
# removing a forward stops new connections while open ones go on.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
ft_install_ferry
SIZE=${FT_TRANSFER_BYTES:-1073741824}

api() {  # api JSON -> the reply
  printf '%s' "$1" | socat -t 5 - "UNIX-CONNECT:$FT_SHARED/api.sock"
}

cli_port=$(ft_free_port)
dual_port=$(ft_free_port)
digest_port=$(ft_free_port)
ft_start_container
ft_start_ferry --configure --mtu 65520 --api-socket "$FT_SHARED/api.sock" -t "127.0.0.1/$cli_port:7001" \
  -t "$dual_port:7001" -t "127.0.0.1/$digest_port:7005"

# Container services, bound to its loopback only.
"${FT_AS_USER[@]}" nsenter --target "$CPID" --user --net --preserve-credentials -- "$NETTOOL" serve-echo 7001 &
ft_on_exit "ft_kill $!"
ft_wait_for ft_in_ctr sh -c 'ss -Htln "sport = :7001" | grep -q .'
"${FT_AS_USER[@]}" nsenter --target "$CPID" --user --net --preserve-credentials -- "$NETTOOL" serve-digest 127.0.0.1 7005 &
ft_on_exit "ft_kill $!"
ft_wait_for ft_in_ctr sh -c 'ss -Htln "sport = :7005" | grep -q .'

ft_check "-t forward reaches a service bound to the container's 127.0.0.1" "$NETTOOL" short-conns 127.0.0.1 "$cli_port" 20
ft_check "a spliced forward carries a half-close: the client's FIN arrives, the answer comes back (20 connections)" \
  "$NETTOOL" half-close 127.0.0.1 "$digest_port" 20
ft_expect_eq "a -t forward without an address listens on IPv6 too ([::1] to an IPv4-only service)" hello \
  "$(echo hello | socat -t 3 - "TCP6:[::1]:$dual_port" 2>&1)"

# --- the API ---------------------------------------------------------------------
api_port=$(ft_free_port)
reply=$(api "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_addr\":\"127.0.0.1\",\"host_port\":$api_port,\"guest_addr\":\"\",\"guest_port\":7001}}")
ft_expect_eq "add_hostfwd answers with id 1" '{"return":{"id":1}}' "$reply"
reply=$(api '{"execute":"list_hostfwd"}')
ft_expect_eq "list_hostfwd shows the forward" \
  "{\"entries\":[{\"id\":1,\"proto\":\"tcp\",\"host_addr\":\"127.0.0.1\",\"host_port\":$api_port,\"guest_addr\":\"10.0.2.100\",\"guest_port\":7001}]}" "$reply"
ft_check "200 concurrent connections through the API forward, all intact" "$NETTOOL" concurrent-echo 127.0.0.1 "$api_port" 200
reply=$(api "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_addr\":\"127.0.0.1\",\"host_port\":$api_port,\"guest_addr\":\"\",\"guest_port\":7001}}")
ft_check "a port in use is refused with its cause ($reply)" grep -q 'slirp_add_hostxfwd failed.*Address already in use' <<<"$reply"
ft_expect_eq "unknown execute answered literally" '{"error":{"desc":"bad request: unknown execute"}}' "$(api '{"execute":"nope"}')"
ft_expect_eq "bad JSON answered literally" '{"error":{"desc":"bad request: cannot parse JSON"}}' "$(api '{oops')"

# An open connection outlives the removal of its forward.
"$NETTOOL" hold-echo 127.0.0.1 "$api_port" 2 >"$FT_TMP/hold.out" &
hold=$!
ft_wait_for grep -q connected "$FT_TMP/hold.out"
ft_expect_eq "remove_hostfwd" '{"return":{}}' "$(api '{"execute":"remove_hostfwd","arguments":{"id":1}}')"
ft_expect_eq "list is empty after the removal" '{"entries":[]}' "$(api '{"execute":"list_hostfwd"}')"
if "$NETTOOL" short-conns 127.0.0.1 "$api_port" 1 >/dev/null 2>&1; then
  ft_fail "new connections still accepted after remove_hostfwd"
else
  ft_pass "new connections refused after remove_hostfwd"
fi
ft_check "a connection opened before the removal finishes normally" wait "$hold"

# --- 1 GiB each way through a forward --------------------------------------------
big_port=$(ft_free_port)
api "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_addr\":\"127.0.0.1\",\"host_port\":$big_port,\"guest_addr\":\"\",\"guest_port\":7002}}" >/dev/null
ft_in_ctr bash -c "socat -u TCP-LISTEN:7002,bind=127.0.0.1,reuseaddr - | sha256sum | cut -d' ' -f1 >$FT_SHARED/recv1" &
sink=$!
ft_wait_for ft_in_ctr sh -c 'ss -Htln "sport = :7002" | grep -q .'
head -c "$SIZE" /dev/urandom | tee >(sha256sum | cut -d' ' -f1 >"$FT_TMP/sent1") | socat -u - "TCP:127.0.0.1:$big_port"
wait "$sink" || true
sleep 0.2
ft_expect_eq "1 GiB host -> container through the forward intact (SHA-256)" "$(cat "$FT_TMP/sent1")" "$(cat "$FT_SHARED/recv1")"

ft_in_ctr bash -c "head -c $SIZE /dev/urandom | tee >(sha256sum | cut -d' ' -f1 >$FT_SHARED/sent2) | socat -u - TCP-LISTEN:7002,bind=127.0.0.1,reuseaddr" &
src=$!
ft_wait_for ft_in_ctr sh -c 'ss -Htln "sport = :7002" | grep -q .'
socat -u "TCP:127.0.0.1:$big_port" - | sha256sum | cut -d' ' -f1 >"$FT_TMP/recv2"
wait "$src" || true
sleep 0.2
ft_expect_eq "1 GiB container -> host through the forward intact (SHA-256)" "$(cat "$FT_SHARED/sent2")" "$(cat "$FT_TMP/recv2")"

idle=$(ft_fd_count "$FERRY_PID")
ft_check "ferry released every forwarded connection" ft_wait_for sh -c "[ \$(ls /proc/$FERRY_PID/fd | wc -l) -le $idle ]"
ft_done
