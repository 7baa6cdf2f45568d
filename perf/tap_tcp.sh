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

gbps() {  # extra iperf3 args -> Gbit/s received
  ft_in_ctr iperf3 -c 10.0.2.2 -p "$port" -t "$SECS" -J "$@" 2>/dev/null |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.2f" % (d["end"]["sum_received"]["bits_per_second"]/1e9))' || echo 0
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

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

printf '\n%-34s %10s %12s %8s %10s %8s\n' "TCP over the tap, median Gbit/s" ferry slirp4netns ratio pasta ratio
for dir in up down; do
  label=$([ $dir = up ] && echo "container -> host" || echo "host -> container (-R)")
  f=${result[ferry,$dir]} s=${result[slirp4netns,$dir]} p=${result[pasta,$dir]}
  printf '%-34s %10s %12s %8s %10s %8s\n' "$label" "$f" "$s" \
    "$(python3 -c "print('%.2fx' % ($f/$s) if $s>0 else 'inf')")" "$p" \
    "$(python3 -c "print('%.2fx' % ($f/$p) if $p>0 else 'inf')")"
done
