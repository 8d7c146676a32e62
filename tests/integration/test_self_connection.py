"""Self connection (DESIGN.md 5: "not itself (node_id == own id =>
Reject{self})"). A regular node (node2 of a 2-node testnet with 1
masternode, so no genesis entry names its address) lists its own p2p
address as a static peer, twice: literally ("127.0.0.1:<own port>") and
through an alias ("localhost:<own port>") that only the handshake can
recognise. With base_delay 200 ms:
  * both entries end up self=true in /addrbook and neither is ever dialled
    again (the literal one may be skipped without a dial at all);
  * the alias is dialled exactly once, and the handshake says why:
    tnode_handshake_failures_total{reason="self"} >= 1;
  * the node never lists itself as a peer and still connects to node1."""

import time

from harness import CheckFailed, TestRun, expect, expect_eq, poll
from nodes import start_testnet, toml_list
from prom import by_label, metric_value

QUIET_WINDOW = 2.5  # seconds of watching for a redial that must not come

t = TestRun("self connection")
state = {}


def setup():
    net = start_testnet(t, "net", 2, masternodes=1)
    n1, n2 = net[1], net[2]
    expect_eq((n1.role, n2.role), ("masternode", "regular"), "roles of node1, node2")
    state.update(net=net, n1=n1, n2=n2, literal=n2.listen, alias=f"localhost:{n2.p2p_port}")
    n1.start()
    n2.start(f"network.peers={toml_list([state['literal'], state['alias']])}", "reconnect.base_delay=200ms",
             "reconnect.max_delay=1s", log_level="debug")
    n1.wait_http()
    n2.wait_http()
    t.note(f"node2 {n2.listen}; static peers {state['literal']} and {state['alias']}")


t.check("node2 (regular) with its own address as static peers (literal and localhost alias)", setup, required=True)


def alias_detected():
    n2 = state["n2"]

    def detected():
        e = n2.address(state["alias"])
        return (e["self"] and not e["dialing"], f"self={e['self']} total_attempts={e['total_attempts']} "
                                               f"last_error={e['last_error']!r}")

    poll(detected, 10.0, f"{state['alias']} marked self in node2's /addrbook")
    m = n2.metrics()
    v = metric_value(m, "tnode_handshake_failures_total", reason="self")
    t.note(f"node2's handshake failures: {by_label(m, 'tnode_handshake_failures_total', 'reason')} "
           f"(the initiator and the responder are both this node)")
    expect(v >= 1, "tnode_handshake_failures_total{reason=\"self\"} >= 1", v)


t.check("the alias is recognised by the handshake: self=true, handshake failure reason self", alias_detected)


def literal_is_self():
    e = state["n2"].address(state["literal"])
    expect_eq(e["self"], True, f"self of {state['literal']} (node2's own listen address)")
    expect(e["total_attempts"] <= 1, f"{state['literal']} dialled at most once", e["total_attempts"])
    t.note(f"{state['literal']}: total_attempts={e['total_attempts']} (0 = skipped without a dial)")


t.check("the literal own address is self=true and dialled at most once", literal_is_self)


def never_again():
    n2 = state["n2"]
    before = {a: n2.address(a)["total_attempts"] for a in (state["literal"], state["alias"])}
    deadline = time.monotonic() + QUIET_WINDOW
    while time.monotonic() < deadline:  # an observation window: nothing may happen in it
        for a, n in before.items():
            e = n2.address(a)
            if e["total_attempts"] != n or e["dialing"] or not e["self"]:
                raise CheckFailed(f"expected no redial of {a} (base_delay 200 ms), saw total_attempts {n} -> "
                                  f"{e['total_attempts']}, dialing={e['dialing']}, self={e['self']}")
            expect(e["next_dial_in_ms"] is None, f"no next dial scheduled for {a}", e["next_dial_in_ms"])
        time.sleep(0.1)
    expect_eq(before[state["alias"]], 1, f"total_attempts of {state['alias']} (dialled once, never again)")


t.check(f"neither self address is dialled again ({QUIET_WINDOW}s, base_delay 200 ms); the alias exactly once",
        never_again)


def peers_sane():
    n1, n2 = state["n1"], state["n2"]
    poll(lambda: (n2.peer_ids() == [n1.pubkey], n2.peer_ids()), 10.0, "node2's peers = [node1]")
    ids = [p["node_id"] for p in n2.peers()["peers"]]
    expect(n2.pubkey not in ids, "node2 never lists itself as a peer", ids)
    status, h = n2.health()
    expect_eq((status, h.get("status")), (200, "ok"), "node2 /health (status code, status)")
    lines = [ln for ln in n2.log().splitlines() if "is this node itself" in ln]
    expect(len(lines) == 1, "one log line saying the alias is this node itself", lines)


t.check("node2 lists only node1 as a peer, /health 200, and logs the self address once", peers_sane)
t.finish()
