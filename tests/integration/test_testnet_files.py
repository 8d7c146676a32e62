"""`tgenesis testnet` makes a ready local network: a genesis naming the
masternodes with their real keys and loopback addresses, and per node a
private key and a tnode.toml that parses, points at the right ports and
genesis, and at a chain store tchain can open. It never replaces a testnet
unless told to, and refuses impossible requests as usage errors."""

import hashlib
import os

from harness import (TestRun, expect, expect_eq, expect_in, expect_rc, file_mode, forge_chain,
                     testnet)

try:
    import tomllib  # Python 3.11+
except ImportError:  # pragma: no cover
    tomllib = None

t = TestRun("testnet files")
PAST = "2026-01-01T00:00:00Z"
state = {}


def load_toml(path):
    """The file as a dict: tomllib when available, else `key = value` lines."""
    with open(path, "rb") as f:
        raw = f.read()
    if tomllib is not None:
        try:
            return tomllib.loads(raw.decode())
        except tomllib.TOMLDecodeError as e:
            expect(False, f"{path} to be valid TOML", e)
    flat = {}
    section = ""
    for line in raw.decode().splitlines():
        line = line.strip()
        if line.startswith("[") and not line.startswith("[["):
            section = line.strip("[]")
            flat.setdefault(section, {})
        elif "=" in line and not line.startswith("#"):
            k, v = (s.strip() for s in line.split("=", 1))
            flat.setdefault(section, {})[k] = v.strip('"') if v.startswith('"') else v
    return flat


def snapshot(d):
    """{relative path: (sha256, mode)} for every file under d."""
    out = {}
    for root, _dirs, files in os.walk(d):
        for name in files:
            p = os.path.join(root, name)
            with open(p, "rb") as f:
                out[os.path.relpath(p, d)] = (hashlib.sha256(f.read()).hexdigest(), file_mode(p))
    return out


def check_layout(d, out, nodes, masternodes, base_port):
    expect_eq(len(out.get("nodes", [])), nodes, "number of nodes in `testnet --json`")
    genesis_path = os.path.join(d, "genesis.toml")
    expect(os.path.isfile(genesis_path), f"{genesis_path} to exist", os.listdir(d))
    show = t.tool_json("tgenesis", "--json", "show", genesis_path)
    expect_eq(show.get("hash"), out.get("hash"), "genesis hash from `show` vs from `testnet --json`")
    want_mns = [(f"mn{i}", out["nodes"][i - 1]["pubkey"], f"127.0.0.1:{base_port + 2 * (i - 1)}")
                for i in range(1, masternodes + 1)]
    got_mns = [(m.get("name"), m.get("pubkey"), m.get("address")) for m in show.get("masternodes", [])]
    expect_eq(got_mns, want_mns, "genesis masternodes (name, pubkey = node i's key, address)")
    mn_keys = {m[1] for m in got_mns}
    expect_eq(len({n["pubkey"] for n in out["nodes"]}), nodes, "number of distinct node keys")
    all_listen = [f"127.0.0.1:{base_port + 2 * (i - 1)}" for i in range(1, nodes + 1)]
    for i in range(1, nodes + 1):
        node_dir = os.path.join(d, f"node{i}")
        node = out["nodes"][i - 1]
        key, cfg_path = os.path.join(node_dir, "node.key"), os.path.join(node_dir, "tnode.toml")
        expect(os.path.isfile(key) and os.path.isfile(cfg_path), f"node.key and tnode.toml in {node_dir}",
               os.listdir(node_dir) if os.path.isdir(node_dir) else "no such directory")
        expect_eq(oct(file_mode(key)), oct(0o600), f"mode of {key}")
        port = base_port + 2 * (i - 1)
        role = "masternode" if i <= masternodes else "regular"
        expect_eq((node.get("listen"), node.get("http"), node.get("role")),
                  (f"127.0.0.1:{port}", f"127.0.0.1:{port + 1}", role), f"node{i} in `testnet --json`")
        expect_eq(node["pubkey"] in mn_keys, i <= masternodes, f"node{i}'s key listed in the genesis")
        cfg = load_toml(cfg_path)
        sect = lambda name: cfg.get(name, {})  # noqa: E731
        expect_eq(sect("network").get("listen"), f"127.0.0.1:{port}", f"{cfg_path} network.listen")
        expect_eq(sect("http").get("listen"), f"127.0.0.1:{port + 1}", f"{cfg_path} http.listen")
        expect_eq(sect("node").get("role"), role, f"{cfg_path} node.role")
        expect_eq(sect("node").get("key_file"), "node.key", f"{cfg_path} node.key_file")
        if tomllib is not None:
            peers = sect("network").get("peers")
            expect_eq(sorted(peers or []), sorted(a for a in all_listen if a != f"127.0.0.1:{port}"),
                      f"{cfg_path} network.peers (every other node)")
            gfile = sect("genesis").get("file", "")
            expect_eq(os.path.realpath(os.path.join(node_dir, gfile)), os.path.realpath(genesis_path),
                      f"{cfg_path} genesis.file resolved against the node dir")
            ddir = sect("node").get("data_dir", "")
            expect_eq(os.path.realpath(os.path.join(node_dir, ddir)), os.path.realpath(node_dir),
                      f"{cfg_path} node.data_dir resolved against the node dir")
        # The config parses (no exit 2) and points at DIR/node<i>/chain.
        elsewhere = t.path("elsewhere")
        os.makedirs(elsewhere, exist_ok=True)
        r = t.tool("tchain", "--config", cfg_path, "info", cwd=elsewhere)
        expect_rc(r, 1)
        expect_in("no chain store", r.stderr, f"stderr of `tchain --config {cfg_path} info` before any import")
        expect_in(os.path.join(node_dir, "chain"), r.stderr, "the store path tchain derived from the config")


def five_nodes():
    d, out = testnet(t, "five", "--nodes", 5, "--timestamp", PAST, "--block-time", "1s")
    check_layout(d, out, nodes=5, masternodes=5, base_port=24100)
    state["five"] = (d, out)


t.check("testnet --nodes 5: genesis, keys, configs on 24100.. (all masternodes)", five_nodes, required=True)


def three_of_five():
    d, out = testnet(t, "three", "--nodes", 5, "--masternodes", 3, "--base-port", 25000, "--block-time", "500ms",
                     "--timestamp", PAST)
    check_layout(d, out, nodes=5, masternodes=3, base_port=25000)
    show = t.tool_json("tgenesis", "--json", "show", os.path.join(d, "genesis.toml"))
    expect_eq(show.get("block_time"), "500ms", "genesis block_time")
    state["three"] = (d, out)


t.check("testnet --masternodes 3 --base-port 25000 --block-time 500ms: 3 masternodes, 2 regular",
        three_of_five, required=True)


def forged_chain_visible_through_config():
    # tforge signs with the node.key files; import validates every producer
    # signature against the genesis: this proves the keys match the genesis.
    for name, blocks in (("five", 50), ("three", 60)):
        d, _out = state[name]
        chain = t.path(f"{name}.chain")
        tip = forge_chain(t, d, blocks, chain)
        node1 = os.path.join(d, "node1")
        r = t.tool("tchain", "--data-dir", node1, "import", chain)
        expect_rc(r, 0)
        expect(os.path.isfile(os.path.join(node1, "chain", "CURRENT")), f"the store at {node1}/chain",
               os.listdir(node1))
        j = t.tool_json("tchain", "--config", os.path.join(node1, "tnode.toml"), "--json", "info",
                        cwd=t.path("elsewhere"))
        expect_eq((j.get("height"), j.get("tip")), (blocks, tip), f"(height, tip) of {name}/node1 through --config")
        expect_eq(j.get("genesis"), state[name][1]["hash"], "genesis of the imported store")
        expect_eq(j.get("masternodes"), 5 if name == "five" else 3, "masternodes in the store's genesis")
        r = t.tool("tchain", "--config", os.path.join(node1, "tnode.toml"), "verify")
        expect_rc(r, 0)


t.check("a chain forged with the node keys imports into node1 and tchain --config sees it",
        forged_chain_visible_through_config)


def no_replace_without_force():
    d, out = state["five"]
    before = snapshot(d)
    r = t.tool("tgenesis", "testnet", "--nodes", 5, "--dir", d)
    expect_rc(r, 1)
    expect_in(os.path.join(d, "genesis.toml"), r.stderr, "stderr of a second testnet on the same dir")
    expect_in("--force", r.stderr, "stderr of a second testnet on the same dir (the way out)")
    after = snapshot(d)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    expect(not changed, "no file changed by the refused testnet", changed)


t.check("testnet again on the same dir without --force: exit 1, nothing changed", no_replace_without_force)


def force_regenerates():
    d, out = state["five"]
    new = t.tool_json("tgenesis", "--json", "testnet", "--nodes", 3, "--dir", d, "--force", "--timestamp", PAST,
                      "--block-time", "1s")
    expect(new.get("hash") != out.get("hash"), "a new genesis hash after --force", new.get("hash"))
    check_layout(d, new, nodes=3, masternodes=3, base_port=24100)
    for gone in ("node4", "node5", os.path.join("node1", "chain")):
        expect(not os.path.exists(os.path.join(d, gone)), f"{gone} removed by --force", "it is still there")
    old_keys = {n["pubkey"] for n in out["nodes"]}
    expect(not old_keys & {n["pubkey"] for n in new["nodes"]}, "fresh keys after --force", "an old key was kept")


t.check("testnet --force regenerates (new genesis, new keys, old nodes and chain gone)", force_regenerates)


def usage_errors():
    cases = {
        "--nodes 0": ["--nodes", 0],
        "--masternodes > --nodes": ["--nodes", 3, "--masternodes", 4],
        "base port too high": ["--nodes", 5, "--base-port", 65530],
        "bad block time": ["--nodes", 2, "--block-time", "soon"],
    }
    for what, args in cases.items():
        d = t.path("usage-" + what.replace(" ", "_"))
        r = t.tool("tgenesis", "testnet", "--dir", d, *args)
        expect_rc(r, 2)
        expect(r.stderr.strip() != "", f"an error on stderr for {what}", "empty stderr")
        expect(not os.path.exists(os.path.join(d, "genesis.toml")), f"no genesis.toml written for {what}",
               "one was written")
    r = t.tool("tgenesis", "testnet", "--dir", t.path("usage-x"), "--nodes", 3, "--masternodes", 4)
    expect_in("--masternodes", r.stderr, "stderr for --masternodes > --nodes")
    r = t.tool("tgenesis", "testnet", "--dir", t.path("usage-y"), "--nodes", 5, "--base-port", 65530)
    expect_in("--base-port", r.stderr, "stderr for a base port too high")
    # The last node that fits exactly is accepted: 65526 + 2*4 + 1 = 65535.
    d, out = testnet(t, "edge", "--nodes", 5, "--base-port", 65526)
    expect_eq(out["nodes"][-1].get("http"), "127.0.0.1:65535", "http address of the last node at the edge")


t.check("usage errors (--nodes 0, --masternodes > nodes, base port too high) exit 2", usage_errors)

t.finish()
