#!/usr/bin/env bash
# 10,000 sequential short TCP connections from a rootless container to a
# host service through ferry: every one succeeds and is verified, and
# ferry's descriptor count returns to its idle value (slirp4netns keeps
# sockets after close and runs out of descriptors after about 1,000).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
ft_install_ferry
ft_start_container
ft_start_ferry --configure
N=${FT_SHORT_CONNS:-10000}

port=$(ft_free_port)
"$NETTOOL" serve-echo "$port" &
srv=$!
ft_on_exit "ft_kill $srv"
ft_wait_for ft_listening "$port"
idle=$(ft_fd_count "$FERRY_PID")
rto_before=$(ft_ctr_rto_count)
ft_check "$N sequential short connections all succeed" ft_in_ctr "$NETTOOL" short-conns 10.0.2.2 "$port" "$N"
fd_back() { [ "$(ft_fd_count "$FERRY_PID")" -le "$idle" ]; }
ft_check "ferry's descriptor count returns to its idle value ($idle)" ft_wait_for fd_back
ft_expect_eq "no retransmission timeout in the container (every FIN acknowledged)" "$rto_before" "$(ft_ctr_rto_count)"
ft_counters | grep -E "tcp_flows_(active|opened|closed)" || true
ft_done
