"""Crash during sync (TESTING.md "crash safety"; DESIGN.md 4: accepting a
block is one WriteBatch).

node1, the masternode, holds 30,000 blocks. node2 starts empty and is
killed with SIGKILL at 10 random heights during its sync (each kill right
after /health reports that height). After every kill:
  * `tchain verify` passes on node2's store;
  * the store kept at least the height node2 reported before the kill
    (nothing it reported as applied is lost);
and restarted each time, node2 finishes the sync on node1's tip."""

import random

from harness import TestRun, expect, expect_eq, forge_chain, poll
from nodes import past_timestamp, start_testnet, wait_same_tip

BLOCKS = 30000
KILLS = 10

t = TestRun("crash during sync")
state = {}


def setup():
    # 100 ms slots: 30,000 of them fit in the hour before now.
    net = start_testnet(t, "net", 2, "--timestamp", past_timestamp(3600), masternodes=1, block_time="100ms")
    n1, n2 = net[1], net[2]
    chain = t.path("chain.tnc")
    forge_chain(t, net.dir, BLOCKS, chain, timeout=300)
    r = t.tool("tchain", "--data-dir", n1.dir, "import", chain, timeout=300)
    expect_eq(r.rc, 0, f"tchain import exit code ({r.stderr.strip()[-300:]})")
    n1.start()
    n1.wait_http()
    state.update(n1=n1, n2=n2)


t.check(f"node1 (masternode) holds {BLOCKS} blocks", setup, required=True)


def store_height(n):
    r = t.tool("tchain", "--data-dir", n.dir, "--json", "verify", timeout=300)
    expect_eq(r.rc, 0, f"tchain verify exit code on {n.name}'s store ({r.stdout.strip()[-300:]} {r.stderr[-300:]})")
    return r.json()["height"]


def kills():
    n2 = state["n2"]
    rng = random.Random()
    targets = sorted(rng.sample(range(1, BLOCKS - 500), KILLS))
    t.note(f"kill heights: {targets}")
    n2.start("reconnect.base_delay=100ms", "reconnect.max_delay=500ms")
    seen = []
    for i, target in enumerate(targets):
        n2.wait_http()
        reported = poll(lambda: (n2.height() >= target, n2.height()), 60.0,
                        f"node2 (run {i + 1}) past height {target}")
        reported = n2.height()
        expect(n2.kill9(), f"node2 killed by SIGKILL (run {i + 1})", n2.proc.returncode)
        kept = store_height(n2)
        seen.append((reported, kept))
        expect(kept >= reported, f"store height after kill {i + 1} >= {reported} (reported before the kill)", kept)
        n2.restart()
    t.note(f"(reported before kill, verified after): {seen}")


t.check(f"{KILLS} SIGKILLs at random heights during sync: tchain verify passes, nothing reported is lost", kills)


def finishes():
    n1, n2 = state["n1"], state["n2"]
    n2.wait_http()
    n2.wait_height(BLOCKS, 120.0)
    wait_same_tip([n1, n2], 10.0, "node2 on node1's tip after the last restart")
    n2.kill9()
    expect(store_height(n2) >= BLOCKS, f"verified height >= {BLOCKS}", "")


t.check("restarted after the last kill, node2 finishes the sync on node1's tip", finishes)
t.finish()
