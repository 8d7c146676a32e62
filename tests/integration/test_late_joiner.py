"""Late joiner with many peers (DESIGN.md 7: "bodies are fetched in a
sliding window spread across all peers that have them").

Six masternodes hold the same 3,000 blocks (one forged chain, imported into
each store) and keep producing in their slots. A seventh node, regular and
empty, joins: it dials the six masternodes from the genesis and syncs:
  * it reaches their tip, and all seven stay on one tip;
  * the blocks came from more than one peer: its /peers shows
    blocks_received > 0 for at least two of the six (in fact most), and no
    single peer delivered everything."""

from harness import TestRun, expect, expect_eq, forge_chain
from nodes import past_timestamp, start_testnet, wait_same_tip
from prom import metric_value

BLOCKS = 3000

t = TestRun("late joiner")
state = {}


def setup():
    net = start_testnet(t, "net", 7, "--timestamp", past_timestamp(3 * 3600), masternodes=6, block_time="1s")
    chain = t.path("chain.tnc")
    forge_chain(t, net.dir, BLOCKS, chain)
    for n in list(net)[:6]:
        r = t.tool("tchain", "--data-dir", n.dir, "import", chain, timeout=120)
        expect_eq(r.rc, 0, f"tchain import into {n.name} ({r.stderr.strip()[-300:]})")
    six = list(net)[:6]
    for n in six:
        n.start()
    for n in six:
        n.wait_http()
    net.wait_connected(20.0, six)
    height, _ = wait_same_tip(six, 10.0, "the six masternodes on one tip")
    expect(height >= BLOCKS, f"height >= {BLOCKS}", height)
    state.update(net=net, six=six, joiner=net[7])


t.check(f"six masternodes on one tip at height >= {BLOCKS}", setup, required=True)


def joins():
    six, joiner = state["six"], state["joiner"]
    joiner.start()
    joiner.wait_http()
    joiner.wait_height(BLOCKS, 60.0)
    height, tip = wait_same_tip(six + [joiner], 10.0, "all seven nodes on one tip")
    t.note(f"all seven at height {height} ({tip[:16]})")


t.check("the seventh node syncs to the six's tip", joins)


def spread():
    joiner = state["joiner"]
    rows = joiner.peers()["peers"]
    served = {state["net"].name_of(p["node_id"]): p["blocks_received"] for p in rows}
    t.note(f"blocks delivered to node7 by each peer: {served}")
    expect_eq(len(rows), 6, "node7's peer count")
    givers = [name for name, n in served.items() if n > 0]
    expect(len(givers) >= 2, "blocks from at least two peers", served)
    # /peers counts per connection: one replaced by a duplicate (a
    # masternode dialling node7 back) starts again from 0, so the total is
    # the node's own counter.
    total = metric_value(joiner.metrics(), "tnode_blocks_received_total")
    expect(total >= BLOCKS, f"at least {BLOCKS} blocks received in all", total)
    expect(max(served.values()) < BLOCKS, "no single peer delivered every block", served)


t.check("the blocks were served by more than one peer (/peers blocks_received)", spread)
t.finish()
