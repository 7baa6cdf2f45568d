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
