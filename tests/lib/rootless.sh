# Rootless container helpers for ferry's integration tests. Source after
# common.sh. The "container" is what podman makes for a rootless user: a
# process of the unprivileged user ferrytest in new user and network
# namespaces (unshare --user --map-root-user --net); ferry runs as ferrytest
# too and attaches to it by PID, as podman would.

FT_USER=${FT_USER:-ferrytest}

# "${FT_AS_USER[@]}" CMD...: runs CMD as the unprivileged test user. setpriv
# execs CMD, so `"${FT_AS_USER[@]}" CMD &` leaves CMD's own PID in $!.
FT_AS_USER=(setpriv --reuid="$FT_USER" --regid="$FT_USER" --clear-groups --)
ft_as_user() { "${FT_AS_USER[@]}" "$@"; }

# ft_install_ferry: copies the ferry binary under test ($FERRY) where the test
# user can run it (the build tree may be in a directory only root can enter).
ft_install_ferry() {
  [ -n "${FERRY:-}" ] || { echo "FERRY is not set"; exit 1; }
  cp "$FERRY" "$FT_TMP/ferry"
  chmod 0755 "$FT_TMP/ferry"
  FERRY_BIN="$FT_TMP/ferry"
  cp "$(dirname "${BASH_SOURCE[0]}")/../tools/nettool.py" "$FT_TMP/nettool.py"
  chmod 0755 "$FT_TMP/nettool.py"
  NETTOOL="$FT_TMP/nettool.py"
  # A folder the container's processes (ferrytest outside) may write to.
  FT_SHARED="$FT_TMP/shared"
  mkdir -p "$FT_SHARED"
  chmod 0777 "$FT_SHARED"
}

# ft_start_container: starts a rootless container; sets CPID.
ft_start_container() {
  "${FT_AS_USER[@]}" unshare --user --map-root-user --net sleep 100000 </dev/null >/dev/null 2>&1 &
  CPID=$!
  ft_on_exit "ft_kill $CPID"
  local i
  for ((i = 0; i < 50; i++)); do
    [ "$(readlink /proc/$CPID/ns/net 2>/dev/null)" != "$(readlink /proc/self/ns/net)" ] && return 0
    sleep 0.1
  done
  echo "container did not start"
  exit 1
}

# ft_in_ctr CMD...: runs CMD inside the container, as the container's root
# (which is ferrytest outside).
ft_in_ctr() {
  ft_as_user nsenter --target "$CPID" --user --net --preserve-credentials -- "$@"
}

# ft_start_ferry [OPTIONS...]: runs ferry for the container (tap0), logging to
# $FT_TMP/ferry.log; waits until tap0 has its address. Sets FERRY_PID.
ft_start_ferry() {
  "${FT_AS_USER[@]}" "$FERRY_BIN" "$@" "$CPID" tap0 >"$FT_TMP/ferry.log" 2>&1 &
  FERRY_PID=$!
  ft_on_exit "ft_kill $FERRY_PID"
  if ! ft_wait_for ft_in_ctr sh -c 'ip -4 addr show dev tap0 | grep -q inet'; then
    echo "ferry did not configure tap0; its log:"
    cat "$FT_TMP/ferry.log"
    exit 1
  fi
}

# ft_fd_count PID: open descriptors of a process.
ft_fd_count() { ls "/proc/$1/fd" | wc -l; }
# ft_pipe_inodes PID: the inodes of the pipes PID holds open, sorted, one line.
ft_pipe_inodes() {
  local f
  for f in /proc/"$1"/fd/*; do readlink "$f" 2>/dev/null; done | sed -n 's/^pipe:\[\([0-9]*\)\]$/\1/p' | sort -u | tr '\n' ' '
}
# ft_uring_armed PID: how many requests (polls, the tap read) PID's io_uring
# holds armed, from the ring's fdinfo (its PollList); empty when the kernel
# does not list them. A socket closed while io_uring still polls it stays
# alive in the kernel without a descriptor: ft_fd_count does not see it.
ft_uring_armed() {
  local f
  for f in /proc/"$1"/fd/*; do
    [ "$(readlink "$f" 2>/dev/null)" = "anon_inode:[io_uring]" ] || continue
    grep -q '^PollList:' "/proc/$1/fdinfo/${f##*/}" 2>/dev/null || return 0
    grep -c 'op=' "/proc/$1/fdinfo/${f##*/}" || true
    return 0
  done
}

# ft_counters: asks ferry for its counters (SIGUSR1) and prints them.
ft_counters() {
  local before
  before=$(wc -l <"$FT_TMP/ferry.log")
  kill -USR1 "$FERRY_PID"
  sleep 0.3
  tail -n +"$((before + 1))" "$FT_TMP/ferry.log"
}

# ft_ctr_rto_count: the container's TCP retransmission timeouts so far
# (TcpExt TCPTimeouts of its network namespace).
ft_ctr_rto_count() {
  ft_in_ctr awk '/^TcpExt:/ { if (!h) { split($0, k); h = 1 } else { split($0, v); for (i in k) if (k[i] == "TCPTimeouts") print v[i] } }' /proc/net/netstat
}
