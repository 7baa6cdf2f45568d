#!/usr/bin/env bash
# perf/run.sh: the whole benchmark matrix of ferry against slirp4netns and
# pasta (Debian's), plus kernel baselines, in one run, rootless: each tool
# serves a fresh container (an `unshare --user --map-root-user --net`
# namespace of the unprivileged user ferrytest) and runs as that user, with
# MTU 65520 and single-stream iperf3, as /work/shared/design/anchors.md was
# measured. Prints a table of medians with ratios and targets and writes
# raw.tsv, results.csv, results.json, table.md and chart.png under the
# results folder (perf/report.py does the arithmetic and the chart).
#
# Rows (--only takes these group names, comma-separated):
#   tap      TCP container -> host and host -> container (-R) over the tap, to
#            an iperf3 server on the host's 127.0.0.1 through the gateway
#            10.0.2.2; also the tool's CPU seconds per GB moved; and the
#            upload paced at 4 Gbit/s (iperf3 -b), whose CPU per GB compares
#            the tools at the same rate (and does not stall pasta)
#   veth     kernel baseline: iperf3 between two network namespaces joined by
#            a veth pair (MTU 65520), made and removed by this script
#   fwd_lo   TCP port forward, host client on 127.0.0.1 -> iperf3 server in
#            the container, both directions; CPU s/GB
#   fwd_tap  TCP port forward, host client on the host's own non-loopback
#            address (the host end of a veth this script creates) -> the
#            container: ferry's and pasta's tap path; both directions
#   udp      iperf3 -u, 1400 B and 16000 B datagrams at --udp-rate, out
#            (container -> host via the gateway) and forwarded (host
#            127.0.0.1 -> published UDP port -> container); received Gbit/s
#            and loss %; the best rate under 1 % loss (a search of offered
#            rates); the tool's CPU per datagram at 1 Gbit/s. Kernel
#            column: the same on the host's loopback.
#   rr       TCP request/response round trip p50/p99 (sockperf ping-pong
#            --full-rtt, 64 B), container -> host via the gateway
#   crr      connect + request + reply + close per second (perf/flowtool.c),
#            outbound (container -> gateway -> host 127.0.0.1) and forwarded
#            (host 127.0.0.1 -> published port -> server in the container),
#            and the tool's CPU time per connection
#   mem      the tool's resident memory (VmRSS of its process tree) idle,
#            and with --flows open TCP connections from the container to a
#            host listener through the gateway
#
# Safety: every packet goes to loopback, to the gateway address (which all
# three tools map to the host's 127.0.0.1) or to namespaces this script
# made; processes are ended by PID, namespaces by their unique names; every
# loop is bounded. Needs root (to switch to ferrytest and make namespaces)
# and scripts/setup.sh; installs sockperf and python3-matplotlib if missing.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

usage() {
  cat <<EOF
usage: perf/run.sh [options]
  --build DIR    meson build folder with ferry (default: $top/build-rel; set
                 up as --buildtype=release and built if ferry is missing)
  --ferry BIN    use this ferry binary instead of DIR/ferry
  --secs N       seconds per measurement (default 10)
  --runs N       runs per measurement; the table shows medians (default 3)
  --only LIST    row groups, comma-separated (default: all):
                 tap,veth,fwd_lo,fwd_tap,udp,rr,crr,mem
  --tools LIST   tools (default: ferry,slirp4netns,pasta)
  --ferry-args ARGS  extra options for ferry alone, word-split, e.g.
                 "--busy-poll=50" (default none; recorded in conditions.json)
  --udp-rate R   iperf3 -b for the UDP rows (default 10G)
  --udp-steps N  offered rates tried by the UDP search for the best rate
                 under 1 % loss (default 7)
  --udp-pacing US  iperf3 --pacing-timer of that search, microseconds
                 (default 20; iperf3's own default, 1000, sends bursts that
                 overflow the receiver's buffer by themselves)
  --flows N      open flows for the memory row (default 10000)
  --out DIR      results folder (default: $top/perf/results/<date>-<time>)
  -h, --help     this text
Example, a quick check of two groups:  perf/run.sh --secs 2 --runs 1 --only tap,crr
EOF
}

BUILD=$top/build-rel FERRY= SECS=10 RUNS=3 ONLY=tap,veth,fwd_lo,fwd_tap,udp,rr,crr,mem
TOOLS=ferry,slirp4netns,pasta UDP_RATE=10G UDP_STEPS=7 UDP_PACING=20 FLOWS=10000 OUT=
while [ $# -gt 0 ]; do
  case $1 in
    --build) BUILD=$(realpath -m "$2"); shift 2 ;;
    --ferry) FERRY=$(realpath "$2"); shift 2 ;;
    --secs) SECS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --tools) TOOLS=$2; shift 2 ;;
    --ferry-args) FERRY_ARGS=$2; shift 2 ;;
    --udp-rate) UDP_RATE=$2; shift 2 ;;
    --udp-steps) UDP_STEPS=$2; shift 2 ;;
    --udp-pacing) UDP_PACING=$2; shift 2 ;;
    --flows) FLOWS=$2; shift 2 ;;
    --out) OUT=$(realpath -m "$2"); shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "perf/run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $SECS =~ ^[0-9]+$ && $RUNS =~ ^[0-9]+$ && $FLOWS =~ ^[0-9]+$ && $UDP_STEPS =~ ^[0-9]+$ && $UDP_PACING =~ ^[0-9]+$ && $UDP_PACING -gt 0 && $SECS -gt 0 && $RUNS -gt 0 ]] ||
  { echo "perf/run.sh: --secs, --runs, --udp-steps, --udp-pacing and --flows take positive integers" >&2; exit 2; }
for g in ${ONLY//,/ }; do
  case $g in tap | veth | fwd_lo | fwd_tap | udp | rr | crr | mem) ;; *) echo "perf/run.sh: unknown row group $g" >&2; exit 2 ;; esac
done
for t in ${TOOLS//,/ }; do
  case $t in ferry | slirp4netns | pasta) ;; *) echo "perf/run.sh: unknown tool $t" >&2; exit 2 ;; esac
done
[ "$(id -u)" = 0 ] || { echo "perf/run.sh: run as root (it switches to the test user and makes namespaces)" >&2; exit 1; }
id ferrytest >/dev/null 2>&1 || { echo "perf/run.sh: no user ferrytest: run scripts/setup.sh first" >&2; exit 1; }

# --- install and build ------------------------------------------------------
# Debian packages (the interpreter for the chart is Debian's python3, where
# python3-matplotlib lives, whatever python3 is first on PATH).
need=()
for p in iperf3:iperf3 sockperf:sockperf slirp4netns:slirp4netns pasta:passt socat:socat cc:gcc; do
  command -v "${p%%:*}" >/dev/null || need+=("${p#*:}")
done
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null || need+=(python3-matplotlib)
# One package at a time: together with the build's libboost1.81-dev,
# apt's resolver has refused the set (sockperf + python3-matplotlib) that it
# installs one by one.
for p in "${need[@]}"; do
  echo "# installing $p"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$p" >/dev/null ||
    { echo "perf/run.sh: apt-get install $p failed" >&2; exit 1; }
done
if [ -z "$FERRY" ]; then
  if [ ! -x "$BUILD/ferry" ]; then
    echo "# building ferry (release) in $BUILD"
    # werror off: GCC 12 at -O3 reports a false -Wrestrict in portfwd/endpoint.hpp.
    [ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" "$top" --buildtype=release -Dwerror=false >/dev/null
    ninja -C "$BUILD" ferry >/dev/null
  fi
  FERRY=$BUILD/ferry
fi
[ -x "$FERRY" ] || { echo "perf/run.sh: no ferry binary at $FERRY" >&2; exit 1; }

export FERRY
. "$top/tests/lib/common.sh"
. "$top/tests/lib/rootless.sh"
. "$top/perf/lib.sh"
ft_install_ferry
OUT=${OUT:-$top/perf/results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
RAW=$OUT/raw.tsv
: >"$RAW"
LOG=$OUT/run.log
: >"$LOG"
FLOWTOOL=$FT_TMP/flowtool
cc -O2 -Wall -Wextra -Werror -o "$FLOWTOOL" "$top/perf/flowtool.c"
chmod 0755 "$FLOWTOOL"
# Every tool, and the flow helpers, get the same descriptor limit, above what
# --flows needs (ferry sizes its tables under it: docs/security.md).
# Capped at this shell's hard limit: without CAP_SYS_RESOURCE (as in some
# containers) even root cannot raise it, and then a tool may hold fewer than
# --flows TCP flows (the row records how many were open). ferry runs the
# memory row without forwards, so it keeps no descriptors for a forwarder.
NOFILE=$((FLOWS * 2 + 4096))
[ $NOFILE -ge 65536 ] || NOFILE=65536
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$NOFILE" -le "$hard" ] || NOFILE=$hard
TOOL_PREFIX=(prlimit --nofile=$NOFILE:$NOFILE)

log() { echo "# $*" | tee -a "$LOG"; }
# record TOOL METRIC VALUE: one raw measurement (VALUE "nan" when it failed).
record() { printf '%s\t%s\t%s\n' "$1" "$2" "${3:-nan}" >>"$RAW"; }
want() { [[ ",$ONLY," == *",$1,"* ]]; }
tools=(${TOOLS//,/ })

cat >"$OUT/conditions.json" <<EOF
{"date": "$(date -Is)", "host": "$(hostname)", "kernel": "$(uname -r)", "cpus": $(nproc),
 "load_at_start": "$(cut -d' ' -f1-3 /proc/loadavg)", "secs": $SECS, "runs": $RUNS, "rows": "$ONLY",
 "udp_rate": "$UDP_RATE", "udp_steps": $UDP_STEPS, "udp_pacing_us": $UDP_PACING, "flows": $FLOWS, "mtu": 65520, "nofile": $NOFILE,
 "ferry": "$(cd "$top" && git describe --always --dirty 2>/dev/null || echo unknown) ($FERRY)", "ferry_args": "${FERRY_ARGS:-}",
 "slirp4netns": "$(slirp4netns --version 2>/dev/null | head -n1)",
 "pasta": "$(dpkg-query -W -f '${Version}' passt 2>/dev/null)",
 "iperf3": "$(iperf3 --version 2>/dev/null | head -n1 | cut -d' ' -f2)",
 "sockperf": "$(dpkg-query -W -f '${Version}' sockperf 2>/dev/null)"}
EOF
log "ferry matrix: secs=$SECS runs=$RUNS rows=$ONLY tools=$TOOLS out=$OUT load=$(cut -d' ' -f1-3 /proc/loadavg)"

# --- host-side servers, shared by the rows ----------------------------------
IPERF_PORT=$(ft_free_port)
iperf3 -s -B 127.0.0.1 -p "$IPERF_PORT" >>"$LOG" 2>&1 &
ft_on_exit "ft_kill $!"
SOCKPERF_PORT=$(ft_free_port)
sockperf server --tcp -i 127.0.0.1 -p "$SOCKPERF_PORT" >/dev/null 2>&1 &
ft_on_exit "ft_kill $!"
FLOW_PORT=$(ft_free_port)
prlimit --nofile=$NOFILE:$NOFILE "$FLOWTOOL" serve 127.0.0.1 "$FLOW_PORT" >>"$LOG" 2>&1 &
ft_on_exit "ft_kill $!"
ft_wait_for ft_listening "$IPERF_PORT"
ft_wait_for ft_listening "$SOCKPERF_PORT"
ft_wait_for ft_listening "$FLOW_PORT"

# iperf_row TOOL METRIC CPU_METRIC ARGS...: RUNS iperf3 runs (ARGS, in the
# container when IPERF_IN_CTR=1); records Gbit/s received and, with a
# CPU_METRIC, the tool's CPU seconds per GB received; METRIC_intervals and
# METRIC_stalled (see below). Each run's iperf3 JSON is kept in OUT.
iperf_row() {
  local tool=$1 metric=$2 cpu_metric=$3; shift 3
  local i c0 c1 f=$FT_TMP/iperf.json gbps bytes intervals stalled m
  for ((i = 0; i < RUNS; i++)); do
    c0=$( [ -n "${TOOL_PID:-}" ] && cpu_ticks "$TOOL_PID" || echo 0)
    if iperf3_json "$f" -t "$SECS" --connect-timeout 5000 "$@"; then
      c1=$( [ -n "${TOOL_PID:-}" ] && cpu_ticks "$TOOL_PID" || echo 0)
      gbps=$(json_get "$f" '"%.3f" % (d["end"]["sum_received"]["bits_per_second"] / 1e9)')
      bytes=$(json_get "$f" 'd["end"]["sum_received"]["bytes"]')
      if [ -z "$gbps" ]; then
        record "$tool" "$metric" nan
        log "$tool $metric run $((i + 1)): no result: $(json_get "$f" 'd.get("error")')"
        continue
      fi
      record "$tool" "$metric" "$gbps"
      cp "$f" "$OUT/iperf-$tool-$metric-$((i + 1)).json"
      # Stalls: one-second intervals that moved less than 5 % of the run's
      # best one (a tool that stops for seconds is broken, not slow; the
      # report marks its figures and the ratios against them).
      # The CPU row of the same run inherits them.
      intervals=$(json_get "$f" 'len(d["intervals"])')
      stalled=$(json_get "$f" \
        'sum(1 for i in d["intervals"] if i["sum"]["bits_per_second"] < 0.05 * max(j["sum"]["bits_per_second"] for j in d["intervals"]))')
      for m in "$metric" $([ "$cpu_metric" != - ] && echo "$cpu_metric"); do
        record "$tool" "${m}_intervals" "$intervals"
        record "$tool" "${m}_stalled" "$stalled"
      done
      if [ "$cpu_metric" != - ] && [ "${bytes:-0}" -gt 0 ]; then
        record "$tool" "$cpu_metric" "$(python3 -c "print('%.3f' % (($c1 - $c0) / $CLK_TCK / ($bytes / 1e9)))")"
      fi
      log "$tool $metric run $((i + 1)): $gbps Gbit/s$( [ "$cpu_metric" != - ] && echo ", $(((c1 - c0))) ticks")"
    else
      record "$tool" "$metric" nan
      log "$tool $metric run $((i + 1)): iperf3 failed: $(head -c 200 "$f" | tr '\n' ' ')"
    fi
  done
}

# tap_drops: frames the container's kernel dropped at tap0's queue (ferry
# not reading fast enough); empty outside a container row.
tap_drops() {
  [ "${IPERF_IN_CTR:-0}" = 1 ] || return 0
  ft_in_ctr cat /sys/class/net/tap0/statistics/tx_dropped 2>/dev/null || echo 0
}

# udp_row TOOL METRIC ARGS...: iperf3 -u; records received Gbit/s and loss %.
# udp_loss FILE: the lost % of iperf3 -u's JSON report FILE (empty if none).
udp_loss() {
  json_get "$1" '"%.2f" % (100.0 * d["end"]["sum_received"]["lost_packets"] / max(1, d["end"]["sum_received"]["packets"]))'
}
udp_row() {
  local tool=$1 metric=$2; shift 2
  local i f=$FT_TMP/iperf.json gbps loss
  for ((i = 0; i < RUNS; i++)); do
    local d0 d1
    d0=$(tap_drops)
    if iperf3_json "$f" -u -b "$UDP_RATE" -t "$SECS" --connect-timeout 5000 "$@"; then
      d1=$(tap_drops)
      gbps=$(json_get "$f" '"%.3f" % (d["end"]["sum_received"]["bits_per_second"] / 1e9)')
      loss=$(udp_loss "$f")
      if [ -z "$gbps" ] || [ -z "$loss" ]; then
        record "$tool" "$metric" nan
        log "$tool $metric run $((i + 1)): no result: $(json_get "$f" 'd.get("error")')"
        continue
      fi
      record "$tool" "$metric" "$gbps"
      record "$tool" "${metric}_loss" "$loss"
      log "$tool $metric run $((i + 1)): $gbps Gbit/s received, $loss % lost$( [ -n "$d0" ] && echo ", $((d1 - d0)) dropped by the container's tap queue")"
    else
      record "$tool" "$metric" nan
      log "$tool $metric run $((i + 1)): iperf3 -u failed"
    fi
  done
}

# udp_cpu_row TOOL METRIC ARGS...: the tool's CPU time per datagram received,
# in microseconds, at an offered 1 Gbit/s paced every UDP_PACING us, a rate
# every tool carries (nearly) without loss on the development VM: the same
# work for all, where the rate rows above are set by the receiver.
udp_cpu_row() {
  local tool=$1 metric=$2; shift 2
  local i f=$FT_TMP/iperf.json c0 c1 got loss
  for ((i = 0; i < RUNS; i++)); do
    c0=$(cpu_ticks "$TOOL_PID")
    if iperf3_json "$f" -u -b 1G --pacing-timer "$UDP_PACING" -t "$SECS" --connect-timeout 5000 "$@"; then
      c1=$(cpu_ticks "$TOOL_PID")
      got=$(json_get "$f" 'd["end"]["sum_received"]["packets"] - d["end"]["sum_received"]["lost_packets"]')
      loss=$(udp_loss "$f")
      if [ -n "$got" ] && [ "$got" -gt 0 ]; then
        record "$tool" "$metric" "$(python3 -c "print('%.2f' % (($c1 - $c0) / $CLK_TCK * 1e6 / $got))")"
        log "$tool $metric run $((i + 1)): $((c1 - c0)) ticks for $got datagrams ($loss % lost)"
        continue
      fi
    fi
    record "$tool" "$metric" nan
    log "$tool $metric run $((i + 1)): no result"
  done
}

# udp_search TOOL METRIC ARGS...: the best received rate at under 1 % loss.
# Offered rates start at 250 Mbit/s and double while the loss stays under
# 1 %, then bisect between the last clean and the first lossy rate, for
# UDP_STEPS runs of iperf3 -u in all; records the highest received Gbit/s of
# a clean run (0 if none was clean). The sender paces every UDP_PACING us:
# with iperf3's default of 1 ms, at 1 Gbit/s it sends ~90 datagrams at once,
# about what the receiver's default buffer (rmem_default) holds, and the
# bare loopback then loses over 1 % at rates it carries cleanly when paced
# finely (docs/performance.md, "Method").
udp_search() {
  local tool=$1 metric=$2; shift 2
  local i f=$FT_TMP/iperf.json rate=250 lo=0 hi=0 best=0 gbps loss none=0
  for ((i = 0; i < UDP_STEPS; i++)); do
    gbps= loss=
    if iperf3_json "$f" -u -b "${rate}M" --pacing-timer "$UDP_PACING" -t "$SECS" --connect-timeout 5000 "$@"; then
      gbps=$(json_get "$f" '"%.3f" % (d["end"]["sum_received"]["bits_per_second"] / 1e9)')
      loss=$(udp_loss "$f")
    fi
    if [ -z "$gbps" ]; then none=$((none + 1)); else none=0; fi
    if [ "$none" -ge 2 ]; then
      log "$tool $metric: no result from two runs in a row, search ends"  # e.g. pasta's UDP forward (see Fragile)
      break
    fi
    if [ -n "$gbps" ] && [ -n "$loss" ] && python3 -c "import sys; sys.exit(0 if $loss < 1.0 else 1)"; then
      best=$(python3 -c "print(max($best, $gbps))")
      lo=$rate
    else
      hi=$rate
    fi
    log "$tool $metric: offered ${rate} Mbit/s: ${gbps:-?} Gbit/s received, ${loss:-?} % lost"
    if [ "$hi" = 0 ]; then rate=$((rate * 2)); else rate=$(((lo + hi) / 2)); fi
    [ "$rate" -gt 0 ] || break
  done
  record "$tool" "$metric" "$best"
}

# container_for TOOL [FWD...]: a fresh container with TOOL attached.
container_for() {
  ft_start_container
  start_tool "$@"
  ft_on_exit "ft_kill $TOOL_PID"
}
end_container() {
  # ferry's busy-poll counters for the rows just run (SIGUSR1 prints them).
  if [ "${TOOL_NAME:-}" = ferry ] && kill -USR1 "$TOOL_PID" 2>/dev/null; then
    sleep 0.3
    grep '^busy_poll' "$FT_TMP/ferry.log" | tail -n 1 | sed 's/^/# ferry: /' >>"$LOG" || true
  fi
  ft_kill "$TOOL_PID"
  ft_kill "$CPID"
  TOOL_PID=
}
# ctr_bg CMD...: runs CMD inside the container in the background (sets BG);
# its output is appended to $BG_OUT (default: the run log).
ctr_bg() {
  "${TOOL_PREFIX[@]}" "${FT_AS_USER[@]}" nsenter --target "$CPID" --user --net --preserve-credentials -- "$@" >>"${BG_OUT:-$LOG}" 2>&1 &
  BG=$!
  ft_on_exit "ft_kill $BG"
}
ctr_listening() { ft_wait_for ft_in_ctr sh -c "ss -Htln 'sport = :$1' | grep -q ."; }

# --- the rows ----------------------------------------------------------------
if want tap; then
  for tool in "${tools[@]}"; do
    container_for "$tool"
    IPERF_IN_CTR=1 iperf_row "$tool" tcp_up cpu_tap_up -c 10.0.2.2 -p "$IPERF_PORT"
    IPERF_IN_CTR=1 iperf_row "$tool" tcp_up_paced cpu_tap_up_paced -c 10.0.2.2 -p "$IPERF_PORT" -b 4G
    IPERF_IN_CTR=1 iperf_row "$tool" tcp_down cpu_tap_down -c 10.0.2.2 -p "$IPERF_PORT" -R
    end_container
  done
fi

if want veth; then
  ft_netns vetha >/dev/null; va=$FT_NETNS
  ft_netns vethb >/dev/null; vb=$FT_NETNS
  n=$((RANDOM % 250 + 1))
  ip link add "vb$FT_ID" netns "$va" type veth peer name "vb$FT_ID" netns "$vb"
  for ns in "$va" "$vb"; do ip -n "$ns" link set "vb$FT_ID" mtu 65520 up; done
  ip -n "$va" addr add "198.19.$n.1/30" dev "vb$FT_ID"
  ip -n "$vb" addr add "198.19.$n.2/30" dev "vb$FT_ID"
  ip netns exec "$va" iperf3 -s -B "198.19.$n.1" -p 5201 >>"$LOG" 2>&1 &
  ft_on_exit "ft_kill $!"
  ft_wait_for ip netns exec "$va" sh -c "ss -Htln 'sport = :5201' | grep -q ."
  TOOL_PID=
  IPERF_NS=$vb iperf_row veth tcp_up - -c "198.19.$n.1" -p 5201
  IPERF_NS=$vb iperf_row veth tcp_down - -c "198.19.$n.1" -p 5201 -R
fi

if want fwd_lo; then
  for tool in "${tools[@]}"; do
    ft_start_container
    ctr_bg iperf3 -s -p 5201
    ctr_listening 5201
    port=$(ft_free_port)
    start_tool "$tool" "tcp:127.0.0.1/$port:5201"
    ft_on_exit "ft_kill $TOOL_PID"
    iperf_row "$tool" fwd_lo_in cpu_fwd_lo_in -c 127.0.0.1 -p "$port"
    iperf_row "$tool" fwd_lo_out cpu_fwd_lo_out -c 127.0.0.1 -p "$port" -R
    ft_kill "$BG"
    end_container
  done
fi

if want fwd_tap; then
  ft_remote_host fwdtap
  for tool in "${tools[@]}"; do
    ft_start_container
    ctr_bg iperf3 -s -p 5201
    ctr_listening 5201
    port=$(ft_free_port)
    start_tool "$tool" "tcp:$FT_HOST_IP/$port:5201"
    ft_on_exit "ft_kill $TOOL_PID"
    iperf_row "$tool" fwd_tap_in cpu_fwd_tap_in -c "$FT_HOST_IP" -B "$FT_HOST_IP" -p "$port"
    iperf_row "$tool" fwd_tap_out cpu_fwd_tap_out -c "$FT_HOST_IP" -B "$FT_HOST_IP" -p "$port" -R
    ft_kill "$BG"
    end_container
  done
fi

if want udp; then
  TOOL_PID=
  for len in 1400 16000; do udp_row kernel "udp_out_$len" -c 127.0.0.1 -p "$IPERF_PORT" -l "$len"; done
  udp_search kernel udp_out_1400_clean -c 127.0.0.1 -p "$IPERF_PORT" -l 1400
  for tool in "${tools[@]}"; do
    container_for "$tool"
    for len in 1400 16000; do
      IPERF_IN_CTR=1 udp_row "$tool" "udp_out_$len" -c 10.0.2.2 -p "$IPERF_PORT" -l "$len"
    done
    IPERF_IN_CTR=1 udp_search "$tool" udp_out_1400_clean -c 10.0.2.2 -p "$IPERF_PORT" -l 1400
    IPERF_IN_CTR=1 udp_cpu_row "$tool" cpu_udp_out_1400 -c 10.0.2.2 -p "$IPERF_PORT" -l 1400
    end_container
    ft_start_container
    ctr_bg iperf3 -s -p 5201
    ctr_listening 5201
    port=$(ft_free_port udp)
    start_tool "$tool" "tcp:127.0.0.1/$port:5201" "udp:127.0.0.1/$port:5201"
    ft_on_exit "ft_kill $TOOL_PID"
    for len in 1400 16000; do udp_row "$tool" "udp_fwd_$len" -c 127.0.0.1 -p "$port" -l "$len"; done
    udp_search "$tool" udp_fwd_1400_clean -c 127.0.0.1 -p "$port" -l 1400
    udp_cpu_row "$tool" cpu_udp_fwd_1400 -c 127.0.0.1 -p "$port" -l 1400
    ft_kill "$BG"
    end_container
  done
fi

if want rr; then
  for tool in "${tools[@]}"; do
    container_for "$tool"
    for ((i = 0; i < RUNS; i++)); do
      out=$(ft_in_ctr sockperf ping-pong --tcp -i 10.0.2.2 -p "$SOCKPERF_PORT" -t "$SECS" --full-rtt -m 64 2>&1 || true)
      p50=$(awk '/percentile 50.000 =/ {print $NF}' <<<"$out")
      p99=$(awk '/percentile 99.000 =/ {print $NF}' <<<"$out")
      record "$tool" rr_p50 "${p50:-nan}"
      record "$tool" rr_p99 "${p99:-nan}"
      log "$tool rr run $((i + 1)): p50 ${p50:-?} us, p99 ${p99:-?} us"
    done
    end_container
  done
fi

# cpu_per_conn TICKS0 TICKS1 RATE: the tool's CPU microseconds per connection
# of a crr run of SECS seconds at RATE connections/s ("nan" without a rate).
cpu_per_conn() {
  python3 -c "r = float('$3'); print('%.1f' % (($2 - $1) / $CLK_TCK * 1e6 / (r * $SECS)) if r > 0 else 'nan')" 2>/dev/null || echo nan
}

if want crr; then
  for tool in "${tools[@]}"; do
    container_for "$tool"
    for ((i = 0; i < RUNS; i++)); do
      c0=$(cpu_ticks "$TOOL_PID")
      read -r rate errs < <(ft_in_ctr "$FLOWTOOL" crr 10.0.2.2 "$FLOW_PORT" "$SECS" || echo "nan ?")
      c1=$(cpu_ticks "$TOOL_PID")
      record "$tool" crr_out "$rate"
      record "$tool" cpu_crr_out "$(cpu_per_conn "$c0" "$c1" "$rate")"
      log "$tool crr_out run $((i + 1)): $rate/s, $errs errors, $((c1 - c0)) ticks"
    done
    end_container
    ft_start_container
    ctr_bg "$FLOWTOOL" serve 0.0.0.0 7100
    ctr_listening 7100
    port=$(ft_free_port)
    start_tool "$tool" "tcp:127.0.0.1/$port:7100"
    ft_on_exit "ft_kill $TOOL_PID"
    for ((i = 0; i < RUNS; i++)); do
      c0=$(cpu_ticks "$TOOL_PID")
      read -r rate errs < <("$FLOWTOOL" crr 127.0.0.1 "$port" "$SECS" || echo "nan ?")
      c1=$(cpu_ticks "$TOOL_PID")
      record "$tool" crr_fwd "$rate"
      record "$tool" cpu_crr_fwd "$(cpu_per_conn "$c0" "$c1" "$rate")"
      log "$tool crr_fwd run $((i + 1)): $rate/s, $errs errors, $((c1 - c0)) ticks"
    done
    ft_kill "$BG"
    end_container
  done
fi

if want mem; then
  for tool in "${tools[@]}"; do
    container_for "$tool"
    sleep 2
    idle=$(rss_kib "$TOOL_PID")
    record "$tool" rss_idle "$(python3 -c "print('%.2f' % ($idle / 1024))")"
    idle_pss=$(pss_kib "$TOOL_PID")
    record "$tool" pss_idle "$(python3 -c "print('%.2f' % ($idle_pss / 1024))")"
    hold_secs=$((FLOWS / 50 + 60))
    : >"$FT_TMP/hold.out"
    BG_OUT=$FT_TMP/hold.out ctr_bg "$FLOWTOOL" hold 10.0.2.2 "$FLOW_PORT" "$FLOWS" "$hold_secs"
    holder=$BG
    # Wait (bounded) for the helper's "open N" line.
    opened=
    for ((k = 0; k < hold_secs * 10; k++)); do
      opened=$(awk '/^open / {print $2}' "$FT_TMP/hold.out")
      [ -n "$opened" ] && break
      kill -0 "$holder" 2>/dev/null || break
      sleep 0.1
    done
    sleep 1
    full=$(rss_kib "$TOOL_PID")
    record "$tool" rss_flows "$(python3 -c "print('%.2f' % ($full / 1024))")"
    full_pss=$(pss_kib "$TOOL_PID")
    record "$tool" pss_flows "$(python3 -c "print('%.2f' % ($full_pss / 1024))")"
    record "$tool" flows_open "${opened:-0}"
    log "$tool memory: idle $idle KiB (PSS $idle_pss), $full KiB (PSS $full_pss) with ${opened:-0} of $FLOWS flows open"
    cat "$FT_TMP/hold.out" >>"$LOG"
    ft_kill "$holder"
    end_container
  done
fi

log "done; load at end $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 "$top/perf/report.py" "$OUT"
