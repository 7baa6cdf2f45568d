# Shared pieces of the side-by-side benchmarks (source after tests/lib/*.sh).

# iperf3_gbps ARGS...: runs an iperf3 client (ARGS include -c, -p, -t; prefix
# with ft_in_ctr by setting IPERF_IN_CTR=1) and prints received Gbit/s, 0 on
# failure.
iperf3_gbps() {
  local run=(iperf3)
  [ "${IPERF_IN_CTR:-0}" = 1 ] && run=(ft_in_ctr iperf3)
  "${run[@]}" -J "$@" 2>/dev/null |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.2f" % (d["end"]["sum_received"]["bits_per_second"]/1e9))' || echo 0
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { python3 -c "print('%.2fx' % ($1/$2) if $2>0 else 'inf')"; }

# print_table TITLE KEY1 LABEL1 KEY2 LABEL2: ferry, slirp4netns and pasta
# side by side from the associative array `result[tool,key]`, with ratios.
print_table() {
  local title=$1; shift
  printf '\n%-40s %8s %12s %8s %8s %8s\n' "$title" ferry slirp4netns ratio pasta ratio
  while [ $# -ge 2 ]; do
    local f=${result[ferry,$1]} s=${result[slirp4netns,$1]} p=${result[pasta,$1]}
    printf '%-40s %8s %12s %8s %8s %8s\n' "$2" "$f" "$s" "$(ratio "$f" "$s")" "$p" "$(ratio "$f" "$p")"
    shift 2
  done
}

# --- shared by perf/run.sh (and usable by the scripts above) -----------------

# start_tool TOOL [FWD...]: starts ferry, slirp4netns or pasta, rootless, for
# the container $CPID (tap0, 10.0.2.100/24 via 10.0.2.2, MTU 65520, as in
# /work/shared/design/anchors.md) and waits until the container is
# configured. FWD publishes a port: tcp:[ADDR/]HOSTPORT:GUESTPORT or
# udp:[ADDR/]HOSTPORT:GUESTPORT (no ADDR: every host address). Sets
# TOOL_PID (the tool's own process; setpriv execs it). slirp4netns gets its
# forwards through its API socket (add_hostfwd), as podman does.
# TOOL_PREFIX (an array, e.g. (prlimit --nofile=65536:65536)) runs before
# setpriv; it must exec its command so that $! stays the tool.
TOOL_PREFIX=()
start_tool() {
  local tool=$1; shift
  local args=() api=() f proto spec has_t=0 has_u=0
  for f in "$@"; do
    proto=${f%%:*}; spec=${f#*:}
    if [ "$proto" = tcp ]; then args+=(-t "$spec"); has_t=1; else args+=(-u "$spec"); has_u=1; fi
  done
  # pasta forwards ports automatically unless told "none".
  if [ "$tool" = pasta ]; then
    [ $has_t = 1 ] || args+=(-t none)
    [ $has_u = 1 ] || args+=(-u none)
  fi
  case $tool in
    # FERRY_ARGS: extra options for ferry alone (word-split; run.sh --ferry-args).
    # shellcheck disable=SC2086
    ferry) "${TOOL_PREFIX[@]}" "${FT_AS_USER[@]}" "$FERRY_BIN" --configure --mtu 65520 ${FERRY_ARGS:-} "${args[@]}" "$CPID" tap0 >"$FT_TMP/ferry.log" 2>&1 & ;;
    slirp4netns)
      rm -f "$FT_SHARED/slirp.sock"
      api=(--api-socket "$FT_SHARED/slirp.sock")
      "${TOOL_PREFIX[@]}" "${FT_AS_USER[@]}" slirp4netns --configure --mtu 65520 "${api[@]}" "$CPID" tap0 >"$FT_TMP/slirp.log" 2>&1 & ;;
    pasta)
      # -f: stay in the foreground so that $! is pasta itself.
      "${TOOL_PREFIX[@]}" "${FT_AS_USER[@]}" pasta --config-net -f -q -I tap0 -a 10.0.2.100 -n 24 -g 10.0.2.2 -m 65520 \
        "${args[@]}" -T none -U none "$CPID" >"$FT_TMP/pasta.log" 2>&1 & ;;
    *) echo "start_tool: unknown tool $tool" >&2; return 1 ;;
  esac
  TOOL_PID=$! TOOL_NAME=$tool
  ft_wait_for ft_in_ctr sh -c 'ip -4 addr show dev tap0 | grep -q 10.0.2.100' ||
    { echo "$tool did not configure the container" >&2; return 1; }
  ft_wait_for ft_in_ctr sh -c 'ip route show default | grep -q 10.0.2.2' || true
  if [ "$tool" = slirp4netns ]; then
    ft_wait_for test -S "$FT_SHARED/slirp.sock" || { echo "slirp4netns API socket missing" >&2; return 1; }
    for f in "$@"; do
      proto=${f%%:*}; spec=${f#*:}
      local addr=0.0.0.0 hp gp
      case $spec in */*) addr=${spec%%/*}; spec=${spec#*/} ;; esac
      hp=${spec%%:*}; gp=${spec#*:}
      printf '{"execute":"add_hostfwd","arguments":{"proto":"%s","host_addr":"%s","host_port":%s,"guest_port":%s}}' \
        "$proto" "$addr" "$hp" "$gp" | socat - "UNIX-CONNECT:$FT_SHARED/slirp.sock" >/dev/null
    done
  fi
  for f in "$@"; do
    spec=${f#*:}; spec=${spec#*/}
    [ "${f%%:*}" = tcp ] && { ft_wait_for ft_listening "${spec%%:*}" || { echo "$tool: port ${spec%%:*} not published" >&2; return 1; }; }
  done
  return 0
}

# proc_tree PID: PID and all its descendants (threads are inside each).
proc_tree() {
  local pids=("$1") i=0 p c
  while [ $i -lt ${#pids[@]} ]; do
    p=${pids[$i]}
    for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do pids+=("$c"); done
    i=$((i + 1))
  done
  echo "${pids[@]}"
}

# tree_sum PID FILE AWK: the sum, over PID's process tree, of the number the
# awk program AWK prints for /proc/P/FILE (0 for a process gone meanwhile).
tree_sum() {
  local t=0 p v
  for p in $(proc_tree "$1"); do
    v=$(awk "$3" /proc/"$p"/"$2" 2>/dev/null)
    t=$((t + ${v:-0}))
  done
  echo "$t"
}

# cpu_ticks PID: utime+stime (+ reaped children's) of PID's process tree, in
# clock ticks (all threads: /proc/PID/stat sums them).
cpu_ticks() { tree_sum "$1" stat '{sub(/.*\) /, ""); print $12 + $13 + $14 + $15}'; }
CLK_TCK=$(getconf CLK_TCK)

# rss_kib PID: VmRSS of PID's process tree (ferry: translator + namespace
# agent), KiB. Shared pages are counted once per process (an upper bound).
rss_kib() { tree_sum "$1" status '/^VmRSS:/ {print $2}'; }

# pss_kib PID: proportional set size of PID's process tree
# (/proc/PID/smaps_rollup), KiB: pages shared between the tree's processes,
# or with the rest of the machine, count once in all instead of once per
# process.
pss_kib() { tree_sum "$1" smaps_rollup '/^Pss:/ {print $2}'; }

# iperf3_json OUT ARGS...: runs iperf3 -J into OUT (in the container when
# IPERF_IN_CTR=1, in network namespace IPERF_NS when set); non-zero if
# iperf3 failed.
iperf3_json() {
  local out=$1; shift
  local run=(iperf3)
  [ "${IPERF_IN_CTR:-0}" = 1 ] && run=(ft_in_ctr iperf3)
  [ -n "${IPERF_NS:-}" ] && run=(ip netns exec "$IPERF_NS" iperf3)
  "${run[@]}" -J "$@" >"$out" 2>/dev/null
}
# json_get FILE EXPR: a Python expression on the parsed JSON `d`.
# Prints nothing (and succeeds) when the expression fails, e.g. iperf3 wrote
# {"error": ...} without results.
json_get() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null || true; }
