"""A hostile peer on an honest peer's IP announces the honest peer's port and
misbehaves (DESIGN.md 11, "a penalty is charged to the connection, never to
an address someone else may own").

Three nodes, two of them masternodes; node3 is a regular node listening on
127.0.0.1. A hostile peer (tests/tools/hostile_peer --mode hijack) connects
to node1 from 127.0.0.1, puts node3's listen port in its Hello, and sends a
frame with a bad checksum, three times. Then, on node1:
  * the attacker's node id is banned;
  * node3's address-book entry keeps node3's node id and class, is not
    banned, and its score did not drop;
  * node3 is not banned, stays connected, and stays on one tip with the
    masternodes."""

from harness import TestRun, expect, expect_eq, poll
from hostile import HostilePeer
from nodes import running_testnet, wait_same_tip

ROUNDS = 3

t = TestRun("hostile hijack")
state = {}


def setup():
    net = running_testnet(t, "net", 3, masternodes=2)
    n1, n3 = net[1], net[3]
    poll(lambda: (n1.address(n3.listen)["node_id"] == n3.pubkey, n1.address(n3.listen)), 15.0,
         f"node1's entry for node3 ({n3.listen}) verified with node3's id")
    state["net"] = net
    state["before"] = n1.address(n3.listen)


t.check("three nodes connected; node1 knows node3's address with node3's id", setup, required=True)


def attack():
    net = state["net"]
    n1, n3 = net[1], net[3]
    host = n3.listen.rsplit(":", 1)[0]
    hp = HostilePeer(t, n1.config, n1.listen, "hijack", bind=host, listen_port=n3.p2p_port, times=ROUNDS)
    summary = hp.finish(timeout=60.0)
    keys = {e.key for e in hp.events("connected")}
    t.note(f"hijack from {host} announcing port {n3.p2p_port}: closes {summary.get('closes')}, keys {len(keys)}")
    expect(len(keys) >= 1, "the attacker completed at least one handshake", hp.describe())
    state["keys"] = keys


t.check(f"a peer on node3's IP announces node3's port and sends {ROUNDS} bad frames", attack, required=True)


def attacker_banned():
    n1 = state["net"][1]
    poll(lambda: (state["keys"] <= {b["node_id"] for b in n1.get_ok("/bans")["bans"]},
                  n1.get_ok("/bans")["bans"]), 10.0, "the attacker's node id banned on node1")


t.check("the attacker's node id is banned", attacker_banned)


def honest_entry_untouched():
    net = state["net"]
    n1, n3 = net[1], net[3]
    before, after = state["before"], n1.address(n3.listen)
    expect_eq(after["node_id"], n3.pubkey, "node3's entry node id")
    expect_eq(after["class"], before["class"], "node3's entry class")
    expect_eq(after["banned"], False, "node3's entry banned flag")
    expect(after["score"] >= before["score"] - 1.0, f"node3's entry score not lowered (was {before['score']})",
           after["score"])
    bans = {b["node_id"] for b in n1.get_ok("/bans")["bans"]}
    expect(n3.pubkey not in bans, "node3 not banned", sorted(bans))


t.check("node3's address-book entry, score and ban status are untouched", honest_entry_untouched)


def honest_connected():
    net = state["net"]
    n1, n3 = net[1], net[3]
    expect(n3.pubkey in n1.peer_ids(), "node3 still connected to node1", n1.peer_ids())
    wait_same_tip([net[1], net[2], net[3]], 15.0, "all three honest nodes on one tip")


t.check("node3 stays connected and on one tip", honest_connected)
t.finish()
