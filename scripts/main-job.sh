#!/usr/bin/env bash
# ferry's main job, shown end to end: a rootless container (an unprivileged
# user's own user and network namespaces, as podman makes them) reaches a web
# server on the host through ferry, and this script reports what happened.
# Usage (as root, after scripts/setup.sh): scripts/main-job.sh PATH/TO/ferry
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export FERRY=${1:-$top/build/ferry}
. "$top/tests/lib/common.sh"
. "$top/tests/lib/rootless.sh"
ft_require_root
ft_install_ferry

echo "== ferry main job: a rootless container fetches a page from the host =="
port=$(ft_free_port)
mkdir -p "$FT_TMP/www"
echo "Hello from the host, served on 127.0.0.1:$port" >"$FT_TMP/www/index.html"
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$FT_TMP/www" >/dev/null 2>&1 &
web=$!
ft_on_exit "ft_kill $web"
ft_wait_for ft_listening "$port"
echo "host:      web server on 127.0.0.1:$port (pid $web)"

ft_start_container
echo "container: pid $CPID, user $FT_USER, own user + network namespace"
ft_start_ferry --configure --mtu 65520
echo "ferry:     pid $FERRY_PID, attached as '$FERRY_BIN --configure --mtu 65520 $CPID tap0'"
echo "           container sees: $(ft_in_ctr ip -4 -o addr show dev tap0 | awk '{print $4}'), $(ft_in_ctr ip route show default)"
rtt=$(ft_in_ctr ping -c 3 -q 10.0.2.2 | awk -F/ '/^rtt/ {print $5}')
echo "ping:      10.0.2.2 (the gateway) answers, average ${rtt} ms"
start=$(date +%s%N)
reply=$(ft_in_ctr sh -c "printf 'GET /index.html HTTP/1.0\r\nHost: 10.0.2.2\r\n\r\n' | socat -t 5 - TCP:10.0.2.2:$port")
ms=$(( ($(date +%s%N) - start) / 1000000 ))
status=$(head -n 1 <<<"$reply" | tr -d '\r')
body=$(tail -n 1 <<<"$reply")
echo "fetch:     GET http://10.0.2.2:$port/ from inside the container -> '$status' in ${ms} ms"
echo "           body: $body"
counters=$(ft_counters)
echo "ferry counters: $(grep -E '^(frames_in|frames_out|tcp_flows_opened|arp_replies|icmp_echo_local) ' <<<"$counters" | tr '\n' ' ')"
if [[ "$status" == *" 200 "* && "$body" == "Hello from the host"* ]]; then
  echo "RESULT: success - the rootless container reached the host through ferry"
else
  echo "RESULT: failure - see $FT_TMP/ferry.log"
  exit 1
fi
