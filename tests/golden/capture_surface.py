#!/usr/bin/env python3
"""Record or compare the observable surface of tnode on a 3-node testnet.

Issue 10 restructures the node layer with "no change in behaviour".  This
script is the proof: it runs one fixed scenario on a loopback testnet and
captures what an operator or a tool can see, with the variable data (ids,
hashes, numbers, times, addresses) taken out:

  * the JSON key paths of /health, /peers, /addrbook, /bans, /chain/tip and
    /chain/block/1 of node1, and of the admin and error responses (with the
    status code and the normalised error text);
  * every metric family of /metrics (union over the three nodes): TYPE, HELP
    and the label names;
  * the log message templates of the three nodes (JSON logs at debug level),
    with their level;
  * the key paths of `tchain --json peers|bans|info` on node1's store after
    the nodes stopped, and the nodes' exit codes.

The scenario (3 nodes from `tgenesis testnet --nodes 3 --masternodes 2
--block-time 500ms` on a free block of loopback ports, logs as JSON at
debug level): node1 and node2 start and connect before the genesis time,
node3 joins at height 12 and catches up by headers; node1 bans node3 (captured
here: /bans is not empty), unbans it, disconnects node2, connects to node3
(a duplicate) and to a port where nobody listens, gets garbage on its p2p
port, bans an outside node id for 1h, and answers a set of bad admin and
HTTP requests; then node3, node2 and node1 are stopped with SIGTERM, one
after the other (node1 records a partition event on the way).  Every step
waits for its effect through the HTTP endpoints (polling with a deadline).

The random keys and the clock would make some of it differ between runs;
make_testnet() fixes what can be fixed.  What remains is one race, listed in
KNOWN_RACES, and whatever a recording with --runs N saw in some runs only:
both are stored as optional.  A comparison fails on a required item that is
missing or on an item that is neither required nor optional.

Exit status: 0 recorded or no difference, 1 a difference, 2 could not run.

  capture_surface.py --bin-dir build --out tests/golden/node_surface.json --runs 12
  capture_surface.py --bin-dir build --compare tests/golden/node_surface.json

Python 3 standard library only; self-contained on purpose (it must not
follow the test helpers while they are refactored).  It only uses 127.0.0.1.
"""

import argparse
import atexit
import hashlib
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

FORMAT = 1

# Deadlines (seconds).  Generous: the scenario also runs under sanitizers.
START_TIMEOUT = 20.0
CONVERGE_TIMEOUT = 60.0
STEP_TIMEOUT = 30.0
EXIT_TIMEOUT = 30.0

# A node id that is not in the testnet: banned at the end so that the ban
# survives in node1's store for `tchain bans`.
OUTSIDER_ID = "ab" * 32
UNKNOWN_ID = "cd" * 32

# Log templates that depend on a race the scenario cannot order; always
# optional.  After the admin disconnect of node2, node1 and node2 dial each
# other within the same millisecond, and on each node either connection may
# finish its handshake first.  node1's dial wins the tie-break (see
# make_testnet), so on each node it is "replaces" when the other connection
# came first (usual), else "duplicates; keeping the existing connection".
KNOWN_RACES = (
    "debug p2p: <hex>@<addr> (outbound) replaces <hex>@<addr> (inbound) (tie-break)",
    "debug p2p: <hex>@<addr> (inbound) duplicates <hex>@<addr> (outbound); keeping the existing connection",
    "debug p2p: <hex>@<addr> (inbound) replaces <hex>@<addr> (outbound) (tie-break)",
    "debug p2p: <hex>@<addr> (outbound) duplicates <hex>@<addr> (inbound); keeping the existing connection",
    # A masternode whose slot comes before the block of the slot before has
    # arrived: seen once in ~50 runs, with three captures in parallel and a
    # busy loop on two CPUs.
    "info chain: not producing in slot <n>: downloading a better chain than height <n>",
)

# Seconds from creating the testnet to its genesis time (the first slot).
GENESIS_LEAD = 4
# node3 starts once node1 is at this height.
LATE_JOIN_HEIGHT = 12


class CaptureError(Exception):
    """The scenario could not be run (not a difference in the surface)."""


class SlowStart(CaptureError):
    """node1 and node2 were not connected before the genesis time: run again."""


# ---------------------------------------------------------------- processes

_PROCS = []  # every subprocess.Popen this script started (long-running ones)


def _stop_all():
    for p in _PROCS:
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 5
    for p in _PROCS:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


atexit.register(_stop_all)


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)  # unwinds through the finally blocks


for _sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


def _die_with_parent():
    """preexec_fn: on Linux, the node is killed if this script dies (even by SIGKILL)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def find_binary(bin_dir, name):
    for path in (os.path.join(bin_dir, name), os.path.join(bin_dir, "apps", name),
                 os.path.join(bin_dir, "apps", name, name)):
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return os.path.abspath(path)
    raise CaptureError(f"{name} not found in {bin_dir} (nor in {bin_dir}/apps)")


def run_tool(args, cwd=None, timeout=60):
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise CaptureError(f"{' '.join(args)} exited {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def free_port_block(count=8):
    """An even base port P such that P..P+count-1 are free on 127.0.0.1."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(21000, 30000 - count, 2)
        socks = []
        try:
            for port in range(base, base + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise CaptureError("no free block of loopback ports in 21000-30000")


# --------------------------------------------------------------------- HTTP

def http(port, method, path, body=None, token=None, timeout=5.0):
    """(status, parsed JSON body or raw text) of one request to 127.0.0.1:port."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def get(port, path):
    status, body = http(port, "GET", path)
    if status not in (200, 503):
        raise CaptureError(f"GET {path} on :{port} answered {status}: {body!r:.200}")
    return body


def wait_until(what, fn, timeout=STEP_TIMEOUT, interval=0.05):
    """Polls fn() until it returns a true value (returned); CaptureError at the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = fn()
            if value:
                return value
            last = value
        except (OSError, urllib.error.URLError, ValueError, KeyError, TypeError, CaptureError) as e:
            last = e
        if time.monotonic() >= deadline:
            raise CaptureError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r:.300})")
        time.sleep(interval)


# ------------------------------------------------------- shapes of the data

def key_paths(obj, prefix=""):
    """Sorted JSON key paths: {"peers": [{"id": 1}]} -> ["peers", "peers[].id"]."""
    out = set()

    def walk(o, p):
        if isinstance(o, dict):
            for k, v in o.items():
                q = f"{p}.{k}" if p else k
                out.add(q)
                walk(v, q)
        elif isinstance(o, list):
            for v in o:
                walk(v, p + "[]")

    walk(obj, prefix)
    return sorted(out)


_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
_SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+\S+(\s+\S+)?$")


def metric_families(text):
    """{family: {"type", "help", "labels"}} of a Prometheus text exposition."""
    fams = {}

    def fam(name):
        return fams.setdefault(name, {"type": "untyped", "help": None, "labels": set()})

    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                f = fam(parts[2])
                value = parts[3] if len(parts) > 3 else ""
                f["help" if parts[1] == "HELP" else "type"] = value
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise CaptureError(f"unparsable metrics line: {line!r}")
        name = m.group(1)
        owner = name
        if name not in fams:
            for suffix in ("_bucket", "_sum", "_count", "_total", "_created", "_info"):
                if name.endswith(suffix) and name[: -len(suffix)] in fams:
                    owner = name[: -len(suffix)]
                    break
        f = fam(owner)
        if owner != name:
            f.setdefault("series", set()).add(name[len(owner):])
        for lm in _LABEL.finditer(m.group(3) or ""):
            f["labels"].add(lm.group(1))
    return fams


class Normaliser:
    """Replaces the variable parts of a log message or an error text.

    The temporary directory and the admin token, RFC 3339 times, host:port
    and bare IPv4 addresses, hex ids and hashes (8+ digits or 0x...; digits
    only count as hex at the lengths of ids and hashes),
    durations (24h, 1s396ms, 200ms) and numbers.  Quoted strings are kept
    with their variable parts replaced: their other contents are the fixed
    inputs of the scenario ('zz', 'soon', 'nowhere').
    """

    def __init__(self, tmpdir, token):
        self.literals = []
        for d in {tmpdir, os.path.realpath(tmpdir)}:
            self.literals.append((d, "<dir>"))
        self.literals.append((token, "<token>"))
        self.rules = [
            # RFC 3339 times.
            (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?"), "<time>"),
            # host:port (IPv4 and bracketed IPv6), then bare addresses.
            (re.compile(r"(?<![\w.])(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):\d+(?![\w])"), "<addr>"),
            (re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])"), "<ip>"),
            # 0x-prefixed hex of any length, then hex ids and hashes (8+
            # digits).  A run of digits only is a number, unless it has the
            # length of an id or a hash (16: short form, 32, 64): one short
            # hash in ~2000 has no letter.
            (re.compile(r"\b0x[0-9A-Fa-f]+\b"), "<hex>"),
            (re.compile(r"\b[0-9A-Fa-f]{8,}\b"),
             lambda m: "<n>" if m.group().isdigit() and len(m.group()) not in (16, 32, 64) else "<hex>"),
            # Durations as tnode prints them: 24h, 1m30s, 1s396ms, 1.5s, 200ms.
            (re.compile(r"(?<![\w.])(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|h|m|s))+(?![\w])"), "<dur>"),
            # Numbers: integers, decimals, dotted versions, exponents, signs.
            (re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)*(?:[eE][-+]?\d+)?(?![\w])"), "<n>"),
        ]

    def __call__(self, text):
        for lit, rep in self.literals:
            if lit:
                text = text.replace(lit, rep)
        for rx, rep in self.rules:
            text = rx.sub(rep, text)
        return text


# ------------------------------------------------------------- the scenario

def preferred_initiator(a, b):
    """Of two node ids (bytes), the one whose dial wins a duplicate tie-break."""
    lo, hi = sorted((a, b))

    def key(initiator):
        return hashlib.blake2b(lo + hi + initiator, digest_size=32).digest()
    return a if key(a) < key(b) else b


class Node:
    def __init__(self, index, net_dir, base_port):
        self.index = index
        self.name = f"node{index}"
        self.dir = os.path.join(net_dir, self.name)
        self.config = os.path.join(self.dir, "tnode.toml")
        self.p2p_port = base_port + 2 * (index - 1)
        self.http_port = self.p2p_port + 1
        self.p2p = f"127.0.0.1:{self.p2p_port}"
        self.log = os.path.join(net_dir, f"{self.name}.log")
        self.out = os.path.join(net_dir, f"{self.name}.out")
        self.proc = None
        self.node_id = None

    def get(self, path):
        return get(self.http_port, path)


class Scenario:
    def __init__(self, bins, workdir, verbose=False):
        self.bins = bins
        self.workdir = workdir
        self.verbose = verbose
        self.token = secrets.token_hex(16)
        self.norm = Normaliser(workdir, self.token)
        self.capture = {"http": {}, "responses": {}, "metrics": {}, "logs": {}, "tchain": {}, "exit": {}}
        self.nodes = []

    def say(self, msg):
        if self.verbose:
            print(f"  [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr)

    # -- helpers

    def admin(self, node, path, body, label, token=True):
        status, resp = http(node.http_port, "POST", path, body, token=self.token if token else None)
        self.record_response(label, status, resp)
        return status, resp

    def record_response(self, label, status, resp):
        entry = {"status": status, "keys": key_paths(resp) if isinstance(resp, (dict, list)) else []}
        if isinstance(resp, dict):
            for k in ("error", "reason"):
                if isinstance(resp.get(k), str):
                    entry[k] = self.norm(resp[k])
        if not isinstance(resp, (dict, list)):
            entry["body"] = self.norm(str(resp))
        self.capture["responses"][label] = entry

    def peers_of(self, node):
        return {p["node_id"]: p for p in node.get("/peers")["peers"]}

    def addr_entry(self, node, address):
        for a in node.get("/addrbook")["addresses"]:
            if a["address"] == address:
                return a
        return None

    def metric_sum(self, node, family):
        text = get(node.http_port, "/metrics")
        total = 0.0
        for line in text.splitlines():
            if line.startswith(family) and (line[len(family):len(family) + 1] in ("{", " ")):
                total += float(line.rsplit(None, 1)[1])
        return total

    def settled(self, node, addresses):
        """Every given address of the node's address book is connected and not being dialled."""
        for address in addresses:
            a = self.addr_entry(node, address)
            if a is None or not a["connected"] or a["dialing"]:
                return False
        return True

    def wait_settled(self, what):
        for n in self.nodes:
            others = [m.p2p for m in self.nodes if m is not n and m.proc is not None and m.proc.poll() is None]
            wait_until(f"{what}: {n.name} connected to {', '.join(others)} and not dialling",
                       lambda n=n, others=others: self.settled(n, others))

    def capture_http(self, node):
        for path in ("/health", "/peers", "/addrbook", "/bans", "/chain/tip", "/chain/block/1"):
            self.capture["http"][f"{node.name} GET {path}"] = key_paths(node.get(path))

    # -- steps

    def start(self, n):
        with open(n.out, "wb") as out:
            n.proc = subprocess.Popen(
                [self.bins["tnode"], "--config", n.config,
                 "--set", f'http.admin_token="{self.token}"',
                 "--log-format", "json", "--log-level", "debug", "--log-file", n.log],
                cwd=n.dir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent)
        _PROCS.append(n.proc)

        def up():
            if n.proc.poll() is not None:
                raise CaptureError(f"{n.name} exited with {n.proc.returncode} at start")
            return n.get("/health")
        n.node_id = wait_until(f"{n.name} answering /health", up, START_TIMEOUT)["node_id"]
        self.say(f"{n.name} up: {n.node_id[:16]}")

    def make_testnet(self, net, base):
        """The testnet, its genesis GENESIS_LEAD s ahead, node1 the preferred initiator of node1-node2.

        Two deterministic choices that the random keys and the clock would
        otherwise make differently from run to run:
          * node1 and node2 connect before the first slot, so neither
            starts by syncing from the other;
          * when node1 and node2 dial each other at once (after the admin
            disconnect), the connection node1 dialled wins the tie-break.
            The rule mirrors preferred_initiator() of
            libcore/p2p/duplicates.cpp (BLAKE2b-256 of lo || hi ||
            initiator, the smaller key wins); keys are drawn again until it
            holds.  Should the rule change, the duplicate templates flip and
            the comparison shows it.
        """
        genesis_at = int(time.time()) + GENESIS_LEAD
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(genesis_at))
        for attempt in range(40):
            run_tool([self.bins["tgenesis"], "testnet", "--nodes", "3", "--masternodes", "2",
                      "--base-port", str(base), "--block-time", "500ms", "--timestamp", stamp,
                      "--dir", net] + (["--force"] if attempt else []))
            shown = json.loads(run_tool([self.bins["tgenesis"], "--json", "show",
                                         os.path.join(net, "genesis.toml")]))
            k1, k2 = (bytes.fromhex(m["pubkey"]) for m in shown["masternodes"][:2])
            if preferred_initiator(k1, k2) == k1:
                return genesis_at
        raise CaptureError("no key pair with node1 as the preferred initiator in 40 draws")

    def run(self):
        net = os.path.join(self.workdir, "net")
        base = free_port_block(8)
        spare = f"127.0.0.1:{base + 6}"  # in the verified block; nothing listens there
        self.say(f"testnet in {net}, base port {base}")
        genesis_at = self.make_testnet(net, base)
        self.nodes = [Node(i, net, base) for i in (1, 2, 3)]
        n1, n2, n3 = self.nodes

        # node1, then node2 (each answering HTTP before the next starts):
        # node1's first dials are refused, node2 reaches node1.  Both must be
        # connected before the genesis time.
        self.start(n1)
        self.start(n2)
        wait_until("node1 and node2 connected",
                   lambda: n2.node_id in self.peers_of(n1) and n1.node_id in self.peers_of(n2))
        if time.time() >= genesis_at - 0.2:
            raise SlowStart(f"node1 and node2 were not connected {GENESIS_LEAD}s after the testnet "
                            f"was created (a slow machine?)")
        # node3 joins late, more than kCatchUpGap (10, libcore/node/sync.cpp)
        # blocks behind: it syncs by headers and logs its catching up.
        wait_until(f"node1 at height {LATE_JOIN_HEIGHT}",
                   lambda: n1.get("/health")["height"] >= LATE_JOIN_HEIGHT, CONVERGE_TIMEOUT)
        self.start(n3)

        def converged(n):
            h = n.get("/health")
            return h["peers"]["inbound"] + h["peers"]["outbound"] == 2 and h["height"] >= 3
        for n in self.nodes:
            wait_until(f"{n.name} with 2 peers and height >= 3", lambda n=n: converged(n), CONVERGE_TIMEOUT)
        self.wait_settled("start")
        self.say("converged")

        # Ban node3 on node1: node1 closes it, node3 redials at once and is
        # refused (logged at info), then again after a backoff of up to 5 s
        # (logged at debug: one line per minute at info).  Waiting for the
        # second refusal makes the debug line certain rather than a matter
        # of how long the ban lasts.
        n3_entry = self.addr_entry(n3, n1.p2p)
        failures_before = n3_entry["total_failures"]
        self.admin(n1, "/admin/ban", {"node_id": n3.node_id}, "node1 POST /admin/ban (node3)")
        wait_until("node1 without node3", lambda: n3.node_id not in self.peers_of(n1))
        wait_until("node3's two redials of node1 refused",
                   lambda: (lambda a: a["total_failures"] >= failures_before + 2 and not a["dialing"]
                            and not a["connected"])(self.addr_entry(n3, n1.p2p)))
        self.capture_http(n1)  # /bans is not empty here
        self.say("banned node3")

        self.admin(n1, "/admin/unban", {"node_id": n3.node_id}, "node1 POST /admin/unban (node3)")
        wait_until("node1 and node3 connected again",
                   lambda: n3.node_id in self.peers_of(n1) and n1.node_id in self.peers_of(n3))
        self.wait_settled("after unban")
        self.say("unbanned node3")

        # Disconnect node2 from node1: one of them dials again.
        def conn(p):
            return p and (p["address"], p["direction"], p["connected_since"])
        before = conn(self.peers_of(n1)[n2.node_id])
        self.admin(n1, "/admin/disconnect", {"node_id": n2.node_id}, "node1 POST /admin/disconnect (node2)")
        wait_until("node1 connected to node2 again (a new connection)",
                   lambda: conn(self.peers_of(n1).get(n2.node_id)) not in (None, before))
        self.wait_settled("after disconnect")
        self.say("disconnected node2")

        # Connect to node3, already connected: a duplicate connection.
        attempts = self.addr_entry(n1, n3.p2p)["total_attempts"]
        self.admin(n1, "/admin/connect", {"address": n3.p2p}, "node1 POST /admin/connect (node3)")
        wait_until("node1's dial of node3 done",
                   lambda: (lambda a: a["total_attempts"] > attempts and not a["dialing"])(self.addr_entry(n1, n3.p2p)))
        self.wait_settled("after connect to node3")
        # Connect to an address where nothing listens: refused, kept as an admin peer.
        self.admin(n1, "/admin/connect", {"address": spare}, "node1 POST /admin/connect (nobody)")
        wait_until("node1's dial of the spare port failed",
                   lambda: (lambda a: a is not None and a["total_failures"] >= 1 and not a["dialing"])(
                       self.addr_entry(n1, spare)))
        self.say("connected")

        # Garbage on node1's p2p port: refused with bad_magic.
        fails = self.metric_sum(n1, "tnode_handshake_failures_total")
        with socket.create_connection(("127.0.0.1", n1.p2p_port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n" + bytes(range(256)))
            try:
                while s.recv(4096):
                    pass
            except OSError:
                pass
        wait_until("node1 counting the garbage handshake",
                   lambda: self.metric_sum(n1, "tnode_handshake_failures_total") > fails)
        self.say("garbage sent")

        # A ban that stays (an id outside the testnet), for `tchain bans`.
        self.admin(n1, "/admin/ban", {"node_id": OUTSIDER_ID, "duration": "1h", "reason": "golden capture"},
                   "node1 POST /admin/ban (outsider, 1h, reason)")

        # Refusals and errors of the HTTP API.
        self.admin(n1, "/admin/ban", {"node_id": UNKNOWN_ID}, "node1 POST /admin/ban without token", token=False)
        self.admin(n1, "/admin/ban", {"node_id": "zz"}, "node1 POST /admin/ban bad node_id")
        self.admin(n1, "/admin/ban", {"node_id": UNKNOWN_ID, "duration": "soon"}, "node1 POST /admin/ban bad duration")
        self.admin(n1, "/admin/ban", {}, "node1 POST /admin/ban no node_id")
        self.admin(n1, "/admin/unban", {"node_id": UNKNOWN_ID}, "node1 POST /admin/unban not banned")
        self.admin(n1, "/admin/disconnect", {"node_id": UNKNOWN_ID}, "node1 POST /admin/disconnect unknown")
        self.admin(n1, "/admin/connect", {"address": n1.p2p}, "node1 POST /admin/connect self")
        self.admin(n1, "/admin/connect", {"address": "nowhere"}, "node1 POST /admin/connect bad address")
        for method, path in (("GET", "/nope"), ("GET", "/admin/ban"), ("POST", "/health"),
                             ("GET", "/chain/block/zz"), ("GET", "/chain/block/99999999"),
                             ("GET", f"/chain/block/{UNKNOWN_ID}")):
            status, resp = http(n1.http_port, method, path)
            self.record_response(f"node1 {method} {path.replace(UNKNOWN_ID, '<hex>')}", status, resp)
        bad = http(n1.http_port, "POST", "/admin/ban", None, token=self.token)
        self.record_response("node1 POST /admin/ban empty body", *bad)

        # Metrics: the union over the three nodes.
        fams = {}
        for n in self.nodes:
            for name, f in metric_families(n.get("/metrics")).items():
                g = fams.setdefault(name, {"type": f["type"], "help": f["help"], "labels": set()})
                if (g["type"], g["help"]) != (f["type"], f["help"]):
                    raise CaptureError(f"metric {name}: TYPE/HELP differ between nodes")
                g["labels"] |= f["labels"]
                if "series" in f:
                    g.setdefault("series", set()).update(f["series"])
        self.capture["metrics"] = {
            name: {k: (sorted(v) if isinstance(v, set) else v) for k, v in f.items() if v is not None}
            for name, f in fams.items()}

        # Graceful shutdown, one node after the other.
        self.stop(n3)
        wait_until("node1 and node2 without node3",
                   lambda: n3.node_id not in self.peers_of(n1) and n3.node_id not in self.peers_of(n2))
        self.stop(n2)
        wait_until("node1 without peers", lambda: not self.peers_of(n1))
        # node1 now sees 1 of 2 masternodes and no peer: a partition event
        # (counted once the state has held for a second).
        wait_until("node1's partition event", lambda: self.metric_sum(n1, "tnode_partition_events_total") >= 1)
        self.stop(n1)
        self.say("stopped")

        # The store of node1, read by tchain.
        for sub in ("peers", "bans", "info"):
            out = run_tool([self.bins["tchain"], "--json", "--data-dir", n1.dir, sub])
            self.capture["tchain"][f"tchain --json --data-dir node1 {sub}"] = key_paths(json.loads(out))

        self.capture_logs()
        return self.capture

    def stop(self, node):
        node.proc.send_signal(signal.SIGTERM)
        try:
            code = node.proc.wait(timeout=EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise CaptureError(f"{node.name} did not exit within {EXIT_TIMEOUT:.0f}s of SIGTERM")
        self.capture["exit"][f"{node.name} after SIGTERM"] = code

    def capture_logs(self):
        templates, fields, unparsed, output = set(), set(), set(), set()
        for n in self.nodes:
            with open(n.log, encoding="utf-8", errors="replace") as f:
                for line in f:
                    line = line.rstrip("\n")
                    if not line:
                        continue
                    try:
                        rec = json.loads(line)
                        msg = rec.get("msg", rec.get("message"))
                        if not isinstance(msg, str):
                            raise ValueError("no message field")
                    except (ValueError, AttributeError):
                        unparsed.add(self.norm(line))
                        continue
                    fields.update(rec.keys())
                    templates.add(f"{rec.get('level', '?')} {self.norm(msg)}")
            with open(n.out, encoding="utf-8", errors="replace") as f:
                output.update(self.norm(line.rstrip("\n")) for line in f if line.strip())
        self.capture["logs"] = {"fields": sorted(fields), "templates": sorted(templates),
                                "not_json": sorted(unparsed), "stdout_stderr": sorted(output)}

    def dump_logs(self, lines=15):
        for n in self.nodes:
            for path in (n.log, n.out):
                if os.path.exists(path):
                    with open(path, errors="replace") as f:
                        tail = f.readlines()[-lines:]
                    print(f"--- last {len(tail)} lines of {os.path.basename(path)}", file=sys.stderr)
                    sys.stderr.writelines(tail)


def capture(bins, keep=False, verbose=False, attempts=3):
    """One capture; a run whose start was too slow for the genesis time is run again."""
    for attempt in range(1, attempts + 1):
        try:
            return capture_once(bins, keep, verbose)
        except SlowStart as e:
            if attempt == attempts:
                raise CaptureError(f"{e}, {attempts} times: raise GENESIS_LEAD")
            print(f"capture_surface: {e}; running the scenario again", file=sys.stderr)


def capture_once(bins, keep=False, verbose=False):
    workdir = tempfile.mkdtemp(prefix="tnode-golden-")
    sc = Scenario(bins, workdir, verbose)
    try:
        return sc.run()
    except SlowStart:
        raise
    except BaseException:
        sc.dump_logs()
        raise
    finally:
        for n in sc.nodes:
            if n.proc is not None and n.proc.poll() is None:
                n.proc.kill()
                n.proc.wait()
        if keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


# -------------------------------------------------- facts: record & compare

def facts(tree, path=()):
    """The capture as a set of leaf facts (tuples), for set arithmetic."""
    out = set()
    if isinstance(tree, dict):
        for k, v in tree.items():
            out |= facts(v, path + (k,))
    elif isinstance(tree, list):
        out.add(path + ("[]",))
        for item in tree:
            out.add(path + ("[]", item))
    else:
        out.add(path + ("=", json.dumps(tree)))
    return out


def unflatten(fact_set):
    tree = {}
    for f in sorted(fact_set, key=lambda f: [str(x) for x in f]):
        i = f.index("[]") if "[]" in f else f.index("=")
        node = tree
        for k in f[:i - 1]:
            node = node.setdefault(k, {})
        leaf = f[i - 1]
        if f[i] == "[]":
            lst = node.setdefault(leaf, [])
            if len(f) > i + 1:
                lst.append(f[i + 1])
        else:
            node[leaf] = json.loads(f[i + 1])
    return tree


def show(f):
    if f[-2:-1] == ("=",):
        return " › ".join(f[:-2]) + " = " + f[-1]
    if f[-1] == "[]":
        return " › ".join(f[:-1]) + " (present)"
    return " › ".join(f[:-2]) + " › " + f[-1]


def golden_document(runs):
    sets = [facts(r) for r in runs]
    required = set.intersection(*sets)
    union = set.union(*sets)
    races = {("logs", "templates", "[]", t) for t in KNOWN_RACES}
    required -= races
    optional = (union | races) - required
    seen = {show(f): f"{sum(f in s for s in sets)}/{len(sets)}" + (", known race" if f in races else "")
            for f in sorted(optional, key=show)}
    return {
        "format": FORMAT,
        "about": ("Observable surface of tnode on a 3-node testnet (tests/golden/capture_surface.py): "
                  "JSON key paths of the HTTP endpoints, admin and error responses, metric families, "
                  "log message templates (ids, hashes, numbers, times and addresses replaced), "
                  "tchain --json key paths of node1's store, exit codes."),
        "runs": len(sets),
        "capture": unflatten(required),
        "optional": {
            "comment": ("Seen in some recording runs only, or known to depend on a race (KNOWN_RACES in "
                        "capture_surface.py: which of two crossing dials finishes its handshake first). "
                        "A run may or may not show them; anything in neither section is a difference."),
            "seen_in_runs": seen,
            "capture": unflatten(optional),
        },
    }


def compare(golden, fresh):
    required = facts(golden["capture"])
    optional = facts(golden.get("optional", {}).get("capture", {}))
    got = facts(fresh)
    missing = sorted(required - got, key=show)
    new = sorted(got - required - optional, key=show)
    return missing, new


def write_json(path, doc):
    text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if path == "-":
        sys.stdout.write(text)
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Exit status: 0 captured / no difference, 1 difference, 2 could not run.")
    ap.add_argument("--bin-dir", required=True,
                    help="directory of tnode, tgenesis and tchain (or a build tree: DIR/apps/tnode)")
    ap.add_argument("--out", help="write the capture (with --compare: the fresh one) to FILE ('-' for stdout)")
    ap.add_argument("--compare", metavar="GOLDEN", help="compare a fresh capture with GOLDEN; exit 1 on a difference")
    ap.add_argument("--runs", type=int, default=1,
                    help="scenario runs: when recording, items not seen in every run are stored as optional; "
                         "when comparing, every run must match (default 1)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, stores)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the steps on stderr")
    args = ap.parse_args(argv)
    if not args.out and not args.compare:
        ap.error("give --out FILE, --compare GOLDEN, or both")
    if args.runs < 1:
        ap.error("--runs must be at least 1")

    try:
        bins = {name: find_binary(args.bin_dir, name) for name in ("tnode", "tgenesis", "tchain")}
        golden = None
        if args.compare:
            with open(args.compare, encoding="utf-8") as f:
                golden = json.load(f)
            if golden.get("format") != FORMAT:
                raise CaptureError(f"{args.compare}: format {golden.get('format')}, expected {FORMAT}")
        runs = []
        for i in range(args.runs):
            t0 = time.monotonic()
            runs.append(capture(bins, keep=args.keep, verbose=args.verbose))
            print(f"run {i + 1}/{args.runs}: captured in {time.monotonic() - t0:.1f}s", file=sys.stderr)
    except CaptureError as e:
        print(f"capture_surface: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("capture_surface: interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug of this script or an unexpected answer: not a difference
        traceback.print_exc()
        return 2
    finally:
        _stop_all()

    if golden is None:
        doc = golden_document(runs)
        write_json(args.out, doc)
        n_opt = len(doc["optional"]["seen_in_runs"])
        print(f"wrote {args.out}: {len(runs)} run(s), {n_opt} optional item(s)", file=sys.stderr)
        for item, seen in doc["optional"]["seen_in_runs"].items():
            print(f"  optional ({seen}): {item}", file=sys.stderr)
        return 0

    if args.out:
        write_json(args.out, golden_document(runs))
    differ = False
    for i, run in enumerate(runs, 1):
        missing, new = compare(golden, run)
        if not missing and not new:
            print(f"run {i}: matches {args.compare}")
            continue
        differ = True
        print(f"run {i}: differs from {args.compare}")
        if missing:
            print(f"  in the golden capture, not in this run ({len(missing)}):")
            for f in missing:
                print(f"    - {show(f)}")
        if new:
            print(f"  in this run, not in the golden capture ({len(new)}):")
            for f in new:
                print(f"    + {show(f)}")
    if differ:
        print("Each difference must be explained (issue 10), or the golden file re-recorded "
              "with --out when the change is intended.")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
