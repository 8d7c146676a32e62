"""Bootstrap genesis (DESIGN.md 3: "A node can instead be given only the
genesis hash and fetch the genesis block from a peer (a trusted
bootstrap_node), verifying it against that hash").

node1 is the masternode and bootstrap node (genesis.bootstrap_node = true,
it holds genesis.toml). nodes 2-4 hold only `[genesis] hash` (file = "")
and name node1 in network.peers:
  * started before node1, they wait (retrying), then fetch the genesis from
    node1, verify its hash, create their stores and sync: all four on one
    tip;
  * restarted, a hash-only node opens its store without fetching again;
  * a hash-only node whose peers list first names the bootstrap node of
    another network refuses that genesis with a clear error, never asks
    that peer again, and takes it from node1;
  * a hash-only node whose only peer serves another genesis exits 1 naming
    both hashes' problem."""

from harness import TestRun, binary, expect, expect_eq, expect_in, poll
from nodes import start_testnet, toml_list, wait_same_tip

t = TestRun("bootstrap genesis")
state = {}


def hash_only(node, peers):
    return ('genesis.file=""', f"genesis.hash={state['hash']}", f"network.peers={toml_list(peers)}",
            "reconnect.base_delay=200ms", "reconnect.max_delay=1s")


def setup():
    net = start_testnet(t, "net", 5, masternodes=1, block_time="500ms")
    other = start_testnet(t, "other", 1, block_time="500ms", network="elsewhere")
    state.update(net=net, other=other, hash=net.hash)
    expect(net.hash != other.hash, "two different genesis hashes", (net.hash, other.hash))
    for n in (net[2], net[3], net[4]):
        n.start(*hash_only(n, [net[1].listen]))
    for n in (net[2], net[3], net[4]):
        poll(lambda n=n: ("cannot fetch genesis from" in n.log(), n.log_tail(3)), 10.0,
             f"{n.name} to report that the bootstrap node is not up yet")


t.check("three hash-only nodes start before the bootstrap node and wait for it", setup, required=True)


def fetch_and_sync():
    net = state["net"]
    net[1].start("genesis.bootstrap_node=true")
    nodes = [net[1], net[2], net[3], net[4]]
    for n in nodes:
        n.wait_http(20.0)
    for n in nodes[1:]:
        expect_in(f"fetched from {net[1].listen} and verified", n.log(), f"{n.name}'s log")
        _, h = n.health()
        expect_eq(h["genesis"], state["hash"], f"{n.name}'s genesis")
    net[1].wait_height(3, 15.0)
    height, tip = wait_same_tip(nodes, 15.0, "all four nodes on one tip")
    expect(height >= 3, "height >= 3", height)
    # Genesis requests are logged per IP: the first at once, the rest in a
    # summary once a minute (the three hash-only nodes share 127.0.0.1).
    served = net[1].log().count("served genesis to 127.0.0.1")
    expect(served >= 1, "node1 logged serving the genesis to 127.0.0.1", served)


t.check("they fetch the genesis from node1, verify its hash, and sync: one tip", fetch_and_sync)


def restart_without_fetch():
    net = state["net"]
    n2 = net[2]
    n2.restart()
    n2.wait_http()
    second = n2.starts[-1].stderr() + n2.starts[-1].stdout()
    expect("fetching genesis" not in second, "no genesis fetch on restart (the store has it)", second[-400:])
    wait_same_tip([net[1], n2], 10.0, "node2 back on node1's tip")


t.check("restarted, a hash-only node uses its store's genesis (no fetch)", restart_without_fetch)


def wrong_then_right():
    net, other = state["net"], state["other"]
    other[1].start()
    other[1].wait_http()
    n5 = net[5]
    n5.start(*hash_only(n5, [other[1].listen, net[1].listen]))
    n5.wait_http(20.0)
    log = n5.log()
    expect_in(f"genesis from {other[1].listen} refused", log, "node5's log")
    expect_in("this peer will not be asked again", log, "node5's log")
    expect_eq(log.count(f"genesis from {other[1].listen} refused"), 1, "refusals of the wrong peer's genesis")
    expect_in(f"fetched from {net[1].listen} and verified", log, "node5's log")
    wait_same_tip([net[1], n5], 15.0, "node5 on node1's tip")


t.check("a peer serving another genesis is refused once and never asked again; the right one is used",
        wrong_then_right)


def only_wrong_peer():
    other = state["other"]
    d = t.subdir("lonely")
    r = t.tool("tnode", "--config", state["net"][5].config, "--data-dir", d, "--listen", "127.0.0.1:1",
               "--set", 'genesis.file=""', "--set", f"genesis.hash={state['hash']}", "--peer", other[1].listen,
               timeout=30)
    expect_eq(r.rc, 1, f"exit code with only a wrong-genesis peer ({r.stderr.strip()[-300:]})")
    expect_in("serves a genesis other than genesis.hash", r.stderr, "stderr")
    expect_in(state["hash"], r.stderr, "stderr (the pinned hash)")


t.check("with only a wrong-genesis peer, the node exits 1 with a clear error", only_wrong_peer)
t.finish()
