#!/usr/bin/env bash
# tests/tools/leftovers.py, the guard scripts/test.sh runs around `meson
# test`: it lists what a run leaves behind (a process in another network
# namespace or of the test user, a named network namespace), not what was
# there before the snapshot, and --kill ends exactly what it listed.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/rootless.sh"
ft_require_root
guard="$(dirname "$0")/../tools/leftovers.py"

# Alive before the snapshot: not the run's, never listed.
unshare --net sleep 300 &
old=$!
ft_on_exit "ft_kill $old"
python3 "$guard" snapshot "$FT_TMP/snap.json"
ft_check "a clean run: nothing listed, exit 0" python3 "$guard" check "$FT_TMP/snap.json" --grace 0

unshare --net sleep 300 &
in_netns=$!
ft_on_exit "ft_kill $in_netns"
"${FT_AS_USER[@]}" sleep 300 &
as_user=$!
ft_on_exit "ft_kill $as_user"
# Not dumpable, as a sandboxed daemon may be (files under /proc/PID then
# belong to root): the guard goes by the real uid in /proc/PID/status.
"${FT_AS_USER[@]}" /usr/bin/python3 -c 'import ctypes, time; ctypes.CDLL(None).prctl(4, 0); time.sleep(300)' &
undumpable=$!
ft_on_exit "ft_kill $undumpable"
sleep 300 &
plain=$!
ft_on_exit "ft_kill $plain"
ft_netns left >/dev/null
ns=$FT_NETNS

rc=0
python3 "$guard" check "$FT_TMP/snap.json" --grace 0.5 >"$FT_TMP/out" || rc=$?
cat "$FT_TMP/out"
ft_expect_eq "leftovers found: exit 1" 1 "$rc"
ft_check "lists the process in another network namespace" grep -q "^leftovers: process pid $in_netns " "$FT_TMP/out"
ft_check "lists the process of $FT_USER" grep -q "^leftovers: process pid $as_user ($FT_USER)" "$FT_TMP/out"
ft_check "lists the non-dumpable process of $FT_USER" grep -q "^leftovers: process pid $undumpable ($FT_USER)" "$FT_TMP/out"
ft_check "lists the new network namespace" grep -q "^leftovers: network namespace $ns\$" "$FT_TMP/out"
ft_check "does not list the process there before the snapshot" sh -c "! grep -q 'pid $old ' '$FT_TMP/out'"
ft_check "does not list a root process in this namespace" sh -c "! grep -q 'pid $plain ' '$FT_TMP/out'"

rc=0
python3 "$guard" check "$FT_TMP/snap.json" --grace 0 --kill >/dev/null || rc=$?
ft_expect_eq "--kill still reports: exit 1" 1 "$rc"
wait "$in_netns" "$as_user" "$undumpable" 2>/dev/null || true
ft_check "--kill ended the listed processes" sh -c "! kill -0 $in_netns 2>/dev/null && ! kill -0 $as_user 2>/dev/null && ! kill -0 $undumpable 2>/dev/null"
ft_check "--kill deleted the namespace" sh -c "! ip netns list | grep -q '^$ns\\b'"
ft_check "--kill left the others alone" sh -c "kill -0 $old && kill -0 $plain"
ft_check "after --kill: nothing listed" python3 "$guard" check "$FT_TMP/snap.json" --grace 0
ft_done
