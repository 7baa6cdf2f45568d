#!/usr/bin/env bash
# ferry as slirp4netns under rootlesskit 1.1 from Debian, rootless:
# --net=slirp4netns --slirp4netns-binary=<ferry as slirp4netns>
# --port-driver=slirp4netns. The child reaches a service on the host's
# 127.0.0.1 through 10.0.2.2, a port published with rootlessctl (ferry's API
# socket) reaches the child's listener, and ferry exits with rootlesskit.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
command -v rootlesskit >/dev/null || { echo "SKIP: rootlesskit is not installed (scripts/setup.sh installs it)"; exit 77; }
ft_install_ferry
mkdir -p "$FT_TMP/libexec"
ln -s "$FERRY_BIN" "$FT_TMP/libexec/slirp4netns"
state="$FT_SHARED/rk"

host_port=$(ft_free_port)
socat "TCP-LISTEN:$host_port,bind=127.0.0.1,reuseaddr,fork" SYSTEM:"echo hello-from-host" &
ft_on_exit "ft_kill $!"
ft_wait_for ft_listening "$host_port"

# The child: try the host service, then serve on 8080 until killed.
cat >"$FT_SHARED/child.sh" <<CHILD
socat -T 5 - TCP:10.0.2.2:$host_port </dev/null >"$FT_SHARED/outbound" 2>&1
exec socat TCP-LISTEN:8080,reuseaddr,fork SYSTEM:"echo hello-from-child"
CHILD
chmod 0755 "$FT_SHARED/child.sh"
(cd "$FT_SHARED" && exec "${FT_AS_USER[@]}" env HOME="$FT_SHARED" XDG_RUNTIME_DIR="$FT_SHARED" \
  rootlesskit --state-dir="$state" --net=slirp4netns --slirp4netns-binary="$FT_TMP/libexec/slirp4netns" \
  --port-driver=slirp4netns -- bash "$FT_SHARED/child.sh") >"$FT_TMP/rk.log" 2>&1 &
rk=$!
ft_on_exit "ft_kill $rk"
if ! ft_wait_for test -s "$FT_SHARED/outbound"; then
  cat "$FT_TMP/rk.log"
fi
ft_expect_eq "the child reaches the host's 127.0.0.1 through 10.0.2.2" "hello-from-host" "$(cat "$FT_SHARED/outbound" 2>/dev/null)"

pub=$(ft_free_port)
ft_as_user rootlessctl --socket "$state/api.sock" add-ports "127.0.0.1:$pub:8080/tcp" >"$FT_TMP/ctl.out" 2>&1 || cat "$FT_TMP/ctl.out"
ft_check "rootlessctl add-ports through ferry's API socket" ft_wait_for ft_listening "$pub"
ft_expect_eq "the published port reaches the child" "hello-from-child" "$(socat -T 5 - "TCP:127.0.0.1:$pub" </dev/null 2>&1)"

pids=$(for p in /proc/[0-9]*; do [ "$(readlink "$p/exe" 2>/dev/null)" == "$FERRY_BIN" ] && echo -n "${p#/proc/} "; done; true)
ft_check "ferry runs for rootlesskit" test -n "$pids"
ft_kill "$rk"
ft_check "ferry exits with rootlesskit" \
  ft_wait_for sh -c "for p in $pids; do kill -0 \$p 2>/dev/null && exit 1; done; exit 0"
ft_done
