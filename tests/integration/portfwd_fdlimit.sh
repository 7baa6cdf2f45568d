#!/usr/bin/env bash
# A published port while ferry is out of descriptors (run under a small
# RLIMIT_NOFILE): connections beyond what the limit allows are turned away at
# once (reset), not left unaccepted in the listener's queue where the client
# would wait for good; ferry keeps serving the connections it holds, and
# serves new ones again once those close. Which call runs out first (accept,
# pipe2, the agent's socket pool) depends on the limit's remainder, so the
# test runs at eight limits in a row; at least one of them must reach the
# accept (its log line says so).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
ft_install_ferry
as_user=("${FT_AS_USER[@]}")
accept_limit=0
for limit in 128 129 130 131 132 133 134 135; do
  ft_start_container
  port=$(ft_free_port)
  FT_AS_USER=(prlimit --nofile=$limit:$limit "${as_user[@]}")
  ft_start_ferry --configure -t "127.0.0.1/$port:7001"
  FT_AS_USER=("${as_user[@]}")
  "${FT_AS_USER[@]}" nsenter --target "$CPID" --user --net --preserve-credentials -- "$NETTOOL" serve-echo 7001 &
  srv=$!
  ft_wait_for ft_in_ctr sh -c 'ss -Htln "sport = :7001" | grep -q .'
  ft_check "limit $limit: beyond it a connection is turned away at once, none hangs; later ones are served" \
    "$NETTOOL" fill-conns 127.0.0.1 "$port" 200
  ft_check "limit $limit: ferry is still running and the port serves" "$NETTOOL" short-conns 127.0.0.1 "$port" 20
  grep -q "descriptor limit reached" "$FT_TMP/ferry.log" && accept_limit=$limit
  grep -E "dropped|reached|accept" "$FT_TMP/ferry.log" | sort | uniq -c | head -3 || true
  ft_kill "$srv"
  ft_kill "$FERRY_PID"
  ft_kill "$CPID"
done
ft_check "at one of the limits the accept itself ran out (and was turned away): $accept_limit" [ "$accept_limit" != 0 ]
ft_done
