#!/usr/bin/env python3
"""Small network peers for ferry's integration tests: servers that run on the
host's loopback and clients that run inside the test container. Every
subcommand is bounded in time and count and exits non-zero on a wrong result.

  serve-echo PORT              TCP echo server on 127.0.0.1 (until killed)
  short-conns HOST PORT N      N sequential connect/send/recv/close, all verified
  connect-refused HOST PORT    prints milliseconds until ECONNREFUSED
  serve-send-close PORT N      accepts one client, sends N bytes, closes
  recv-eof HOST PORT N         expects exactly N bytes then a clean EOF
  serve-expect-reset PORT      accepts one client, reads until it sees ECONNRESET
  connect-reset HOST PORT      connects, sends, then aborts with an RST
  udp-echo PORT                UDP echo server on 127.0.0.1 (until killed)
  udp-roundtrip HOST PORT N    N datagrams, each echoed back intact
  dns-serve ADDR PORT NAME IP  answers A queries for NAME with IP, REFUSED otherwise
  concurrent-echo HOST PORT N  N connections open at once, each echoing 64 KiB intact
  hold-echo HOST PORT SECS     opens a connection, echoes once, waits SECS, echoes again
  serve-peer PORT              TCP server on 0.0.0.0: tells each client its address, then echoes
  serve-peer6 PORT             the same on [::] (IPv6 and IPv4 clients)
  udp-serve ADDR PORT          UDP echo server on ADDR; answers "whoami" with the sender's "ip port"
  udp-whoami HOST PORT         asks a udp-serve server how it sees us; prints "ip port"
  udp-transfer HOST PORT BYTES SIZE
                               BYTES in SIZE-byte datagrams echoed by udp-serve, a few in
                               flight; every echo verified; prints retransmissions
  udp-clients HOST PORT N      N sockets at once, each 10 verified round trips
  udp-sink ADDR PORT N         receives N datagrams of udp-burst (large receive buffer);
                               checks each intact and in order; prints what arrived
  udp-burst HOST PORT N SIZE   sends N datagrams back to back (SIZE bytes, or "mixed":
                               sizes varying per datagram)
  fill-conns HOST PORT N       opens up to N echo connections and holds them until one
                               is turned away (closed or reset); fails if one hangs
                               (no echo, no close within 3 s) or none is turned away;
                               then closes them all and checks a new one echoes
  serve-digest ADDR PORT       TCP server on ADDR: reads each client to EOF, answers
                               "LENGTH SHA256" and closes (until killed)
  half-close HOST PORT N       N connections to serve-digest: each sends up to 256 KiB,
                               shuts its write side and must get the right digest, then EOF
"""
import hashlib
import os
import socket
import struct
import sys
import threading
import time


def listener(port, addr="127.0.0.1"):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(512)
    return s


def recv_exact(c, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = c.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def serve_echo(port):
    s = listener(port)

    def handle(c):
        with c:
            while True:
                d = c.recv(65536)
                if not d:
                    return
                c.sendall(d)

    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def short_conns(host, port, n):
    deadline = time.time() + 600
    for i in range(n):
        if time.time() > deadline:
            sys.exit(f"timed out after {i} connections")
        msg = f"request {i}\n".encode()
        with socket.create_connection((host, port), timeout=10) as c:
            c.sendall(msg)
            got = recv_exact(c, len(msg))
            if got != msg:
                sys.exit(f"connection {i}: got {got!r}, expected {msg!r}")
    print(f"{n} connections ok")


def connect_refused(host, port):
    t0 = time.monotonic()
    try:
        socket.create_connection((host, port), timeout=5).close()
    except ConnectionRefusedError:
        print(int((time.monotonic() - t0) * 1000))
        return
    except OSError as e:
        sys.exit(f"expected ECONNREFUSED, got {e}")
    sys.exit("connection unexpectedly succeeded")


def accept_and_send(port, n):
    """Accepts one connection on port and sends it n random bytes; returns it."""
    with listener(port) as s:
        s.settimeout(60)
        c, _ = s.accept()
    block = os.urandom(65536)
    sent = 0
    while sent < n:
        k = min(len(block), n - sent)
        c.sendall(block[:k])
        sent += k
    return c


def serve_send_close(port, n):
    accept_and_send(port, n).close()
    print("sent", n)


def serve_send_shutdown(port, n):
    """Sends n bytes, shuts its write side, then reads until the peer's end:
    prints "eof" for a FIN, "reset" for ECONNRESET."""
    c = accept_and_send(port, n)
    c.settimeout(30)
    c.shutdown(socket.SHUT_WR)
    try:
        while c.recv(65536):
            pass
        print("eof")
    except ConnectionResetError:
        print("reset")
    c.close()


def recv_eof(host, port, n):
    with socket.create_connection((host, port), timeout=30) as c:
        total = 0
        while True:
            d = c.recv(65536)
            if not d:
                break
            total += len(d)
        if total != n:
            sys.exit(f"got {total} bytes before EOF, expected {n}")
    print("eof after", total)


def serve_expect_reset(port):
    s = listener(port)
    s.settimeout(60)
    c, _ = s.accept()
    c.settimeout(30)
    try:
        while c.recv(65536):
            pass
    except ConnectionResetError:
        print("reset")
        return
    sys.exit("peer closed without a reset")


def connect_reset(host, port):
    c = socket.create_connection((host, port), timeout=10)
    c.sendall(b"x" * 1000)
    time.sleep(0.2)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    print("aborted")


def udp_echo(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    while True:
        d, a = s.recvfrom(65535)
        s.sendto(d, a)


def udp_roundtrip(host, port, n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    for i in range(n):
        msg = f"datagram {i} ".encode() * (1 + i % 50)
        for attempt in range(3):
            s.sendto(msg, (host, port))
            try:
                d, a = s.recvfrom(65535)
                break
            except socket.timeout:
                continue
        else:
            sys.exit(f"datagram {i}: no answer")
        if d != msg or a != (host, port):
            sys.exit(f"datagram {i}: got {d!r} from {a}")
    print(f"{n} datagrams ok")


def dns_serve(addr, port, name, ip):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    want = name.rstrip(".").lower()
    while True:
        q, a = s.recvfrom(4096)
        if len(q) < 12:
            continue
        qid, flags, qd = struct.unpack("!HHH", q[:6])
        i, labels = 12, []
        while i < len(q) and q[i] != 0:
            labels.append(q[i + 1:i + 1 + q[i]].decode(errors="replace"))
            i += 1 + q[i]
        question = q[12:i + 5]
        qtype = struct.unpack("!H", q[i + 1:i + 3])[0] if i + 3 <= len(q) else 0
        hit = ".".join(labels).lower() == want and qtype == 1
        rflags = 0x8180 if hit else 0x8185  # NOERROR / REFUSED, RD+RA
        resp = struct.pack("!HHHHHH", qid, rflags, 1, 1 if hit else 0, 0, 0) + question
        if hit:
            resp += struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(ip)
        s.sendto(resp, a)


def concurrent_echo(host, port, n):
    conns = []
    for i in range(n):
        conns.append(socket.create_connection((host, port), timeout=30))
    payloads = [os.urandom(65536) for _ in range(n)]
    errors = []

    def run(c, data):
        try:
            c.sendall(data)
            if recv_exact(c, len(data)) != data:
                errors.append("mismatch")
        except OSError as e:
            errors.append(str(e))
        finally:
            c.close()

    threads = [threading.Thread(target=run, args=(c, d)) for c, d in zip(conns, payloads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if errors:
        sys.exit(f"{len(errors)} of {n} connections failed: {errors[:3]}")
    print(f"{n} concurrent connections ok")


def hold_echo(host, port, secs):
    with socket.create_connection((host, port), timeout=30) as c:
        c.sendall(b"before\n")
        if recv_exact(c, 7) != b"before\n":
            sys.exit("first echo failed")
        print("connected", flush=True)
        time.sleep(secs)
        c.sendall(b"after\n")
        if recv_exact(c, 6) != b"after\n":
            sys.exit("second echo failed")
    print("held ok")


def fill_conns(host, port, n):
    held, turned_away = [], None
    for i in range(n):
        try:
            c = socket.create_connection((host, port), timeout=3)
        except socket.timeout:
            sys.exit(f"connection {i + 1} hangs in connect ({len(held)} held)")
        except ConnectionResetError:
            # The reset came before the (non-blocking) connect was reported done.
            turned_away = i + 1
            break
        try:
            c.sendall(b"x")
            got = c.recv(1)
        except socket.timeout:
            sys.exit(f"connection {i + 1} hangs: no echo and no close in 3 s ({len(held)} held)")
        except OSError:  # ECONNRESET: turned away
            got = b""
        if got == b"x":
            held.append(c)
            continue
        c.close()
        turned_away = i + 1
        break
    if turned_away is None:
        sys.exit(f"all {n} connections echoed: the limit was never reached")
    print(f"{len(held)} connections held, number {turned_away} turned away at once", flush=True)
    for c in held:
        c.close()
    # ferry frees the descriptors as it sees the closes: until then a new
    # connection may still be turned away (but never left hanging).
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection((host, port), timeout=5) as c:
                c.sendall(b"again")
                if recv_exact(c, 5) == b"again":
                    break
        except socket.timeout:
            sys.exit("a new connection hangs after the held ones closed")
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit("no echo within 10 s after the held connections closed")
        time.sleep(0.2)
    print("a new connection echoes after they closed")


def serve_digest(addr, port):
    s = listener(port, addr)

    def handle(c):
        with c:
            c.settimeout(30)
            h, n = hashlib.sha256(), 0
            while True:
                d = c.recv(65536)
                if not d:
                    break
                h.update(d)
                n += len(d)
            c.sendall(f"{n} {h.hexdigest()}\n".encode())

    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def half_close(host, port, n):
    """The client ends its half first and still hears the answer: the FIN
    must reach the server while the way back stays open."""
    for i in range(n):
        data = os.urandom(1 + (i * 7919) % 262144)
        want = f"{len(data)} {hashlib.sha256(data).hexdigest()}\n".encode()
        with socket.create_connection((host, port), timeout=10) as c:
            c.sendall(data)
            c.shutdown(socket.SHUT_WR)
            got = bytearray()
            while True:
                d = c.recv(4096)  # a timeout here is the FIN that never arrived
                if not d:
                    break
                got += d
        if bytes(got) != want:
            sys.exit(f"connection {i}: answer {bytes(got)!r}, expected {want!r}")
    print("half-closed", n)


def serve_peer(port, family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
    s.listen(64)

    def handle(c, a):
        with c:
            c.sendall(f"{a[0]}\n".encode())
            while True:
                d = c.recv(65536)
                if not d:
                    return
                c.sendall(d)

    while True:
        c, a = s.accept()
        threading.Thread(target=handle, args=(c, a), daemon=True).start()


def udp_socket(host):
    return socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)


def udp_serve(addr, port):
    s = udp_socket(addr)
    s.bind((addr, port))
    while True:
        d, a = s.recvfrom(65535)
        if d == b"whoami":
            s.sendto(f"{a[0]} {a[1]}".encode(), a)
        else:
            s.sendto(d, a)


def udp_whoami(host, port):
    s = udp_socket(host)
    s.settimeout(1)
    for attempt in range(5):
        s.sendto(b"whoami", (host, port))
        try:
            print(s.recv(200).decode())
            return
        except socket.timeout:
            continue
    sys.exit("no answer to whoami")


def udp_payload(seq, size):
    head = struct.pack("!Q", seq)
    body = (head * (size // 8 + 1))[: size - 8]
    return head + body


def udp_transfer(host, port, total, size):
    s = udp_socket(host)
    s.connect((host, port))
    s.settimeout(0.5)
    n = (total + size - 1) // size
    window = max(1, min(4, 120000 // size))  # what udp-serve's receive buffer holds
    outstanding = {}
    nxt = done = retrans = 0
    deadline = time.time() + 600
    while done < n:
        while nxt < n and len(outstanding) < window:
            s.send(udp_payload(nxt, size))
            outstanding[nxt] = time.time()
            nxt += 1
        try:
            d = s.recv(65535)
        except socket.timeout:
            if time.time() > deadline:
                sys.exit(f"udp-transfer: gave up after {done}/{n} datagrams")
            for q in list(outstanding):
                s.send(udp_payload(q, size))
                retrans += 1
            continue
        seq = struct.unpack("!Q", d[:8])[0]
        if d != udp_payload(seq, size):
            sys.exit(f"udp-transfer: datagram {seq} came back damaged ({len(d)} bytes)")
        if seq in outstanding:
            del outstanding[seq]
            done += 1
    print(f"{n} datagrams of {size} bytes echoed intact, {retrans} retransmitted")


def burst_size(seq, size):
    return 1000 + (seq * 389) % 7000 if size == "mixed" else int(size)


def udp_sink(addr, port, n):
    s = udp_socket(addr)
    # Root may exceed rmem_max: the burst must fit while this script is slow.
    s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE
    s.bind((addr, port))
    print("ready", flush=True)
    s.settimeout(10)
    expect = 0
    while expect < n:
        try:
            d = s.recv(65535)
        except socket.timeout:
            sys.exit(f"udp-sink: {expect} of {n} datagrams, then nothing for 10 s")
        seq = struct.unpack("!Q", d[:8])[0]
        if seq != expect:
            sys.exit(f"udp-sink: datagram {seq} where {expect} was due (lost or reordered)")
        if d != udp_payload(seq, len(d)):
            sys.exit(f"udp-sink: datagram {seq} damaged ({len(d)} bytes)")
        expect += 1
    print(f"{n} datagrams in order, intact")


def udp_burst(host, port, n, size):
    s = udp_socket(host)
    s.connect((host, port))
    for seq in range(n):
        s.send(udp_payload(seq, burst_size(seq, size)))


def udp_clients(host, port, n):
    socks = []
    for i in range(n):
        s = udp_socket(host)
        s.connect((host, port))
        s.settimeout(2)
        socks.append(s)
    for rnd in range(10):
        for i, s in enumerate(socks):
            s.send(f"client {i} round {rnd}".encode())
        for i, s in enumerate(socks):
            want = f"client {i} round {rnd}".encode()
            for attempt in range(3):
                try:
                    d = s.recv(200)
                except socket.timeout:
                    s.send(want)
                    continue
                if d == want:
                    break
                sys.exit(f"client {i}: got {d!r}, wanted {want!r}")
            else:
                sys.exit(f"client {i} round {rnd}: no answer")
    print(f"{n} clients x 10 round trips ok")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    table = {
        "serve-echo": (serve_echo, [int]),
        "short-conns": (short_conns, [str, int, int]),
        "connect-refused": (connect_refused, [str, int]),
        "serve-send-close": (serve_send_close, [int, int]),
        "serve-send-shutdown": (serve_send_shutdown, [int, int]),
        "recv-eof": (recv_eof, [str, int, int]),
        "serve-expect-reset": (serve_expect_reset, [int]),
        "connect-reset": (connect_reset, [str, int]),
        "udp-echo": (udp_echo, [int]),
        "udp-roundtrip": (udp_roundtrip, [str, int, int]),
        "dns-serve": (dns_serve, [str, int, str, str]),
        "concurrent-echo": (concurrent_echo, [str, int, int]),
        "hold-echo": (hold_echo, [str, int, float]),
        "serve-peer": (serve_peer, [int]),
        "serve-peer6": (lambda port: serve_peer(port, socket.AF_INET6), [int]),
        "udp-serve": (udp_serve, [str, int]),
        "udp-whoami": (udp_whoami, [str, int]),
        "udp-transfer": (udp_transfer, [str, int, int, int]),
        "udp-clients": (udp_clients, [str, int, int]),
        "udp-sink": (udp_sink, [str, int, int]),
        "udp-burst": (udp_burst, [str, int, int, str]),
        "fill-conns": (fill_conns, [str, int, int]),
        "serve-digest": (serve_digest, [str, int]),
        "half-close": (half_close, [str, int, int]),
    }
    if cmd not in table or len(args) != len(table[cmd][1]):
        sys.exit(__doc__)
    fn, types = table[cmd]
    fn(*[t(a) for t, a in zip(types, args)])


if __name__ == "__main__":
    main()
