#!/usr/bin/env bash
# 1 GiB over TCP in each direction between a rootless container and a server
# on the host's loopback, through ferry's gateway address: the SHA-256 of
# what arrives equals that of what was sent. Also checks that the container
# saw no retransmission timeout (a stall is a bug, not a speed).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
ft_install_ferry
ft_start_container
ft_start_ferry --configure --mtu 65520
SIZE=${FT_TRANSFER_BYTES:-1073741824}

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
ft_expect_eq "1 GiB container -> host intact (SHA-256)" "$(cat "$FT_SHARED/sent1")" "$(cat "$FT_TMP/recv1")"

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
ft_expect_eq "1 GiB host -> container intact (SHA-256)" "$(cat "$FT_TMP/sent2")" "$(cat "$FT_SHARED/recv2")"
rto_after=$(ft_ctr_rto_count)
ft_expect_eq "no retransmission timeout in the container during the transfers" "$rto_before" "$rto_after"
ft_counters | grep -E "tcp_(retransmits|partial_writes)|drop_" || true
ft_done
