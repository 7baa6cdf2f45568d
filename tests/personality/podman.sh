#!/usr/bin/env bash
# ferry as slirp4netns under real rootless podman 4.3.1 (network_cmd_path):
# a container reaches a service on the host's 127.0.0.1 through 10.0.2.2, a
# published port works with port_handler=rootlesskit and with
# port_handler=slirp4netns (ferry's API socket), and ferry exits when the
# container is removed.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
. "$(dirname "$0")/podman_lib.sh"
ft_require_root
ft_install_ferry
mkdir -p "$FT_TMP/libexec"
ln -s "$FERRY_BIN" "$FT_TMP/libexec/slirp4netns"
ft_podman_setup "$FT_TMP/libexec/slirp4netns"

# What podman's probe sees.
ft_check "--help lists --mtu, --cidr and --disable-host-loopback for podman's probe" \
  sh -c "'$FT_TMP/libexec/slirp4netns' --help | grep -q -- --disable-host-loopback"

# --- outbound: a service on the host's loopback, through 10.0.2.2 ---------------
host_port=$(ft_free_port)
socat "TCP-LISTEN:$host_port,bind=127.0.0.1,reuseaddr,fork" SYSTEM:"echo hello-from-host-$FT_ID" &
ft_on_exit "ft_kill $!"
ft_wait_for ft_listening "$host_port"
out=$(ft_podman run --rm --network slirp4netns:allow_host_loopback=true "$PM_IMAGE" \
  sh -c "nc 10.0.2.2 $host_port </dev/null" 2>"$FT_TMP/run1.err") || true
if [ "$out" != "hello-from-host-$FT_ID" ]; then
  if grep -q "ferry\|slirp4netns" "$FT_TMP/run1.err"; then
    cat "$FT_TMP/run1.err"
  elif [ -z "$out" ] && ! ft_podman run --rm --network none "$PM_IMAGE" true 2>"$FT_TMP/none.err"; then
    echo "SKIP: rootless podman cannot run a container here even without a network (outside ferry):"
    cat "$FT_TMP/none.err"
    exit 77
  fi
  cat "$FT_TMP/run1.err"
fi
ft_expect_eq "container reaches the host's 127.0.0.1 service through 10.0.2.2" "hello-from-host-$FT_ID" "$out"
ft_expect_eq "no ferry left after podman run --rm" "" "$(ft_pids_of_exe "$FERRY_BIN")"

# --- published ports, both port handlers ----------------------------------------
for handler in rootlesskit slirp4netns; do
  hp=$(ft_free_port)
  name="ferry-$handler-$FT_ID"
  if ! ft_podman run -d --name "$name" --network "slirp4netns:port_handler=$handler" -p "127.0.0.1:$hp:8080" \
      "$PM_IMAGE" sh -c "while true; do echo hello-from-ctr-$FT_ID | nc -l -p 8080; done" >"$FT_TMP/$handler.out" 2>&1; then
    cat "$FT_TMP/$handler.out"
    ft_fail "podman run -p with port_handler=$handler"
    continue
  fi
  ft_wait_for ft_listening "$hp"
  got=""
  for i in $(seq 1 50); do
    got=$(socat -T 2 - "TCP:127.0.0.1:$hp" </dev/null 2>/dev/null) || true
    [ -n "$got" ] && break
    sleep 0.2
  done
  ft_expect_eq "-p 127.0.0.1:$hp:8080 with port_handler=$handler reaches the container" "hello-from-ctr-$FT_ID" "$got"
  pids=$(ft_pids_of_exe "$FERRY_BIN" | tr "\n" " ")
  ft_check "ferry runs for the container ($handler)" test -n "$pids"
  first=${pids%% *}
  args=$(tr '\0' ' ' <"/proc/$first/cmdline" 2>/dev/null || true)
  ft_check "podman asked for IPv6 (its default) and ferry took it: $args" grep -q -- '--enable-ipv6' <<<"$args"
  ft_check "podman passes --enable-sandbox --enable-seccomp (listed in --help)" \
    sh -c 'echo "$1" | grep -q -- --enable-sandbox && echo "$1" | grep -q -- --enable-seccomp' _ "$args"
  ft_check "ferry under podman is sandboxed (Seccomp: 2, NoNewPrivs: 1)" \
    sh -c "grep -q '^Seccomp:[[:space:]]*2' /proc/$first/status && grep -q '^NoNewPrivs:[[:space:]]*1' /proc/$first/status"
  ft_podman rm -f -t 0 "$name" >/dev/null 2>&1
  ft_check "ferry exits when the container is removed ($handler)" \
    ft_wait_for sh -c "for p in $pids; do kill -0 \$p 2>/dev/null && exit 1; done; exit 0"
done
ft_done
