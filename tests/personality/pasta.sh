#!/usr/bin/env bash
# ferry as pasta, started with podman 5's exact argv (contracts.md section 2)
# on a network namespace the test made, rootless as podman 5 does it: the
# test user, in a user and mount namespace of its own, binds a new netns to a
# file and runs `pasta ... --netns FILE` (pasta_inner.sh does that part).
# Root's share: a DNS resolver of the test's own on a 127.53.x.y address.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
ft_install_ferry
ln -s "$FERRY_BIN" "$FT_TMP/pasta"
cp "$(dirname "$0")/pasta_inner.sh" "$FT_TMP/pasta_inner.sh"
cp "$(dirname "$0")/../lib/common.sh" "$FT_TMP/common.sh"

dns_ip="127.53.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))"
"$NETTOOL" dns-serve "$dns_ip" 53 ferry-test.example 192.0.2.55 &
ft_on_exit "ft_kill $!"
printf 'nameserver %s\n' "$dns_ip" >"$FT_TMP/resolv.conf"
chmod 0644 "$FT_TMP/resolv.conf"

# The inner script reports ok:/FAIL: lines; its status is the test's.
set +e
"${FT_AS_USER[@]}" env PASTA="$FT_TMP/pasta" RESOLV="$FT_TMP/resolv.conf" NETTOOL="$NETTOOL" \
  unshare --user --map-root-user --mount bash "$FT_TMP/pasta_inner.sh"
rc=$?
set -e
exit "$rc"
