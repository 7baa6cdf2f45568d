#!/usr/bin/env bash
# 1 GiB over TCP in each direction between a rootless container and a server
# on the host's loopback, through ferry's gateway address: the SHA-256 of
# what arrives equals that of what was sent. Also checks that the container
# saw no retransmission timeout (a stall is a bug, not a speed). Then bursts
# of UDP datagrams container -> host (ferry batches them per flow: UDP GSO
# or sendmmsg) arrive complete, intact and in order. The whole again, with
# less data, with the tap read by read() instead of io_uring's multishot
# read (FERRY_TAP_READ=poll: the loop's fallback on kernels before 6.7).
# The first run polls before sleeping (--busy-poll=50, the default), the
# second does not (--busy-poll=0), so both ways of waiting move data intact.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
ft_install_ferry

# transfer MODE SIZE LABEL: a fresh container and ferry (FERRY_TAP_READ=MODE).
transfer() {
  local mode=$1 SIZE=$2 label=$3 port sink src rto_before rto_after len
  ft_start_container
  local extra=()
  [ "$mode" = poll ] && extra=(--busy-poll=0)
  FERRY_TAP_READ=$mode ft_start_ferry --configure --mtu 65520 "${extra[@]}"

  # container -> host
  port=$(ft_free_port)
  socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" - | sha256sum | cut -d' ' -f1 >"$FT_TMP/recv1" &
  sink=$!
  ft_on_exit "ft_kill $sink"
  ft_wait_for ft_listening "$port"
  rto_before=$(ft_ctr_rto_count)
  ft_in_ctr bash -c "head -c $SIZE /dev/urandom | tee >(sha256sum | cut -d' ' -f1 >$FT_SHARED/sent1) | socat -u - TCP:10.0.2.2:$port"
  wait "$sink" || true
  sleep 0.2
  ft_expect_eq "$label container -> host intact (SHA-256)" "$(cat "$FT_SHARED/sent1")" "$(cat "$FT_TMP/recv1")"

  # host -> container
  port=$(ft_free_port)
  head -c "$SIZE" /dev/urandom | tee >(sha256sum | cut -d' ' -f1 >"$FT_TMP/sent2") |
    socat -u - "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" &
  src=$!
  ft_on_exit "ft_kill $src"
  ft_wait_for ft_listening "$port"
  ft_in_ctr bash -c "socat -u TCP:10.0.2.2:$port - | sha256sum | cut -d' ' -f1 >$FT_SHARED/recv2"
  wait "$src" || true
  sleep 0.2
  ft_expect_eq "$label host -> container intact (SHA-256)" "$(cat "$FT_TMP/sent2")" "$(cat "$FT_SHARED/recv2")"
  rto_after=$(ft_ctr_rto_count)
  ft_expect_eq "no retransmission timeout in the container during the $label transfers" "$rto_before" "$rto_after"

  # UDP bursts: 400 datagrams back to back (fewer than the tap's 500-frame
  # queue holds, to a receiver whose buffer holds them all, so nothing may be
  # lost), of one size (a GSO send per run) and of varying sizes (sendmmsg).
  for len in 1400 16000 mixed; do
    port=$(ft_free_port udp)
    : >"$FT_TMP/sink.out"
    "$NETTOOL" udp-sink 127.0.0.1 "$port" 400 >"$FT_TMP/sink.out" 2>&1 &
    sink=$!
    ft_on_exit "ft_kill $sink"
    ft_wait_for grep -q ready "$FT_TMP/sink.out"
    ft_in_ctr "$NETTOOL" udp-burst 10.0.2.2 "$port" 400 "$len"
    wait "$sink" || true
    ft_check "UDP burst of 400 x $len B container -> host, $label run: all in order, intact" \
      grep -q "400 datagrams in order, intact" "$FT_TMP/sink.out"
    grep -v ready "$FT_TMP/sink.out" || true
  done
  ft_counters >"$FT_TMP/counters"
  grep -E "tap_read|busy_poll|tcp_(retransmits|partial_writes)|udp_|drop_" "$FT_TMP/counters" || true
  if [ "$mode" = poll ]; then
    ft_check "FERRY_TAP_READ=poll: the tap was read by read()" grep -q "tap_read read()" "$FT_TMP/counters"
    ft_check "--busy-poll=0: the loop never polled" grep -q "busy_poll max 0 us, window 0 us, caught 0" "$FT_TMP/counters"
  else
    ft_check "the busy poll is on by default (50 us), and the transfer was seen as bulk" \
      grep -qE "busy_poll max 50 us, window [0-9]+ us, caught [0-9]+, slept [1-9][0-9]*, contended [0-9]+, bulk periods [1-9]" "$FT_TMP/counters"
  fi
  ft_kill "$FERRY_PID"
  ft_kill "$CPID"
}

transfer multishot "${FT_TRANSFER_BYTES:-1073741824}" "1 GiB (busy poll)"
transfer poll 134217728 "128 MiB (tap read by read(), no busy poll)"
ft_done
