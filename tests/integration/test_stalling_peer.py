"""Stalling peer (DESIGN.md 7: "One stalled or lying peer cannot stop sync").

node2 starts empty. First a fake peer (tests/tools/fake_peer, the real
handshake with node3's key) connects to it claiming height 1,000,000 and
never answers a request. Then node1, the masternode, starts with 2,000
blocks. node2:
  * asks the staller for headers first (its claim is the best), gives up
    after the stall timeout (2 s, the default) and counts the stall;
  * syncs node1's whole chain anyway and follows it;
  * ends "ok", not "syncing": the staller's claim is no longer trusted."""

from harness import TestRun, expect, expect_eq, expect_in, forge_chain, poll
from nodes import past_timestamp, start_testnet, wait_same_tip
from prom import metric_value

BLOCKS = 2000

t = TestRun("stalling peer")
state = {}


def setup():
    net = start_testnet(t, "net", 3, "--timestamp", past_timestamp(3600), masternodes=1, block_time="500ms")
    n1, n2, n3 = net[1], net[2], net[3]
    chain = t.path("chain.tnc")
    forge_chain(t, net.dir, BLOCKS, chain)
    r = t.tool("tchain", "--data-dir", n1.dir, "import", chain, timeout=120)
    expect_eq(r.rc, 0, f"tchain import exit code ({r.stderr.strip()[-300:]})")
    state.update(net=net, n1=n1, n2=n2, n3=n3)
    n2.start("reconnect.base_delay=200ms", "reconnect.max_delay=1s")
    n2.wait_http()
    fake = t.spawn_tool("fake_peer", "--config", n3.config, "--connect", n2.listen, "--mode", "stall",
                        "--claim-height", "1000000")
    state["fake"] = fake
    poll(lambda: ("got get_headers" in fake.stdout(), fake.stdout()[-300:] + fake.stderr()[-300:]), 10.0,
         "node2 to ask the staller (best claim) for headers")


t.check("node2 (empty) asks a peer claiming height 1,000,000 for headers; the peer never answers", setup,
        required=True)


def syncs_anyway():
    n1, n2 = state["n1"], state["n2"]
    n1.start()
    n1.wait_http()
    n2.wait_height(BLOCKS, 60.0)
    wait_same_tip([n1, n2], 10.0, "node2 on node1's tip")
    stalls = metric_value(n2.metrics(), "tnode_sync_stalls_total")
    expect(stalls >= 1, "node2's tnode_sync_stalls_total >= 1", stalls)
    expect_in("did not answer a headers request", n2.log(), "node2's log")
    expect(state["fake"].running(), "the staller still connected (a stall costs score, it is not a ban)",
           state["fake"].stdout()[-300:])


t.check(f"node2 syncs node1's {BLOCKS} blocks despite the staller, and counts the stall", syncs_anyway)


def follows_and_ok():
    n1, n2 = state["n1"], state["n2"]
    start, _ = n1.tip()
    n1.wait_height(start + 2, 10.0)
    wait_same_tip([n1, n2], 5.0, "node2 following node1")

    def ok():
        status, h = n2.health()
        return ((status, h["status"], h["syncing"]) == (200, "ok", False), h)

    poll(ok, 10.0, "node2 /health ok and not syncing (the staller's claim untrusted)")


t.check("node2 follows new blocks; /health ok, not syncing towards the staller's claim", follows_and_ok)
t.finish()
