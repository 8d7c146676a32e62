"""Helpers for scenarios that run real `tnode` processes (stdlib only).

Built on harness.py (TestRun.spawn, poll, CheckFailed); nothing here sleeps
to synchronise: waiting is harness.poll() with a deadline.

    from harness import TestRun
    from nodes import start_testnet

    t = TestRun("my scenario")
    net = start_testnet(t, "net", nodes=3)       # tgenesis testnet on free ports
    net.start_all()                              # spawn every node at once
    net.wait_connected(timeout=15)               # every node sees every other
    print(net[1].peers())                        # node1's /peers JSON

What it provides:
  * free_port_range(): a block of consecutive free loopback ports, chosen
    below the kernel's ephemeral range, so no outbound connection (ours or a
    node's) can be holding a port a node later wants to listen on;
  * Node: one testnet node (config, ports, key) -> start(*--set overrides),
    kill9(), restart(), get()/health()/peers()/addrbook()/metrics(), its log;
  * Testnet: `tgenesis testnet` output plus its Node objects;
  * parse_metrics()/metric_value(): Prometheus text -> {(name, labels): value};
  * tcp_sockets(pid): the process's TCP sockets from /proc (to prove which
    connection is which at the socket level);
  * the wire framing (magic, encode_frame, read_frame, decode_reject) for
    scenarios that speak raw bytes to a node.
"""

import hashlib
import json
import os
import random
import re
import socket
import struct
import time
import urllib.error
import urllib.request

from harness import CheckFailed, SetupError, binary, expect, poll, testnet

HTTP_TIMEOUT = 5.0   # seconds for one HTTP request to a node
START_TIMEOUT = 15.0  # seconds for a node to answer HTTP after spawn


# --------------------------------------------------------------------------
# Ports


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _all_free(base, count):
    held = []
    try:
        for p in range(base, base + count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(s)
            s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        for s in held:
            s.close()


def free_port_range(count):
    """P such that P .. P+count-1 are all free on 127.0.0.1 right now.

    Chosen at random below the ephemeral range (so that parallel scenarios
    rarely collide, and no outgoing connection takes one of them)."""
    hi = _ephemeral_low() - count - 1
    lo = min(20000, hi - 1000)
    rnd = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(200):
        base = rnd.randrange(lo, hi)
        if _all_free(base, count):
            return base
    raise SetupError(f"no {count} consecutive free loopback ports in {lo}..{hi}")


def closed_port():
    """A loopback port nothing listens on: free below the ephemeral range."""
    return free_port_range(1)


# --------------------------------------------------------------------------
# Metrics


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text exposition -> {(name, frozenset(labels.items())): value}."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        labels = frozenset(_LABEL.findall(m.group(3) or ""))
        try:
            out[(m.group(1), labels)] = float(m.group(4))
        except ValueError:
            continue
    return out


def metric_value(metrics, name, **labels):
    """The sample's value; 0 when the series is absent (counters start at 0)."""
    return metrics.get((name, frozenset(labels.items())), 0.0)


def metric_series(metrics, name):
    """{labels dict as sorted tuple: value} of every series of `name`."""
    return {tuple(sorted(lbl)): v for (n, lbl), v in metrics.items() if n == name}


def by_label(metrics, name, label):
    """{label value: value} for a metric with one label (e.g. reason)."""
    out = {}
    for (n, lbl), v in metrics.items():
        if n == name:
            d = dict(lbl)
            if label in d:
                out[d[label]] = v
    return out


# --------------------------------------------------------------------------
# Nodes


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
        self.starts = []  # every Background this node ran, oldest first

    def __repr__(self):
        return f"{self.name}({self.listen})"

    # ---- process

    def start(self, *sets, log_level=None):
        """Spawns tnode with the node's config; each `sets` item is one
        SECTION.KEY=VALUE override. Does not wait (see wait_http)."""
        if self.proc is not None and self.proc.running():
            raise CheckFailed(f"expected {self.name} to be stopped before start(), it is running (pid {self.proc.pid})")
        self.overrides = list(sets)
        self.log_level = log_level
        return self._spawn()

    def _spawn(self):
        argv = [binary("tnode"), "--config", self.config]
        for s in self.overrides:
            argv += ["--set", s]
        if self.log_level:
            argv += ["--log-level", self.log_level]
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


def rss_kb(pid):
    """The process's resident set size in KiB (0 if unknown)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def asan_rss_allowance_mb():
    """For memory checks: 0 for a normal build. Under AddressSanitizer freed
    memory waits in a quarantine before reuse, so RSS does not come back
    down: this bounds the quarantine of the nodes started from now on
    (ASAN_OPTIONS) and returns the MiB to allow for it."""
    with open(binary("tnode"), "rb") as f:
        if b"__asan_init" not in f.read():
            return 0
    os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") +
                                  ":quarantine_size_mb=16:thread_local_quarantine_size_kb=256").lstrip(":")
    return 128


def past_timestamp(seconds_ago):
    """An RFC 3339 genesis time `seconds_ago` seconds in the past (whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(time.time()) - int(seconds_ago)))


def toml_list(addresses):
    """A TOML array of strings for --set network.peers=..."""
    return "[" + ", ".join(f'"{a}"' for a in addresses) + "]"


# --------------------------------------------------------------------------
# Sockets of a process (Linux /proc)

TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
              "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN",
              "0B": "CLOSING"}


def _hex_port(text):
    return int(text.rsplit(":", 1)[1], 16)


def tcp_sockets(pid):
    """[(local_port, remote_port, state)] of the process's IPv4/IPv6 TCP sockets."""
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    out = []
    for table in (f"/proc/{pid}/net/tcp", f"/proc/{pid}/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 9 and cols[9] in inodes:
                out.append((_hex_port(cols[1]), _hex_port(cols[2]), TCP_STATES.get(cols[3], cols[3])))
    return out


# --------------------------------------------------------------------------
# Wire framing (libcore/p2p/frame.hpp, messages.hpp)

FRAME_HEADER = struct.Struct("<IHII")  # magic u32 | type u16 | length u32 | checksum u32
MSG = {"hello": 1, "hello_ack": 2, "reject": 3, "ping": 4, "pong": 5}
REJECT_CODES = {1: "protocol_error", 2: "bad_magic", 3: "bad_checksum", 4: "oversized", 5: "unknown_type",
                6: "malformed", 7: "genesis_mismatch", 8: "network_mismatch", 9: "version", 10: "self",
                11: "banned", 12: "capacity", 13: "per_ip_limit", 14: "duplicate", 15: "stale_session",
                16: "timeout", 17: "bad_signature", 18: "not_masternode", 19: "handshake_order",
                20: "slow_peer", 21: "shutdown", 22: "invalid_block", 23: "evicted", 24: "admin"}


def blake2b256(data):
    return hashlib.blake2b(data, digest_size=32).digest()


def network_magic(network):
    return struct.unpack("<I", blake2b256(network.encode())[:4])[0]


def checksum(payload):
    return struct.unpack("<I", blake2b256(payload)[:4])[0]


def encode_frame(magic, mtype, payload):
    return FRAME_HEADER.pack(magic, mtype, len(payload), checksum(payload)) + payload


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def read_frame(sock):
    """(magic, type, length, checksum, payload) of the next frame."""
    magic, mtype, length, csum = FRAME_HEADER.unpack(recv_exactly(sock, FRAME_HEADER.size))
    if length > 1 << 20:
        raise CheckFailed(f"expected a small frame, saw a header announcing {length} bytes")
    return magic, mtype, length, csum, recv_exactly(sock, length)


def decode_reject(payload):
    """Reject payload (code u16 | detail: u32 length + bytes) -> (code, detail)."""
    if len(payload) < 6:
        raise CheckFailed(f"expected a Reject payload of at least 6 bytes, saw {payload!r}")
    code, n = struct.unpack_from("<HI", payload)
    detail = payload[6:6 + n]
    if len(detail) != n or len(payload) != 6 + n:
        raise CheckFailed(f"expected a Reject detail of {n} bytes filling the payload, saw {payload!r}")
    return code, detail.decode(errors="replace")
