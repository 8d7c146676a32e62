"""Silent peer (issue 12): a peer that stops answering is noticed in
seconds, with the default keep-alive settings (ping_interval 5 s,
ping_timeout 5 s, idle_timeout 90 s).

Three masternodes connect; node3 is frozen with SIGSTOP. Its TCP
connections stay open and the kernel still acknowledges bytes, so only the
unanswered keep-alive ping can tell: node1 and node2 must close it as
`timeout` ("no answer to a ping") well before idle_timeout, within
ping_interval + ping_timeout + slack, /peers no longer lists it and
/health no longer counts it. SIGCONT: node3 is back in everyone's /peers."""

import os
import signal
import time

from harness import TestRun, expect, poll
from nodes import running_testnet
from prom import metric_value

SILENT_DEADLINE = 15.0  # ping_interval 5 s + ping_timeout 5 s + scheduling slack; idle_timeout is 90 s
BACK_DEADLINE = 15.0

t = TestRun("silent peer")
state = {}


def setup():
    state["net"] = running_testnet(t, "net", 3)


t.check("3 masternodes connected with default keep-alive settings", setup, required=True)


def freeze_and_notice():
    net = state["net"]
    victim = net[2]
    others = [net[0], net[1]]
    os.kill(victim.proc.pid, signal.SIGSTOP)
    # (SIGKILL at the harness's cleanup ends a stopped process too.)
    frozen_at = time.monotonic()

    def dropped():
        still = [n.name for n in others if victim.pubkey in n.peer_ids()]
        return (not still, f"node3 still in /peers of {still or 'nobody'}")

    poll(dropped, SILENT_DEADLINE, "node1 and node2 to drop the frozen node3", interval=0.1)
    took = time.monotonic() - frozen_at
    t.note(f"frozen node3 dropped by both peers {took:.1f}s after SIGSTOP (idle_timeout is 90s)")
    for n in others:
        closed = metric_value(n.metrics(), "tnode_disconnects_total", reason="timeout")
        expect(closed >= 1, f"{n.name}: tnode_disconnects_total{{reason=\"timeout\"}} >= 1", closed)
        expect("no answer to a ping" in n.log(), f"{n.name}'s log to say why it closed node3",
               n.log_tail(5))
        _, health = n.health()
        peers = health["peers"]
        expect(peers["masternodes"] == 1, f"{n.name}'s /health to count 1 masternode peer, not the silent one",
               peers)


t.check("a frozen peer is closed as timeout within ping_interval + ping_timeout", freeze_and_notice)


def thaw_and_return():
    net = state["net"]
    victim = net[2]
    os.kill(victim.proc.pid, signal.SIGCONT)
    thawed_at = time.monotonic()

    def back():
        missing = [n.name for n in (net[0], net[1]) if victim.pubkey not in n.peer_ids()]
        return (not missing, f"node3 missing from /peers of {missing}")

    poll(back, BACK_DEADLINE, "node3 back in node1's and node2's /peers after SIGCONT", interval=0.1)
    t.note(f"node3 back {time.monotonic() - thawed_at:.1f}s after SIGCONT")


t.check("after SIGCONT it is taken back", thaw_and_return)
t.finish()
