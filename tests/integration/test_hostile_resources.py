"""Hostile peers cannot make a node grow or wait without bound (DESIGN.md 6
and 11: bounded send queue, pre-handshake frame cap, ping rate).

Two masternodes, both producing. Against node1:
  * ping flood: a peer sends Pings as fast as node1 takes them and never
    reads the Pongs. node1 answers at most network.max_pings_per_second,
    so its send queue fills slowly and the peer is closed by the send-queue
    cap or the slow-peer rule; node1's RSS stays within a bound the whole
    time and the honest masternode stays connected;
  * half frames: 24 connections from 4 IPs each send a frame header announcing 4 MiB
    before any handshake, then half of it, then nothing. A frame before the
    handshake may not exceed the handshake's bound, so node1 closes each as
    "oversized" on its header, without reading (or buffering) the payload;
    RSS stays bounded;
  * after both, node1's RSS is back near where it started, and the two
    masternodes are on one growing chain."""

import time

from harness import TestRun, expect, expect_eq, poll
from hostile import HostilePeer
from nodes import running_testnet, wait_same_tip
from procfs import asan_rss_allowance_mb, rss_kb

ASAN_ALLOWANCE_MB = asan_rss_allowance_mb()  # 0 in a normal build; bounds ASan's quarantine
FLOOD_SECONDS = 20
HALF_FRAMES = 24
HALF_FRAME_IPS = ["127.0.0.52", "127.0.0.53", "127.0.0.54", "127.0.0.55"]
FRAME_BYTES = 4 << 20
GROWTH_MB = 48 + ASAN_ALLOWANCE_MB  # what an attack may add to node1's RSS while it lasts

t = TestRun("hostile resources")
state = {}


def setup():
    net = running_testnet(t, "net", 2, masternodes=2)
    n1 = net[1]
    n1.wait_height(2, 15.0)
    state.update(net=net, rss0=rss_kb(n1.proc.pid), height0=n1.height())
    t.note(f"node1 RSS at start {state['rss0'] / 1024:.1f} MiB")


t.check("two masternodes connected and producing", setup, required=True)


def watch_rss(node, until_done, timeout):
    """Samples node's RSS until until_done() or timeout; returns the peak in KiB."""
    peak = rss_kb(node.proc.pid)
    deadline = time.time() + timeout
    while not until_done() and time.time() < deadline:
        peak = max(peak, rss_kb(node.proc.pid))
        time.sleep(0.1)  # sampling interval, not synchronisation
    return max(peak, rss_kb(node.proc.pid))


def ping_flood():
    n1 = state["net"][1]
    hp = HostilePeer(t, n1.config, n1.listen, "ping-flood", bind="127.0.0.51", seconds=FLOOD_SECONDS + 10)
    hp.wait_event("connected", timeout=15.0)
    peak = watch_rss(n1, lambda: bool(hp.events("closed")), FLOOD_SECONDS + 10)
    closed = hp.wait_event("closed", timeout=5.0)
    grown = (peak - state["rss0"]) / 1024
    t.note(f"ping flood: {hp.total_sent('pings')} pings sent, closed by {closed.reason} ({closed.detail}) "
           f"after {closed.t:.1f}s; node1 RSS peak +{grown:.1f} MiB")
    expect_eq(closed.reason, "protocol_error", f"the reason node1 closed the flooder with ({closed.line})")
    expect(grown <= GROWTH_MB, f"node1's RSS grew by at most {GROWTH_MB} MiB during the flood", f"{grown:.1f} MiB")
    hp.finish(timeout=10.0)  # its only connection ended: it exits by itself (a SIGTERM now could race its exit)


t.check("a ping flood that never reads is closed, with node1's RSS bounded", ping_flood)


def half_frames():
    n1 = state["net"][1]
    per_ip = HALF_FRAMES // len(HALF_FRAME_IPS)  # within network.max_per_ip handshakes per IP
    tools = [HostilePeer(t, n1.config, n1.listen, "half-frame", bind=ip, count=per_ip, frame_bytes=FRAME_BYTES,
                         seconds=30) for ip in HALF_FRAME_IPS]
    peak = watch_rss(n1, lambda: sum(len(hp.events("closed")) for hp in tools) >= HALF_FRAMES, 30.0)
    reasons = {}
    for hp in tools:
        hp.wait_events("closed", per_ip, timeout=5.0)
        for r, n in hp.closes().items():
            reasons[r] = reasons.get(r, 0) + n
    grown = (peak - state["rss0"]) / 1024
    slowest = max(e.t for hp in tools for e in hp.events("closed"))
    t.note(f"half frames: closes {reasons}, the last after {slowest:.2f}s; node1 RSS peak +{grown:.1f} MiB")
    expect_eq(reasons, {"oversized": HALF_FRAMES}, "every half frame closed as oversized on its header")
    expect(grown <= GROWTH_MB, f"node1's RSS grew by at most {GROWTH_MB} MiB", f"{grown:.1f} MiB")
    for hp in tools:
        hp.finish(timeout=10.0)  # every connection ended: each exits by itself


t.check(f"{HALF_FRAMES} half frames of {FRAME_BYTES >> 20} MiB before the handshake are closed as oversized",
        half_frames)


def recovered():
    net = state["net"]
    n1 = net[1]
    limit_kb = state["rss0"] + (16 + ASAN_ALLOWANCE_MB) * 1024
    poll(lambda: (rss_kb(n1.proc.pid) <= limit_kb, f"{rss_kb(n1.proc.pid) / 1024:.1f} MiB"), 15.0,
         f"node1's RSS back within 16 MiB of its start ({state['rss0'] / 1024:.1f} MiB)")
    expect(net[2].pubkey in n1.peer_ids(), "node2 still connected to node1", n1.peer_ids())
    h = wait_same_tip([net[1], net[2]], 15.0, "both masternodes on one tip")[0]
    expect(h > state["height0"], f"the chain grew past {state['height0']}", h)


t.check("afterwards node1's memory is back, and both masternodes share a growing chain", recovered)
t.finish()
