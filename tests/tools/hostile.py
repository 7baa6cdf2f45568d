#!/usr/bin/env python3
"""Hostile frames from inside a container, for tests/integration/hostile.sh.

Usage: hostile.py IFACE GW_IP DNS_IP SYN_PORT SCAN_IP

Runs as the container's root (CAP_NET_RAW in its own network namespace) and
writes crafted Ethernet frames straight onto IFACE (the tap ferry serves)
with an AF_PACKET socket; scapy (python3-scapy) builds them. Every
destination is ferry's own addresses (the gateway, which leads to the host's
127.0.0.1, and the DNS address), SCAN_IP (a test host the caller created) or
addresses that lead nowhere. The attacks:

  malformed   IPv4 ihl and total length lies, TCP data offset lies, UDP
              length lies, truncated frames, bad IP/TCP/UDP/ICMP checksums,
              random garbage
  fragments   overlapping fragments, never-completing first fragments,
              fragments of bad lengths
  synflood    SYNs to GW:SYN_PORT from spoofed sources in the container's
              subnet (their SYN-ACKs go unanswered: half-open connections)
  udpscan     one UDP datagram to each of the 65,535 ports of SCAN_IP, all
              from one source port
  icmpflood   echo requests to the gateway and DNS addresses
  arpspoof    ARP replies and requests claiming the gateway's address, frames
              from the gateway's MAC
  ndp         IPv6 neighbour/router advertisements claiming to be the router

Prints one line per attack with the number of frames sent.
"""
import os
import random
import socket
import struct
import sys
import time

os.environ.setdefault("SCAPY_USE_LIBPCAP", "no")
from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, Raw, conf  # noqa: E402
from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6ND_RA, ICMPv6NDOptDstLLAddr, IPv6  # noqa: E402

conf.verb = 0
GW_MAC = "52:55:0a:00:02:02"


class Tap:
    def __init__(self, iface):
        self.iface = iface
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.s.bind((iface, 0))
        self.sent = 0
        self.errors = 0
        self.drops = self.tx_dropped()

    # Frames the tap dropped because ferry had not read the ones before yet
    # (the tap's queue towards ferry was full): TX drops of the interface in
    # this namespace's /proc/net/dev.
    def tx_dropped(self):
        for line in open("/proc/net/dev"):
            name, _, rest = line.partition(":")
            if name.strip() == self.iface:
                return int(rest.split()[11])
        return 0

    # Sending faster than ferry reads only fills the tap's queue: after each
    # batch, wait while the tap drops. With resend, a batch that lost frames
    # is sent again (for attacks whose check counts what arrived).
    def paced(self, frames, batch=64, resend=False):
        for i in range(0, len(frames), batch):
            for _ in range(100):
                before = self.tx_dropped()
                for f in frames[i:i + batch]:
                    self.send(f)
                if self.tx_dropped() == before:
                    break
                time.sleep(0.01)
                if not resend:
                    break

    def send(self, frame):
        if self.sent % 64 == 0:
            d = self.tx_dropped()
            if d != self.drops:
                self.drops = d
                time.sleep(0.005)
        data = bytes(frame)
        for _ in range(50):
            try:
                self.s.send(data)
                self.sent += 1
                return
            except OSError as e:
                if e.errno in (105, 11):  # ENOBUFS, EAGAIN: the tap queue is full
                    time.sleep(0.001)
                    continue
                self.errors += 1  # e.g. EINVAL for a frame shorter than a header
                return
        self.errors += 1


def report(name, tap, before):
    print(f"{name}: {tap.sent - before} frames sent", flush=True)


def malformed(tap, me, my_mac, gw, dns):
    eth = Ether(src=my_mac, dst=GW_MAC, type=0x0800)  # also for raw bytes appended
    good_tcp = bytes(IP(src=me, dst=gw) / TCP(sport=1234, dport=80, flags="S"))
    good_udp = bytes(IP(src=me, dst=dns) / UDP(sport=1234, dport=53) / Raw(b"q" * 20))
    for i in range(300):
        # IPv4 header length lies: past the packet, below the minimum.
        p = bytearray(good_tcp)
        p[0] = 0x4F
        tap.send(bytes(eth) + bytes(p))
        p[0] = 0x42
        tap.send(bytes(eth) + bytes(p))
        p[0] = 0x65  # version 6 in an IPv4 ethertype
        tap.send(bytes(eth) + bytes(p))
        # Total length lies: longer than the frame, shorter than the header.
        for tl in (len(good_tcp) + 1 + i, 10, 0xFFFF):
            q = IP(bytes(good_tcp))
            q.len = tl
            del q.chksum
            tap.send(eth / q)
        # TCP data offset lies (beyond the segment, below 5 words).
        for off in (15, 2, 0):
            tap.send(eth / IP(src=me, dst=gw) / TCP(sport=1234 + i, dport=80, flags="S", dataofs=off))
        # UDP length lies.
        for ul in (4, 200, 0xFFFF):
            tap.send(eth / IP(src=me, dst=dns) / UDP(sport=1234, dport=53, len=ul) / Raw(b"x" * 12))
        # Bad checksums on every layer.
        tap.send(eth / IP(src=me, dst=gw, chksum=0x1234) / ICMP())
        tap.send(eth / IP(src=me, dst=gw) / TCP(sport=2000 + i, dport=80, flags="S", chksum=0x1234))
        tap.send(eth / IP(src=me, dst=dns) / UDP(sport=2000 + i, dport=53, chksum=0x1234) / Raw(b"q"))
        tap.send(eth / IP(src=me, dst=gw) / ICMP(chksum=0x1234) / Raw(b"ping"))
        # Truncated frames and packets.
        frame = bytes(eth) + good_udp
        for cut in (1, 10, 14, 20, 33, 34, 41):
            tap.send(frame[:cut])
        # Garbage after a valid Ethernet header.
        for et in (0x0800, 0x0806, 0x86DD, 0x8100, random.randrange(0x10000)):
            tap.send(bytes(Ether(src=my_mac, dst=GW_MAC, type=et)) + os.urandom(random.randrange(0, 200)))


def fragments(tap, me, my_mac, gw):
    eth = Ether(src=my_mac, dst=GW_MAC)
    for i in range(1000):
        # Overlapping: 0..800 then 400..1200 of the same datagram.
        tap.send(eth / IP(src=me, dst=gw, id=i, flags="MF", frag=0, proto=17) / Raw(b"o" * 800))
        tap.send(eth / IP(src=me, dst=gw, id=i, flags="MF", frag=50, proto=17) / Raw(b"O" * 800))
    for i in range(3000):
        # Never completing: first fragments only, each a new datagram.
        tap.send(eth / IP(src=me, dst=gw, id=10000 + i, flags="MF", frag=0, proto=17) / Raw(b"n" * 1400))
    for i in range(300):
        # A middle fragment whose length is not a multiple of 8; one past 64 KiB.
        tap.send(eth / IP(src=me, dst=gw, id=20000 + i, flags="MF", frag=1, proto=17) / Raw(b"b" * 13))
        tap.send(eth / IP(src=me, dst=gw, id=30000 + i, frag=8189, proto=17) / Raw(b"e" * 64))


def synflood(tap, my_mac, net_prefix, gw, port, n):
    eth = Ether(src=my_mac, dst=GW_MAC)
    for i in range(n):
        src = f"{net_prefix}.{128 + i % 120}"
        tap.send(eth / IP(src=src, dst=gw) / TCP(sport=1024 + i % 60000, dport=port, flags="S", seq=i,
                                                 options=[("MSS", 1460)]))


def udpscan(tap, me, my_mac, gw, first, last):
    # One template, the destination port patched in: UDP checksum 0 (none).
    tmpl = bytearray(bytes(Ether(src=my_mac, dst=GW_MAC) / IP(src=me, dst=gw) /
                           UDP(sport=40000, dport=1, chksum=0) / Raw(b"scan")))
    off = 14 + 20 + 2
    frames = []
    for p in range(first, last + 1):
        struct.pack_into("!H", tmpl, off, p)
        frames.append(bytes(tmpl))
    tap.paced(frames, resend=True)


def icmpflood(tap, me, my_mac, gw, dns, n):
    eth = Ether(src=my_mac, dst=GW_MAC)
    reqs = [bytes(eth / IP(src=me, dst=d) / ICMP(id=i % 65536, seq=i) / Raw(b"f" * 56))
            for i, d in enumerate([gw, dns] * 50)]
    for i in range(n):
        tap.send(reqs[i % len(reqs)])


def arpspoof(tap, my_mac, gw, me):
    bc = "ff:ff:ff:ff:ff:ff"
    for i in range(500):
        tap.send(Ether(src=my_mac, dst=bc) / ARP(op=2, hwsrc=my_mac, psrc=gw, hwdst=bc, pdst=gw))
        tap.send(Ether(src=my_mac, dst=GW_MAC) / ARP(op=2, hwsrc="02:66:66:66:66:66", psrc=gw, pdst=me))
        tap.send(Ether(src=my_mac, dst=bc) / ARP(op=1, hwsrc=my_mac, psrc=gw, pdst=gw))
        # Frames from the gateway's own MAC.
        tap.send(Ether(src=GW_MAC, dst=GW_MAC) / IP(src=me, dst=gw) / ICMP(id=7, seq=i))
        tap.send(Ether(src=GW_MAC, dst=bc) / ARP(op=1, hwsrc=GW_MAC, psrc=gw, pdst=me))


def ndp(tap, my_mac):
    for i in range(200):
        tap.send(Ether(src=my_mac, dst="33:33:00:00:00:01") /
                 IPv6(src="fe80::2", dst="ff02::1") /
                 ICMPv6ND_NA(tgt="fe80::2", R=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=my_mac))
        tap.send(Ether(src=my_mac, dst="33:33:00:00:00:01") /
                 IPv6(src="fe80::2", dst="ff02::1") / ICMPv6ND_RA())
        # Malformed neighbour discovery towards ferry: a solicitation for the
        # gateway with a forwarded hop limit, one with a zero-length option.
        tap.send(Ether(src=my_mac, dst="33:33:ff:00:00:02") /
                 IPv6(src="fe80::99", dst="ff02::1:ff00:2", hlim=64) / ICMPv6ND_NS(tgt="fd00::2"))
        tap.send(Ether(src=my_mac, dst="33:33:ff:00:00:02") /
                 IPv6(src="fe80::99", dst="ff02::1:ff00:2") / ICMPv6ND_NS(tgt="fd00::2") /
                 Raw(b"\x01\x00\x00\x00\x00\x00\x00\x00"))


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    iface, gw, dns, syn_port, scan_ip = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    # Not /sys: nsenter keeps the host's sysfs mounted.
    link = os.popen(f"ip -o link show dev {iface}").read().split()
    my_mac = link[link.index("link/ether") + 1]
    out = os.popen(f"ip -4 -o addr show dev {iface}").read().split()
    me = out[out.index("inet") + 1].split("/")[0]
    net_prefix = ".".join(me.split(".")[:3])
    random.seed(1)
    tap = Tap(iface)
    steps = [
        ("malformed", lambda: malformed(tap, me, my_mac, gw, dns)),
        ("fragments", lambda: fragments(tap, me, my_mac, gw)),
        ("synflood", lambda: synflood(tap, my_mac, net_prefix, gw, syn_port, 5000)),
        ("udpscan", lambda: udpscan(tap, me, my_mac, scan_ip, 1, 65535)),
        ("icmpflood", lambda: icmpflood(tap, me, my_mac, gw, dns, 20000)),
        ("arpspoof", lambda: arpspoof(tap, my_mac, gw, me)),
        ("ndp", lambda: ndp(tap, my_mac)),
    ]
    for name, fn in steps:
        before = tap.sent
        t = time.monotonic()
        fn()
        report(name, tap, before)
        print(f"# {name} took {time.monotonic() - t:.1f} s", flush=True)
    print(f"total: {tap.sent} frames sent, {tap.errors} refused by the kernel", flush=True)


if __name__ == "__main__":
    main()
