"""Invalid blocks from a peer (DESIGN.md 3 validity, 6 "a peer that sends
an invalid block is banned").

node1 is a masternode producing blocks; a fake peer with node3's key (not a
masternode) completes the real handshake and announces a block on genesis
in the current slot, signed by itself: the wrong producer.
  * node1 counts it (tnode_invalid_blocks_total{reason="wrong_producer"}),
    closes the connection with reason banned and lists the fake at /bans;
  * the block never enters the store (/chain/block/<hash> is 404) and
    node1's chain keeps growing with its own blocks;
  * the fake peer cannot come back: its next handshake is refused (banned);
  * node2, an honest peer, stays connected and on node1's tip;
  * the ban is in the store: after kill -9 and a restart node1 still lists
    it (/bans, `tchain bans`, tnode_bans_active) and still refuses the
    fake peer; the operator lifts it (POST /admin/unban) and the same peer
    completes a handshake again (and is removed from `tchain bans`)."""

from harness import TestRun, expect, expect_eq, expect_in, poll
from nodes import start_testnet, wait_same_tip
from prom import metric_value

TOKEN = "ban-test"

t = TestRun("invalid block peer")
state = {}


def setup():
    net = start_testnet(t, "net", 3, masternodes=1, block_time="500ms")
    n1, n2, n3 = net[1], net[2], net[3]
    n1.start(f"http.admin_token={TOKEN}")
    n2.start()
    net.wait_http()
    net.wait_connected(15.0, [n1, n2])
    n1.wait_height(1, 10.0)
    state.update(net=net, n1=n1, n2=n2, n3=n3)


t.check("node1 (masternode) and node2 connected, producing", setup, required=True)


def rejected():
    n1, n3 = state["n1"], state["n3"]
    fake = t.spawn_tool("fake_peer", "--config", n3.config, "--connect", n1.listen, "--mode", "invalid-block")
    poll(lambda: ("closed:" in fake.stdout(), fake.stdout()[-300:] + fake.stderr()[-300:]), 10.0,
         "node1 to close the fake peer's connection")
    expect_in("closed: banned", fake.stdout(), "the fake peer's output (the reason node1 gave)")
    m = n1.metrics()
    count = metric_value(m, "tnode_invalid_blocks_total", reason="wrong_producer")
    expect(count >= 1, 'tnode_invalid_blocks_total{reason="wrong_producer"} >= 1', count)
    bans = n1.get_ok("/bans")["bans"]
    expect(any(b["node_id"] == n3.pubkey and "invalid block" in b["reason"] for b in bans),
           "node3's id banned for an invalid block at /bans", bans)
    expect_in("sent an invalid block", n1.log(), "node1's log")


t.check("node1 rejects the wrongly produced block, counts it and bans the sender", rejected)


def not_stored():
    n1, n2 = state["n1"], state["n2"]
    h, _ = n1.tip()
    n1.wait_height(h + 2, 10.0)
    for height in range(1, n1.height() + 1):
        b = n1.get_ok(f"/chain/block/{height}")
        expect_eq(b["producer"], n1.pubkey, f"producer of block {height} (node1, the only masternode)")
    wait_same_tip([n1, n2], 5.0, "node2 still on node1's tip")
    expect(n2.pubkey in n1.peer_ids(), "node2 still connected to node1", n1.peer_ids())


t.check("the invalid block is not in node1's chain; node1 keeps producing, node2 unaffected", not_stored)


def refused_again():
    n1, n3 = state["n1"], state["n3"]
    fake = t.spawn_tool("fake_peer", "--config", n3.config, "--connect", n1.listen, "--mode", "stall")
    poll(lambda: (not fake.running(), fake.stdout()), 10.0,
         "the banned fake peer's second attempt to end")
    expect_in("fail rejected:banned", fake.stdout(), "the second attempt's output")


t.check("the banned peer's next handshake is refused with reason banned", refused_again)


def fake_attempt(mode="stall"):
    fake = t.spawn_tool("fake_peer", "--config", state["n3"].config, "--connect", state["n1"].listen, "--mode", mode)
    poll(lambda: ("connected" in fake.stdout() or "fail" in fake.stdout(), fake.stdout() + fake.stderr()[-200:]), 10.0,
         "the fake peer's handshake to finish")
    return fake


def survives_restart():
    n1, n3 = state["n1"], state["n3"]
    n1.restart()
    n1.wait_http()
    bans = n1.get_ok("/bans")["bans"]
    expect(any(b["node_id"] == n3.pubkey for b in bans), "node3 still banned at /bans after kill -9 and restart",
           bans)
    expect_eq(metric_value(n1.metrics(), "tnode_bans_active"), 1.0, "tnode_bans_active after the restart")
    out = t.tool_json("tchain", "--data-dir", n1.dir, "--json", "bans")
    expect(any(b["node_id"] == n3.pubkey and "invalid block" in b["reason"] for b in out["bans"]),
           "tchain bans lists node3 with its reason", out)
    fake = fake_attempt()
    expect_in("fail rejected:banned", fake.stdout(), "the fake peer's attempt after the restart")


t.check("the ban survives kill -9 and a restart (/bans, tchain bans, metric; handshake refused)", survives_restart)


def unbanned():
    n1, n3 = state["n1"], state["n3"]
    status, body = n1.admin("/admin/unban", {"node_id": n3.pubkey}, TOKEN)
    expect_eq(status, 200, f"POST /admin/unban status ({body})")
    expect_eq(n1.get_ok("/bans")["count"], 0, "bans after the unban")
    fake = fake_attempt()
    expect_in("connected", fake.stdout(), "the fake peer's handshake after the unban")
    poll(lambda: (n3.pubkey in n1.peer_ids(), n1.peer_ids()), 5.0, "node3's id among node1's peers")
    out = t.tool_json("tchain", "--data-dir", n1.dir, "--json", "bans")
    expect_eq(out["count"], 0, "tchain bans count after the unban")


t.check("POST /admin/unban lifts it: the same peer connects again, tchain bans is empty", unbanned)
t.finish()
