"""Start-up storm (issue 12): 64 hosts in the lab (8 masternodes) started at
once, each dialling every other (network.max_outbound = 63; the rest
default): 2016 connections, each pair dialling both ways at once, against
the default max_inbound (64) and the handshake cap.

  * the network forms a full mesh: every node has the other 63 as peers;
  * refusals are "try again shortly", not failures: after the storm no
    masternode address has an open breaker or is parked in any address book;
  * refusals by reason are reported (tnode_handshake_failures_total and
    tnode_disconnects_total, summed over all nodes), as is the time from
    `lab up` to a formed network: a figure, not a pass/fail bound (on 2
    cores 64 nodes share 2 CPUs)."""

import time

from harness import TestRun, expect, poll
from lab import Lab

N = 64
MASTERNODES = 8
FORM_DEADLINE = 60.0

t = TestRun("fault: 64 nodes started at once")
lab = Lab.or_not_run(t)
state = {}


def peer_map():
    """{node index: set of connected node ids}."""
    peers = {}
    for i in range(1, N + 1):
        _, body = lab.http_json(i, "/peers")
        peers[i] = {p["node_id"] for p in body["peers"]}
    return peers


def up():
    t0 = time.monotonic()
    lab.up(N, masternodes=MASTERNODES, block_time="2s", sets=[f"network.max_outbound={N - 1}"])
    state["up_returned"] = time.monotonic() - t0
    state["ids"] = {}
    for i in range(1, N + 1):
        _, h = lab.http_json(i, "/health")
        state["ids"][h["node_id"]] = i
    state["t0"] = t0


t.check(f"up {N} ({MASTERNODES} masternodes)", up, required=True)


def forms():
    def formed():
        short = {i: len(p) for i, p in peer_map().items() if len(p) != N - 1}
        return not short, f"{len(short)} nodes short of {N - 1} peers: {dict(list(short.items())[:8])}"

    poll(formed, FORM_DEADLINE, f"a full mesh: every node with {N - 1} peers", interval=0.5)
    took = time.monotonic() - state["t0"]
    t.note(f"`lab up` returned in {state['up_returned']:.1f}s; network formed {took:.1f}s after it started")


t.check(f"the network forms a full mesh ({N * (N - 1) // 2} connections)", forms, required=True)


def refusals():
    failures, closes = {}, {}
    for i in range(1, N + 1):
        for (name, labels), v in lab.metrics(i).items():
            if v <= 0:
                continue
            reason = dict(labels).get("reason")
            if name == "tnode_handshake_failures_total":
                failures[reason] = failures.get(reason, 0) + v
            elif name == "tnode_disconnects_total":
                closes[reason] = closes.get(reason, 0) + v
    t.note(f"handshake failures by reason (all nodes): {failures or 'none'}")
    t.note(f"disconnects by reason (all nodes): {closes or 'none'}")
    mn_addresses = {f"10.77.0.{i}:24100" for i in range(1, MASTERNODES + 1)}
    stuck = []
    for i in range(1, N + 1):
        _, book = lab.http_json(i, "/addrbook")
        for a in book["addresses"]:
            if a["address"] in mn_addresses and (a["breaker"] != "closed" or a["parked"]):
                stuck.append(f"n{i}->{a['address']} breaker {a['breaker']} parked {a['parked']}")
    expect(not stuck, "no masternode address with an open breaker or parked after the storm", stuck[:10])


t.check("refusals reported by reason; no masternode breaker open or parked", refusals)
t.finish()
