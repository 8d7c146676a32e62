#!/usr/bin/env python3
"""tpeer-probe identifies any peer and maps the whole network (issue 14):

  * `connect HOST:PORT` with no config, against live nodes of two different
    networks, names each network (asked with the pre-handshake genesis
    request) and each node's height; against a node's HTTP port it says
    "this is an HTTP server"; `connect --genesis FILE` with no target probes
    every masternode of that genesis;
  * `crawl` of a 12-node testnet (4 masternodes, 8 regular) from one seed
    finds all 12, exactly the edges the nodes' own /peers show, one
    component, every masternode, exit 0; `--svg` and `--png` are valid
    images (kept under build/test-output/test_probe_crawl/);
  * split by admin bans into two sides of 6: two components with the right
    members, exit 1, and the picture shows both;
  * a masternode stopped: reported missing with failure class `refused`.
"""

import os

from harness import TestRun, bin_dir, expect, expect_eq, expect_in, expect_rc, poll
from nodes import running_testnet, start_testnet

TOKEN = "crawl-test"
# The crawler takes an inbound slot as a regular peer from 127.0.0.1, where
# the 8 regular nodes already are: room for it under the per-IP cap.
SETS = [f"http.admin_token={TOKEN}", "network.max_per_ip=16", "reconnect.base_delay=200ms",
        "reconnect.max_delay=1s"]

t = TestRun("tpeer-probe connect identifies, crawl maps")
state = {}
output_dir = os.path.join(bin_dir(), "test-output", "test_probe_crawl")
os.makedirs(output_dir, exist_ok=True)


def probe(*args, **kw):
    return t.tool("tpeer-probe", *args, **kw)


def probe_json(*args, rc):
    r = probe("--json", *args)
    expect_rc(r, rc)
    return r.json()


# ----------------------------------------------------------------- connect


def two_networks():
    alpha = running_testnet(t, "alpha", 2, network="alpha", masternodes=2)
    beta = running_testnet(t, "beta", 2, network="beta", masternodes=1)
    alpha[1].wait_height(1, 15.0)
    beta[1].wait_height(1, 15.0)
    state.update(alpha=alpha, beta=beta)


t.check("two networks, alpha and beta, running", two_networks, required=True)


def connect_names_network():
    for net, name in ((state["alpha"], "alpha"), (state["beta"], "beta")):
        node = net[1]
        doc = probe_json("connect", node.listen, rc=0)
        expect_eq(doc["network"], None, "network given")
        tg = doc["targets"][0]
        expect_eq([s["step"] for s in tg["steps"]], ["genesis", "connect", "handshake", "ping"], "steps")
        expect_eq(tg["network"]["name"], name, "the network the peer named")
        expect_eq(tg["network"]["genesis_hash"], net.hash, "its genesis hash")
        expect_eq(tg["peer"]["node_id"], node.pubkey, "node id")
        expect_eq((tg["peer"]["role"], tg["peer"]["role_checked"]), ("masternode", True), "role, checked")
        height = node.height()
        expect(abs(tg["peer"]["best_height"] - height) <= 2, f"best_height near /health's {height}",
               tg["peer"]["best_height"])
        r = probe("connect", node.listen)
        expect_rc(r, 0)
        expect_in(f"network     {name}", r.stdout, "text output names the network")


t.check("connect with no config names each node's network, id and height", connect_names_network)


def connect_http_port():
    node = state["alpha"][1]
    doc = probe_json("connect", node.http, rc=1)
    tg = doc["targets"][0]
    expect_eq(tg["class"], "protocol_error:http_server", "class against the HTTP port")
    r = probe("connect", node.http)
    expect_rc(r, 1)
    expect_in("this is an HTTP server", r.stdout, "text output")


t.check("connect to the HTTP port: 'this is an HTTP server'", connect_http_port)


def connect_masternodes_of_genesis():
    net = state["alpha"]
    doc = probe_json("connect", "--genesis", net.genesis, rc=0)
    got = sorted(tg["peer"]["node_id"] for tg in doc["targets"])
    expect_eq(got, sorted(n.pubkey for n in net), "node ids probed: the genesis masternodes")
    expect_eq(sorted(tg["target"] for tg in doc["targets"]), ["mn1", "mn2"], "targets named as in genesis")


t.check("connect --genesis with no target probes every masternode", connect_masternodes_of_genesis)


def stop_small_networks():
    for net in (state["alpha"], state["beta"]):
        for n in net:
            n.kill9()


t.check("the two small networks stopped", stop_small_networks)


# ----------------------------------------------------------------- crawl


def crawl_json(*args, rc=None):
    r = probe("--json", "crawl", "--timeout", "3s", *args)
    if rc is not None:
        expect_rc(r, rc)
    return r, r.json()


def peers_edges(nodes):
    edges = set()
    for n in nodes:
        for p in n.peer_ids():
            edges.add(frozenset((n.pubkey, p)))
    return edges


def big_network():
    net = start_testnet(t, "big", 12, masternodes=4, block_time="1s")
    net.start_all(*SETS)
    net.wait_http()
    # Masternodes are always dialled; regular nodes find each other by gossip.
    poll(lambda: (all(len(n.peer_ids()) >= 4 for n in net), {n.name: len(n.peer_ids()) for n in net}), 40.0,
         "every node connected to at least the 4 masternodes")
    net[1].wait_height(2, 15.0)
    state["big"] = net


t.check("a 12-node testnet (4 masternodes, 8 regular) running", big_network, required=True)


def crawl_whole():
    net = state["big"]

    def matches():
        r, doc = crawl_json(net[5].listen)  # a regular node as the only seed
        if r.rc != 0:
            return False, f"exit {r.rc}: {doc.get('summary')}"
        crawled = {frozenset((e["a"], e["b"])) for e in doc["edges"]}
        seen = peers_edges(net)
        reached = sorted(n["node_id"] for n in doc["nodes"] if n["reached"])
        ok = crawled == seen and reached == sorted(n.pubkey for n in net)
        state["doc"] = doc
        return ok, (f"reached {len(reached)}, edges crawled {len(crawled)} vs /peers {len(seen)}, "
                    f"differ by {len(crawled ^ seen)}")

    poll(matches, 30.0, "crawl: all 12 reached, the edges of every node's /peers", interval=0.5)
    doc = state["doc"]
    s = doc["summary"]
    expect_eq((s["reached"], s["components"], s["masternodes"], s["masternodes_missing"]), (12, 1, 4, 0),
              "summary (reached, components, masternodes, missing)")
    expect_eq(doc["ok"], True, "ok")
    expect_eq(len(doc["components"]), 1, "components")
    for e in doc["edges"]:
        expect(e["confirmed"], "every edge confirmed by both ends", e)
    names = {n["name"] for n in doc["nodes"] if n["name"]}
    expect_eq(names, {"mn1", "mn2", "mn3", "mn4"}, "masternodes named as in genesis")


t.check("crawl from one regular seed: all 12 nodes, the right edges, one component, exit 0", crawl_whole)


def is_svg(path):
    with open(path, "rb") as f:
        head = f.read(4096)
    return b"<svg" in head


def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def pictures(tag, rc):
    net = state["big"]
    svg = os.path.join(output_dir, f"crawl_{tag}.svg")
    png = os.path.join(output_dir, f"crawl_{tag}.png")
    dot = os.path.join(output_dir, f"crawl_{tag}.dot")
    for p in (svg, png, dot):
        if os.path.exists(p):
            os.remove(p)
    r = probe("crawl", "--timeout", "3s", "--genesis", net.genesis, "--dot", dot, "--svg", svg, "--png", png)
    expect_rc(r, rc)
    expect(is_svg(svg), f"{svg} to be an SVG document", open(svg, "rb").read(64) if os.path.exists(svg) else "none")
    expect(is_png(png), f"{png} to be a PNG image", "no PNG signature")
    t.note(f"picture: {png}")
    with open(dot) as f:
        return f.read(), r.stdout


def picture_whole():
    text, out = pictures("connected", 0)
    expect_eq(text.count("subgraph cluster_"), 1, "one cluster in the DOT")
    expect_in("the network is connected", out, "text summary")


t.check("crawl --svg --png --dot from the genesis masternodes: valid images, one cluster", picture_whole)


def split():
    net = state["big"]
    side_a = [net[i] for i in (1, 2, 5, 6, 7, 8)]
    side_b = [net[i] for i in (3, 4, 9, 10, 11, 12)]
    for x, ys in ((side_a, side_b), (side_b, side_a)):
        for a in x:
            for b in ys:
                status, body = a.admin("/admin/ban", {"node_id": b.pubkey, "duration": "1h", "reason": "crawl test"},
                                       TOKEN)
                expect(status == 200, f"{a.name} bans {b.name}: 200", f"{status} {body}")
    state.update(side_a=side_a, side_b=side_b)
    want = sorted([sorted(n.pubkey for n in side_a), sorted(n.pubkey for n in side_b)])

    def two_sides():
        r, doc = crawl_json("--genesis", net.genesis)
        got = sorted(sorted(c) for c in doc["components"])
        state["split_doc"], state["split_rc"] = doc, r.rc
        return got == want, f"exit {r.rc}, components of sizes {[len(c) for c in doc['components']]}"

    poll(two_sides, 30.0, "crawl: two components, exactly the two sides", interval=0.5)
    expect_eq(state["split_rc"], 1, "exit status of a split network")
    expect_eq(state["split_doc"]["ok"], False, "ok")
    text, out = pictures("split", 1)
    expect_eq(text.count("subgraph cluster_"), 2, "two clusters in the DOT")
    expect_in("PARTITION", out, "text summary")


t.check("split by bans into two sides of 6: two components with the right members, exit 1", split)


def missing_masternode():
    net = state["big"]
    net[4].kill9()
    r, doc = crawl_json("--genesis", net.genesis, rc=1)
    mn4 = [m for m in doc["masternodes"] if m["name"] == "mn4"]
    expect_eq(len(mn4), 1, "mn4 in the masternode list")
    expect_eq((mn4[0]["state"], mn4[0].get("failure_class")), ("missing", "refused"), "mn4 (state, failure_class)")
    expect(doc["summary"]["masternodes_missing"] >= 1, "at least one masternode missing", doc["summary"])
    text, out = pictures("split_missing", 1)
    expect_in("mn4", out, "text output names the missing masternode")
    expect_in("refused", out, "and its failure class")
    expect_in("MISSING: refused", text, "the picture shows it")
    with open(os.path.join(output_dir, "crawl_split_missing.txt"), "w") as f:
        f.write(out)


t.check("a stopped masternode is reported missing with class refused, exit 1", missing_masternode)

t.finish()
