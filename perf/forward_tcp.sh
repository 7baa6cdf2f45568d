#!/usr/bin/env bash
# Side by side: TCP port forward from the host's loopback into a rootless
# container (iperf3 server inside, client on the host to 127.0.0.1), for
# ferry (-t), slirp4netns (API socket add_hostfwd) and pasta (-t), in one
# run. Both directions (-R: container sends). Medians, ratios to ferry.
# Usage (root, after scripts/setup.sh): perf/forward_tcp.sh build/ferry [seconds] [runs]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export FERRY=$1
SECS=${2:-5}
RUNS=${3:-3}
. "$top/tests/lib/common.sh"
. "$top/tests/lib/rootless.sh"
. "$top/perf/lib.sh"
ft_require_root
ft_install_ferry

start_tool() {  # tool host_port -> TOOL_PID
  case $1 in
    ferry) "${FT_AS_USER[@]}" "$FERRY_BIN" --configure --mtu 65520 -t "127.0.0.1/$2:5201" "$CPID" tap0 >/dev/null 2>&1 & ;;
    slirp4netns) "${FT_AS_USER[@]}" slirp4netns --configure --mtu 65520 --api-socket "$FT_SHARED/slirp.sock" "$CPID" tap0 >/dev/null 2>&1 & ;;
    pasta) "${FT_AS_USER[@]}" pasta --config-net -f -q -I tap0 -a 10.0.2.100 -n 24 -g 10.0.2.2 -m 65520 \
             -t "127.0.0.1/$2:5201" -u none -T none -U none "$CPID" >/dev/null 2>&1 & ;;
  esac
  TOOL_PID=$!
  ft_wait_for ft_in_ctr sh -c 'ip -4 addr show dev tap0 | grep -q 10.0.2.100'
  if [ "$1" = slirp4netns ]; then
    ft_wait_for test -S "$FT_SHARED/slirp.sock"
    printf '{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"127.0.0.1","host_port":%s,"guest_port":5201}}' "$2" |
      socat - "UNIX-CONNECT:$FT_SHARED/slirp.sock" >/dev/null
  fi
  ft_wait_for ft_listening "$2"
}

gbps() {  # port, extra args
  local port=$1; shift
  iperf3_gbps -c 127.0.0.1 -p "$port" -t "$SECS" "$@"
}

declare -A result
for tool in ferry slirp4netns pasta; do
  ft_start_container
  "${FT_AS_USER[@]}" nsenter --target "$CPID" --user --net --preserve-credentials -- iperf3 -s -p 5201 >/dev/null 2>&1 &
  srv=$!
  ft_wait_for ft_in_ctr sh -c 'ss -Htln "sport = :5201" | grep -q .'
  port=$(ft_free_port)
  start_tool "$tool" "$port"
  a=(); b=()
  for ((i = 0; i < RUNS; i++)); do
    a+=("$(gbps "$port")")
    b+=("$(gbps "$port" -R)")
  done
  result[$tool,in]=$(median "${a[@]}")
  result[$tool,out]=$(median "${b[@]}")
  echo "# $tool: host->container ${a[*]}  container->host ${b[*]} (Gbit/s)"
  ft_kill "$TOOL_PID"
  ft_kill "$srv"
  ft_kill "$CPID"
done

print_table "TCP forward via 127.0.0.1, median Gbit/s" in "host -> container" out "container -> host (-R)"
