"""Delay and loss on every link (issue 12): 8 hosts in the lab (6
masternodes), 2 s slots, default settings, and from the start every frame
delayed 100 +- 20 ms each way with 5 % of frames lost.

  * the network forms: every masternode sees the other 5;
  * it produces: 5 blocks past the start;
  * it stays on one tip: all 8 reach one tip (within a block time of
    propagation), and no node reorganises more than once per 10 blocks;
  * no handshake fails with `reset` (a lost or late segment is TCP's to
    retransmit, not a reason to tear a handshake down).

Figures printed: when the mesh formed, heights, reorganisations and
handshake failures by reason."""

import time

from harness import TestRun, expect, expect_eq, poll
from lab import Lab, one_tip, tips

N = 8
MASTERNODES = 6
BLOCK_TIME = 2.0
BLOCKS = 5

t = TestRun("fault: 100 +- 20 ms delay, 5 % loss on every link")
lab = Lab.or_not_run(t)
state = {}


def forms():
    lab.up(N, masternodes=MASTERNODES, block_time=f"{int(BLOCK_TIME)}s")
    # `up` waits for every node, so they met on a clean link: stop them all,
    # turn the delay and loss on, and start them again, so every connection
    # and handshake is made through the fault.
    for i in range(1, N + 1):
        lab.kill(i)
    lab.fault("delay", 100, 20, 5)
    t0 = time.monotonic()
    for i in range(1, N + 1):
        lab.start(i)

    poll(lambda: lab.masternodes_meshed(MASTERNODES), 30.0, f"every masternode to see the other {MASTERNODES - 1} through the delay and loss",
         interval=0.3)
    t.note(f"masternodes fully connected {time.monotonic() - t0:.1f}s after the restart under delay and loss began")
    st = lab.status()
    expect_eq(st["hub"]["faults"].get("delay") is not None, True, f"the hub's delay fault ({st['hub']['faults']})")


t.check(f"up {N} ({MASTERNODES} masternodes) with 100+-20 ms, 5 % loss: the network forms", forms, required=True)


def produces_on_one_tip():
    start = max(h for h, _ in tips(lab.status()).values())
    state["start"] = start
    poll(lambda: (min(h for h, _ in tips(lab.status()).values()) >= start + BLOCKS, tips(lab.status())),
         (BLOCKS + 6) * BLOCK_TIME, f"every node {BLOCKS} blocks past height {start}", interval=0.3)
    # Blocks keep coming every 2 s; one tip is a moment between them.
    poll(lambda: one_tip(lab.status()), 4 * BLOCK_TIME, f"all {N} on one tip", interval=0.1)
    height = tips(lab.status())["n1"][0]
    reorgs = {i: lab.metric(i, "tnode_reorgs_total") for i in range(1, N + 1)}
    t.note(f"one tip at height {height}; reorganisations per node {reorgs}")
    limit = max(1, height // 10)
    expect(all(r <= limit for r in reorgs.values()), f"at most {limit} reorganisations per node", reorgs)


t.check(f"it produces {BLOCKS} blocks and stays on one tip", produces_on_one_tip)


def no_reset():
    failures = {}
    for i in range(1, N + 1):
        m = lab.metrics(i)
        for (name, labels), v in m.items():
            if name == "tnode_handshake_failures_total" and v > 0:
                reason = dict(labels).get("reason")
                failures[reason] = failures.get(reason, 0) + v
    t.note(f"handshake failures by reason, all nodes: {failures or 'none'}")
    expect(failures.get("reset", 0) == 0, "no handshake failure of class reset", failures)


t.check("no handshake failed with reset", no_reset)
t.finish()
