"""Bad bytes (TESTING.md "bad peers"; DESIGN.md 5): raw TCP connections to a
live node that send what no peer should, before any handshake:
  (a) 64 random bytes                    -> Reject{bad_magic}
  (b) right magic, length 0xFFFFFFF0     -> Reject{oversized} (before any allocation)
  (c) right magic, Ping, 8 bytes, wrong checksum -> Reject{bad_checksum}
  (d) a header announcing 8 bytes, 3 sent, then our FIN -> counted, no reply needed
  (e) an unknown message type            -> Reject{unknown_type}
  (f) a valid Ping instead of a Hello    -> Reject{handshake_order}
Each Reject is a well-formed frame (the node's magic, a valid checksum, a
Reject payload naming the code) and is followed by a graceful close (EOF),
never a reset. Meanwhile node1 keeps its two peers on the very same
connections (same connected_since and session), stays healthy, and counts
each failure under its reason."""

import os
import socket
import struct
import time

from harness import CheckFailed, TestRun, expect, expect_eq, poll
from nodes import start_testnet
from prom import by_label, metric_value
from wire import FRAME_HEADER, MSG, REJECT_CODES, checksum, decode_reject, encode_frame, network_magic, read_frame

N = 3
REPLY_TIMEOUT = 5.0  # seconds to wait for the Reject and the close

t = TestRun("bad bytes")
state = {}


def setup():
    net = start_testnet(t, "net", N)
    state["net"] = net
    net.start_all()
    net.wait_connected(15.0)
    n1 = net[1]
    state["peers_before"] = {p["node_id"]: (p["connected_since"], p["session"], p["direction"])
                             for p in n1.peers()["peers"]}
    state["magic"] = network_magic("testnet")
    state["metrics_before"] = n1.metrics()


t.check(f"{N} masternodes connected", setup, required=True)


def exchange(payload_bytes, close_after_send=False):
    """Sends raw bytes to node1's p2p port; returns (frames, ending) where
    frames are the frames read until the node closed and ending is "eof" or
    "reset" (or "timeout")."""
    n1 = state["net"][1]
    frames = []
    with socket.create_connection(("127.0.0.1", n1.p2p_port), timeout=REPLY_TIMEOUT) as s:
        s.sendall(payload_bytes)
        if close_after_send:
            s.shutdown(socket.SHUT_WR)
        buf = b""
        ending = "timeout"
        deadline = time.monotonic() + REPLY_TIMEOUT
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                ending = "reset"
                break
            except socket.timeout:
                break
            if not chunk:
                ending = "eof"
                break
            buf += chunk
        while len(buf) >= FRAME_HEADER.size:
            magic, mtype, length, csum = FRAME_HEADER.unpack_from(buf)
            if len(buf) < FRAME_HEADER.size + length:
                frames.append(("truncated", magic, mtype, length, buf[FRAME_HEADER.size:]))
                buf = b""
                break
            frames.append(("frame", magic, mtype, length, buf[FRAME_HEADER.size:FRAME_HEADER.size + length], csum))
            buf = buf[FRAME_HEADER.size + length:]
        if buf:
            frames.append(("junk", buf))
    return frames, ending


def expect_reject(frames, ending, code_name, what):
    expect(len(frames) == 1 and frames[0][0] == "frame", f"exactly one complete frame in reply to {what}", frames)
    _, magic, mtype, length, payload, csum = frames[0]
    expect_eq(magic, state["magic"], f"magic of the reply to {what}")
    expect_eq(mtype, MSG["reject"], f"message type of the reply to {what} (3 = Reject)")
    expect_eq(csum, checksum(payload), f"checksum of the reply to {what}")
    code, detail = decode_reject(payload)
    expect_eq(REJECT_CODES.get(code, code), code_name, f"Reject code in reply to {what} (detail {detail!r})")
    expect_eq(ending, "eof", f"how the node ended the connection after rejecting {what} (graceful close = eof)")
    return detail


def garbage():
    rnd = os.urandom(64)
    while struct.unpack_from("<I", rnd)[0] == state["magic"]:
        rnd = os.urandom(64)
    frames, ending = exchange(rnd)
    detail = expect_reject(frames, ending, "bad_magic", "64 random bytes")
    t.note(f"(a) detail: {detail!r}")


t.check("(a) 64 random bytes: Reject{bad_magic}, then EOF", garbage)


def oversized():
    header = FRAME_HEADER.pack(state["magic"], MSG["hello"], 0xFFFFFFF0, 0)
    frames, ending = exchange(header)
    detail = expect_reject(frames, ending, "oversized", "a Hello header announcing 0xFFFFFFF0 bytes")
    t.note(f"(b) detail: {detail!r}")


t.check("(b) header with length 0xFFFFFFF0: Reject{oversized}, then EOF", oversized)


def bad_checksum():
    payload = struct.pack("<Q", 0x1122334455667788)
    wrong = checksum(payload) ^ 0x5A5A5A5A
    frames, ending = exchange(FRAME_HEADER.pack(state["magic"], MSG["ping"], len(payload), wrong) + payload)
    detail = expect_reject(frames, ending, "bad_checksum", "a Ping with a wrong checksum")
    t.note(f"(c) detail: {detail!r}")


t.check("(c) Ping with a wrong checksum: Reject{bad_checksum}, then EOF", bad_checksum)


def truncated():
    n1 = state["net"][1]
    before = n1.metrics()
    payload = struct.pack("<Q", 7)
    frame = encode_frame(state["magic"], MSG["ping"], payload)
    frames, ending = exchange(frame[:FRAME_HEADER.size + 3], close_after_send=True)
    t.note(f"(d) the node answered {frames or 'nothing'} and ended with {ending}")
    expect(ending in ("eof", "reset"), "the node to close the connection after our FIN", ending)
    expect(all(f[0] == "frame" and f[2] == MSG["reject"] for f in frames), "nothing but a Reject (if anything)",
           frames)
    total_before = metric_value(before, "tnode_handshakes_total", result="failed")

    def counted():
        m = n1.metrics()
        now = metric_value(m, "tnode_handshakes_total", result="failed")
        return (now >= total_before + 1, f"failed handshakes {total_before:g} -> {now:g}; reasons "
                                         f"{by_label(m, 'tnode_handshake_failures_total', 'reason')}")

    poll(counted, 5.0, "tnode_handshakes_total{result=\"failed\"} to grow by one for the truncated frame")
    after = by_label(n1.metrics(), "tnode_handshake_failures_total", "reason")
    grew = {k: v - by_label(before, "tnode_handshake_failures_total", "reason").get(k, 0) for k, v in after.items()}
    t.note(f"(d) counted as {({k: v for k, v in grew.items() if v}) or 'nothing'}")


t.check("(d) truncated frame then close: the connection is closed and counted as a failed handshake", truncated)


def unknown_type():
    frames, ending = exchange(encode_frame(state["magic"], 999, b"\x00" * 4))
    expect_reject(frames, ending, "unknown_type", "a frame of type 999")


t.check("(e) unknown message type 999: Reject{unknown_type}, then EOF", unknown_type)


def ping_first():
    frames, ending = exchange(encode_frame(state["magic"], MSG["ping"], struct.pack("<Q", 42)))
    expect_reject(frames, ending, "handshake_order", "a valid Ping before any Hello")


t.check("(f) a valid Ping instead of a Hello: Reject{handshake_order}, then EOF", ping_first)


def counted_by_reason():
    n1 = state["net"][1]
    before = by_label(state["metrics_before"], "tnode_handshake_failures_total", "reason")
    after = by_label(n1.metrics(), "tnode_handshake_failures_total", "reason")
    grew = {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)}
    for reason in ("bad_magic", "oversized", "bad_checksum", "unknown_type", "handshake_order"):
        expect_eq(grew.get(reason, 0), 1, f"growth of tnode_handshake_failures_total{{reason=\"{reason}\"}}")


t.check("node1 counts each: bad_magic, oversized, bad_checksum, unknown_type, handshake_order +1", counted_by_reason)


def still_serving():
    net = state["net"]
    n1 = net[1]
    now = {p["node_id"]: (p["connected_since"], p["session"], p["direction"]) for p in n1.peers()["peers"]}
    expect_eq(now, state["peers_before"], "node1's peers (connected_since, session, direction) before vs after")
    status, h = n1.health()
    expect_eq((status, h.get("status"), h.get("peers", {}).get("masternodes")), (200, "ok", N - 1),
              "node1 /health (status code, status, masternodes)")
    ok, seen = net.connectivity()
    expect(ok, "the whole mesh intact", seen)
    for n in net:
        expect(n.running(), f"{n.name} running", n.proc.returncode)


t.check("node1 keeps the same 2 connections, /health 200 ok, every node running", still_serving)


def many_at_once():
    # A burst of bad connections in parallel: every one is answered and closed,
    # and node1 still serves (no slot or handshake leak).
    n1 = state["net"][1]
    socks = []
    try:
        for i in range(40):
            s = socket.create_connection(("127.0.0.1", n1.p2p_port), timeout=REPLY_TIMEOUT)
            socks.append(s)
        for s in socks:
            s.sendall(os.urandom(1) + b"\xff\xff\xff" + os.urandom(60))
        endings, codes = {}, {}
        for s in socks:
            data, ending = b"", "timeout"
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        ending = "eof"
                        break
                    data += chunk
            except ConnectionResetError:
                ending = "reset"
            except socket.timeout:
                pass
            kind = "reject" if len(data) >= FRAME_HEADER.size and FRAME_HEADER.unpack_from(data)[1] == 3 else "other"
            if kind == "reject":
                try:
                    code = REJECT_CODES.get(decode_reject(data[FRAME_HEADER.size:])[0])
                    codes[code] = codes.get(code, 0) + 1
                except CheckFailed:
                    kind = "bad reject"
            endings[(kind, ending)] = endings.get((kind, ending), 0) + 1
        t.note(f"40 garbage connections: {endings}; reject codes {codes}")
        expect(set(codes) <= {"bad_magic", "per_ip_limit", "capacity"},
               "Reject codes bad_magic (or per_ip_limit/capacity beyond the handshake limits)", codes)
        expect_eq(endings, {("reject", "eof"): 40}, "(reply, ending) of 40 parallel garbage connections")
    finally:
        for s in socks:
            s.close()
    status, h = n1.health()
    expect_eq((status, h.get("status")), (200, "ok"), "node1 /health after the burst")
    poll(lambda: (n1.get_ok("/health")["peers"]["masternodes"] == N - 1, "peers changed"), 2.0,
         "node1 to keep its peers")


t.check("40 parallel garbage connections: each gets Reject and EOF; node1 still healthy", many_at_once)


def flood_does_not_starve_others():
    """DESIGN.md 6: max_per_ip (8) handshakes per address, 32 in all. One
    address that holds 8 silent connections (admitted: they wait for a
    Hello) plus 24 more (refused with per_ip_limit; we keep them open, so the
    node lingers on them up to 1 s) must not use up the handshake slots of
    everybody else: a connection from another address (127.0.0.2) right then
    must still be read and judged on its own bytes (bad_magic here), not
    refused with capacity."""
    n1 = state["net"][1]
    held = []

    def from_other_address():
        # Garbage and our FIN at once, so the node's close does not linger
        # on this connection; then one HTTP round trip on the node's single
        # event loop, after which that close has been handled.
        with socket.socket() as other:
            other.settimeout(REPLY_TIMEOUT)
            other.bind(("127.0.0.2", 0))
            other.connect(("127.0.0.1", n1.p2p_port))
            other.sendall(b"\xff\xff\xff\xff" + os.urandom(60))
            other.shutdown(socket.SHUT_WR)
            _, mtype, _, _, payload = read_frame(other)
            other.recv(1)
        n1.get_ok("/health")
        return REJECT_CODES.get(decode_reject(payload)[0]) if mtype == MSG["reject"] else f"type {mtype}"

    try:
        for _ in range(8):
            held.append(socket.create_connection(("127.0.0.1", n1.p2p_port), timeout=REPLY_TIMEOUT))
        try:
            control = from_other_address()
        except OSError as e:
            t.note(f"not run: cannot connect from 127.0.0.2 ({e})")
            return
        expect_eq(control, "bad_magic", "Reject code for garbage from 127.0.0.2 while 8 silent handshakes from "
                  "127.0.0.1 are pending (control)")
        refused = {}
        for _ in range(24):
            s = socket.create_connection(("127.0.0.1", n1.p2p_port), timeout=REPLY_TIMEOUT)
            held.append(s)
            _, mtype, _, _, payload = read_frame(s)  # the refusal, sent at once
            code = REJECT_CODES.get(decode_reject(payload)[0]) if mtype == MSG["reject"] else f"type {mtype}"
            refused[code] = refused.get(code, 0) + 1
        got = from_other_address()
        t.note(f"from 127.0.0.1: 8 silent (127.0.0.2 then got {control}) + 24 refused as {refused}; "
               f"127.0.0.2 then got Reject{{{got}}}")
        expect_eq(refused, {"per_ip_limit": 24}, "the refusals of connections 9..32 from 127.0.0.1")
        expect_eq(got, "bad_magic", "Reject code for garbage from 127.0.0.2 once 24 refused connections from "
                  "127.0.0.1 linger (capacity = refused connections count as handshakes in progress and fill "
                  "the global cap of 32)")
    finally:
        for s in held:
            s.close()
    poll(lambda: (n1.get_ok("/health")["peers"]["masternodes"] == N - 1, "peers changed"), 2.0,
         "node1 to keep its peers")


t.check("a flood from one address (8 silent + 24 refused, held) does not make the node refuse another address",
        flood_does_not_starve_others)
t.finish()
