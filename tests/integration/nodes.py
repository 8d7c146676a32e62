"""Real `tnode` processes of a `tgenesis testnet`, driven over HTTP (stdlib only).

Built on harness.py (TestRun.spawn, poll, CheckFailed); nothing here sleeps
to synchronise: waiting is harness.poll() with a deadline.

    from harness import TestRun
    from nodes import start_testnet

    t = TestRun("my scenario")
    net = start_testnet(t, "net", nodes=3)       # tgenesis testnet on free ports
    net.start_all()                              # spawn every node at once
    net.wait_connected(timeout=15)               # every node sees every other
    print(net[1].peers())                        # node1's /peers JSON

What it holds:
  * start_testnet(): `tgenesis testnet` on a free port block (ports.py),
    returned as a Testnet, not started;
  * Testnet: the testnet directory and its Node objects (1-based: net[1]);
    start_all(), wait_http(), connectivity()/wait_connected(), name_of();
  * Node: one testnet node (config, directory, listen/HTTP addresses, public
    key) -> start(*--set overrides), kill9(), restart(), running(),
    log()/log_tail(), get()/get_ok()/health()/peers()/addrbook()/address()/
    metrics() (parsed by prom.py), admin() POSTs, tip()/height()/
    wait_height(), wait_http();
  * same_tip()/wait_same_tip(): every node in a list on one tip;
  * http_get()/http_post(): one request to a node's HTTP address;
  * past_timestamp(), toml_list(): values for tgenesis/--set arguments.

Other helpers live beside it: ports.py (free ports), prom.py (/metrics
text), procfs.py (a process's sockets and RSS from /proc), wire.py (raw
frames to a node's P2P port).
"""

import json
import os
import time
import urllib.error
import urllib.request

from harness import CheckFailed, binary, expect, poll, testnet
from ports import free_port_range
from prom import parse_metrics

HTTP_TIMEOUT = 5.0   # seconds for one HTTP request to a node
START_TIMEOUT = 15.0  # seconds for a node to answer HTTP after spawn


def http_get(address, path, timeout=HTTP_TIMEOUT):
    """GET http://address/path -> (status, body text). HTTP errors are returned, not raised."""
    url = f"http://{address}{path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def http_post(address, path, body, token=None, timeout=HTTP_TIMEOUT):
    """POST JSON -> (status, body text)."""
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(f"http://{address}{path}", data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


class Node:
    """One node of a `tgenesis testnet` (its entry in `testnet --json`)."""

    def __init__(self, t, index, info, network_dir):
        self.t = t
        self.index = index
        self.name = info.get("name", f"node{index}")
        self.config = info["config"]
        self.dir = info["dir"]
        self.listen = info["listen"]
        self.http = info["http"]
        self.pubkey = info["pubkey"]
        self.role = info["role"]
        self.network_dir = network_dir
        self.p2p_port = int(self.listen.rsplit(":", 1)[1])
        self.http_port = int(self.http.rsplit(":", 1)[1])
        self.proc = None
        self.overrides = []
        self.log_level = None
        self.args = []
        self.starts = []  # every Background this node ran, oldest first

    def __repr__(self):
        return f"{self.name}({self.listen})"

    # ---- process

    def start(self, *sets, log_level=None, args=()):
        """Spawns tnode with the node's config; each `sets` item is one
        SECTION.KEY=VALUE override, `args` more command-line arguments
        (e.g. ["--log-file", path]). Does not wait (see wait_http)."""
        if self.proc is not None and self.proc.running():
            raise CheckFailed(f"expected {self.name} to be stopped before start(), it is running (pid {self.proc.pid})")
        self.overrides = list(sets)
        self.log_level = log_level
        self.args = list(args)
        return self._spawn()

    def _spawn(self):
        argv = [binary("tnode"), "--config", self.config]
        for s in self.overrides:
            argv += ["--set", s]
        if self.log_level:
            argv += ["--log-level", self.log_level]
        argv += self.args
        self.proc = self.t.spawn(f"tnode-{self.name}", argv)
        self.starts.append(self.proc)
        return self.proc

    def kill9(self):
        """SIGKILL and reap; True if the signal ended it (it was running)."""
        return self.proc.kill9() if self.proc is not None else False

    def restart(self):
        """kill -9, then the same command again (same config, same overrides)."""
        self.kill9()
        return self._spawn()

    def running(self):
        return self.proc is not None and self.proc.running()

    def log(self):
        """Everything this node logged (stdout+stderr), all runs, oldest first."""
        parts = []
        for p in self.starts:
            try:
                parts.append(p.stderr() + p.stdout())
            except OSError:
                pass
        return "".join(parts)

    def log_bytes(self):
        """log() as the bytes the node wrote (no decoding, no newline
        translation: a "\\r" or an invalid byte stays as it was)."""
        parts = []
        for p in self.starts:
            for path in (p.stderr_path, p.stdout_path):
                try:
                    with open(path, "rb") as f:
                        parts.append(f.read())
                except OSError:
                    pass
        return b"".join(parts)

    def log_tail(self, n=15):
        lines = self.log().strip().splitlines()
        return "\n".join(lines[-n:])

    def _ensure_running(self):
        if self.proc is not None and not self.proc.running():
            raise CheckFailed(f"expected {self.name} to be running, it exited {self.proc.returncode}; "
                              f"log tail:\n{self.log_tail()}")

    # ---- HTTP

    def get(self, path):
        """(status, parsed JSON or text). Raises CheckFailed if the node died."""
        self._ensure_running()
        status, body = http_get(self.http, path)
        if path != "/metrics":
            try:
                return status, json.loads(body)
            except ValueError:
                raise CheckFailed(f"expected JSON from {self.name} GET {path}, saw {status} {body[:300]!r}")
        return status, body

    def get_ok(self, path):
        status, body = self.get(path)
        if status != 200:
            raise CheckFailed(f"expected 200 from {self.name} GET {path}, saw {status} {str(body)[:300]}")
        return body

    def health(self):
        """(status code, JSON)."""
        return self.get("/health")

    def peers(self):
        return self.get_ok("/peers")

    def tip(self):
        """(height, tip hash) from /health."""
        _, h = self.health()
        return h["height"], h["tip"]

    def height(self):
        return self.tip()[0]

    def wait_height(self, height, timeout):
        """Polls until the node's chain is at least `height` high."""
        return poll(lambda: (self.height() >= height, f"height {self.height()}"), timeout,
                    f"{self.name} at height >= {height}")

    def peer_ids(self):
        return sorted(p["node_id"] for p in self.peers()["peers"])

    def addrbook(self):
        return self.get_ok("/addrbook")

    def address(self, addr):
        """The /addrbook entry for `addr` (CheckFailed if absent)."""
        book = self.addrbook()
        for a in book["addresses"]:
            if a["address"] == addr:
                return a
        raise CheckFailed(f"expected {addr} in {self.name}'s /addrbook, saw "
                          f"{[a['address'] for a in book['addresses']]}")

    def metrics(self):
        return parse_metrics(self.get_ok("/metrics"))

    def admin(self, path, body, token):
        """POST /admin/... with the bearer token -> (status, parsed JSON)."""
        self._ensure_running()
        status, text = http_post(self.http, path, body, token=token)
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def wait_http(self, timeout=START_TIMEOUT):
        """Polls until /health answers (any status: 503 degraded is fine)."""
        def up():
            self._ensure_running()
            status, body = http_get(self.http, "/health", timeout=1.0)
            return (status in (200, 503), f"{status} {body[:200]}")
        return poll(up, timeout, f"{self.name} to answer GET /health")


class Testnet:
    """A `tgenesis testnet` directory and its nodes (1-based: net[1])."""

    def __init__(self, t, directory, out):
        self.t = t
        self.dir = directory
        self.out = out
        self.hash = out["hash"]
        self.genesis = out.get("genesis", os.path.join(directory, "genesis.toml"))
        self.nodes = [Node(t, i + 1, info, directory) for i, info in enumerate(out["nodes"])]

    def __getitem__(self, i):
        return self.nodes[i - 1]

    def __iter__(self):
        return iter(self.nodes)

    def __len__(self):
        return len(self.nodes)

    def start_all(self, *sets, log_level=None):
        """Spawns every node back to back (no waiting in between); returns
        the seconds from the first spawn to the last."""
        t0 = time.monotonic()
        for n in self.nodes:
            n.start(*sets, log_level=log_level)
        return time.monotonic() - t0

    def wait_http(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        for n in self.nodes:
            if n.proc is not None:
                n.wait_http(max(0.5, deadline - time.monotonic()))

    def connectivity(self, nodes=None):
        """(ok, observation): every running node in `nodes` lists exactly the
        other ones as peers, each once."""
        nodes = nodes if nodes is not None else [n for n in self.nodes if n.proc is not None]
        bad = []
        for n in nodes:
            want = sorted(m.pubkey for m in nodes if m is not n)
            try:
                got = n.peer_ids()
            except CheckFailed:
                raise
            except Exception as e:  # noqa: BLE001 - shown as what was seen
                bad.append(f"{n.name}: {type(e).__name__}: {e}")
                continue
            if got != want:
                missing = len(set(want) - set(got))
                extra = len(got) - len(set(got) & set(want))
                bad.append(f"{n.name}: {len(got)} peers ({missing} missing, {extra} unexpected/duplicate)")
        return (not bad, "; ".join(bad) or "all connected")

    def wait_connected(self, timeout, nodes=None):
        nodes = nodes if nodes is not None else [n for n in self.nodes if n.proc is not None]
        return poll(lambda: self.connectivity(nodes), timeout,
                    f"each of {len(nodes)} nodes to list exactly the other {len(nodes) - 1} as peers", interval=0.05)

    def name_of(self, node_id):
        for n in self.nodes:
            if n.pubkey == node_id:
                return n.name
        return node_id[:16]


def start_testnet(t, name, nodes, *args, masternodes=None, block_time="1s", network=None):
    """`tgenesis testnet` on a free port block; returns a Testnet (not started)."""
    base = free_port_range(2 * nodes)
    extra = ["--nodes", nodes, "--base-port", base, "--block-time", block_time]
    if masternodes is not None:
        extra += ["--masternodes", masternodes]
    if network is not None:
        extra += ["--network", network]
    d, out = testnet(t, name, *extra, *args)
    expect(len(out.get("nodes", [])) == nodes, f"{nodes} nodes from tgenesis testnet", out)
    return Testnet(t, d, out)


def running_testnet(t, name, nodes, *args, timeout=15.0, **kw):
    """start_testnet, then every node started, its HTTP up, and all of them
    connected to each other within `timeout`; returns the Testnet."""
    net = start_testnet(t, name, nodes, *args, **kw)
    net.start_all()
    net.wait_http()
    net.wait_connected(timeout)
    return net


def same_tip(nodes):
    """(ok, observation): every node in `nodes` reports the same tip."""
    tips = {}
    for n in nodes:
        try:
            tips[n.name] = n.tip()
        except CheckFailed:
            raise
        except Exception as e:  # noqa: BLE001 - shown as what was seen
            tips[n.name] = (None, f"{type(e).__name__}: {e}")
    distinct = {tip for tip in tips.values()}
    seen = ", ".join(f"{name} {h}/{str(x)[:12]}" for name, (h, x) in tips.items())
    return (len(distinct) == 1 and None not in {h for h, _ in distinct}, seen)


def wait_same_tip(nodes, timeout, describe=None):
    """Polls until every node in `nodes` has the same tip; returns (height, hash)."""
    poll(lambda: same_tip(nodes), timeout, describe or f"{len(nodes)} nodes on one tip", interval=0.05)
    return nodes[0].tip()


def past_timestamp(seconds_ago):
    """An RFC 3339 genesis time `seconds_ago` seconds in the past (whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(time.time()) - int(seconds_ago)))


def toml_list(addresses):
    """A TOML array of strings for --set network.peers=..."""
    return "[" + ", ".join(f'"{a}"' for a in addresses) + "]"
