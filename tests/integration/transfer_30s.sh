#!/usr/bin/env bash
# A sustained transfer in each direction over a clean path, as long as a
# benchmark run (30 s each way by default, FT_SUSTAINED_SECS to change):
# iperf3 from the rootless container to a server on the host's loopback
# through ferry's gateway address, then the reverse (-R). Both must complete
# and move data, and the container's TCP retransmission-timeout counter
# (TcpExt TCPTimeouts of its netns) must not move: on a clean path a timeout
# means the translator stalled the flow (window advertised that it could not
# take, accepted data dropped), which is a bug, not a speed. Nothing here
# checks how fast: this is a correctness test (perf/run.sh measures speed).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
command -v iperf3 >/dev/null || { echo "SKIP: needs iperf3 (scripts/setup.sh installs it)"; exit 77; }
ft_install_ferry
ft_start_container
ft_start_ferry --configure --mtu 65520
SECS=${FT_SUSTAINED_SECS:-30}

port=$(ft_free_port)
iperf3 -s -B 127.0.0.1 -p "$port" >"$FT_TMP/iperf3-server.log" 2>&1 &
ft_on_exit "ft_kill $!"
ft_wait_for ft_listening "$port"

# transfer DIRECTION ARGS...: runs iperf3 in the container for $SECS seconds;
# prints the bytes received and the container's RTO count delta.
transfer() {
  local what=$1; shift
  local before after bytes
  before=$(ft_ctr_rto_count)
  if ! ft_in_ctr iperf3 -J -c 10.0.2.2 -p "$port" -t "$SECS" --connect-timeout 5000 "$@" >"$FT_TMP/$what.json" 2>&1; then
    ft_fail "$what: iperf3 did not complete ($(head -c 300 "$FT_TMP/$what.json"))"
    return
  fi
  after=$(ft_ctr_rto_count)
  bytes=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bytes"]))' "$FT_TMP/$what.json" 2>/dev/null || echo 0)
  ft_check "$what: $SECS s transfer completed and moved data ($bytes bytes)" test "$bytes" -gt 0
  ft_expect_eq "$what: no retransmission timeout in the container (TcpTimeouts before/after)" "$before" "$after"
  # Seconds with nothing received: logged to help read a failure (not a
  # check of its own: on a loaded machine a sanitizer build may pause).
  ft_log "$what: one-second intervals without data: $(python3 -c 'import json,sys; print(sum(1 for i in json.load(open(sys.argv[1]))["intervals"] if i["sum"]["bytes"] == 0))' "$FT_TMP/$what.json" 2>/dev/null || echo "?")"
}

transfer "container -> host"
transfer "host -> container" -R
ft_counters | grep -E "tcp_(retransmits|partial_writes)|drop_" || true
ft_done
