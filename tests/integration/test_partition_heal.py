"""Partition on loopback (DESIGN.md 3: fork choice heals a partition).

Six masternodes (1 s slots) are split into groups of 4 and 2 with the admin
endpoints: every node bans every node of the other group (a ban closes the
connection and refuses the handshake), so neither side can reach the other.
  * both sides keep producing, on different tips; the larger side (4 of 6
    slots) grows faster;
  * the operator lifts the bans: within 3 block times of healing all six
    are on one tip, the larger side's;
  * each node of the smaller side records a reorganisation
    (tnode_reorgs_total >= 1, a "reorganisation of depth" log line);
  * while cut off, each node of the smaller side counts one partition event
    (tnode_partition_events_total) and /health says degraded (503) with
    "2 of 6 masternodes"; the larger side counts none."""

import time

from harness import TestRun, expect, expect_eq, expect_in, poll
from nodes import same_tip, start_testnet, wait_same_tip
from prom import metric_value

TOKEN = "partition-test"
BLOCK_TIME_S = 1.0

t = TestRun("partition heal")
state = {}


def admin_all(nodes, others, path):
    for a in nodes:
        for b in others:
            status, body = a.admin(path, {"node_id": b.pubkey, "duration": "1h", "reason": "partition test"}, TOKEN)
            expect(status == 200, f"{a.name} POST {path} {b.name} -> 200", f"{status} {body}")


def setup():
    net = start_testnet(t, "net", 6, block_time="1s")
    net.start_all(f"http.admin_token={TOKEN}", "reconnect.base_delay=200ms", "reconnect.max_delay=1s")
    net.wait_http()
    net.wait_connected(20.0)
    net[1].wait_height(2, 10.0)
    wait_same_tip(list(net), 5.0, "six masternodes on one tip")
    state.update(net=net, big=list(net)[:4], small=list(net)[4:])


t.check("six masternodes connected, producing, on one tip", setup, required=True)


def split():
    big, small = state["big"], state["small"]
    admin_all(big, small, "/admin/ban")
    admin_all(small, big, "/admin/ban")
    poll(lambda: (all(len(n.peer_ids()) == 3 for n in big) and all(len(n.peer_ids()) == 1 for n in small),
                  {n.name: len(n.peer_ids()) for n in big + small}), 10.0,
         "groups of 4 and 2 (3 and 1 peers each)")
    start_big, start_small = big[0].height(), small[0].height()
    # Both sides produce; wait until the big side leads by 2 (it fills 4 of 6 slots).
    poll(lambda: (big[0].height() >= small[0].height() + 2 and small[0].height() > start_small,
                  f"big {big[0].height()} small {small[0].height()}"), 20.0,
         "both sides to produce, the larger one ahead by 2")
    expect(big[0].height() > start_big, "the larger side produced", (start_big, big[0].height()))
    ok_big, seen_big = same_tip(big)
    ok_small, seen_small = same_tip(small)
    expect(ok_big and ok_small, "each side on its own single tip", f"{seen_big} | {seen_small}")
    expect(big[0].tip() != small[0].tip(), "the two sides on different tips", (big[0].tip(), small[0].tip()))
    state["reorgs_before"] = {n.name: metric_value(n.metrics(), "tnode_reorgs_total") for n in small}
    for n in small:
        # Being cut off counts once it has held for a second.
        poll(lambda n=n: (metric_value(n.metrics(), "tnode_partition_events_total") >= 1,
                          metric_value(n.metrics(), "tnode_partition_events_total")), 5.0,
             f"{n.name}'s tnode_partition_events_total to count the split")
        events = metric_value(n.metrics(), "tnode_partition_events_total")
        expect_eq(events, 1.0, f"{n.name}'s tnode_partition_events_total (one transition into the minority)")
        status, h = n.health()
        expect_eq((status, h["status"]), (503, "degraded"), f"{n.name} /health while cut off")
        expect_in("2 of 6 masternodes", h.get("reason", ""), f"{n.name}'s degraded reason")
    for n in big:
        expect_eq(metric_value(n.metrics(), "tnode_partition_events_total"), 0.0,
                  f"{n.name}'s partition events (it sees 4 of 6)")


t.check("split 4/2 with admin bans: both sides keep producing on different tips", split)


def heal():
    net, big, small = state["net"], state["big"], state["small"]
    admin_all(big, small, "/admin/unban")
    admin_all(small, big, "/admin/unban")
    healed = time.monotonic()
    height, tip = wait_same_tip(list(net), 3 * BLOCK_TIME_S, "all six on one tip within 3 block times")
    t.note(f"one tip at height {height} {time.monotonic() - healed:.2f}s after the unbans")
    for n in small:
        reorgs = metric_value(n.metrics(), "tnode_reorgs_total")
        expect(reorgs >= state["reorgs_before"][n.name] + 1, f"{n.name}'s tnode_reorgs_total increased", reorgs)
        expect_in("reorganisation of depth", n.log(), f"{n.name}'s log")
    net.wait_connected(10.0)


t.check("after the unbans all six converge within 3 block times; the smaller side reorganised", heal)


def keeps_going():
    net = state["net"]
    h, _ = net[1].tip()
    net[1].wait_height(h + 2, 10.0)
    wait_same_tip(list(net), 3 * BLOCK_TIME_S, "still one tip as blocks keep coming")


t.check("the healed network keeps producing on one tip", keeps_going)
t.finish()
