"""`tgenesis network` makes one directory per real host, ready to copy: a
genesis naming the first M hosts as masternodes at their ADDR:PORT, and per
host a private key, its own copy of the genesis and a tnode.toml that tnode
accepts (listen on every interface, external_address, every other host as a
peer). Copied elsewhere, the directories form a working network. It never
replaces an earlier network unless told to, and refuses bad hosts and
counts as usage errors naming the bad value."""

import os
import shutil

from harness import TestRun, expect, expect_eq, expect_in, expect_rc, file_mode
from nodes import Node, wait_same_tip
from ports import free_port_range

try:
    import tomllib  # Python 3.11+
except ImportError:  # pragma: no cover
    tomllib = None

t = TestRun("tgenesis network")
PAST = "2026-01-01T00:00:00Z"
HOSTS = ["alpha=10.0.0.1", "beta=10.0.0.2:24200", "gamma=node-c.example.org:24300"]
ADDRESSES = {"alpha": "10.0.0.1:24100", "beta": "10.0.0.2:24200", "gamma": "node-c.example.org:24300"}
state = {}


def host_args(hosts):
    return [a for h in hosts for a in ("--host", h)]


def network(name, hosts, *args):
    d = t.path(name)
    out = t.tool_json("tgenesis", "--json", "network", "--dir", d, *host_args(hosts), *args)
    return d, out


def check_config_accepted(cfg_path):
    """tnode's own parser accepts the file; returns its resolved TOML text."""
    r = t.tool("tnode", "--config", cfg_path, "--check-config", cwd=t.path())
    expect_rc(r, 0)
    return r.stdout


def three_hosts_two_masternodes():
    d, out = network("net", HOSTS, "--masternodes", 2, "--timestamp", PAST, "--block-time", "1s")
    state["net"] = (d, out)
    names = [n.get("name") for n in out.get("nodes", [])]
    expect_eq(names, ["alpha", "beta", "gamma"], "hosts in `network --json`, in --host order")
    expect_eq(sorted(os.listdir(d)), ["README", "alpha", "beta", "gamma", "genesis.toml"], f"contents of {d}")
    genesis = os.path.join(d, "genesis.toml")
    show = t.tool_json("tgenesis", "--json", "show", genesis)
    expect_eq(show.get("hash"), out.get("hash"), "genesis hash from `show` vs from `network --json`")
    expect_eq(show.get("block_time"), "1s", "genesis block_time")
    by_name = {n["name"]: n for n in out["nodes"]}
    got = [(m.get("name"), m.get("pubkey"), m.get("address")) for m in show.get("masternodes", [])]
    want = [(n, by_name[n]["pubkey"], ADDRESSES[n]) for n in ("alpha", "beta")]
    expect_eq(got, want, "genesis masternodes (name, the host's key, ADDR:PORT), the first two hosts")
    with open(genesis, "rb") as f:
        shared = f.read()
    for name, node in by_name.items():
        hd = os.path.join(d, name)
        expect_eq(sorted(os.listdir(hd)), ["genesis.toml", "node.key", "tnode.toml"], f"contents of {hd}")
        expect_eq(oct(file_mode(os.path.join(hd, "node.key"))), oct(0o600), f"mode of {hd}/node.key")
        with open(os.path.join(hd, "genesis.toml"), "rb") as f:
            expect(f.read() == shared, f"{hd}/genesis.toml to be a copy of {genesis}", "it differs")
        role = "masternode" if name != "gamma" else "regular"
        port = ADDRESSES[name].rsplit(":", 1)[1]
        expect_eq((node.get("role"), node.get("address"), node.get("listen"), node.get("http")),
                  (role, ADDRESSES[name], f"0.0.0.0:{port}", "127.0.0.1:24101"), f"{name} in `network --json`")
        resolved = check_config_accepted(node["config"])
        if tomllib is None:
            expect_in(f'external_address = "{ADDRESSES[name]}"', resolved, f"{name}'s resolved config")
            continue
        cfg = tomllib.loads(resolved)
        net, n = cfg["network"], cfg["node"]
        expect_eq((net["listen"], net["external_address"]), (f"0.0.0.0:{port}", ADDRESSES[name]),
                  f"{name}: network.listen, network.external_address")
        expect_eq(sorted(net["peers"]), sorted(a for h, a in ADDRESSES.items() if h != name),
                  f"{name}: network.peers (every other host)")
        expect_eq(cfg["http"]["listen"], "127.0.0.1:24101", f"{name}: http.listen")
        expect_eq((n["role"], n["data_dir"], n["key_file"]), (role, ".", "node.key"), f"{name}: node keys")
        expect_eq((cfg["genesis"]["file"], cfg["genesis"]["bootstrap_node"]), ("genesis.toml", name == "alpha"),
                  f"{name}: genesis.file (its own copy), bootstrap_node (first host only)")
    with open(os.path.join(d, "README")) as f:
        readme = f.read()
    for needle in ["tnode -c tnode.toml", "24100/tcp", "24200/tcp", "24300/tcp", "node.key", "secret",
                   out["hash"]] + [f"{h}/" for h in ADDRESSES]:
        expect_in(needle, readme, f"{d}/README")


t.check("network: 3 hosts, 2 masternodes: genesis, keys, genesis copies, configs tnode accepts, README",
        three_hosts_two_masternodes, required=True)


def copied_directories_run():
    # Three "hosts" on loopback: each directory copied to a place of its own
    # (as an operator would), started with nothing but its tnode.toml. Only
    # the listen addresses are overridden, so nothing binds beyond loopback
    # and HTTP does not need the default port.
    base = free_port_range(6)
    hosts = [f"h{i}=127.0.0.1:{base + 2 * i}" for i in range(3)]
    d, out = network("loop", hosts, "--masternodes", 2, "--block-time", "500ms")
    nodes = []
    for i, info in enumerate(out["nodes"]):
        there = t.path("hosts", info["name"])
        shutil.copytree(info["dir"], there)
        expect_eq(oct(file_mode(os.path.join(there, "node.key"))), oct(0o600), f"mode of the copied {there}/node.key")
        listen, http = f"127.0.0.1:{base + 2 * i}", f"127.0.0.1:{base + 2 * i + 1}"
        node = Node(t, i + 1, dict(info, config=os.path.join(there, "tnode.toml"), dir=there, listen=listen,
                                   http=http), there)
        node.start(f"network.listen={listen}", f"http.listen={http}")
        nodes.append(node)
    shutil.rmtree(d)  # the copies must stand alone
    for n in nodes:
        n.wait_http()
    for n in nodes:
        n.wait_height(3, 30)
    wait_same_tip(nodes, 30, "the three copied hosts on one tip at height >= 3")
    t.note(f"copied hosts on one tip (height {nodes[0].height()})")


t.check("the directories, copied apart and started, connect and agree on a growing chain", copied_directories_run)


def usage_errors():
    cases = [
        ("duplicate name", ["a=10.0.0.1", "a=10.0.0.2"], [], "duplicate name 'a'"),
        ("duplicate address", ["a=10.0.0.1", "b=10.0.0.1:24100"], [], "duplicate address 10.0.0.1:24100"),
        ("bad port", ["a=10.0.0.1:70000"], [], "70000"),
        ("port not a number", ["a=10.0.0.1:http"], [], "'http'"),
        ("no '='", ["10.0.0.1"], [], "NAME=ADDR[:PORT]"),
        ("bad name", ["a b=10.0.0.1"], [], "invalid character ' '"),
        ("name of a file", ["genesis.toml=10.0.0.1"], [], "genesis.toml"),
        ("M too big", ["a=10.0.0.1", "b=10.0.0.2", "c=10.0.0.3"], ["--masternodes", 4], "--masternodes 4"),
        ("M zero", ["a=10.0.0.1"], ["--masternodes", 0], "--masternodes 0"),
        ("bad block time", ["a=10.0.0.1"], ["--block-time", "soon"], "--block-time"),
    ]
    for what, hosts, extra, needle in cases:
        d = t.path("usage-" + what.replace(" ", "_").replace("'", ""))
        r = t.tool("tgenesis", "network", "--dir", d, *host_args(hosts), *extra)
        expect_rc(r, 2)
        expect_in(needle, r.stderr, f"stderr for {what}")
        expect(not os.path.exists(d), f"nothing written for {what}", os.listdir(d) if os.path.isdir(d) else d)
    r = t.tool("tgenesis", "network", "--dir", t.path("usage-none"))
    expect_rc(r, 2)
    expect_in("--host", r.stderr, "stderr without any --host")


t.check("usage errors (duplicates, bad port, bad name, M out of range) exit 2 naming the value", usage_errors)


def existing_dir():
    d, out = state["net"]
    stray = os.path.join(d, "notes")
    os.makedirs(stray)
    with open(os.path.join(stray, "keep.txt"), "w") as f:
        f.write("not ours\n")
    r = t.tool("tgenesis", "network", "--dir", d, *host_args(HOSTS))
    expect_rc(r, 1)
    expect_in("already exists", r.stderr, "stderr of a second network on the same dir")
    expect_in("--force", r.stderr, "stderr of a second network on the same dir (the way out)")
    os.makedirs(os.path.join(d, "alpha", "chain"))
    # A host directory tgenesis did not write is never replaced, even with --force.
    r = t.tool("tgenesis", "network", "--dir", d, "--host", "notes=10.0.0.5", "--force")
    expect_rc(r, 1)
    expect_in(stray, r.stderr, "stderr when a host's directory holds something else")
    expect(os.path.isfile(os.path.join(d, "alpha", "node.key")), "nothing removed by the refused run", "it was")
    new = t.tool_json("tgenesis", "--json", "network", "--dir", d, "--host", "delta=10.0.0.4", "--force")
    expect(new.get("hash") != out.get("hash"), "a new genesis after --force", new.get("hash"))
    expect_eq(sorted(os.listdir(d)), ["README", "delta", "genesis.toml", "notes"],
              f"{d} after --force (old host dirs gone, the stray one kept)")
    expect(os.path.isfile(os.path.join(stray, "keep.txt")), "the stray file kept", "it was removed")


t.check("existing network: refused without --force; --force replaces only what tgenesis wrote", existing_dir)

t.finish()
