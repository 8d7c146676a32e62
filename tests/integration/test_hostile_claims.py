"""Hostile peers claim a chain nobody shows (DESIGN.md 11, "claims are hints").

Three nodes, two of them masternodes (500 ms slots, so each has a slot a
second). Twenty hostile peers (tests/tools/hostile_peer --mode claim), five
from each of four loopback IPs, complete the real handshake with node1
claiming height 1,000,000,000 and announcing unsigned headers of a tip
nobody has; they never answer a request. While they stay:
  * node1 keeps producing in at least 80 % of its slots (a claim alone
    never pauses production);
  * node1's /health never says "syncing" (no chain was shown), and stays
    "ok";
  * node1 asked them for headers and counted their stalls (the attack was
    real), and /peers shows their claimed height apart from what they
    showed (0);
  * node2 and node3 stay connected and on node1's tip."""

import time

from harness import TestRun, expect, expect_eq, poll
from hostile import HostilePeer
from nodes import running_testnet, wait_same_tip
from prom import metric_value

ATTACK_IPS = ["127.0.0.21", "127.0.0.22", "127.0.0.23", "127.0.0.24"]
PER_IP = 5
CLAIM = 1_000_000_000
WINDOW = 15.0  # seconds of production measured under attack

t = TestRun("hostile claims")
state = {}


def setup():
    net = running_testnet(t, "net", 3, masternodes=2, block_time="500ms")
    net[1].wait_height(2, 15.0)
    state["net"] = net


t.check("three nodes (two masternodes) connected and producing", setup, required=True)


def attack():
    n1 = state["net"][1]
    attackers = [
        HostilePeer(t, n1.config, n1.listen, "claim", bind=ip, count=PER_IP, claim_height=CLAIM, announce=True)
        for ip in ATTACK_IPS
    ]
    for a in attackers:
        a.wait_events("connected", PER_IP, timeout=20.0)
    state["attackers"] = attackers
    poll(lambda: (len(n1.peers()["peers"]) >= 2 + len(ATTACK_IPS) * PER_IP, len(n1.peers()["peers"])), 10.0,
         f"node1 to list its 2 honest peers and {len(ATTACK_IPS) * PER_IP} attackers")


t.check(f"{len(ATTACK_IPS) * PER_IP} hostile peers from {len(ATTACK_IPS)} IPs connect claiming height {CLAIM}",
        attack, required=True)


def own_slots_and_blocks(n1, tip_a, tip_b):
    """node1's slots after tip_a's slot up to tip_b's, and the blocks node1
    produced in them, read off the chain (2 masternodes: node1 owns the slots
    of one parity, learned from a block node1 produced)."""
    mine = []
    parity = None
    for h in range(tip_a["height"] + 1, tip_b["height"] + 1):
        b = n1.get_ok(f"/chain/block/{h}")
        if b["producer"] == n1.pubkey:
            mine.append(b["slot"])
            parity = b["slot"] % 2
    if parity is None:  # node1 produced nothing: any parity gives the same count within one
        parity = (tip_a["slot"] + 1) % 2
    slots = sum(1 for s in range(tip_a["slot"] + 1, tip_b["slot"] + 1) if s % 2 == parity)
    return slots, len(mine)


def keeps_producing():
    n1 = state["net"][1]
    tip_a = n1.get_ok("/chain/tip")
    health = []
    deadline = time.time() + WINDOW
    while time.time() < deadline:  # a sampling loop, not a wait: it runs the whole window
        _, h = n1.health()
        health.append((h["status"], h["syncing"]))
        time.sleep(0.5)
    tip_b = n1.get_ok("/chain/tip")
    slots, produced = own_slots_and_blocks(n1, tip_a, tip_b)
    t.note(f"node1 produced {produced} blocks in its {slots} slots between heights {tip_a['height']} and "
           f"{tip_b['height']} under attack; /health samples {len(health)}, statuses {sorted({s for s, _ in health})}")
    expect(slots >= 5, "at least 5 of node1's slots in the window", slots)
    expect(produced >= 0.8 * slots, f"node1 produced in >= 80% of its {slots} slots", produced)
    expect(all(not syncing for _, syncing in health), "/health never 'syncing' for a chain nobody showed", health)
    expect(all(s == "ok" for s, _ in health), "/health 'ok' throughout", health)


t.check("node1 produces in at least 80 % of its slots, and /health never says syncing", keeps_producing)


def attack_was_real():
    n1 = state["net"][1]
    stalls = metric_value(n1.metrics(), "tnode_sync_stalls_total")
    expect(stalls >= 1, "node1 asked the claimers for headers and counted their stalls", stalls)
    claimers = [p for p in n1.peers()["peers"] if p["claimed_height"] >= CLAIM]
    expect(len(claimers) >= 1, "claimers among node1's peers", len(claimers))
    expect(all(p["height"] == 0 for p in claimers), "their shown height is 0 (claims are hints)",
           [(p["node_id"][:8], p["height"], p["claimed_height"]) for p in claimers])
    _, h = n1.health()
    expect(h["sync"]["target_height"] < CLAIM, "the sync target is not the claim", h["sync"])


t.check("the claimers were asked and stalled; /peers shows claimed and shown heights apart", attack_was_real)


def honest_unaffected():
    net = state["net"]
    n1 = net[1]
    ids = n1.peer_ids()
    for other in (net[2], net[3]):
        expect(other.pubkey in ids, f"{other.name} still connected to node1", len(ids))
    wait_same_tip([net[1], net[2], net[3]], 10.0, "all three honest nodes on one tip")
    for a in state["attackers"]:
        a.stop()


t.check("node2 and node3 stay connected and on node1's tip", honest_unaffected)
t.finish()
