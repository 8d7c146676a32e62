"""Inbound full of regular peers: a masternode still gets in (DESIGN.md 6:
"When inbound slots are full, a connecting masternode evicts the
lowest-scored regular inbound peer"; with two inbound peers both are
protected by the eviction rule, so that is the rule's masternode fallback,
libcore/node/eviction.hpp step 4).

node1 (masternode) runs with max_inbound = 2 and no static peers; regular
nodes 3 and 4 fill both slots. node2, the other masternode, listens on another port than the
genesis says, so node1 cannot dial it: node2 comes in as an inbound peer.
  * node2 is connected to node1 (inbound, class masternode);
  * one of nodes 3/4 was evicted (tnode_disconnects_total{reason="evicted"}
    on node1, "evicted" in that node's log);
  * the evicted node's redials are refused for capacity: node1 keeps at
    most max_inbound inbound peers, one of them node2. (node1 may still
    dial the evicted node itself: that uses an outbound slot.)"""

from harness import TestRun, expect, expect_eq, poll
from nodes import start_testnet
from ports import free_port_range
from prom import metric_value

t = TestRun("masternode eviction")
state = {}


def setup():
    net = start_testnet(t, "net", 4, masternodes=2, block_time="1s")
    n1, n2, n3, n4 = net[1], net[2], net[3], net[4]
    # No static peers on node1 (the testnet lists every node): static peers
    # are never evicted, and nodes 3 and 4 must be regular peers of node1.
    n1.start("network.max_inbound=2", "network.peers=[]")
    n1.wait_http()
    for n in (n3, n4):
        n.start("reconnect.base_delay=200ms", "reconnect.max_delay=1s")
    for n in (n3, n4):
        n.wait_http()
    poll(lambda: (sorted(n1.peer_ids()) == sorted([n3.pubkey, n4.pubkey]), n1.peer_ids()), 15.0,
         "node1's two inbound slots taken by nodes 3 and 4")
    state.update(net=net, n1=n1, n2=n2, n3=n3, n4=n4)


t.check("node1 (max_inbound 2) full with regular nodes 3 and 4", setup, required=True)


def masternode_gets_in():
    n1, n2, n3, n4 = state["n1"], state["n2"], state["n3"], state["n4"]
    other = free_port_range(2)
    n2.start(f"network.listen=127.0.0.1:{other}", f"http.listen=127.0.0.1:{other + 1}")
    n2.http = f"127.0.0.1:{other + 1}"
    n2.wait_http()

    def joined():
        rows = {p["node_id"]: p for p in n1.peers()["peers"]}
        return (n2.pubkey in rows and rows[n2.pubkey]["direction"] == "inbound", sorted(rows))

    poll(joined, 15.0, "node2 (masternode) connected to node1 as an inbound peer")
    evicted = metric_value(n1.metrics(), "tnode_disconnects_total", reason="evicted")
    expect(evicted >= 1, 'node1 tnode_disconnects_total{reason="evicted"} >= 1', evicted)
    gone = [n for n in (n3, n4) if "evicted" in n.log()]
    expect_eq(len(gone), 1, "regular nodes whose log says they were evicted")
    state["gone"] = gone[0]


t.check("node2 comes in: the lowest-scored regular inbound peer is evicted", masternode_gets_in)


def keeps_place():
    n1, n2, gone = state["n1"], state["n2"], state["gone"]

    def refused():
        m = metric_value(n1.metrics(), "tnode_handshake_failures_total", reason="capacity")
        return (m >= 1, f"capacity refusals {m}")

    poll(refused, 15.0, f"{gone.name}'s redials refused for capacity")
    rows = n1.peers()["peers"]
    inbound = [p["node_id"] for p in rows if p["direction"] == "inbound"]
    expect(len(inbound) <= 2, "node1's inbound peers <= max_inbound (2)", inbound)
    expect(n2.pubkey in inbound, "node2 still an inbound peer of node1", inbound)


t.check("the evicted node cannot push back in; node2 keeps its place, inbound <= max_inbound", keeps_place)
t.finish()
