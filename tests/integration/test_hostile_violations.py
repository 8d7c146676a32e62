"""Protocol violations are charged to the connection's node id and source IP
(DESIGN.md 6 and 11), whether or not the peer announces a listen address.

Two masternodes and a regular node. Against node1:
  * one key from 127.0.0.41, no listen port, a bad-checksum frame after the
    handshake, 3 rounds: the key is banned and its later handshakes are
    refused as banned;
  * a fresh key for every round from 127.0.0.42, 11 rounds: rotating keys
    does not escape, the IP is refused once its misbehaviour reaches
    peer_quality.ip_ban_threshold (-100: four violations of -25), so at
    most 4 rounds reach a handshake and the violation;
  * 300 NewBlocks an hour in the future from 127.0.0.43: the peer is banned
    within a few of them and node1 logs them in at most two lines;
  * node2 and node3 stay connected and on one tip, and node1 keeps growing."""

import math

from harness import TestRun, expect, poll
from hostile import HostilePeer
from nodes import running_testnet, wait_same_tip

ROTATE_ROUNDS = 11
IP_THRESHOLD_ROUNDS = math.ceil(100 / 25)

t = TestRun("hostile violations")
state = {}


def setup():
    net = running_testnet(t, "net", 3, masternodes=2)
    state["net"] = net
    state["height0"] = net[1].height()


t.check("three nodes (two masternodes) connected", setup, required=True)


def banned_ids(node):
    return {b["node_id"] for b in node.get_ok("/bans")["bans"]}


def one_key_no_listen_port():
    n1 = state["net"][1]
    hp = HostilePeer(t, n1.config, n1.listen, "violate", bind="127.0.0.41", times=3)
    hp.finish(timeout=60.0)
    keys = {e.key for e in hp.events("connected")}
    expect(len(keys) == 1, "one key for every round", keys)
    poll(lambda: (keys <= banned_ids(n1), sorted(banned_ids(n1))), 10.0, "the violator's key banned on node1")
    fails = [e.label for e in hp.events("fail")]
    t.note(f"closes {hp.closes()}, fails {fails}")
    expect(hp.closes().get("bad_checksum", 0) >= 1, "node1 closed the violation with bad_checksum", hp.closes())


t.check("a key with no listen port that breaks the protocol is banned", one_key_no_listen_port)


def rotating_keys_one_ip():
    n1 = state["net"][1]
    hp = HostilePeer(t, n1.config, n1.listen, "violate", bind="127.0.0.42", random_key=True, times=ROTATE_ROUNDS)
    hp.finish(timeout=120.0)
    handshakes = len(hp.events("connected"))
    violations = hp.closes().get("bad_checksum", 0)
    t.note(f"{ROTATE_ROUNDS} rounds with fresh keys: {handshakes} handshakes, closes {hp.closes()}, "
           f"fails {[e.label for e in hp.events('fail')]}")
    expect(violations >= 1, "node1 closed the violations with bad_checksum", hp.closes())
    expect(handshakes <= IP_THRESHOLD_ROUNDS,
           f"at most {IP_THRESHOLD_ROUNDS} handshakes from the IP before it is refused", handshakes)


t.check(f"fresh keys from one IP: refused after {IP_THRESHOLD_ROUNDS} violations", rotating_keys_one_ip)


def invalid_block_lines(node):
    return [ln for ln in node.log().splitlines() if "sent a block from" in ln or "sent an invalid block" in ln]


def far_future_blocks():
    n1 = state["net"][1]
    before = invalid_block_lines(n1)
    hp = HostilePeer(t, n1.config, n1.listen, "far-future", bind="127.0.0.43", times=300)
    hp.finish(timeout=60.0)
    keys = {e.key for e in hp.events("connected")}
    poll(lambda: (keys <= banned_ids(n1), sorted(banned_ids(n1))), 10.0, "the far-future peer banned on node1")
    lines = invalid_block_lines(n1)
    logged = len(lines) - len(before)
    t.note(f"far-future: sent {hp.total_sent('new_blocks')} NewBlocks, closes {hp.closes()}, {logged} log lines")
    expect(logged <= 2, "at most two log lines for the whole burst", lines[-5:])


t.check("300 NewBlocks from an hour ahead: banned, and logged in at most two lines", far_future_blocks)


def honest_unaffected():
    net = state["net"]
    ids = net[1].peer_ids()
    for other in (net[2], net[3]):
        expect(other.pubkey in ids, f"{other.name} still connected to node1", len(ids))
    net[1].wait_height(state["height0"] + 2, 15.0)
    wait_same_tip([net[1], net[2], net[3]], 15.0, "all three honest nodes on one tip")


t.check("node2 and node3 stay connected; the chain grows on one tip", honest_unaffected)
t.finish()
