#!/usr/bin/env bash
# ferryctl end to end, as the unprivileged user ferrytest (issue 9's
# acceptance): on the default network a container reaches a host service
# through 10.0.2.2 and a published port is reachable from the host; on a
# created bridge network two containers resolve and reach each other by name
# and alias (ferry-dns), and a published port reaches the bridge container;
# bad input (name taken, port in use, unknown network, missing rootfs) fails
# clearly and starts nothing; after rm of everything no process, namespace
# or state file is left. Busybox (busybox-static) is the containers' rootfs.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
id "$FT_USER" >/dev/null 2>&1 || { echo "SKIP: no user $FT_USER (run scripts/setup.sh)"; exit 77; }
[ -x /bin/busybox ] || { echo "SKIP: needs busybox-static"; exit 77; }

# Binaries where ferrytest can run them; state in a runtime dir of its own.
BIN=$FT_TMP/bin
mkdir -p "$BIN"
cp "${FERRYCTL:?}" "$BIN/ferryctl"; cp "${FERRY:?}" "$BIN/ferry"
cp "${FERRY_DNS:?}" "$BIN/ferry-dns"; cp "${FERRY_BRIDGE:?}" "$BIN/ferry-bridge"
cp "$(dirname "$0")/../tools/nettool.py" "$BIN/nettool.py"
chmod 0755 "$BIN"/*
RUN=$FT_TMP/run
install -d -m 0700 -o "$FT_USER" -g "$FT_USER" "$RUN"
fc() {
  "${FT_AS_USER[@]}" env XDG_RUNTIME_DIR="$RUN" FERRY_BIN="$BIN/ferry" FERRY_DNS_BIN="$BIN/ferry-dns" \
    FERRY_BRIDGE_BIN="$BIN/ferry-bridge" "$BIN/ferryctl" "$@"
}
# fc_has PATTERN ARGS...: ferryctl ARGS prints a line matching PATTERN.
fc_has() { local pat=$1; shift; fc "$@" | grep -- "$pat" >/dev/null; }
# Safety net: whatever the test leaves running is removed at exit.
ft_on_exit "fc rm -f \$(ls $RUN/ferry/containers 2>/dev/null) ; fc network rm tnet$FT_ID"

# A busybox root file system owned by ferrytest (root inside the container).
ROOTFS=$FT_TMP/rootfs
mkdir -p "$ROOTFS/bin" "$ROOTFS/www"
cp /bin/busybox "$ROOTFS/bin/busybox"
for a in sh cat echo hostname httpd nc nslookup sleep printf awk grep ps ls ip; do ln -s busybox "$ROOTFS/bin/$a"; done
echo "hello from the web container" >"$ROOTFS/www/index.html"
chown -R "$FT_USER:$FT_USER" "$ROOTFS"

# A host service on 127.0.0.1.
hport=$(ft_free_port)
socat TCP-LISTEN:"$hport",bind=127.0.0.1,fork,reuseaddr SYSTEM:'echo hello-from-host' &
ft_on_exit "ft_kill $!"
ft_wait_for ft_listening "$hport"

http_get() {  # http_get PORT -> the reply
  printf 'GET /index.html HTTP/1.0\r\n\r\n' | socat -t 5 - "TCP:127.0.0.1:$1" 2>/dev/null
}

# --- default network ------------------------------------------------------------
out=$(fc run --rootfs "$ROOTFS" --name probe -- sh -c "hostname; cat /etc/resolv.conf; sleep 1 | nc 10.0.2.2 $hport" 2>&1)
ft_check "default network: a container reaches a host service at 10.0.2.2 ($out)" grep -q hello-from-host <<<"$out"
ft_check "the hostname is the container's name" grep -qx probe <<<"$out"
ft_check "resolv.conf points at ferry's DNS" grep -q 'nameserver 10.0.2.3' <<<"$out"
ft_check "a foreground container's output is kept for logs too" fc_has hello-from-host logs probe
ft_expect_eq "exit status of a foreground container is returned" 7 "$(fc run --rootfs "$ROOTFS" -- sh -c 'exit 7' >/dev/null 2>&1; echo $?)"

wport=$(ft_free_port)
fc run -d --name web --rootfs "$ROOTFS" -p "127.0.0.1:$wport:80" -- httpd -f -vv -p 80 -h /www >"$FT_TMP/web.id"
ft_check "run -d prints the container id" grep -Eq '^[0-9a-f]{64}$' "$FT_TMP/web.id"
ft_wait_for sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | socat -t 2 - TCP:127.0.0.1:$wport | grep -q hello"
ft_check "a published port (-p 127.0.0.1:$wport:80) reaches the container from the host" \
  grep -q "hello from the web container" <<<"$(http_get "$wport")"
ft_check "ps lists web as running" fc_has 'web .*running' ps
# UDP and an IPv6 host address: a UDP echo server (on the host's file
# system: busybox has no UDP server) published as /udp, and the web server
# published on the host's ::1 as well.
uport=$(ft_free_port udp)
fc run -d --name udpsrv -p "127.0.0.1:$uport:7004/udp" -- python3 "$BIN/nettool.py" udp-serve 0.0.0.0 7004 >/dev/null
seen=$("$BIN/nettool.py" udp-whoami 127.0.0.1 "$uport" 2>&1) || true  # it asks 5 times, 1 s apart
ft_check "a published UDP port (-p 127.0.0.1:$uport:7004/udp) answers from the container ('$seen')" \
  grep -Eq '^[0-9.]+ [0-9]+$' <<<"$seen"
ft_check "ps shows the mapping as /udp" fc_has "127.0.0.1:$uport->7004/udp" ps
if ip -6 addr show dev lo | grep >/dev/null 'inet6 ::1'; then
  w6port=$(ft_free_port)
  fc run -d --name web6 --rootfs "$ROOTFS" -p "[::1]:$w6port:80" -- httpd -f -p 80 -h /www >/dev/null
  ft_wait_for sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | socat -t 2 - TCP6:[::1]:$w6port | grep -q hello"
  ft_check "a port published on the host's ::1 (-p [::1]:$w6port:80) reaches the container" \
    sh -c "printf 'GET /index.html HTTP/1.0\r\n\r\n' | socat -t 5 - TCP6:[::1]:$w6port | grep -q 'hello from the web container'"
  ft_check "rm -f web6" fc rm -f web6
fi
ft_check "rm -f udpsrv" fc rm -f udpsrv
inspect=$(fc inspect web)
ft_check "inspect is JSON with status running" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["status"]=="running" and d["ip"]=="10.0.2.100"' "$inspect"
ft_check "logs holds the server's output" fc_has . logs web

# --- bad input: a clear error, nothing started ----------------------------------
before=$(ls "$RUN/ferry/containers" | wc -l)
bad() {  # bad DESCRIPTION EXPECTED-TEXT ferryctl-args...
  local what=$1 text=$2; shift 2
  local msg rc=0
  msg=$(fc "$@" 2>&1) || rc=$?
  if [ "$rc" -ne 0 ] && grep -q "$text" <<<"$msg"; then ft_pass "$what: $msg"; else ft_fail "$what (rc $rc): $msg"; fi
}
bad "name taken" "already in use" run -d --name web --rootfs "$ROOTFS" -- sleep 100
bad "port in use" "Address already in use" run -d --name web2 --rootfs "$ROOTFS" -p "127.0.0.1:$wport:80" -- sleep 100
bad "unknown network" "unknown network 'nosuch'" run -d --network nosuch --rootfs "$ROOTFS" -- sleep 100
bad "missing rootfs" "is not a folder" run -d --rootfs "$FT_TMP/nope" -- sleep 100
bad "missing command" "cannot run 'nosuchcmd'" run -d --rootfs "$ROOTFS" -- nosuchcmd
ft_expect_eq "no container record left by the failures" "$before" "$(ls "$RUN/ferry/containers" | wc -l)"

# --- a bridge network --------------------------------------------------------------
NET=tnet$FT_ID
ft_check "network create" fc network create "$NET"
ft_check "network ls shows it" fc_has "^$NET " network ls
bport=$(ft_free_port)
fc run -d --name srv --network "$NET" --network-alias webalias --rootfs "$ROOTFS" -p "127.0.0.1:$bport:80" \
  -- httpd -f -p 80 -h /www >/dev/null
fc run -d --name peer --network "$NET" --rootfs "$ROOTFS" -- sleep 1000 >/dev/null
srv_ip=$(fc inspect srv | python3 -c 'import json,sys; print(json.load(sys.stdin)["ip"])')
ft_log "srv is at $srv_ip"
# A client on the host's file system (glibc resolver, /etc/resolv.conf from ferryctl).
out=$(fc run --network "$NET" -- sh -c 'getent hosts srv; getent hosts webalias; getent hosts peer' 2>&1)
ft_check "a container resolves srv by name ($out)" grep -q "^$srv_ip .*srv" <<<"$out"
ft_check "and by alias" grep -q "^$srv_ip .*webalias" <<<"$out"
ft_check "and the other container, peer" grep -q "peer" <<<"$out"
# In the busybox root: busybox's own resolver, then HTTP by the name's address.
out=$(fc run --network "$NET" --rootfs "$ROOTFS" -- sh -c \
  'a=$(nslookup srv | awk "/^Address/ {x=\$NF} END {print x}"); echo "srv=$a"; printf "GET /index.html HTTP/1.0\r\n\r\n" | nc "$a" 80' 2>&1)
ft_check "a busybox container fetches from srv by name ($out)" grep -q "hello from the web container" <<<"$out"
ft_check "a published port reaches the bridge container" grep -q "hello from the web container" <<<"$(http_get "$bport")"
out=$(fc run --network "$NET" --rootfs "$ROOTFS" -- sh -c "sleep 1 | nc 10.0.2.2 $hport" 2>&1)
ft_check "a bridge container reaches the host service through 10.0.2.2 ($out)" grep -q hello-from-host <<<"$out"

# --- rm of everything leaves nothing ----------------------------------------------
pids=""
for c in web srv peer; do
  pids+=" $(fc inspect "$c" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["pid"], d["monitor_pid"], d["ferry_pid"])')"
done
infra=$(cat "$RUN/ferry/infra.json")
pids+=" $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["holder_pid"], d["ferry_pid"])' "$infra")"
[ -f "$RUN/ferry/dns/aardvark.pid" ] && pids+=" $(cat "$RUN/ferry/dns/aardvark.pid")"
holder=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["holder_pid"])' "$infra")
infra_ns=$(readlink "/proc/$holder/ns/net")
ft_log "processes: $pids; shared netns $infra_ns"
ft_check "stop web" fc stop -t 1 web
ft_check "ps -a shows web exited" fc_has 'web .*exited' ps -a
bad "rm of a running container without -f" "is running" rm srv
ft_check "rm -f of everything" fc rm -f web srv peer probe
fc rm -f $(ls "$RUN/ferry/containers") >/dev/null 2>&1 || true
ft_check "network rm" fc network rm "$NET"
left=""
for p in $pids; do [ "$p" != 0 ] && kill -0 "$p" 2>/dev/null && left+=" $p($(cat /proc/$p/comm))"; done
ft_expect_eq "no process of the engine is left" "" "$left"
ft_expect_eq "the shared network namespace is gone" "" \
  "$(for f in /proc/[0-9]*/ns/net; do [ "$(readlink "$f" 2>/dev/null)" == "$infra_ns" ] && echo "$f"; done)"
ft_expect_eq "no state file is left but the lock" "lock" "$(cd "$RUN/ferry" && find . -type f | sed 's|^\./||' | xargs)"
ft_expect_eq "ps -a is empty" 1 "$(fc ps -a | wc -l)"

# --- a namespace holder that cannot start says which step failed -------------------
# In a user namespace whose limit of nested user namespaces is 0, the holder's
# own unshare fails; ferryctl must name that step (the holder's own message)
# and leave nothing behind. A runtime dir of its own keeps the state above out.
RUN2=$FT_TMP/run2
install -d -m 0700 -o "$FT_USER" -g "$FT_USER" "$RUN2"
msg=$("${FT_AS_USER[@]}" unshare -U -r env FERRY_STATE_DIR="$RUN2/ferry" FERRY_BIN="$BIN/ferry" \
  FERRY_DNS_BIN="$BIN/ferry-dns" FERRY_BRIDGE_BIN="$BIN/ferry-bridge" sh -c \
  'echo 0 >/proc/sys/user/max_user_namespaces && "$1" network create hnet && "$1" run --network hnet --rootfs "$2" -- true' \
  sh "$BIN/ferryctl" "$ROOTFS" 2>&1) && rc=0 || rc=$?
if [ "$rc" -ne 0 ] && grep -q "holder: unshare the user namespace: No space left on device" <<<"$msg"; then
  ft_pass "a holder that cannot unshare says so: $msg"
else
  ft_fail "a holder that cannot unshare (rc $rc): $msg"
fi
ft_expect_eq "the failed holder left no infra record" "" "$(ls "$RUN2/ferry/infra.json" 2>/dev/null)"
ft_done
