"""A hostile peer poisons the address book with gossip (DESIGN.md 11,
"gossip is a hint").

Three nodes, two of them masternodes. A hostile peer (tests/tools/hostile_peer
--mode gossip) connects to node1 and sends 10,000 made-up loopback addresses
(127.200-249.x.y, nothing listening) in unsolicited Peers messages, 3,000 of
them tagged with node2's id (a genesis masternode) and role masternode.
Then, on node1:
  * the address book stays within network.max_address_book, and the
    attacker's IP introduced at most network.max_addresses_per_source;
  * no gossiped entry is masternode-class or carries a node id: the
    masternode entries are exactly the genesis ones;
  * dial attempts stay under network.max_dials_per_second (plus the burst)
    while it lasts;
  * node2 and node3 stay connected and on one tip."""

import time

from harness import TestRun, expect, poll
from hostile import HostilePeer
from nodes import start_testnet, wait_same_tip
from prom import metric_series

ADDRESSES = 10_000
TAGGED = 3_000
BOOK = 256        # network.max_address_book for node1 (smaller than the default, so the bound is hit)
PER_SOURCE = 64   # network.max_addresses_per_source
DIALS = 5         # network.max_dials_per_second
WINDOW = 10.0     # seconds the dial rate is measured

t = TestRun("hostile gossip")
state = {}


def setup():
    net = start_testnet(t, "net", 3, masternodes=2)
    net[1].start(f"network.max_address_book={BOOK}", f"network.max_addresses_per_source={PER_SOURCE}",
                 f"network.max_dials_per_second={DIALS}")
    net[2].start()
    net[3].start()
    net.wait_http()
    net.wait_connected(15.0)
    state["net"] = net


t.check("three nodes (two masternodes) connected", setup, required=True)


def dial_attempts(node):
    return sum(metric_series(node.metrics(), "tnode_reconnect_attempts_total").values())


def attack():
    net = state["net"]
    n1 = net[1]
    before = dial_attempts(n1)
    since = time.time()
    hp = HostilePeer(t, n1.config, n1.listen, "gossip", bind="127.0.0.31", addresses=ADDRESSES,
                     tag_id=net[2].pubkey, tag_count=TAGGED, rate=50, seconds=WINDOW + 5)
    hp.wait_event("connected", timeout=15.0)
    state["hp"] = hp
    # Wait for the gossip to have been sent in full (the tool counts what it wrote).
    poll(lambda: (hp.total_sent("addresses") >= ADDRESSES, hp.total_sent("addresses")), WINDOW,
         f"the hostile peer to send {ADDRESSES} addresses")
    remaining = since + WINDOW - time.time()
    if remaining > 0:
        time.sleep(remaining)  # a measuring window, not a wait: the dial rate is read over WINDOW seconds
    elapsed = time.time() - since
    dials = dial_attempts(n1) - before
    state["dials"] = (dials, elapsed)
    t.note(f"node1 made {dials:.0f} dial attempts in {elapsed:.1f}s while {ADDRESSES} addresses were gossiped")


t.check(f"a hostile peer gossips {ADDRESSES} addresses, {TAGGED} tagged with a masternode's id", attack,
        required=True)


def book_bounded():
    n1 = state["net"][1]
    book = n1.addrbook()
    rows = book["addresses"]
    from_attacker = [a for a in rows if a["source"] == "gossip"]
    t.note(f"node1's address book: {len(rows)} entries, {len(from_attacker)} from gossip")
    expect(len(rows) <= BOOK, f"at most {BOOK} entries (network.max_address_book)", len(rows))
    expect(len(from_attacker) <= PER_SOURCE, f"at most {PER_SOURCE} from the attacker's IP "
           "(network.max_addresses_per_source)", len(from_attacker))
    expect(len(from_attacker) >= 1, "some gossip was taken (the attack reached the book)", len(from_attacker))


t.check("the address book stays within its bound and the per-source limit", book_bounded)


def no_gossip_masternodes():
    net = state["net"]
    rows = net[1].addrbook()["addresses"]
    genesis = {net[2].listen}  # node1 is the other masternode: its own address is not dialled
    mns = [a for a in rows if a["class"] == "masternode"]
    expect({a["address"] for a in mns} <= genesis | {net[1].listen},
           "masternode-class entries are only the genesis ones", [a["address"] for a in mns])
    gossiped = [a for a in rows if a["source"] == "gossip"]
    expect(all(a["class"] == "discovered" for a in gossiped), "every gossiped entry is class discovered",
           sorted({a["class"] for a in gossiped}))
    expect(all(a["node_id"] is None for a in gossiped), "no gossiped entry carries a node id",
           [a["address"] for a in gossiped if a["node_id"] is not None][:5])


t.check("no gossiped entry is masternode-class or carries a node id", no_gossip_masternodes)


def dials_capped():
    dials, elapsed = state["dials"]
    burst = 8 + 2  # dial_burst: max_outbound (default 8) + the genesis masternodes
    cap = DIALS * elapsed + burst
    expect(dials <= cap, f"at most {DIALS}/s x {elapsed:.1f}s + burst {burst} = {cap:.0f} dial attempts", dials)


t.check(f"dial attempts stay under network.max_dials_per_second={DIALS}", dials_capped)


def honest_unaffected():
    net = state["net"]
    ids = net[1].peer_ids()
    for other in (net[2], net[3]):
        expect(other.pubkey in ids, f"{other.name} still connected to node1", len(ids))
    wait_same_tip([net[1], net[2], net[3]], 15.0, "all three honest nodes on one tip")
    state["hp"].stop()


t.check("node2 and node3 stay connected and on one tip", honest_unaffected)
t.finish()
