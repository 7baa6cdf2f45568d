#!/usr/bin/env bash
# The whole system in one command, driven by ferryctl as an unprivileged user
# (ferrytest, made by scripts/setup.sh): a busybox web server container on a
# bridge network (ferry-bridge) with a port published on the host (ferry),
# and a second container on the same network that finds it by name (ferry-dns)
# and fetches its page. Prints a short report; removes everything at the end.
# Usage (as root, after scripts/setup.sh): scripts/engine-demo.sh [BUILD_DIR]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
. "$top/tests/lib/common.sh"
. "$top/tests/lib/rootless.sh"
ft_require_root
[ -x /bin/busybox ] || { echo "needs /bin/busybox (Debian package busybox-static)"; exit 1; }

BIN=$FT_TMP/bin
mkdir -p "$BIN"
cp "$build/engine/ferryctl" "$build/ferry" "$build/aardvark-dns/ferry-dns" "$build/netavark-plugin/ferry-bridge" "$BIN/"
chmod 0755 "$BIN"/*
RUN=$FT_TMP/run
install -d -m 0700 -o "$FT_USER" -g "$FT_USER" "$RUN"
fc() {
  "${FT_AS_USER[@]}" env XDG_RUNTIME_DIR="$RUN" FERRY_BIN="$BIN/ferry" FERRY_DNS_BIN="$BIN/ferry-dns" \
    FERRY_BRIDGE_BIN="$BIN/ferry-bridge" "$BIN/ferryctl" "$@"
}
NET=demo$FT_ID
ft_on_exit "fc rm -f web client; fc network rm $NET"

ROOTFS=$FT_TMP/rootfs
mkdir -p "$ROOTFS/bin" "$ROOTFS/www"
cp /bin/busybox "$ROOTFS/bin/"
for a in sh httpd nc nslookup awk printf echo cat hostname; do ln -s busybox "$ROOTFS/bin/$a"; done
echo "Hello from the web container" >"$ROOTFS/www/index.html"
chown -R "$FT_USER:$FT_USER" "$ROOTFS"

echo "== ferry main job: two rootless containers on a ferry bridge network =="
echo "user:      $FT_USER (uid $(id -u "$FT_USER")), state in $RUN/ferry"
fc network create "$NET" >/dev/null
echo "network:   $(fc network ls | awk -v n="$NET" '$1 == n {print $1 ", subnet " $2 ", bridge " $3}')"
port=$(ft_free_port)
fc run -d --name web --network "$NET" -p "127.0.0.1:$port:80" --rootfs "$ROOTFS" -- httpd -f -v -p 80 -h /www >/dev/null
web_ip=$(fc inspect web | python3 -c 'import json,sys; print(json.load(sys.stdin)["ip"])')
echo "web:       busybox httpd at $web_ip:80, published on 127.0.0.1:$port"
ft_wait_for sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | socat -t 2 - TCP:127.0.0.1:$port | grep -q Hello"
start=$(date +%s%N)
reply=$(printf 'GET /index.html HTTP/1.0\r\n\r\n' | socat -t 5 - "TCP:127.0.0.1:$port" || true)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
host_status=$(head -n 1 <<<"$reply" | tr -d '\r')
echo "host:      GET http://127.0.0.1:$port/ -> '$host_status' in ${ms} ms: $(tail -n 1 <<<"$reply")"
out=$(fc run --name client --network "$NET" --rootfs "$ROOTFS" -- sh -c '
  a=""; for i in 1 2 3 4 5 6 7 8 9 10; do
    a=$(nslookup web 2>/dev/null | awk "/^Name:/ {n=1} n && /^Address/ {print \$NF; exit}"); [ -n "$a" ] && break; sleep 0.3
  done
  echo "resolved web -> $a"
  printf "GET /index.html HTTP/1.0\r\nHost: web\r\n\r\n" | nc "$a" 80' 2>&1 || true)
resolved=$(grep -m1 '^resolved' <<<"$out" || true)
ctr_status=$(grep -m1 '^HTTP/' <<<"$out" | tr -d '\r' || true)
echo "client:    $resolved (ferry-dns), GET http://web/ -> '$ctr_status': $(tail -n 1 <<<"$out")"
echo "ps:"
fc ps -a | sed 's/^/           /'
fc rm -f web client >/dev/null
fc network rm "$NET" >/dev/null
leftover=$(cd "$RUN/ferry" && find . -type f ! -name lock | xargs)
echo "cleanup:   rm and network rm done; state files left: ${leftover:-none}"
if [[ "$host_status" == *" 200 "* && "$ctr_status" == *" 200 "* && "$resolved" == *"$web_ip" && -z "$leftover" ]]; then
  echo "RESULT: success - published port and name-to-name traffic work, nothing left behind"
else
  echo "RESULT: failure"
  echo "$out"
  exit 1
fi
