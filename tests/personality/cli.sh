#!/usr/bin/env bash
# The command-line surface of ferry's personalities, without a container:
# the name chooses the personality; slirp4netns's --help (what podman's probe
# greps), -v with SLIRP_CONFIG_VERSION_MAX, --target-type=bess refused, extra
# positional arguments warned about, --enable-sandbox/--enable-seccomp listed
# and accepted silently (the sandbox is always on); pasta's refusals
# name what is not implemented.
. "$(dirname "$0")/../lib/common.sh"
[ -n "${FERRY:-}" ] || { echo "FERRY is not set"; exit 1; }
mkdir -p "$FT_TMP/bin"
for n in slirp4netns pasta ferry; do ln -s "$FERRY" "$FT_TMP/bin/$n"; done
S="$FT_TMP/bin/slirp4netns" P="$FT_TMP/bin/pasta"

help=$("$S" --help)
for f in --mtu --cidr --disable-host-loopback --api-socket --netns-type --userns-path --disable-dns --enable-ipv6 --outbound-addr; do
  ft_check "slirp4netns --help lists $f" grep -q -- "$f" <<<"$help"
done
# podman 4.3.1 passes these only when --help lists them (contracts.md 1).
for f in --enable-sandbox --enable-seccomp; do
  ft_check "slirp4netns --help lists $f (podman's probe)" grep -q -- "$f" <<<"$help"
done
ft_check "ferry's --help lists --no-sandbox" grep -q -- "--no-sandbox" <<<"$("$FT_TMP/bin/ferry" --help)"
ft_check "slirp4netns --help names the program slirp4netns" grep -q '^Usage: slirp4netns ' <<<"$help"
ft_check "-v prints SLIRP_CONFIG_VERSION_MAX" grep -q '^SLIRP_CONFIG_VERSION_MAX: [0-9]' <<<"$("$S" -v)"
ft_check "-v first line names slirp4netns" grep -q '^slirp4netns version ' <<<"$("$S" -v)"
ft_check "ferry's own name keeps ferry's -v" grep -q '^ferry version ' <<<"$("$FT_TMP/bin/ferry" --version)"

set +e
err=$("$S" --target-type=bess 1 2>&1); rc=$?
ft_check "--target-type=bess is refused clearly (rc $rc: $err)" sh -c "[ $rc -ne 0 ] && echo '$err' | grep -q 'bess.*not supported'"
err=$("$S" --netns-type=path "$FT_TMP/no-such-netns" tap0 extra1 extra2 2>&1); rc=$?
ft_check "extra positional arguments are warned about" grep -q 'warning: ignoring extra arguments' <<<"$err"
ft_check "...and the real error still names the target (rc $rc)" grep -q 'no-such-netns' <<<"$err"
err=$("$S" --enable-sandbox --enable-seccomp --netns-type=path "$FT_TMP/no-such-netns" 2>&1)
ft_check "--enable-sandbox/--enable-seccomp are accepted without a warning ($err)" \
  sh -c '! echo "$1" | grep -q -e enable-s -e warning && echo "$1" | grep -q no-such-netns' _ "$err"
err=$("$S" --outbound-addr=no-such-if0 1 2>&1); rc=$?
ft_check "a bad --outbound-addr is refused naming it (rc $rc: $err)" sh -c "[ $rc -ne 0 ] && echo \"\$1\" | grep -q 'outbound-addr=no-such-if0: .*no interface named'" _ "$err"

ft_check "pasta --help is pasta's" grep -q '^Usage: pasta ' <<<"$("$P" --help)"
err=$("$P" --config-net -a 10.9.0.2 -n 24 -g 10.9.0.1 -T auto --netns /x 2>&1); rc=$?
ft_check "pasta -T auto refused naming it (rc $rc: $err)" grep -q -- '-T auto: .*not implemented' <<<"$err"
err=$("$P" --config-net -a 10.9.0.2 -n 24 -g 10.9.0.1 -t ::1/80 -u auto --netns /x 2>&1)
if ! grep -q 'not implemented' <<<"$err" && grep -q '/x' <<<"$err"; then
  ft_pass "pasta IPv6 -t and -u auto accepted: the error is about the netns ($err)"
else
  ft_fail "pasta IPv6 -t and -u auto accepted: the error is about the netns ($err)"
fi
err=$("$P" --config-net -a 10.9.0.2 -n 24 -g 10.8.0.1 --netns /x 2>&1); rc=$?
ft_check "pasta gateway outside the subnet refused (rc $rc: $err)" grep -q 'must be another address in 10.9.0.2/24' <<<"$err"
err=$("$P" --config-net 2>&1); rc=$?
ft_check "pasta without a target refused (rc $rc: $err)" grep -q 'no target namespace' <<<"$err"
err=$("$P" --config-net -a 10.9.0.2 -n 24 -g 10.9.0.1 --no-such-option --netns /x 2>&1); rc=$?
ft_check "pasta unknown options refused naming them" grep -q 'no-such-option' <<<"$err"
set -e
ft_done
