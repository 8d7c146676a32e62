"""The network lab works end to end (scripts/lab, issue 12): four hosts, each
in its own network namespace, joined only through the lab's hub.

  * `up 4` (3 masternodes, 1 s slots): every node sees the other 3, heights
    advance, one tip;
  * `partition 1 2 / 3 4`: the hub counts the frames it drops between the
    groups; each node loses the other side (peers 1), the side with one of
    three masternodes says degraded and counts a partition event, and the
    two sides grow different tips;
  * `heal`: all four reconnect and converge on one tip;
  * `down`: no namespace of the lab is left, no node runs, and a second
    `down` is fine.

Pings every 1 s with a 6 s idle timeout, so a silent cut is noticed within
seconds (the idle timeout's default, 90 s, would take minutes)."""

import time

from harness import TestRun, expect, expect_eq, poll
from lab import Lab, dropped, peer_counts, tips

N = 4
MASTERNODES = 3
# A silent cut is noticed within ~6 s: idle_timeout 6 s, or (tnode with
# network.ping_timeout, default 5 s, which must stay below idle_timeout) a
# ping each second unanswered for 5 s.
SETS = ["network.ping_interval=1s", "network.idle_timeout=6s", "reconnect.base_delay=200ms",
        "reconnect.max_delay=1s"]

t = TestRun("fault: network lab")
lab = Lab.or_not_run(t)
state = {}


def wait_status(cond, timeout, describe):
    """Polls `lab status` until cond(status) holds ((ok, seen) like poll's
    predicates); returns the status that satisfied it."""
    last = {}

    def probe():
        last["st"] = lab.status()
        return cond(last["st"])

    poll(probe, timeout, describe)
    return last["st"]


def all_connected(st):
    counts = peer_counts(st)
    return all(c == N - 1 for c in counts.values()), counts


def one_tip(st, names=None):
    seen = {k: v for k, v in tips(st).items() if names is None or k in names}
    want = len(names) if names is not None else N
    return len(seen) == want and len(set(seen.values())) == 1, seen


def up():
    t0 = time.monotonic()
    lab.up(N, masternodes=MASTERNODES, block_time="1s", sets=SETS)
    t.note(f"`lab up {N}` returned after {time.monotonic() - t0:.1f}s; namespaces {', '.join(lab.namespaces())}")
    wait_status(all_connected, 20.0, f"each of {N} nodes to have {N - 1} peers")
    t.note(f"all connected {time.monotonic() - t0:.1f}s after up started")
    start = min(h for h, _ in tips(lab.status()).values())
    wait_status(lambda st: (min(h for h, _ in tips(st).values()) >= start + 2 and one_tip(st)[0], tips(st)), 15.0,
                f"every node past height {start + 2} and on one tip")


t.check(f"up {N} ({MASTERNODES} masternodes): connected, producing, on one tip", up, required=True)


def partition():
    before = lab.status()
    lab.fault("partition", 1, 2, "/", 3, 4)
    cut = time.monotonic()
    st = wait_status(lambda st: (all(c == 1 for c in peer_counts(st).values()), peer_counts(st)), 20.0,
                     "each node to keep only the peer on its own side")
    t.note(f"every node down to 1 peer {time.monotonic() - cut:.1f}s after the cut")
    expect(dropped(st, "partition") > dropped(before, "partition"), "the hub to count frames dropped by the partition",
           st["hub"].get("counters"))
    expect_eq(st["hub"]["faults"].get("partition"), [[1, 2], [3, 4]], "partition in the hub's fault state")
    for i in (3, 4):  # one of three masternodes on this side
        poll(lambda i=i: (lab.metric(i, "tnode_partition_events_total") >= 1,
                          lab.metric(i, "tnode_partition_events_total")), 5.0,
             f"n{i}'s tnode_partition_events_total to count the cut")
        status, h = lab.http_json(i, "/health")
        expect_eq((status, h["status"]), (503, "degraded"), f"n{i} /health while cut off")
    for i in (1, 2):
        expect_eq(lab.metric(i, "tnode_partition_events_total"), 0.0, f"n{i}'s partition events (it sees 2 of 3)")

    def two_tips():
        st = lab.status()
        a, b = one_tip(st, {"n1", "n2"}), one_tip(st, {"n3", "n4"})
        seen = tips(st)
        return a[0] and b[0] and seen["n1"] != seen["n3"] and seen["n1"][0] > seen["n3"][0], seen

    poll(two_tips, 10.0, "each side on its own tip, the side with 2 masternodes higher")
    state["reorgs"] = {i: lab.metric(i, "tnode_reorgs_total") for i in (3, 4)}
    st = lab.status()
    shown = ", ".join(f"{k} {h}/{tip[:8]}" for k, (h, tip) in sorted(tips(st).items()))
    t.note(f"hub dropped {dropped(st, 'partition')} frames between the sides; tips {shown}")


t.check("partition 1 2 / 3 4: the hub drops between the sides, both sides notice and diverge", partition)


def heal():
    lab.fault("heal")
    healed = time.monotonic()
    st = wait_status(lambda st: (all_connected(st)[0] and one_tip(st)[0], (peer_counts(st), tips(st))), 20.0,
                     f"all {N} connected again and on one tip")
    t.note(f"connected and on one tip {time.monotonic() - healed:.1f}s after heal; faults {st['hub']['faults']}")
    expect_eq(st["hub"]["faults"], {}, "the hub's faults after heal")
    expect(any(lab.metric(i, "tnode_reorgs_total") > state["reorgs"][i] for i in (3, 4)),
           "the minority side (n3, n4) to have reorganised onto the majority's chain",
           {i: lab.metric(i, "tnode_reorgs_total") for i in (3, 4)})


t.check("heal: all reconnect and converge on one tip", heal)


def down():
    namespaces = lab.namespaces()
    pids = [nd["pid"] for nd in lab.state["nodes"]]
    expect(len(namespaces) == N, f"{N} namespaces of the lab before down", namespaces)
    t0 = time.monotonic()
    lab.down()
    t.note(f"`lab down` took {time.monotonic() - t0:.1f}s")
    expect_eq(lab.namespaces(), [], "the lab's namespaces after down")
    alive = [p for p in pids if lab.lab.proc_start_time(p) is not None]
    expect_eq(alive, [], "tnode processes still running after down")
    st = lab.status()
    expect(not st["hub"]["running"], "the hub to be stopped", st["hub"])
    out = lab.down()
    expect("nothing was running" in out, "a second down to find nothing to do", out)


t.check("down: no namespace, no process left; a second down is fine", down)
t.finish()
