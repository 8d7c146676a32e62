"""200 connections from one IP (DESIGN.md 6 resource limits: per-IP
inbound cap, cap on handshakes in progress; "Nothing a peer sends can ...
grow its memory without bound").

node1 and node2 are connected and producing. Then 200 TCP connections are
opened to node1 at once from 127.0.0.2 (another loopback address), none of
which ever sends a byte:
  * at most max_per_ip (8) of them are held open as handshakes in
    progress; every other one is refused (tnode_handshake_failures_total
    {reason="per_ip_limit"} >= 192) and closed by node1;
  * the held ones are closed when handshake_timeout (2 s here) runs out;
  * node2 stays connected to node1 and on its tip throughout;
  * node1's RSS grows by less than 32 MiB."""

import socket
import time

from harness import TestRun, expect, expect_eq, poll
from nodes import start_testnet, wait_same_tip
from procfs import asan_rss_allowance_mb, rss_kb
from prom import metric_value

CONNECTIONS = 200
FLOOD_IP = "127.0.0.2"

t = TestRun("200 connections from one IP")
state = {}


# Bounds ASan's quarantine for the nodes started here (0 in a normal build).
ASAN_ALLOWANCE_MB = asan_rss_allowance_mb()
ASAN = ASAN_ALLOWANCE_MB > 0


def setup():
    net = start_testnet(t, "net", 2, masternodes=1, block_time="1s")
    n1, n2 = net[1], net[2]
    n1.start("network.handshake_timeout=2s")
    n2.start()
    net.wait_http()
    net.wait_connected(15.0)
    state.update(net=net, n1=n1, n2=n2, rss_before=rss_kb(n1.proc.pid))


t.check("node1 and node2 connected", setup, required=True)


def open_flood():
    n1 = state["n1"]
    host, port = n1.listen.rsplit(":", 1)
    socks = []
    for _ in range(CONNECTIONS):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((FLOOD_IP, 0))
        s.settimeout(5)
        s.connect((host, int(port)))
        s.setblocking(False)
        socks.append(s)
    state["socks"] = socks

    def refused():
        v = metric_value(n1.metrics(), "tnode_handshake_failures_total", reason="per_ip_limit")
        return (v >= CONNECTIONS - 8, v)

    poll(refused, 10.0, f'per_ip_limit refusals >= {CONNECTIONS - 8}')


t.check(f"{CONNECTIONS} silent connections from {FLOOD_IP}: all but max_per_ip refused", open_flood,
        required=True)


def status_of(s):
    try:
        data = s.recv(65536)
        return "closed" if data == b"" else "said something"
    except BlockingIOError:
        return "open"
    except OSError:
        return "closed"


def held_then_closed():
    socks = state["socks"]

    def few_open():
        states = [status_of(s) for s in socks]
        return (states.count("open") <= 8, {k: states.count(k) for k in set(states)})

    poll(few_open, 5.0, "at most max_per_ip (8) flood connections still open")

    def all_closed():
        states = [status_of(s) for s in socks]
        return (states.count("open") == 0, {k: states.count(k) for k in set(states)})

    poll(all_closed, 10.0, "every flood connection closed once handshake_timeout (2 s) ran out")
    for s in socks:
        s.close()


t.check("the held ones are closed after handshake_timeout", held_then_closed)


def others_fine():
    n1, n2 = state["n1"], state["n2"]
    expect(n2.pubkey in n1.peer_ids(), "node2 still connected to node1", n1.peer_ids())
    h, _ = n1.tip()
    n1.wait_height(h + 1, 10.0)
    wait_same_tip([n1, n2], 5.0, "node2 on node1's tip")
    grown = (rss_kb(n1.proc.pid) - state["rss_before"]) / 1024
    t.note(f"node1 RSS grew by {grown:.1f} MiB")
    limit = 32 + ASAN_ALLOWANCE_MB
    expect(grown < limit, f"node1's RSS growth < {limit} MiB" + (" (with the ASan allowance)" if ASAN else ""),
           f"{grown:.1f} MiB")
    disconnects = metric_value(n1.metrics(), "tnode_disconnects_total", reason="per_ip_limit")
    expect_eq(disconnects, 0.0, "connected peers closed for per_ip_limit (none: refusals are not disconnects)")


t.check("node2 unaffected (connected, same tip); node1's memory bounded", others_fine)
t.finish()
