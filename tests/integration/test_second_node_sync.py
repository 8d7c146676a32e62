"""Second node sync (DESIGN.md 7, TESTING.md "second node sync").

node1, the only masternode, starts with 2,000 blocks (a forged chain
imported with `tchain import`; the genesis is dated an hour back so the
slots exist). node2 starts with an empty store next to it:
  * it catches up headers-first to node1's tip, logging progress;
  * then it follows the blocks node1 produces in its slots (relayed with
    NewBlock), both tips equal each time;
  * its store verifies (`tchain verify`) with the same tip."""

import time

from harness import TestRun, expect, expect_eq, expect_in, forge_chain, poll
from nodes import past_timestamp, start_testnet, wait_same_tip
from prom import metric_value

BLOCKS = 2000
BLOCK_TIME = "500ms"

t = TestRun("second node sync")
state = {}


def setup():
    net = start_testnet(t, "net", 2, "--timestamp", past_timestamp(3600), masternodes=1, block_time=BLOCK_TIME)
    n1, n2 = net[1], net[2]
    chain = t.path("chain.tnc")
    state["forged_tip"] = forge_chain(t, net.dir, BLOCKS, chain)
    r = t.tool("tchain", "--data-dir", n1.dir, "import", chain, timeout=120)
    expect_eq(r.rc, 0, f"tchain import exit code ({r.stderr.strip()[-300:]})")
    state.update(net=net, n1=n1, n2=n2)
    n1.start()
    n1.wait_http()
    h, _ = n1.tip()
    expect(h >= BLOCKS, f"node1 at height >= {BLOCKS} after the import", h)
    n2.start()
    n2.wait_http()


t.check(f"node1 (masternode) holds {BLOCKS} imported blocks; node2 starts empty", setup, required=True)


def catches_up():
    n1, n2 = state["n1"], state["n2"]
    n2.wait_height(BLOCKS, 60.0)
    height, tip = wait_same_tip([n1, n2], 10.0, "node2 on node1's tip")
    t.note(f"both at height {height} ({tip[:16]})")
    log = n2.log()
    expect_in("sync: catching up from height 0", log, "node2's log")
    expect_in("sync: caught up at height", log, "node2's log")
    received = metric_value(n2.metrics(), "tnode_blocks_received_total")
    expect(received >= BLOCKS, f"node2's tnode_blocks_received_total >= {BLOCKS}", received)


t.check(f"node2 catches up to node1's tip ({BLOCKS}+ blocks, headers first) and logs its progress", catches_up)


def follows():
    n1, n2 = state["n1"], state["n2"]
    start, _ = n1.tip()
    for step in range(1, 4):
        n1.wait_height(start + step, 10.0)
        wait_same_tip([n1, n2], 5.0, f"node2 on node1's tip after new block {step}")
    produced = metric_value(n1.metrics(), "tnode_blocks_produced_total")
    expect(produced >= 3, "node1's tnode_blocks_produced_total >= 3", produced)
    m2 = n2.metrics()
    announced = metric_value(m2, "tnode_messages_total", type="new_block", direction="received")
    expect(announced >= 3, "node2 received >= 3 new_block announcements", announced)
    resent = metric_value(m2, "tnode_messages_total", type="new_block", direction="sent")
    expect_eq(resent, 0.0, "new_block messages node2 sent (its only peer is every block's source)")
    produced2 = metric_value(m2, "tnode_blocks_produced_total")
    expect_eq(produced2, 0.0, "blocks produced by node2 (a regular node)")


t.check("node2 follows the blocks node1 produces, tips equal after each", follows)


def verifies():
    n1, n2 = state["n1"], state["n2"]
    height, tip = n2.tip()
    r = t.tool("tchain", "--data-dir", n2.dir, "--json", "verify", timeout=120)
    expect_eq(r.rc, 0, f"tchain verify exit code on node2's store while it runs ({r.stdout.strip()[-300:]})")
    out = r.json()
    expect(out.get("height", 0) >= height, f"verified height >= {height}", out)
    for _ in range(10):  # /health while following: never "syncing" (each new block is one behind at most)
        status, h = n2.health()
        expect_eq((status, h["status"], h["syncing"]), (200, "ok", False), "node2 /health (code, status, syncing)")
        time.sleep(0.1)
    poll(lambda: (n1.tip() == n2.tip(), f"{n1.tip()} vs {n2.tip()}"), 5.0, "equal tips")


t.check("node2's store verifies while it runs; /health ok, not syncing", verifies)
t.finish()
