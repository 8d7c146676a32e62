"""A slow reader is dropped, not buffered forever (DESIGN.md 6: "a cap on
each peer's send queue (a slow peer is dropped, not buffered forever)").

node1 holds 3,000 blocks. A fake peer (node2's identity) completes the
handshake, then asks for 2,000 headers again and again and never reads an
answer. node1 queues each ~440 KB answer until the peer's send queue passes
16 MiB, then drops it:
  * tnode_disconnects_total{reason="slow_peer"} counts it, and the log says
    why ("send queue over ...");
  * node1's memory stays bounded (RSS grows by far less than what the peer
    asked for) and node1 keeps working (/health, producing)."""


from harness import TestRun, expect, expect_eq, forge_chain, poll
from nodes import past_timestamp, start_testnet
from procfs import asan_rss_allowance_mb, rss_kb
from prom import metric_value

BLOCKS = 3000

t = TestRun("slow reader")
state = {}


# Bounds ASan's quarantine for the nodes started here (0 in a normal build).
ASAN_ALLOWANCE_MB = asan_rss_allowance_mb()
ASAN = ASAN_ALLOWANCE_MB > 0


def setup():
    net = start_testnet(t, "net", 2, "--timestamp", past_timestamp(3 * 3600), masternodes=1, block_time="1s")
    chain = t.path("chain.tnc")
    forge_chain(t, net.dir, BLOCKS, chain)
    n1 = net[1]
    r = t.tool("tchain", "--data-dir", n1.dir, "import", chain, timeout=120)
    expect_eq(r.rc, 0, f"tchain import ({r.stderr.strip()[-300:]})")
    n1.start()
    n1.wait_http()
    state.update(net=net, n1=n1, n2=net[2], rss_before=rss_kb(n1.proc.pid))


t.check(f"node1 with {BLOCKS} blocks", setup, required=True)


def dropped():
    n1, n2 = state["n1"], state["n2"]
    fake = t.spawn_tool("fake_peer", "--config", n2.config, "--connect", n1.listen, "--mode", "slow-reader")
    poll(lambda: (metric_value(n1.metrics(), "tnode_disconnects_total", reason="slow_peer") >= 1,
                  fake.stdout()[-200:]), 60.0, 'node1 to drop the peer: tnode_disconnects_total{reason="slow_peer"}')
    expect("send queue over" in n1.log(), "the reason in node1's log", n1.log_tail(5))
    sent = [ln for ln in fake.stdout().splitlines() if ln.startswith("sent ")]
    t.note(f"the fake peer's last progress: {sent[-1] if sent else 'none'}")
    grown_mb = (rss_kb(n1.proc.pid) - state["rss_before"]) / 1024
    t.note(f"node1 RSS grew by {grown_mb:.1f} MiB")
    limit = 96 + ASAN_ALLOWANCE_MB
    expect(grown_mb < limit, f"node1's RSS to grow by less than {limit} MiB (send queue cap 16 MiB"
           + (", plus the ASan allowance)" if ASAN else ")"), f"{grown_mb:.1f} MiB")


t.check("node1 drops the peer that never reads, with reason slow_peer; memory bounded", dropped)


def still_fine():
    n1 = state["n1"]
    h, _ = n1.tip()
    n1.wait_height(h + 1, 10.0)
    status, body = n1.health()
    # 503 "no peers" is right: node1 lists a static peer that is not running.
    expect(status in (200, 503) and body["height"] >= h + 1, "node1 /health answering with the new height",
           f"{status} {body}")


t.check("node1 keeps producing and answering", still_fine)
t.finish()
