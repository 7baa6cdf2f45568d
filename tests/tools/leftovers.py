#!/usr/bin/env python3
"""What a test run left behind: processes and named network namespaces.

  leftovers.py snapshot FILE
      records the processes alive now (PID and start time, so a reused PID
      is not taken for the old process) and the named network namespaces.
  leftovers.py check FILE [--user NAME] [--grace SECS] [--kill]
      lists every process that was not alive at the snapshot and either runs
      in a network namespace other than this one's or belongs to NAME
      (default ferrytest, the user tests run rootless ferry as), and every
      named network namespace that was not there; waits up to SECS (default
      3) for them to go away on their own, then prints them and exits 1.
      With --kill it then ends the listed processes (they were started by
      the run, after the snapshot) by PID and deletes the namespaces.

scripts/test.sh takes a snapshot before `meson test` and checks after it, so
a test that leaves a daemon (say a dhclient holding a container's namespace)
running fails the run instead of leaking into the next one.
"""
import argparse
import json
import os
import pwd
import signal
import subprocess
import sys
import time


def stat_of(pid):
    """(state, start time in ticks) of a process, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()  # after "pid (comm) "
    return rest[0], int(rest[19])  # field 3 (state) and field 22 (starttime)


def processes():
    """{pid: start time} of every live (non-zombie) process."""
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = stat_of(int(name))
            if st and st[0] != "Z":
                out[int(name)] = st[1]
    return out


def real_uid(pid):
    """The real user id, from /proc/PID/status (files under /proc/PID belong
    to root when the process is not dumpable)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise OSError("no Uid line")


def named_netns():
    try:
        return sorted(os.listdir("/run/netns"))
    except OSError:
        return []


def ancestors():
    """This process and its parents: the run that is checking."""
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            with open("/proc/%d/stat" % pid) as f:
                s = f.read()
        except OSError:
            break
        pid = int(s[s.rindex(")") + 2:].split()[1])
    return pids


def describe(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        uid = real_uid(pid)
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            user = str(uid)
        return "pid %d (%s): %s" % (pid, user, cmd or "?")
    except OSError:
        return "pid %d (gone)" % pid


def left(snap, user_uid):
    """The processes and namespaces the run left, as (pids, netns names)."""
    before = {int(p): t for p, t in snap["processes"].items()}
    mine = ancestors()
    own_net = os.readlink("/proc/self/ns/net")
    pids = []
    for pid, start in processes().items():
        if pid in mine or before.get(pid) == start:
            continue
        try:
            other_net = os.readlink("/proc/%d/ns/net" % pid) != own_net
            owner = real_uid(pid)
        except OSError:
            continue  # gone, or a kernel thread's unreadable namespace
        if other_net or (user_uid is not None and owner == user_uid):
            pids.append(pid)
    ns = [n for n in named_netns() if n not in snap["netns"]]
    return sorted(pids), ns


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["snapshot", "check"])
    ap.add_argument("file")
    ap.add_argument("--user", default="ferrytest")
    ap.add_argument("--grace", type=float, default=3.0)
    ap.add_argument("--kill", action="store_true")
    a = ap.parse_args()

    if a.mode == "snapshot":
        with open(a.file, "w") as f:
            json.dump({"processes": processes(), "netns": named_netns()}, f)
        return 0

    with open(a.file) as f:
        snap = json.load(f)
    try:
        user_uid = pwd.getpwnam(a.user).pw_uid
    except KeyError:
        user_uid = None
    deadline = time.monotonic() + a.grace
    while True:
        pids, ns = left(snap, user_uid)
        if not (pids or ns) or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    if not (pids or ns):
        print("leftovers: none")
        return 0
    for pid in pids:
        print("leftovers: process", describe(pid))
    for n in ns:
        print("leftovers: network namespace", n)
    if a.kill:
        starts = {pid: (stat_of(pid) or (None, None))[1] for pid in pids}
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                st = stat_of(pid)
                if st and st[1] == starts[pid]:  # still the process listed
                    try:
                        os.kill(pid, sig)
                    except OSError:
                        pass
            time.sleep(1)
        for n in ns:
            subprocess.run(["ip", "netns", "del", n], check=False)
    return 1


if __name__ == "__main__":
    sys.exit(main())
