#!/usr/bin/env python3
"""The benchmark suite (TESTING.md, "Benchmarks"), run by scripts/bench.

  bench.py [--blocks N] [--json] [--base-port P] [--keep] [NAME...]

NAME is one or more of: store sync handshakes propagation storm memory
(default: all). Every figure is printed beside a limit measured in the same
run on the same machine (tests/bench/bench_limits) and the ratio, in one
table at the end; --json prints one JSON object instead. It never fails on a
time: it exits 1 only when a command fails (and says which), 2 on usage.
Every process it starts is stopped and its temporary directory removed on
exit, Ctrl-C and failure included (--keep keeps the directory).

  store        forge N blocks (tforge), `tchain import` and `tchain verify`
               them: blocks/s vs Ed25519 verify/s and RocksDB batch/s
  sync         a fresh regular node syncing the N blocks from 1 serving
               node, then from 4: blocks/s (from its start, and from its
               first block) and peak RSS (VmHWM) vs Ed25519 verify/s on one
               core and on all cores
  handshakes   `tpeer-probe stress` against one node from 16 loopback source
               addresses: handshakes/s vs the handshake's signatures and
               verifications per second (bench_limits)
  propagation  a 32-node network (8 masternodes, 24 regular) and a 64-node
               full mesh (64 masternodes): p50/p99 ms from a block's
               production to each node having it, and to all of them, from
               the nodes' own JSON logs (debug level); vs hops x (one
               verification + loopback RTT)
  storm        64 nodes started at once: seconds until every node has 63
               peers; failures by reason from /metrics
  memory       RSS of an idle node with 10 peers, and per extra connection
               (10 -> 110 held connections by tests/tools fake_peer)

Binaries come from $BUILD_DIR (default <repo>/build). Nodes listen on
127.0.0.1 ports from --base-port (default 26000) up, below 32768.
Python 3 standard library only.
"""

import argparse
import ctypes
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("BUILD_DIR", os.path.join(ROOT, "build")))
NAMES = ["store", "sync", "handshakes", "propagation", "storm", "memory"]
# The chain's genesis is fixed, so runs forge identical chains. With 1 s
# slots, 100,000 blocks end on 2026-01-02 (blocks may not be in the future).
CHAIN_GENESIS = "2026-01-01T00:00:00Z"
HTTP_TIMEOUT = 3.0


class BenchError(Exception):
    """A command failed: the run stops and says which (exit 1)."""


def log(msg):
    sys.stderr.write(f"\033[1m[bench]\033[0m {msg}\n" if sys.stderr.isatty() else f"[bench] {msg}\n")
    sys.stderr.flush()


def binary(rel):
    path = os.path.join(BUILD, rel)
    if not os.access(path, os.X_OK):
        raise BenchError(f"{path} is missing: build first (scripts/setup, or BUILD_DIR=...)")
    return path


# ---- processes

_libc = None


def _die_with_parent():
    """In the child before exec: SIGKILL when the bench process dies, even by
    SIGKILL (prctl PR_SET_PDEATHSIG), so no node outlives a killed run."""
    try:
        _libc.prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:  # noqa: BLE001 - best effort (not Linux)
        pass


class Procs:
    """Every process the run starts; stop_all() ends them (TERM, then KILL)."""

    def __init__(self):
        self.procs = []

    def spawn(self, name, argv, log_path=None):
        global _libc
        if _libc is None:
            try:
                _libc = ctypes.CDLL(None, use_errno=True)
            except OSError:
                _libc = False
        out = open(log_path, "ab") if log_path else subprocess.DEVNULL
        try:
            p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                 preexec_fn=_die_with_parent if _libc else None)
        except OSError as e:
            raise BenchError(f"cannot start {name}: {e}")
        finally:
            if log_path:
                out.close()
        p.bench_name = name
        p.log_path = log_path
        self.procs.append(p)
        return p

    def stop(self, p, timeout=10.0):
        if p.poll() is None:
            try:
                p.terminate()
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def stop_many(self, procs, timeout=10.0):
        for p in procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + timeout
        for p in procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if p in self.procs:
                self.procs.remove(p)

    def stop_all(self):
        self.stop_many(list(self.procs), timeout=10.0)


def run(argv, what, timeout=None, ok=(0,)):
    """Runs a command to completion -> CompletedProcess; BenchError when its
    exit code is not in `ok`."""
    argv = [str(a) for a in argv]
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what}: `{' '.join(argv)}` did not finish within {timeout} s")
    if r.returncode not in ok:
        raise BenchError(f"{what}: `{' '.join(argv)}` exited {r.returncode}: {(r.stderr or r.stdout).strip()[-500:]}")
    return r


def read_status(pid):
    """VmRSS and VmHWM of a process in bytes, from /proc/PID/status."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out


def cpu_seconds(pid):
    """utime + stime of a running process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- HTTP and ports

def http_get(address, path, timeout=HTTP_TIMEOUT):
    """GET -> (status, body text); (None, error text) when nothing answered."""
    try:
        with urllib.request.urlopen(f"http://{address}{path}", timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (OSError, ValueError) as e:
        return None, str(e)


def http_json(address, path, timeout=HTTP_TIMEOUT):
    status, body = http_get(address, path, timeout)
    if status is None:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def parse_metrics(text):
    """Prometheus text -> {(name, frozenset(labels)): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)', line)
        if not m:
            continue
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        try:
            out[(m.group(1), labels)] = float(m.group(4))
        except ValueError:
            pass
    return out


def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_block(start, count):
    """The first P >= start with ports P .. P+count-1 all free on 127.0.0.1,
    below 32768 (Linux's default ephemeral range starts there)."""
    p = start
    while p + count <= 32768:
        busy = next((q for q in range(p, p + count) if not port_free(q)), None)
        if busy is None:
            return p
        p = busy + 1
    raise BenchError(f"no {count} free consecutive ports on 127.0.0.1 between {start} and 32767")


def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(-(-q * len(v) // 100)) - 1))
    return v[k]


def poll(check, timeout, what, interval=0.1):
    """Calls check() until it returns a true value; BenchError after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# ---- testnets and nodes

class Node:
    def __init__(self, info):
        self.name = info["name"]
        self.config = info["config"]
        self.dir = info["dir"]
        self.listen = info["listen"]
        self.http = info["http"]
        self.pubkey = info["pubkey"]
        self.role = info["role"]
        self.proc = None
        self.log_path = None

    def health(self, timeout=HTTP_TIMEOUT):
        return http_json(self.http, "/health", timeout)

    def height(self):
        h = self.health()
        return h["height"] if h else None


class Bench:
    def __init__(self, args):
        self.args = args
        self.tnode = binary("apps/tnode")
        self.tgenesis = binary("apps/tgenesis")
        for rel in ("tests/bench/bench_limits", "apps/tchain", "tests/tools/tforge", "apps/tpeer-probe",
                    "tests/tools/fake_peer"):
            binary(rel)
        self.procs = Procs()
        self.work = tempfile.mkdtemp(prefix="tnode-bench.", dir=os.environ.get("TMPDIR", "/tmp"))
        self.results = {}
        self.rows = []
        self.limits = None
        self.next_port = args.base_port
        self.chain_net = None

    # ---- helpers

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def ports(self, count):
        base = free_block(self.next_port, count)
        self.next_port = base + count
        return base

    def testnet(self, name, nodes, masternodes, block_time, timestamp=None):
        d = self.path(name)
        argv = [self.tgenesis, "--json", "testnet", "--nodes", nodes, "--masternodes", masternodes,
                "--base-port", self.ports(2 * nodes), "--block-time", block_time, "--dir", d]
        if timestamp:
            argv += ["--timestamp", timestamp]
        out = json.loads(run(argv, f"tgenesis testnet ({name})").stdout)
        return d, [Node(n) for n in out["nodes"]]

    def start(self, node, *sets, peers=None, log_level=None, log_format=None):
        argv = [self.tnode, "--config", node.config]
        for s in sets:
            argv += ["--set", s]
        if peers is not None:
            argv += ["--set", "network.peers=[" + ", ".join(f'"{p}"' for p in peers) + "]"]
        if log_level:
            argv += ["--log-level", log_level]
        if log_format:
            argv += ["--log-format", log_format]
        node.log_path = os.path.join(node.dir, "tnode.log")
        node.proc = self.procs.spawn(f"tnode {node.name}", argv, node.log_path)
        return node.proc

    def ensure_running(self, node):
        if node.proc is not None and node.proc.poll() is not None:
            tail = ""
            try:
                with open(node.log_path, errors="replace") as f:
                    tail = "".join(f.readlines()[-5:])
            except OSError:
                pass
            raise BenchError(f"tnode {node.name} exited {node.proc.returncode}; log tail:\n{tail}")

    def wait_http(self, nodes, timeout=30.0):
        for n in nodes:
            def up(n=n):
                self.ensure_running(n)
                return n.health(timeout=1.0) is not None
            poll(up, timeout, f"tnode {n.name} to answer GET /health", interval=0.05)

    def stop(self, nodes):
        self.procs.stop_many([n.proc for n in nodes if n.proc is not None])

    def row(self, bench, figure, value, unit, limit_name=None, limit=None):
        self.rows.append({"benchmark": bench, "figure": figure, "value": value, "unit": unit,
                          "limit_name": limit_name, "limit": limit,
                          "ratio": (value / limit) if (limit and value is not None) else None})

    # ---- limits

    def measure_limits(self):
        log("limits: bench_limits (about 10 s)")
        r = run([binary("tests/bench/bench_limits"), "--json", "--seconds", self.args.limit_seconds, "--tmp", self.work],
                "bench_limits", timeout=300)
        self.limits = json.loads(r.stdout)
        L = self.limits
        self.ed1 = L["ed25519_verify"]["per_s"]
        self.edn = L["ed25519_verify_all_cores"]["per_s"]
        self.threads = L["ed25519_verify_all_cores"]["threads"]

    # ---- store (and the chain sync serves)

    def chain(self):
        """The forged chain imported into node2 of a 7-node testnet (node1 its
        only masternode): forged, imported and verified once per run."""
        if self.chain_net is not None:
            return self.chain_net
        n = self.args.blocks
        d, nodes = self.testnet("chain", 7, 1, "1s", timestamp=CHAIN_GENESIS)
        tforge = binary("tests/tools/tforge")
        tchain = binary("apps/tchain")
        chain_file = self.path("chain.tnc")
        log(f"store: forging {n:,} blocks")
        t0 = time.monotonic()
        run([tforge, "chain", "--testnet", d, "--blocks", n, "--out", chain_file], "tforge chain", timeout=3600)
        forge_s = time.monotonic() - t0
        log("store: tchain import")
        t0 = time.monotonic()
        r = run([tchain, "--data-dir", nodes[1].dir, "import", chain_file, "--json"], "tchain import", timeout=3600)
        import_s = time.monotonic() - t0
        imp = json.loads(r.stdout)
        if imp.get("imported") != n:
            raise BenchError(f"tchain import imported {imp.get('imported')} blocks, not {n}")
        log("store: tchain verify")
        t0 = time.monotonic()
        r = run([tchain, "--data-dir", nodes[1].dir, "verify", "--json"], "tchain verify", timeout=3600)
        verify_s = time.monotonic() - t0
        ver = json.loads(r.stdout)
        if not ver.get("ok"):
            raise BenchError(f"tchain verify did not pass: {ver}")
        self.chain_net = {"dir": d, "nodes": nodes, "forge_s": forge_s, "import_s": import_s, "verify_s": verify_s,
                          "checked": ver["blocks_checked"], "file": chain_file}
        return self.chain_net

    def bench_store(self):
        c = self.chain()
        n = self.args.blocks
        L = self.limits
        batch = L["rocksdb_batch"]["per_s"]
        imp, ver, forge = n / c["import_s"], c["checked"] / c["verify_s"], n / c["forge_s"]
        self.results["store"] = {"blocks": n, "import_s": c["import_s"], "verify_s": c["verify_s"],
                                 "forge_s": c["forge_s"], "import_blocks_per_s": imp, "verify_blocks_per_s": ver,
                                 "forge_blocks_per_s": forge}
        self.row("store", "import blocks/s", imp, "blocks/s", "min(Ed25519 verify/s 1 core, RocksDB batch/s)",
                 min(self.ed1, batch))
        self.row("store", "import blocks/s", imp, "blocks/s", "1/(1/verify/s + 1/batch/s), 1 core",
                 1 / (1 / self.ed1 + 1 / batch))
        self.row("store", "import blocks/s", imp, "blocks/s", f"Ed25519 verify/s, {self.threads} cores", self.edn)
        self.row("store", "verify blocks/s", ver, "blocks/s", "Ed25519 verify/s, 1 core", self.ed1)
        self.row("store", "verify blocks/s", ver, "blocks/s", f"Ed25519 verify/s, {self.threads} cores", self.edn)
        self.row("store", "forge blocks/s (tforge)", forge, "blocks/s")

    # ---- sync

    def bench_sync(self):
        c = self.chain()
        n = self.args.blocks
        nodes = c["nodes"]
        servers_all = nodes[1:5]    # node2 (imported) .. node5 (copies)
        log("sync: copying the store to 3 more serving nodes")
        for s in servers_all[1:]:
            dst = os.path.join(s.dir, "chain")
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(os.path.join(nodes[1].dir, "chain"), dst)
        out = {}
        for k, syncer in ((1, nodes[5]), (4, nodes[6])):
            servers = servers_all[:k]
            log(f"sync: {n:,} blocks from {k} peer{'s' if k > 1 else ''}")
            for s in servers:
                # Serving only: no static peers (node1, the masternode, is
                # not running; it is still dialled now and then).
                self.start(s, peers=[])
            self.wait_http(servers)
            for s in servers:
                poll(lambda s=s: (s.height() or 0) >= n, 60, f"{s.name} at height {n}")
            t0 = time.monotonic()
            self.start(syncer, peers=[s.listen for s in servers])
            t_first = None
            h_first = 0
            deadline = t0 + max(120.0, n / 200.0)
            height = 0
            while True:
                self.ensure_running(syncer)
                h = syncer.health(timeout=2.0)
                now = time.monotonic()
                if h:
                    height = h["height"]
                    if t_first is None and height > 0:
                        t_first, h_first = now, height
                    if height >= n:
                        break
                if now > deadline:
                    raise BenchError(f"sync from {k}: {syncer.name} at height {height} of {n} after "
                                     f"{now - t0:.0f} s")
                time.sleep(0.05)
            t_done = time.monotonic()
            status = read_status(syncer.proc.pid)
            cpu = cpu_seconds(syncer.proc.pid)
            self.stop([syncer] + servers)
            total_s = t_done - t0
            first_s = t_done - t_first if t_first else None
            r = {"peers": k, "blocks": n, "seconds": total_s, "blocks_per_s": n / total_s,
                 "seconds_from_first_block": first_s,
                 "blocks_per_s_from_first_block": (n - h_first) / first_s if first_s else None,
                 "first_block_after_s": (t_first - t0) if t_first else None,
                 "peak_rss_bytes": status.get("VmHWM"), "rss_bytes": status.get("VmRSS"), "cpu_s": cpu}
            out[f"{k}_peer{'s' if k > 1 else ''}"] = r
            name = f"from {k} peer{'s' if k > 1 else ''}"
            self.row("sync", f"{name}: blocks/s", r["blocks_per_s"], "blocks/s", "Ed25519 verify/s, 1 core", self.ed1)
            self.row("sync", f"{name}: blocks/s", r["blocks_per_s"], "blocks/s",
                     f"Ed25519 verify/s, {self.threads} cores", self.edn)
            if r["blocks_per_s_from_first_block"]:
                self.row("sync", f"{name}: blocks/s from 1st block", r["blocks_per_s_from_first_block"], "blocks/s",
                         "Ed25519 verify/s, 1 core", self.ed1)
            self.row("sync", f"{name}: peak RSS", r["peak_rss_bytes"] / 2**20, "MiB")
            self.row("sync", f"{name}: node CPU us per block", 1e6 * cpu / n, "us",
                     "one Ed25519 verify, us", 1e6 / self.ed1)
        self.results["sync"] = out

    # ---- handshakes

    def bench_handshakes(self):
        _, nodes = self.testnet("handshakes", 2, 1, "1s")
        node = nodes[1]  # regular: it produces nothing while measured
        total, conc, nsrc = self.args.handshakes, self.args.concurrency, 16
        sources = [f"127.0.0.{2 + i}" for i in range(nsrc)]
        self.start(node, "network.max_inbound=1000", "network.max_per_ip=64", peers=[])
        self.wait_http([node])
        argv = [binary("apps/tpeer-probe"), "--json", "stress", "-c", node.config, "-n", total, "-j", conc,
                "-t", "10s"]
        for s in sources:
            argv += ["--source", s]
        argv.append(node.listen)
        log(f"handshakes: tpeer-probe stress -n {total} -j {conc} from {nsrc} source addresses")
        cpu0 = cpu_seconds(node.proc.pid)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.procs.procs.append(p)
        try:
            stdout, stderr = p.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            raise BenchError("tpeer-probe stress did not finish within 600 s")
        finally:
            if p in self.procs.procs:
                self.procs.procs.remove(p)
        wall = time.monotonic() - t0
        node_cpu = cpu_seconds(node.proc.pid) - cpu0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        probe_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        metrics = parse_metrics(http_get(node.http, "/metrics")[1] or "")
        self.stop([node])
        # Exit 1 means some handshakes failed: a measurement, not a failed
        # command. Anything else, or no report, is.
        try:
            rep = json.loads(stdout)
        except ValueError:
            rep = None
        if p.returncode not in (0, 1) or rep is None:
            raise BenchError(f"tpeer-probe stress exited {p.returncode}: {stderr.strip()[-500:]}")
        node_failures = {dict(k[1]).get("reason", "?"): v for k, v in metrics.items()
                         if k[0] == "tnode_handshake_failures_total" and v > 0}
        H = self.limits["handshake"]
        rate = rep["handshakes_per_s"]
        self.results["handshakes"] = {
            "connections": total, "concurrency": conc, "sources": sources, "handshakes_per_s": rate,
            "succeeded": rep["succeeded"], "failed": rep["failed"], "failures": rep["failures"],
            "handshake_ms": rep["handshake_ms"], "node_failures": node_failures,
            "node_cpu_share": node_cpu / wall if wall else None,
            "probe_cpu_share": probe_cpu / wall if wall else None, "seconds": rep["total_s"]}
        self.row("handshakes", "handshakes/s", rate, "1/s", "responder's sign+verify/s, 1 core", H["responder_per_s"])
        self.row("handshakes", "handshakes/s", rate, "1/s",
                 f"both sides' 2 signs+2 verifies/s, {H['threads']} cores", H["per_s_all_cores"])
        ok = rep["succeeded"] or 1
        self.row("handshakes", "node CPU us per handshake", 1e6 * node_cpu / ok, "us",
                 "responder's sign+verify, us, 1 core", 1e6 / H["responder_per_s"])
        self.row("handshakes", "node CPU (cores busy)", node_cpu / wall if wall else 0, "cores")
        self.row("handshakes", "tpeer-probe CPU (cores busy)", probe_cpu / wall if wall else 0, "cores")
        self.row("handshakes", "failed handshakes", rep["failed"], "count")

    # ---- propagation and storm

    def propagation_from_logs(self, nodes, since_wall, until_wall):
        """Per (block, node) delays in ms from a block's production to the
        node's "chain: height H HASH from X" debug log line (its JSON time,
        in ms), for blocks produced between `since_wall` and `until_wall`
        (epoch seconds). The production time is the block header's
        timestamp_ms (the producer's clock when it made the block, the same
        clock: one machine), read from the producer's /chain/block/H; the
        producer's "produced block" log line when that fails."""
        produced = {}   # hash -> (time ms, producer name, height)
        received = {}   # node name -> {hash: first time ms}
        re_prod = re.compile(r"^chain: produced block (\w+) at height (\d+)")
        re_recv = re.compile(r"^chain: (?:height (\d+) (\w+) from|reorganisation of depth \d+: new tip (\w+))")
        for n in nodes:
            got = received.setdefault(n.name, {})
            try:
                f = open(n.log_path, errors="replace")
            except OSError:
                continue
            with f:
                for line in f:
                    if '"chain: ' not in line:
                        continue
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    msg = rec.get("msg", "")
                    t = parse_rfc3339_ms(rec.get("time", ""))
                    if t is None:
                        continue
                    m = re_prod.match(msg)
                    if m:
                        produced.setdefault(m.group(1), (t, n.name, int(m.group(2))))
                        got.setdefault(m.group(1), t)
                        continue
                    m = re_recv.match(msg)
                    if m:
                        got.setdefault(m.group(2) or m.group(3), t)
        delays, to_all, missing, blocks, from_header = [], [], 0, 0, 0
        by_name = {n.name: n for n in nodes}
        for h, (t, producer, height) in produced.items():
            if t < since_wall * 1000 or t > until_wall * 1000:
                continue
            blocks += 1
            b = http_json(by_name[producer].http, f"/chain/block/{height}")
            if b and str(b.get("hash", "")).startswith(h) and isinstance(b.get("timestamp_ms"), int):
                t = b["timestamp_ms"]
                from_header += 1
            worst = 0
            complete = True
            for n in nodes:
                if n.name == producer:
                    continue
                r = received.get(n.name, {}).get(h)
                if r is None:
                    missing += 1
                    complete = False
                    continue
                delays.append(r - t)
                worst = max(worst, r - t)
            if complete:
                to_all.append(worst)
        return {"blocks": blocks, "delays_ms": delays, "to_all_ms": to_all, "missing": missing,
                "origin_from_header": from_header}

    def hops_and_rtt(self, nodes):
        """Peer graph from /peers: (mean hops from a masternode to every
        other node, max hops, median peer RTT in ms)."""
        by_id = {n.pubkey: n for n in nodes}
        adj = {n.name: set() for n in nodes}
        rtts = []
        for n in nodes:
            p = http_json(n.http, "/peers") or {}
            for peer in p.get("peers", []):
                m = by_id.get(peer.get("node_id"))
                if m:
                    adj[n.name].add(m.name)
                    adj[m.name].add(n.name)
                if peer.get("rtt_ms") is not None:
                    rtts.append(float(peer["rtt_ms"]))
        dists = []
        for src in (n for n in nodes if n.role == "masternode"):
            seen = {src.name: 0}
            frontier = [src.name]
            while frontier:
                nxt = []
                for a in frontier:
                    for b in adj[a]:
                        if b not in seen:
                            seen[b] = seen[a] + 1
                            nxt.append(b)
                frontier = nxt
            dists += [d for name, d in seen.items() if name != src.name]
        return ((statistics.mean(dists) if dists else None), (max(dists) if dists else None),
                (statistics.median(rtts) if rtts else None))

    def network_settings(self, count):
        return [f"network.max_per_ip={2 * count}", f"network.max_inbound={2 * count}",
                f"network.max_outbound={count}", f"network.max_dials_per_second={count}"]

    def run_network(self, label, count, masternodes, storm, propagation):
        """Starts `count` nodes at once (all on 127.0.0.1, so the per-IP
        limits are raised to fit), optionally times the storm to a full mesh,
        and measures block propagation for --window seconds."""
        block_time = "1s"
        d, nodes = self.testnet(label, count, masternodes, block_time)
        sets = self.network_settings(count)
        log(f"{label}: starting {count} nodes ({masternodes} masternodes) at once")
        t0 = time.monotonic()
        for n in nodes:
            self.start(n, *sets, log_level="debug", log_format="json")
        out = {"nodes": count, "masternodes": masternodes}
        full = count - 1 if masternodes == count else None
        if storm:
            def meshed():
                for n in nodes:
                    self.ensure_running(n)
                counts = []
                for n in nodes:
                    h = n.health(timeout=1.0)
                    if not h:
                        return False
                    counts.append(h["peers"]["inbound"] + h["peers"]["outbound"])
                if "listening_s" not in out:  # every node answers: every node listens
                    out["listening_s"] = time.monotonic() - t0
                out["peer_counts"] = (min(counts), max(counts))
                return all(c >= full for c in counts)
            try:
                poll(meshed, self.args.storm_timeout, f"{count} nodes to have {full} peers each", interval=0.2)
                out["mesh_s"] = time.monotonic() - t0
            except BenchError:
                out["mesh_s"] = None
            failures, dial_errors, disconnects = {}, {}, {}
            for n in nodes:
                m = parse_metrics(http_get(n.http, "/metrics")[1] or "")
                for (name, labels), v in m.items():
                    reason = dict(labels).get("reason")
                    target = {"tnode_handshake_failures_total": failures, "tnode_dial_errors_total": dial_errors,
                              "tnode_disconnects_total": disconnects}.get(name)
                    if target is not None and reason and v > 0:
                        target[reason] = target.get(reason, 0) + v
            out.update(handshake_failures=failures, dial_errors=dial_errors, disconnects=disconnects)
        if propagation:
            self.wait_http(nodes)
            # Connected enough that blocks reach everyone: every regular node
            # has each masternode (its static peers), masternodes each other.
            want_mn = masternodes - 1

            def settled():
                for n in nodes:
                    self.ensure_running(n)
                    h = n.health(timeout=1.0)
                    if not h or h["peers"]["masternodes"] < (want_mn if n.role == "masternode" else masternodes):
                        return False
                return True
            poll(settled, 60, f"every node of {label} connected to every masternode", interval=0.25)
            time.sleep(2.0)  # past the start: the first pings, the first blocks
            since = time.time()
            log(f"{label}: measuring propagation for {self.args.window} s")
            time.sleep(self.args.window)
            out["mean_hops"], out["max_hops"], out["median_rtt_ms"] = self.hops_and_rtt(nodes)
            # Blocks of the last 2 s may still be on their way: not counted.
            p = self.propagation_from_logs(nodes, since, time.time() - 2.0)
            self.stop(nodes)
            out.update(blocks=p["blocks"], samples=len(p["delays_ms"]), missing=p["missing"],
                       origin_from_header=p["origin_from_header"])
            if p["delays_ms"]:
                out.update(p50_ms=percentile(p["delays_ms"], 50), p99_ms=percentile(p["delays_ms"], 99),
                           max_ms=max(p["delays_ms"]))
            if p["to_all_ms"]:
                out.update(all_p50_ms=percentile(p["to_all_ms"], 50), all_p99_ms=percentile(p["to_all_ms"], 99))
        else:
            self.stop(nodes)
        return out

    def propagation_rows(self, key, out):
        verify_ms = 1000 / self.ed1
        hops, rtt = out.get("max_hops"), out.get("median_rtt_ms")
        limit = hops * (verify_ms + (rtt or 0)) if hops else None
        rtt_text = f"{rtt:.3f}" if rtt is not None else "?"
        lname = f"{hops} hop{'s' if hops > 1 else ''} x (verify {verify_ms:.3f} + RTT {rtt_text}) ms" if hops else None
        if out.get("p50_ms") is None:
            self.row("propagation", f"{key}: no block measured", None, "ms")
            return
        self.row("propagation", f"{key}: p50 ms, each node", out["p50_ms"], "ms", lname, limit)
        self.row("propagation", f"{key}: p99 ms, each node", out["p99_ms"], "ms", lname, limit)
        if out.get("all_p50_ms") is not None:
            self.row("propagation", f"{key}: p50 ms, all nodes", out["all_p50_ms"], "ms", lname, limit)
            self.row("propagation", f"{key}: p99 ms, all nodes", out["all_p99_ms"], "ms", lname, limit)
        self.row("propagation", f"{key}: blocks measured", out["blocks"], "count")
        if out["missing"]:
            self.row("propagation", f"{key}: (node, block) never seen", out["missing"], "count")

    def bench_propagation_32(self):
        out = self.run_network("net32", 32, 8, storm=False, propagation=True)
        self.results.setdefault("propagation", {})["32_nodes"] = out
        self.propagation_rows("32 nodes", out)

    def bench_mesh64(self, storm, propagation):
        out = self.run_network("mesh64", 64, 64, storm=storm, propagation=propagation)
        if propagation:
            self.results.setdefault("propagation", {})["64_mesh"] = out
            self.propagation_rows("64 mesh", out)
        if storm:
            self.results["storm"] = {k: v for k, v in out.items() if not k.endswith("_ms") and k not in (
                "blocks", "samples", "missing", "mean_hops", "max_hops")}
            self.row("storm", "s to full mesh (64 nodes), from 1st spawn", out["mesh_s"], "s")
            if out["mesh_s"] is not None and out.get("listening_s") is not None:
                self.row("storm", "s to full mesh, from all nodes listening", out["mesh_s"] - out["listening_s"], "s")
            if out["mesh_s"] is None:
                self.row("storm", f"not meshed in {self.args.storm_timeout} s; peers min/max", None, "")
            for what, d in (("handshake failures", out["handshake_failures"]), ("dial errors", out["dial_errors"])):
                if not d:
                    self.row("storm", f"{what}: none", 0, "count")
                for reason, v in sorted(d.items()):
                    self.row("storm", f"{what}: {reason}", v, "count")

    # ---- memory

    def bench_memory(self):
        _, nodes = self.testnet("memory", 2, 1, "1s")
        node = nodes[1]
        self.start(node, "network.max_inbound=500", "network.max_per_ip=64", peers=[])
        self.wait_http([node])
        fake = binary("tests/tools/fake_peer")
        per_proc = 25
        ip_i = [2]

        def hold(count):
            procs = []
            while count > 0:
                k = min(per_proc, count)
                ip = f"127.0.0.{ip_i[0]}"
                ip_i[0] += 1
                procs.append(self.procs.spawn(
                    f"fake_peer {ip}", [fake, "--config", node.config, "--connect", node.listen, "--mode", "hold",
                                        "--random-key", "--bind", ip, "--count", k]))
                count -= k
            return procs

        def inbound():
            self.ensure_running(node)
            h = node.health()
            return h["peers"]["inbound"] if h else -1

        def settle_rss():
            time.sleep(self.args.settle)
            return read_status(node.proc.pid)["VmRSS"]

        time.sleep(1.0)
        rss0 = settle_rss()
        steps = [(10, 10), (110, 100)]
        rss = {0: rss0}
        for want, add in steps:
            log(f"memory: {want} held connections")
            hold(add)
            poll(lambda: inbound() >= want, 30, f"{want} inbound peers on {node.name}", interval=0.1)
            rss[want] = settle_rss()
        self.stop([node])
        self.procs.stop_all()
        per_conn = (rss[110] - rss[10]) / 100
        self.results["memory"] = {"rss_idle_0_peers": rss0, "rss_idle_10_peers": rss[10], "rss_idle_110_peers": rss[110],
                                  "rss_per_connection": per_conn}
        self.row("memory", "RSS idle, 0 peers", rss0 / 2**20, "MiB")
        self.row("memory", "RSS idle, 10 peers", rss[10] / 2**20, "MiB")
        self.row("memory", "RSS per extra connection (10->110)", per_conn / 1024, "KiB")

    # ---- the run

    def run_all(self, names):
        self.measure_limits()
        L = self.limits
        self.row("limits", "Ed25519 verify/s, 1 core", self.ed1, "1/s")
        self.row("limits", f"Ed25519 verify/s, {self.threads} cores", self.edn, "1/s")
        self.row("limits", "handshake sign+verify/s, responder, 1 core", L["handshake"]["responder_per_s"], "1/s")
        self.row("limits", "RocksDB batch/s", L["rocksdb_batch"]["per_s"], "1/s")
        for name in names:
            if name == "store":
                self.bench_store()
            elif name == "sync":
                self.bench_sync()
            elif name == "handshakes":
                self.bench_handshakes()
            elif name == "memory":
                self.bench_memory()
        if "propagation" in names:
            self.bench_propagation_32()
        if "propagation" in names or "storm" in names:
            self.bench_mesh64(storm="storm" in names, propagation="propagation" in names)

    def cleanup(self):
        self.procs.stop_all()
        if self.args.keep:
            log(f"kept {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def parse_rfc3339_ms(text):
    """2026-11-24T10:00:00.123Z -> epoch ms (UTC); None when malformed."""
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z$", text)
    if not m:
        return None
    import calendar
    secs = calendar.timegm(tuple(int(m.group(i)) for i in range(1, 7)) + (0, 0, 0))
    frac = m.group(7) or "0"
    return secs * 1000 + int((frac + "000")[:3])


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float) and abs(v) < 100 and v != int(v):
        return f"{v:,.2f}"
    return f"{v:,.0f}"


def print_table(bench, names):
    args = bench.args
    print(f"\nbenchmarks: {' '.join(names)}; {args.blocks:,} blocks; this machine: {os.cpu_count()} cores; "
          f"limits by bench_limits in this run\n")
    head = ("benchmark", "figure", "value", "unit", "limit measured in the same run", "limit", "ratio")
    cells = [head]
    for r in bench.rows:
        cells.append((r["benchmark"], r["figure"], fmt(r["value"]), r["unit"], r["limit_name"] or "-", fmt(r["limit"]),
                      f"{r['ratio']:.2f}" if r["ratio"] is not None else "-"))
    w = [max(len(c[i]) for c in cells) for i in range(len(head))]
    right = {2, 5, 6}
    for i, c in enumerate(cells):
        print(" | ".join(x.rjust(w[j]) if j in right else x.ljust(w[j]) for j, x in enumerate(c)).rstrip())
        if i == 0:
            print("-|-".join("-" * x for x in w))


def main(argv):
    ap = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", metavar="NAME", help="benchmarks: " + " ".join(NAMES) + " (default: all)")
    ap.add_argument("--blocks", type=int, default=100_000, help="chain length of store and sync (default 100000)")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout instead of the table")
    ap.add_argument("--base-port", type=int, default=26000, help="first TCP port tried on 127.0.0.1 (default 26000)")
    ap.add_argument("--handshakes", type=int, default=5000, help="handshakes of the handshakes benchmark")
    ap.add_argument("--concurrency", type=int, default=64, help="handshakes at once (tpeer-probe stress -j)")
    ap.add_argument("--window", type=float, default=20.0, help="seconds of blocks measured per propagation network")
    ap.add_argument("--storm-timeout", type=float, default=60.0, help="seconds the storm may take to mesh")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds before each RSS reading of memory")
    ap.add_argument("--limit-seconds", type=float, default=1.0, help="seconds per bench_limits measurement")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, stores)")
    args = ap.parse_args(argv)
    names = args.names or list(NAMES)
    bad = [n for n in names if n not in NAMES]
    if bad:
        ap.error(f"unknown benchmark {', '.join(bad)} (one of {', '.join(NAMES)})")
    names = [n for n in NAMES if n in names]
    if args.blocks < 1:
        ap.error("--blocks wants a positive number")
    if not (1024 <= args.base_port < 32768):
        ap.error("--base-port wants a port in [1024, 32767]")

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)
    signal.signal(signal.SIGINT, on_signal)  # even when started with SIGINT ignored (a background job)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    bench = None
    try:
        bench = Bench(args)
        bench.run_all(names)
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        print(f"bench: interrupted ({e or 'SIGINT'}); stopping every process", file=sys.stderr)
        return 130
    finally:
        if bench is not None:
            bench.cleanup()
    if args.json:
        print(json.dumps({"benchmarks": names, "blocks": args.blocks, "cores": os.cpu_count(),
                          "limits": bench.limits, "results": bench.results, "rows": bench.rows}, indent=2))
    else:
        print_table(bench, names)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
