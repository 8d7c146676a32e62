#!/usr/bin/env python3
"""tnode's operator surface and life cycle (DESIGN.md sections 6, 8, 10):

  * GET /health names who the node is: its network, the protocol version
    and user agent its handshake announces (tpeer-probe connect), the
    version `tnode --version` prints, its node id and role;
  * GET /metrics of a live node passes `promtool check metrics` and carries
    the section 8 names; /chain/tip and /chain/block/{height|hash} answer,
    with 404 for a missing block and 400 for a malformed id;
  * admin endpoints: refused (403) without or with a wrong token; with it,
    disconnect closes the peer (which reconnects), ban refuses the peer at
    the handshake with reason `banned` and GET /bans lists it, unban lets it
    back in;
  * SIGTERM: the node says goodbye (its peer counts a close with reason
    `shutdown`) and exits 0;
  * a node whose open-file hard limit cannot hold its configured
    connections refuses to start, exit 1, saying how many it needs.
"""

import resource
import shutil
import subprocess

import nodes
import prom
from harness import TestRun, binary, expect, expect_eq, expect_in, expect_rc, poll, run

TOKEN = "endpoint-test-token"
FAST = ["reconnect.base_delay=100ms", "reconnect.max_delay=400ms", f"http.admin_token={TOKEN}"]

t = TestRun("tnode endpoints, admin, shutdown and start-up limits")
NETWORK = "endpointnet"
net = nodes.start_testnet(t, "net", nodes=2, network=NETWORK)
a, b = net[1], net[2]


def start():
    net.start_all(*FAST)
    net.wait_connected(timeout=15)


t.check("two masternodes connect", start, required=True)


def health_names_the_node():
    status, health = a.health()
    expect_eq(status, 200, f"GET /health status ({health})")
    expect_eq((health["network"], health["node_id"], health["role"]), (NETWORK, a.pubkey, "masternode"),
              "/health (network, node_id, role)")
    r = run([binary("tnode"), "--version"])
    expect_rc(r, 0)
    expect_eq(health["version"], r.stdout.split()[-1], f"/health version (`tnode --version`: {r.stdout.strip()})")
    # The protocol version is the one the node's handshake announces.
    probe = run([binary("tpeer-probe"), "--json", "connect", "--genesis", net.genesis, a.listen])
    expect_rc(probe, 0)
    peer = probe.json()["targets"][0]["peer"]
    expect_eq(health["protocol_version"], peer["protocol_version"], "/health protocol_version (= the handshake's)")
    expect_eq("tnode/" + health["version"], peer["user_agent"], "tnode/<version> (= the handshake's user agent)")
    for key in ("status", "height", "tip", "genesis", "peers", "syncing", "sync", "uptime_s"):
        expect(key in health, f"/health to keep its field {key}", sorted(health))


t.check("/health names the network, protocol and software version, node id and role", health_names_the_node)


def metrics_pass_promtool():
    text = a.get_ok("/metrics")
    tool = shutil.which("promtool")
    expect(tool is not None, "promtool on PATH (scripts/setup installs prometheus)", "not found")
    r = subprocess.run([tool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    expect(r.returncode == 0, "promtool check metrics to exit 0", f"exit {r.returncode}: {r.stdout}{r.stderr}")
    for name in ("tnode_handshakes_total", "tnode_handshake_duration_seconds_bucket", "tnode_connections",
                 "tnode_connections_max", "tnode_reconnect_attempts_total", "tnode_chain_height", "tnode_peer_height",
                 "tnode_messages_total", "tnode_bytes_total", "tnode_breakers_open"):
        expect_in(name, text, "GET /metrics")
    m = prom.parse_metrics(text)
    expect_eq(prom.metric_value(m, "tnode_handshakes_total", result="ok") >= 1, True, "handshakes ok >= 1")
    # The masternodes produce meanwhile: node1's view of node2's height
    # follows node2's own (announcements lag it by a block at most).
    def peer_height_follows():
        seen = prom.metric_value(prom.parse_metrics(a.get_ok("/metrics")), "tnode_peer_height", peer=b.pubkey)
        actual = b.height()
        return (abs(seen - actual) <= 1, f"tnode_peer_height of node2 {seen}, node2 at {actual}")

    poll(peer_height_follows, 5.0, "node1's tnode_peer_height of node2 to follow node2's height")


t.check("/metrics of a live node passes promtool and carries the section 8 names", metrics_pass_promtool)


def chain_endpoints():
    # The masternodes produce meanwhile: read the tip, then check the blocks
    # against it (a newer tip can only be higher).
    tip = a.get_ok("/chain/tip")
    _, health = a.health()
    expect(health["height"] >= tip["height"], f"/health height >= /chain/tip height {tip['height']}",
           health["height"])
    by_height = a.get_ok(f"/chain/block/{tip['height']}")
    expect_eq(by_height["hash"], tip["hash"], f"/chain/block/{tip['height']} hash (= /chain/tip hash)")
    by_hash = a.get_ok("/chain/block/" + tip["hash"])
    expect_eq(by_hash["height"], tip["height"], "/chain/block/<hash> height")
    genesis = a.get_ok("/chain/block/0")
    expect_eq(genesis["hash"], health["genesis"], "/chain/block/0 hash (= /health genesis)")
    status, body = a.get("/chain/block/100000")
    expect_eq(status, 404, f"/chain/block/100000 status ({body})")
    status, body = a.get("/chain/block/not-a-block")
    expect_eq(status, 400, f"/chain/block/not-a-block status ({body})")


t.check("/chain/tip and /chain/block/{height|hash} answer; 404 missing, 400 malformed", chain_endpoints)


def admin_needs_token():
    for token, why in ((None, "no token"), ("wrong", "wrong token")):
        status, body = a.admin("/admin/disconnect", {"node_id": b.pubkey}, token)
        expect_eq(status, 403, f"POST /admin/disconnect with {why} ({body})")
    expect_eq(a.peer_ids(), [b.pubkey], "node1's peers after refused admin calls")


t.check("admin endpoints refuse requests without the right token", admin_needs_token)


def disconnect_then_back():
    before = a.peers()["peers"][0]["session"]
    status, body = a.admin("/admin/disconnect", {"node_id": b.pubkey}, TOKEN)
    expect_eq(status, 200, f"POST /admin/disconnect ({body})")
    expect_eq(body.get("disconnected"), 1, "connections closed")
    poll(lambda: (prom.metric_value(b.metrics(), "tnode_disconnects_total", reason="admin") >= 1,
                  "node2's disconnects"), 10, "node2 to count a close with reason admin")
    poll(lambda: (a.peer_ids() == [b.pubkey], a.peer_ids()), 10, "node2 back in node1's /peers")
    expect_eq(a.peers()["peers"][0]["session"], before, "node2's session (same process)")


t.check("disconnect closes the peer with reason admin, and it reconnects", disconnect_then_back)


def ban_and_unban():
    status, body = a.admin("/admin/ban", {"node_id": b.pubkey, "duration": "1h", "reason": "endpoint test"}, TOKEN)
    expect_eq(status, 200, f"POST /admin/ban ({body})")
    poll(lambda: (a.peer_ids() == [], a.peer_ids()), 10, "node2 gone from node1's /peers")
    bans = a.get_ok("/bans")
    expect_eq([x["node_id"] for x in bans["bans"]], [b.pubkey], "GET /bans")
    expect_eq(bans["bans"][0]["reason"], "endpoint test", "ban reason")
    poll(lambda: (prom.metric_value(b.metrics(), "tnode_handshake_failures_total", reason="banned") >= 1,
                  "node2's handshake failures"), 10, "node2 to be refused with reason banned")
    expect_eq(a.peer_ids(), [], "node1's peers while node2 is banned")
    status, body = a.admin("/admin/unban", {"node_id": b.pubkey}, TOKEN)
    expect_eq(status, 200, f"POST /admin/unban ({body})")
    poll(lambda: (a.peer_ids() == [b.pubkey], a.peer_ids()), 15, "node2 back after the unban")
    status, body = a.admin("/admin/unban", {"node_id": b.pubkey}, TOKEN)
    expect_eq(status, 404, f"a second unban ({body})")


t.check("ban refuses the peer at the handshake (reason banned); unban lets it back", ban_and_unban)


def sigterm_says_goodbye():
    rc = b.proc.terminate(grace=10)
    expect_eq(rc, 0, f"node2's exit status after SIGTERM (log tail:\n{b.log_tail()})")
    poll(lambda: (prom.metric_value(a.metrics(), "tnode_disconnects_total", reason="shutdown") >= 1,
                  "node1's disconnects"), 10, "node1 to count a close with reason shutdown")
    expect_in("tnode stopped", b.log(), "node2's log")


t.check("SIGTERM: peers are told shutdown, exit 0", sigterm_says_goodbye)


def refuses_without_fds():
    lone = nodes.start_testnet(t, "lone", nodes=1)
    hard = 64  # far below what the default limits need (several hundred)

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    r = subprocess.run([binary("tnode"), "--config", lone[1].config], capture_output=True, text=True, timeout=60,
                       preexec_fn=limit)
    expect_eq(r.returncode, 1, f"tnode's exit status with a hard limit of {hard} (stderr: {r.stderr[-600:]})")
    expect_in("open files", r.stderr, "the error")
    expect_in(f"hard limit is {hard}", r.stderr, "the error")


t.check("a node that cannot hold its connections' file descriptors refuses to start", refuses_without_fds)

t.finish()
