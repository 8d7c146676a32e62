"""The network lab (scripts/lab) from a fault scenario (stdlib only).

Every node is a separate host: its own network namespace and address
10.77.0.i, wired through the lab's user-space hub, which injects the faults
(partition, blackhole, oneway, delay/loss, flap). Needs root, /dev/net/tun
and `ip netns`; elsewhere the scenario is reported as not run.

    from harness import TestRun
    from lab import Lab

    t = TestRun("my fault scenario")
    lab = Lab.or_not_run(t)                # exits 77 ("not run: ...") if it cannot run here
    lab.up(4, masternodes=3, block_time="1s", sets=["network.ping_interval=1s"])
    lab.fault("partition", 1, 2, "/", 3, 4)
    st = lab.status()                      # `scripts/lab status --json`, parsed
    lab.metric(3, "tnode_partition_events_total")
    lab.fault("heal")

What it holds:
  * Lab.or_not_run(t): a Lab in t's work dir, or t.not_run(reason);
  * up(): `scripts/lab up` with --owner (the hub tears the lab down if this
    process dies, even by SIGKILL), and `down` registered as a cleanup of t;
  * status(), fault(*args), kill(i), start(i), down(): the lab's commands;
  * http(i, path), metric(i, name, **labels): node i's HTTP endpoints,
    reached from inside its namespace (its HTTP listens on 127.0.0.1 there);
  * tips(st), peer_counts(st), namespaces(): small readers for checks.
"""

import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys

from harness import CheckFailed, expect_rc, run
from prom import metric_value, parse_metrics

SCRIPT = os.path.join(os.environ.get("TNODE_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", ".."),
                      "scripts", "lab")
UP_TIMEOUT = 120.0      # seconds for `lab up` (tgenesis, namespaces, hub, every node's /health)
COMMAND_TIMEOUT = 60.0  # any other lab command (down waits up to 10 s for processes to end)


def _load_script():
    """scripts/lab as a module: its in-namespace HTTP client, without a
    process per request."""
    loader = importlib.machinery.SourceFileLoader("tnode_lab", SCRIPT)
    spec = importlib.util.spec_from_loader("tnode_lab", loader)
    module = importlib.util.module_from_spec(spec)
    was, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no scripts/__pycache__ in the source tree
    try:
        loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = was
    return module


class Lab:
    """One lab in the test's work dir; nodes are numbered from 1."""

    def __init__(self, t, name="lab"):
        self.t = t
        self.dir = t.path(name)
        self.env = dict(os.environ)
        if os.environ.get("TNODE_BIN_DIR"):
            self.env["BUILD_DIR"] = os.environ["TNODE_BIN_DIR"]
        self.lab = _load_script()
        self.state = None
        self.cleanup_registered = False

    @classmethod
    def or_not_run(cls, t, name="lab"):
        """A Lab, or t.not_run(reason) when this machine cannot host one."""
        reason = cls.unavailable()
        if reason:
            t.not_run(reason)
        return cls(t, name)

    @staticmethod
    def unavailable():
        """Why a lab cannot run here, or None."""
        if os.geteuid() != 0:
            return "the network lab needs root (network namespaces, TAP devices)"
        if not os.path.exists("/dev/net/tun"):
            return "/dev/net/tun is missing (no TUN/TAP support)"
        if not os.path.isfile(SCRIPT):
            return f"{SCRIPT} is missing"
        probe = f"tlprobe{os.getpid()}"
        try:
            r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"`ip netns` is not usable: {e}"
        if r.returncode != 0:
            return f"`ip netns add` fails here: {r.stderr.strip()}"
        subprocess.run(["ip", "netns", "delete", probe], capture_output=True, timeout=10)
        try:
            fd = os.open("/dev/net/tun", os.O_RDWR)
            os.close(fd)
        except OSError as e:
            return f"/dev/net/tun cannot be opened: {e}"
        return None

    # ---- commands

    def command(self, *args, timeout=COMMAND_TIMEOUT):
        """Runs `scripts/lab --dir DIR ARGS`; returns the Result (any exit code)."""
        return run([sys.executable, SCRIPT, "--dir", self.dir, *[str(a) for a in args]], timeout=timeout, env=self.env)

    def ok(self, *args, timeout=COMMAND_TIMEOUT):
        """A lab command that must exit 0; returns its stdout."""
        r = self.command(*args, timeout=timeout)
        expect_rc(r, 0)
        return r.stdout

    def up(self, n, masternodes=None, block_time="1s", sets=()):
        """`lab up N`: every node started and answering /health. The lab is
        torn down when the test ends, however it ends."""
        if not self.cleanup_registered:
            self.t.add_cleanup(self.down)
            self.cleanup_registered = True
        args = ["up", n, "--block-time", block_time, "--owner", os.getpid()]
        if masternodes is not None:
            args += ["--masternodes", masternodes]
        for s in sets:
            args += ["--set", s]
        out = self.ok(*args, timeout=UP_TIMEOUT)
        with open(os.path.join(self.dir, "lab.json")) as f:
            self.state = json.load(f)
        return out

    def down(self):
        """`lab down` (safe to repeat); returns its stdout."""
        return self.ok("down")

    def status(self):
        """`lab status --json`, parsed (exit code 1 just means some node is
        not answering: the rows say which)."""
        r = self.command("status", "--json")
        if r.rc not in (0, 1):
            expect_rc(r, 0)
        return r.json()

    def fault(self, *args):
        """One fault command: fault("partition", 1, 2, "/", 3, 4), fault("heal")."""
        return self.ok(*args)

    def kill(self, i):
        return self.ok("kill", i)

    def start(self, i):
        return self.ok("start", i)

    # ---- node endpoints (from inside the node's namespace)

    def node(self, i):
        if self.state is None:
            raise CheckFailed("expected a lab that is up (call up() first)")
        return self.state["nodes"][i - 1]

    def http(self, i, path, timeout=5.0):
        """GET path from node i -> (status, body text); OSError if it does not answer."""
        nd = self.node(i)
        address = self.lab.http_address(nd, self.state.get("sets", []))
        status, body = self.lab.http_get(nd["ns"], address, path, timeout)
        return status, body.decode(errors="replace")

    def http_json(self, i, path):
        status, body = self.http(i, path)
        try:
            return status, json.loads(body)
        except ValueError:
            raise CheckFailed(f"expected JSON from n{i} GET {path}, saw {status} {body[:300]!r}")

    def metrics(self, i):
        status, body = self.http(i, "/metrics")
        if status != 200:
            raise CheckFailed(f"expected 200 from n{i} GET /metrics, saw {status}")
        return parse_metrics(body)

    def peer_ids(self, i):
        """Node ids in node i's /peers."""
        _, body = self.http_json(i, "/peers")
        return {p["node_id"] for p in body["peers"]}

    def masternodes_meshed(self, masternodes):
        """(ok, seen) for poll(): each of n1..n<masternodes> sees all the
        other masternodes (/health peers.masternodes)."""
        bad = {}
        for i in range(1, masternodes + 1):
            _, h = self.http_json(i, "/health")
            if h.get("peers", {}).get("masternodes") != masternodes - 1:
                bad[f"n{i}"] = h.get("peers")
        return not bad, bad

    def metric(self, i, name, **labels):
        """One series of node i's /metrics (0 when absent)."""
        return metric_value(self.metrics(i), name, **labels)

    # ---- readers

    def namespaces(self):
        """This lab's namespaces that exist now."""
        prefix = self.lab.ns_prefix(self.dir)
        return sorted(ns for ns in self.lab.existing_namespaces() if ns.startswith(prefix))


def tips(st):
    """{node name: (height, tip hash)} of the nodes that answered."""
    return {r["name"]: (r["height"], r["tip"]) for r in st["nodes"] if r.get("tip")}


def one_tip(st, nodes=None):
    """(ok, {name: (height, tip)}): every node in `nodes` (numbers; all of
    the lab's when None) answered and all report the same tip."""
    want = {r["name"] for r in st["nodes"]} if nodes is None else {f"n{i}" for i in nodes}
    seen = {k: v for k, v in tips(st).items() if k in want}
    return len(seen) == len(want) and len(set(seen.values())) == 1, seen


def peer_counts(st):
    """{node name: inbound + outbound peers} (-1: no answer)."""
    return {r["name"]: r.get("peer_count", -1) for r in st["nodes"]}


def dropped(st, reason):
    """Frames the hub dropped for `reason` (partition, blackhole, ...)."""
    return st["hub"].get("counters", {}).get("dropped", {}).get(reason, 0)
