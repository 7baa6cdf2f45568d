#!/usr/bin/env bash
# First side-by-side benchmark (the full matrix is perf/'s issue): TCP over
# the tap path, container -> host and host -> container (iperf3 -R), for
# ferry, slirp4netns and pasta from Debian, each rootless, in one run, to an
# iperf3 server on the host's loopback reached through the gateway address.
# Prints a table of medians with ratios to ferry. Traffic stays on this
# machine: the gateway address maps to the host's 127.0.0.1 in all three.
# Usage (root, after scripts/setup.sh): perf/tap_tcp.sh build/ferry [seconds] [runs]
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
command -v slirp4netns >/dev/null && command -v pasta >/dev/null && command -v iperf3 >/dev/null ||
  { echo "needs slirp4netns, passt (pasta) and iperf3 from Debian"; exit 1; }

port=$(ft_free_port)
iperf3 -s -B 127.0.0.1 -p "$port" >/dev/null 2>&1 &
srv=$!
ft_on_exit "ft_kill $srv"
ft_wait_for ft_listening "$port"

start_tool() {  # tool -> sets TOOL_PID; the container is $CPID
  case $1 in
    ferry) "${FT_AS_USER[@]}" "$FERRY_BIN" --configure --mtu 65520 "$CPID" tap0 >/dev/null 2>&1 & ;;
    slirp4netns) "${FT_AS_USER[@]}" slirp4netns --configure --mtu 65520 "$CPID" tap0 >/dev/null 2>&1 & ;;
    pasta) "${FT_AS_USER[@]}" pasta --config-net -f -q -I tap0 -a 10.0.2.100 -n 24 -g 10.0.2.2 -m 65520 \
             -t none -u none -T none -U none "$CPID" >/dev/null 2>&1 & ;;
  esac
  TOOL_PID=$!
  ft_wait_for ft_in_ctr sh -c 'ip -4 addr show dev tap0 | grep -q 10.0.2.100'
  ft_wait_for ft_in_ctr sh -c 'ip route show default | grep -q 10.0.2.2'
}

gbps() { IPERF_IN_CTR=1 iperf3_gbps -c 10.0.2.2 -p "$port" -t "$SECS" "$@"; }

declare -A result
for tool in ferry slirp4netns pasta; do
  ft_start_container
  start_tool "$tool"
  up=(); down=()
  for ((i = 0; i < RUNS; i++)); do
    up+=("$(gbps)")
    down+=("$(gbps -R)")
  done
  result[$tool,up]=$(median "${up[@]}")
  result[$tool,down]=$(median "${down[@]}")
  echo "# $tool: container->host ${up[*]}  host->container ${down[*]} (Gbit/s)"
  ft_kill "$TOOL_PID"
  ft_kill "$CPID"
done

print_table "TCP over the tap, median Gbit/s" up "container -> host" down "host -> container (-R)"
