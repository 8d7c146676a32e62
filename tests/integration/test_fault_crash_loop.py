"""Crash loop (issue 12): 30 `kill -9` of random nodes, each restarted at
once, across 5 producing hosts in the lab (4 masternodes, 1 regular), 1 s
slots, default settings.

  * after the loop every node is back, connected and on one tip within 30 s;
  * after `lab down`, every node's store verifies (`tchain verify`): no
    kill left a store that a restart cannot use or that breaks its rules.

The victims and the pauses come from a seeded random source (printed, so a
failure can be replayed with TNODE_CRASH_SEED=N)."""

import os
import random
import time

from harness import TestRun, expect, poll
from lab import Lab, one_tip, tips

N = 5
MASTERNODES = 4
KILLS = 30

t = TestRun("fault: crash loop, 30 kill -9")
lab = Lab.or_not_run(t)
seed = int(os.environ.get("TNODE_CRASH_SEED", random.randrange(1 << 30)))
rng = random.Random(seed)
state = {}


def up():
    lab.up(N, masternodes=MASTERNODES, block_time="1s")
    poll(lambda: (min(h for h, _ in tips(lab.status()).values()) >= 3, tips(lab.status())), 30.0,
         "every node past height 3", interval=0.3)


t.check(f"up {N} ({MASTERNODES} masternodes, 1s slots)", up, required=True)


def crash_loop():
    t.note(f"seed {seed}")
    victims = []
    for _ in range(KILLS):
        i = rng.randint(1, N)
        victims.append(i)
        lab.kill(i)
        lab.start(i)  # waits for its /health
        # The next kill lands anywhere in the node's life: start-up, sync, production.
        time.sleep(rng.uniform(0.0, 1.5))
    t.note("killed, in order: " + " ".join(f"n{i}" for i in victims))
    start = time.monotonic()

    def together():
        st = lab.status()
        counts = {r["name"]: r.get("peer_count", -1) for r in st["nodes"]}
        same = one_tip(st)
        return all(c == N - 1 for c in counts.values()) and same[0], f"peers {counts}; tips {same[1]}"

    poll(together, 30.0, "every node connected and on one tip after the loop", interval=0.3)
    height = tips(lab.status())["n1"][0]
    t.note(f"one tip at height {height}, {time.monotonic() - start:.1f}s after the last restart")
    state["height"] = height


t.check(f"{KILLS} kill -9 with restarts: every node back on one tip", crash_loop, required=True)


def stores_verify():
    lab.down()
    bad = {}
    for i in range(1, N + 1):
        r = t.tool("tchain", "--config", os.path.join(lab.dir, f"n{i}", "tnode.toml"), "verify", timeout=120)
        if r.rc != 0:
            bad[f"n{i}"] = r.describe()
    expect(not bad, f"all {N} stores to verify", bad)


t.check("after down, every store verifies", stores_verify)
t.finish()
