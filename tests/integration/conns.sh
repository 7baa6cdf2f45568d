#!/usr/bin/env bash
# 10,000 sequential short TCP connections from a rootless container to a
# host service through ferry, and 2,000 from the host to a published port:
# every one succeeds and is verified, and ferry's descriptor count and the
# requests armed in its io_uring return to their idle values (slirp4netns
# keeps sockets after close and runs out of descriptors after about 1,000;
# a poll left armed on a closed socket keeps that socket alive unseen).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
ft_install_ferry
ft_start_container
fwd_port=$(ft_free_port)
ft_start_ferry --configure -t "127.0.0.1/$fwd_port:7001"
N=${FT_SHORT_CONNS:-10000}

port=$(ft_free_port)
"$NETTOOL" serve-echo "$port" &
srv=$!
ft_on_exit "ft_kill $srv"
ft_wait_for ft_listening "$port"
idle=$(ft_fd_count "$FERRY_PID")
armed_idle=$(ft_uring_armed "$FERRY_PID")
rto_before=$(ft_ctr_rto_count)
ft_check "$N sequential short connections all succeed" ft_in_ctr "$NETTOOL" short-conns 10.0.2.2 "$port" "$N"
fd_back() { [ "$(ft_fd_count "$FERRY_PID")" -le "$idle" ]; }
ft_check "ferry's descriptor count returns to its idle value ($idle)" ft_wait_for fd_back
ft_expect_eq "no retransmission timeout in the container (every FIN acknowledged)" "$rto_before" "$(ft_ctr_rto_count)"

# The same through a published port (the spliced forward, its own sockets).
"${FT_AS_USER[@]}" nsenter --target "$CPID" --user --net --preserve-credentials -- "$NETTOOL" serve-echo 7001 &
ft_on_exit "ft_kill $!"
ft_wait_for ft_in_ctr sh -c 'ss -Htln "sport = :7001" | grep -q .'
ft_check "2000 sequential short connections to the published port all succeed" \
  "$NETTOOL" short-conns 127.0.0.1 "$fwd_port" 2000
# What the forwarder keeps for the next connections (docs/portfwd.md): up
# to 15 container sockets of its pool, and the two empty pipes that
# connections made one at a time leave in the pipe pool.
fd_fwd_back() { [ "$(ft_fd_count "$FERRY_PID")" -le $((idle + 15 + 4)) ]; }
ft_check "ferry's descriptor count returns to its idle value (+ the socket and pipe pools) after the forwarded ones" \
  ft_wait_for fd_fwd_back
pipes=$(ft_pipe_inodes "$FERRY_PID")
ft_check "200 more sequential forwarded connections" "$NETTOOL" short-conns 127.0.0.1 "$fwd_port" 200
# Pooled pipes are closed only when descriptors run out: each one held
# before is still there after.
pipes_kept() {
  local now p
  now=" $(ft_pipe_inodes "$FERRY_PID")"
  [ -n "$pipes" ] || return 1
  for p in $pipes; do [[ $now == *" $p "* ]] || return 1; done
}
ft_check "they reuse the pooled pipes (${pipes:-none}) instead of making and closing new ones" pipes_kept
if [ -n "$armed_idle" ]; then
  armed_back() { [ "$(ft_uring_armed "$FERRY_PID")" -le "$armed_idle" ]; }
  ft_check "no poll stays armed for a closed socket (io_uring requests back to $armed_idle)" ft_wait_for armed_back
  ft_log "io_uring requests armed: $(ft_uring_armed "$FERRY_PID") (idle $armed_idle)"
else
  ft_log "this kernel does not list io_uring's armed requests in fdinfo: that check skipped"
fi
ft_counters | grep -E "tcp_flows_(active|opened|closed)" || true
ft_done
