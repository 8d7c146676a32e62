"""One masternode cut off (issue 12): one-way loss, then a two-way
blackhole, each on n1 of 4 masternodes + 1 regular node, 1 s slots, every
keep-alive setting at its default (ping_interval 5 s, ping_timeout 5 s).

For each fault:
  * the rest notice: n1 leaves every other node's /peers within 15 s;
  * the rest keep producing without n1's slots (one tip among n2..n5,
    growing);
  * n1 keeps producing on its own side (its height grows, its tip is its
    own): no peer can serve it a better chain, so it does not sit waiting
    for one;
  * after `heal` n1 is back in every /peers and all five are on one tip
    within 10 s.

Figures printed: when the fault was noticed, heights on both sides, how
long the heal took."""

import time

from harness import TestRun, expect, poll
from lab import Lab, one_tip, tips

N = 5
MASTERNODES = 4
NOTICE_DEADLINE = 15.0  # ping_interval 5 s + ping_timeout 5 s + slack
HEAL_DEADLINE = 10.0

t = TestRun("fault: one masternode isolated (oneway, blackhole)")
lab = Lab.or_not_run(t)
state = {}
REST = range(2, N + 1)


def up():
    lab.up(N, masternodes=MASTERNODES, block_time="1s")
    state["ids"] = {}
    for i in range(1, N + 1):
        _, h = lab.http_json(i, "/health")
        state["ids"][i] = h["node_id"]

    def connected():
        missing = {i: N - 1 - len(lab.peer_ids(i)) for i in range(1, N + 1) if len(lab.peer_ids(i)) != N - 1}
        return not missing, f"peers missing per node: {missing}"

    poll(connected, 30.0, f"all {N} nodes connected to each other", interval=0.3)
    poll(lambda: one_tip(lab.status(), range(1, N + 1)), 15.0, "one tip", interval=0.2)


t.check(f"up {N} ({MASTERNODES} masternodes, 1s slots, default settings)", up, required=True)


def isolate(kind):
    lab.fault(kind, 1)
    cut = time.monotonic()
    victim = state["ids"][1]

    def gone():
        still = [f"n{i}" for i in REST if victim in lab.peer_ids(i)]
        return not still, f"n1 still in /peers of {still}"

    poll(gone, NOTICE_DEADLINE, f"n1 ({kind}) dropped by every other node within {NOTICE_DEADLINE:.0f}s", interval=0.2)
    t.note(f"{kind}: n1 dropped by all {len(REST)} others {time.monotonic() - cut:.1f}s after the fault")
    at = tips(lab.status())

    def both_sides_produce():
        st = lab.status()
        seen = tips(st)
        rest = one_tip(st, REST)
        ok = (rest[0] and seen["n2"][0] >= at["n2"][0] + 3 and seen["n1"][0] > at["n1"][0]
              and seen["n1"] != seen["n2"])
        return ok, f"at notice {at}; now {seen}"

    poll(both_sides_produce, 15.0, "the rest on one growing tip without n1, and n1 producing on its own", interval=0.3)
    seen = tips(lab.status())
    t.note(f"{kind}: rest at height {seen['n2'][0]}, n1 alone at {seen['n1'][0]}")
    _, h = lab.http_json(1, "/health")
    expect(not h.get("syncing"), "the isolated n1 not to say syncing (nobody can serve it)", h)

    lab.fault("heal")
    healed = time.monotonic()

    def back():
        st = lab.status()
        missing = [f"n{i}" for i in REST if victim not in lab.peer_ids(i)]
        same = one_tip(st, range(1, N + 1))
        return not missing and same[0], f"n1 missing from {missing}; tips {same[1]}"

    poll(back, HEAL_DEADLINE, f"n1 back in every /peers and one tip within {HEAL_DEADLINE:.0f}s of heal", interval=0.2)
    t.note(f"{kind}: back together {time.monotonic() - healed:.1f}s after heal")


t.check("one-way loss on masternode n1: the rest notice, both sides produce, it is taken back", lambda: isolate("oneway"))
t.check("two-way blackhole on masternode n1: the rest notice, both sides produce, it is taken back",
        lambda: isolate("blackhole"))
t.finish()
