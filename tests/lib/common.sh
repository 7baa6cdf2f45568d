# Shared helpers for ferry's integration tests (bash). Source it:
#   . "$(dirname "$0")/../lib/common.sh"
# Every test:
#  - names what it creates with a unique suffix ($FT_ID), so two runs can go
#    on at once and a crashed run does not collide with the next;
#  - registers clean-up with ft_on_exit, which runs in reverse order on exit;
#  - ends only processes it started, by PID, and namespaces it made, by name.
#  - sends traffic only to loopback or to namespaces it created.
set -euo pipefail
# Under pipefail, `producer | grep -q X` can read as "no match": grep quits at
# the first match and a producer that writes again dies of SIGPIPE (141).
# Tests write `producer | grep >/dev/null X` instead, which reads to the end
# (inside `sh -c`, dash has no pipefail and grep -q is fine).

FT_ID="$$$(printf '%04x' $((RANDOM)))"
FT_TMP=$(mktemp -d /tmp/ferry-test.XXXXXX)
chmod 0755 "$FT_TMP"
FT_CLEANUP=()
FT_FAILS=0
FT_CHECKS=0

ft_on_exit() { FT_CLEANUP+=("$*"); }
ft_run_cleanup() {
  local i
  for ((i = ${#FT_CLEANUP[@]} - 1; i >= 0; i--)); do
    eval "${FT_CLEANUP[$i]}" >/dev/null 2>&1 || true
  done
  rm -rf "$FT_TMP"
}
trap ft_run_cleanup EXIT

ft_log() { echo "# $*"; }
ft_fail() { echo "FAIL: $*"; FT_FAILS=$((FT_FAILS + 1)); FT_CHECKS=$((FT_CHECKS + 1)); }
ft_pass() { echo "ok: $*"; FT_CHECKS=$((FT_CHECKS + 1)); }
# ft_check "description" command...  - runs the command, records pass/fail.
ft_check() {
  local what=$1; shift
  if "$@"; then ft_pass "$what"; else ft_fail "$what"; fi
}
ft_expect_eq() {  # description expected actual
  if [ "$2" == "$3" ]; then ft_pass "$1"; else ft_fail "$1 (expected '$2', got '$3')"; fi
}
# Ends the test: non-zero if any check failed or none ran.
ft_done() {
  echo "# $FT_CHECKS checks, $FT_FAILS failed"
  [ "$FT_CHECKS" -gt 0 ] || { echo "FAIL: no check ran"; exit 1; }
  [ "$FT_FAILS" -eq 0 ]
}

ft_require_root() {
  if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root to set up namespaces"; exit 77; fi
}

# A free TCP (or UDP with "udp") port on 127.0.0.1, chosen by the kernel.
ft_free_port() {
  python3 - "${1:-tcp}" <<'PY'
import socket, sys
kind = socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, kind)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
PY
}

# ft_netns NAME: creates a network namespace named NAME-$FT_ID, removed on
# exit, leaves its full name in FT_NETNS and prints it. Call it directly
# (`ft_netns far >/dev/null; far=$FT_NETNS`): inside $(...) the clean-up is
# registered in a subshell and lost, so such callers must register their own.
ft_netns() {
  local n="$1-$FT_ID"
  ip netns add "$n"
  ft_on_exit "ip netns del $n"
  ip -n "$n" link set lo up
  FT_NETNS=$n
  echo "$n"
}

# ft_wait_for CMD...: retries CMD for up to 10 s.
ft_wait_for() {
  local i
  for ((i = 0; i < 100; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}

# ft_kill PID: ends a process this test started, and waits for it.
ft_kill() {
  local pid=$1
  kill "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

# ft_listening PORT: a TCP socket listens on PORT (use with ft_wait_for).
ft_listening() { ss -Htln "sport = :$1" | grep >/dev/null .; }

# ft_remote_host NAME: a test host of this test's own, "outside" the machine:
# a network namespace NAME-$FT_ID behind a veth pair from the host, on
# 198.18.N.0/29 (the benchmarking range, N random). Sets FT_REMOTE_NS,
# FT_HOST_IP (the host's end), FT_REMOTE_IP and FT_REMOTE_VETH (the host's
# interface); all removed on exit.
ft_remote_host() {
  ft_netns "$1" >/dev/null
  FT_REMOTE_NS=$FT_NETNS
  local n=$((RANDOM % 250 + 1)) veth=v${1:0:2}$FT_ID
  FT_HOST_IP=198.18.$n.1
  FT_REMOTE_IP=198.18.$n.2
  FT_REMOTE_VETH=$veth
  ip link add "$veth" type veth peer name eth0 netns "$FT_REMOTE_NS"
  ft_on_exit "ip link del $veth"
  ip addr add "$FT_HOST_IP/29" dev "$veth"
  ip link set "$veth" up
  ip -n "$FT_REMOTE_NS" addr add "$FT_REMOTE_IP/29" dev eth0
  ip -n "$FT_REMOTE_NS" link set eth0 up
  ip -n "$FT_REMOTE_NS" route add default via "$FT_HOST_IP"
  ft_wait_for ping -c 1 -W 1 "$FT_REMOTE_IP"
}
