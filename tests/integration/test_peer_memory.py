"""Peer memory across kill -9 (DESIGN.md 4 `peers` column family, 6
circuit breaker and score).

node1 (the masternode) has a static peer that is down (a free loopback port
nobody listens on), with breaker_failures 3 and a 1 s cool-down:
  * the breaker opens, a failed half-open trial doubles the cool-down, the
    address's score goes negative, and `tchain peers` (reading the store
    while node1 runs) shows the same state as /addrbook;
  * after kill -9 and a restart node1 remembers it: same attempt and
    failure totals (or more), a cool-down at least as long, the breaker
    still open or half-open (not reset to closed), a score still negative;
    and it does not hammer the address in the first second;
  * the peer comes back (a responder with node2's identity starts on that
    port): node1 reconnects by itself, by the breaker's half-open trial,
    and the breaker closes;
  * restarted without that address in network.peers, node1 forgets it."""

import json
import time

from harness import TestRun, expect, expect_eq, poll
from nodes import start_testnet, toml_list
from ports import free_port_range

t = TestRun("peer memory across kill -9")
state = {}


def entry(n, address):
    return n.address(address)


def stored(n, address):
    out = t.tool_json("tchain", "--data-dir", n.dir, "--json", "peers")
    for a in out["addresses"]:
        if a["address"] == address:
            return a
    raise AssertionError(f"{address} not in tchain peers: {[a['address'] for a in out['addresses']]}")


def setup():
    net = start_testnet(t, "net", 2, masternodes=1, block_time="1s")
    dead = f"127.0.0.1:{free_port_range(1)}"
    n1 = net[1]
    n1.start(f"network.peers={toml_list([dead])}", "reconnect.base_delay=100ms", "reconnect.max_delay=300ms",
             "reconnect.breaker_failures=3", "reconnect.breaker_cooldown=1s")
    n1.wait_http()
    state.update(net=net, n1=n1, n2=net[2], dead=dead)


t.check("node1 with a static peer that is down", setup, required=True)


def breaker_opens():
    n1, dead = state["n1"], state["dead"]
    e = poll(lambda: (entry(n1, dead)["cooldown_ms"] >= 2000 and entry(n1, dead)["breaker"] == "open",
                      {k: entry(n1, dead)[k] for k in ("breaker", "cooldown_ms", "total_failures", "score")}),
             20.0, "the breaker open again after a failed half-open trial (cool-down doubled to >= 2 s)")
    live = entry(n1, dead)
    expect(live["score"] < 0, "a negative score for the dead address", live["score"])

    def persisted():
        s = stored(n1, dead)
        live = entry(n1, dead)
        return (s["total_attempts"] == live["total_attempts"] and s["cooldown_ms"] == live["cooldown_ms"],
                f"stored {s['total_attempts']} attempts/{s['cooldown_ms']} ms, live {live['total_attempts']}/"
                f"{live['cooldown_ms']}")

    poll(persisted, 5.0, "tchain peers (the store) to match /addrbook")
    state["before"] = stored(n1, dead)
    t.note("stored before the kill: " + json.dumps({k: state["before"][k] for k in (
        "total_attempts", "total_failures", "consecutive_failures", "breaker", "cooldown_ms", "score")}))


t.check("the breaker opens and doubles its cool-down; the store (tchain peers) has it", breaker_opens)


def survives_kill():
    n1, dead, before = state["n1"], state["dead"], state["before"]
    n1.restart()
    n1.wait_http()
    after = entry(n1, dead)
    t.note("after the restart: " + json.dumps({k: after[k] for k in (
        "total_attempts", "total_failures", "consecutive_failures", "breaker", "cooldown_ms", "score")}))
    expect(after["total_attempts"] >= before["total_attempts"], f"total_attempts >= {before['total_attempts']}",
           after["total_attempts"])
    expect(after["total_failures"] >= before["total_failures"], f"total_failures >= {before['total_failures']}",
           after["total_failures"])
    expect(after["consecutive_failures"] >= before["consecutive_failures"],
           f"consecutive_failures >= {before['consecutive_failures']}", after["consecutive_failures"])
    expect(after["cooldown_ms"] >= before["cooldown_ms"], f"cooldown_ms >= {before['cooldown_ms']}",
           after["cooldown_ms"])
    expect(after["breaker"] in ("open", "half_open"), "the breaker still open or half-open (not closed)",
           after["breaker"])
    expect(after["score"] < 0, "the score still negative", after["score"])
    expect(after["score"] >= before["score"] - 10, f"the score about where it was ({before['score']})",
           after["score"])
    # Within the first second no burst of dials: the breaker governs.
    first = after["total_attempts"]
    time.sleep(1.0)  # an observation window, not synchronisation
    later = entry(n1, dead)["total_attempts"]
    expect(later - first <= 1, "at most one dial (a half-open trial) in the first second after restart",
           f"{first} -> {later}")


t.check("after kill -9 and restart: totals, cool-down, open breaker and score are remembered", survives_kill)


def comes_back():
    n1, n2, dead = state["n1"], state["n2"], state["dead"]
    port = dead.rsplit(":", 1)[1]
    responder = t.spawn_tool("wire_responder", "--config", n2.config, "--port", port)
    poll(lambda: (f"port {port}" in responder.stdout(), responder.stdout() + responder.stderr()), 5.0,
         f"the responder listening on {dead}")
    poll(lambda: (entry(n1, dead)["breaker"] == "closed" and entry(n1, dead)["connected"],
                  {k: entry(n1, dead)[k] for k in ("breaker", "cooldown_ms", "connected", "next_dial_in_ms")}),
         30.0, f"node1 to reconnect to {dead} by itself and close the breaker")
    expect_eq(entry(n1, dead)["consecutive_failures"], 0, "consecutive_failures after the reconnect")


t.check("the peer comes back: node1 reconnects by itself (half-open trial), the breaker closes", comes_back)


def removed_peer_forgotten():
    n1, dead = state["n1"], state["dead"]
    n1.kill9()
    n1.start("network.peers=[]")
    n1.wait_http()
    book = [a["address"] for a in n1.addrbook()["addresses"]]
    expect(dead not in book, f"{dead} (no longer in network.peers) gone from /addrbook", book)
    stored_now = [a["address"] for a in t.tool_json("tchain", "--data-dir", n1.dir, "--json", "peers")["addresses"]]
    expect(dead not in stored_now, f"{dead} gone from the store (tchain peers)", stored_now)
    expect("forgot 1 static peer" in n1.log(), "node1's log saying it forgot the static peer", n1.log_tail(5))


t.check("restarted without that static peer, node1 forgets it (address book and store)", removed_peer_forgotten)
t.finish()
