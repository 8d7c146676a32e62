"""HTTP cannot be abused (DESIGN.md 11, issue 11 "hostile peers"): 64 idle
clients from one address no longer keep everyone else out, and with 100
slowloris clients and 70 busy keep-alive clients, a client polling /health
every 0.5 s gets 200 at least 99 % of the time.

node1 (the masternode) and node2 are connected and producing.

First, the case of issue 11 (64 idle clients used to take every slot, so
/health answered 503 to everyone): 64 idle clients from 127.0.0.3
(http_attack.py --idle) connect, send nothing and reconnect a second after
each close. For 10 s a monitor from 127.0.0.2 polls GET /health every
0.5 s. Checks: every poll got 200, each within 1 s; node1 held no more
than http.max_connections_per_ip (8) HTTP connections (+1 closing) in 90 %
of the samples and never more than twice that (it did hold 8: the attack
was real); at least 64 - 8 of the idle clients' connections were
refused with the per-address 503, and node1 counts them
(tnode_http_connections_refused_total{reason="per_ip_limit"}).

Then, from
20 loopback addresses 127.0.0.2 .. 127.0.0.21 (http_attack.py, two
processes):
  * 100 slowloris clients send a request line and one more header line
    every second, never ending the headers, and reconnect when closed;
  * 70 busy clients each loop GET /health and GET /metrics on one
    keep-alive connection as fast as they can, and reconnect when closed.
20 addresses x http.max_connections_per_ip (8) = 160 > http.max_connections
(128), all defaults: the server is full the whole time and most addresses
sit at their cap. Once they hold the server, a monitor from 127.0.0.1 polls
GET /health every 0.5 s for 30 s, on a fresh connection each time (5 s
timeout); then the attackers are stopped.

Checks:
  * >= 99 % of the monitor's polls got 200 (prints polls, 200s, 503s busy
    and degraded, errors, p50/p99 latency);
  * every slowloris connection the server accepted was closed within
    header_timeout (5 s) + slack, and the server counts header-deadline
    closes (tnode_http_connections_closed_total{reason="header_timeout"});
    the refusals and evictions it made are counted too;
  * node1's RSS grew by less than 64 MiB (more under ASan);
  * node2 stayed connected to node1 with the same session throughout, and
    follows node1's tip after the attack;
  * after the attack node1's open HTTP connections fall back to the
    monitor's own, and /health is 200."""

import json
import os
import socket
import statistics
import sys
import time

from harness import CheckFailed, TestRun, expect, poll
from nodes import start_testnet, wait_same_tip
from procfs import asan_rss_allowance_mb, rss_kb, tcp_connections
from prom import by_label, metric_value

MONITOR_SECONDS = 30.0
ATTACKER_MAX_SECONDS = 120.0  # a bound only: the attackers are stopped (SIGTERM) when the monitor is done
POLL_INTERVAL = 0.5
POLL_TIMEOUT = 5.0
SOURCES = "127.0.0.2-127.0.0.21"
SLOWLORIS = 100
BUSY = 70
HEADER_TIMEOUT = 5.0  # http.header_timeout's default
# A slowloris connection is closed by its header deadline, counted from
# accept; allow for a loaded machine (timers and the attacker's own loop).
CLOSE_SLACK = 3.0
RSS_GROWTH_MB = 64
MONITOR_SOURCE = "127.0.0.1"
# The one-address phase (issue 11's case).
IDLE_CLIENTS = 64
IDLE_SOURCE = "127.0.0.3"
IDLE_MONITOR_SOURCE = "127.0.0.2"
IDLE_MONITOR_SECONDS = 10.0
PROMPT = 1.0  # seconds: a /health answer slower than this is not "prompt"
MAX_PER_IP = 8  # http.max_connections_per_ip's default

ASAN_ALLOWANCE_MB = asan_rss_allowance_mb()  # also bounds ASan's quarantine for the nodes

t = TestRun("HTTP abuse: slowloris and busy keep-alive clients vs a /health monitor")
state = {}


def setup():
    net = start_testnet(t, "net", 2, masternodes=1, block_time="1s")
    n1, n2 = net[1], net[2]
    n1.start()
    n2.start()
    net.wait_http()
    net.wait_connected(20.0)
    poll(lambda: (n1.health()[0] == 200, n1.health()), 20.0, "node1's /health to answer 200")
    sessions = {p["node_id"]: p["session"] for p in n1.peers()["peers"]}
    state.update(net=net, n1=n1, n2=n2, session=sessions[n2.pubkey], rss_before=rss_kb(n1.proc.pid))


def get_health(address, source=MONITOR_SOURCE):
    """One GET /health on a fresh connection from `source`:
    (status or None, body bytes, seconds, error text or None)."""
    host, port = address.rsplit(":", 1)
    start = time.monotonic()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(POLL_TIMEOUT)
            s.bind((source, 0))
            s.connect((host, int(port)))
            s.sendall(f"GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            reply = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
    except OSError as e:
        return None, b"", time.monotonic() - start, f"{type(e).__name__}: {e}"
    seconds = time.monotonic() - start
    parts = reply.split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return None, reply, seconds, f"no HTTP status in {reply[:60]!r}"
    return int(parts[1]), reply, seconds, None


def http_established(node, source=None):
    """node's ESTABLISHED connections on its HTTP port (from `source` only, when given)."""
    return sum(1 for local, ip, _, st in tcp_connections(node.proc.pid)
               if local == node.http_port and st == "ESTABLISHED" and source in (None, ip))


def spawn_attacker(kind, count, sources, report):
    argv = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "http_attack.py"),
            "--target", state["n1"].http, "--sources", sources, f"--{kind}", str(count),
            "--duration", str(ATTACKER_MAX_SECONDS), "--report", report]
    return t.spawn(f"http-attack-{kind}", argv)


def wait_ready(attackers, timeout):
    """Until every attacking client has connected (or been refused) once."""
    def ready():
        for kind, proc, _ in attackers:
            if not proc.running():
                raise CheckFailed(f"http_attack.py --{kind} exited {proc.returncode}: {proc.stderr()[-400:]!r}")
        waiting = [kind for kind, proc, _ in attackers if "ready" not in proc.stdout().split()]
        return (not waiting, f"{', '.join(waiting)} not connected yet")
    poll(ready, timeout, "every attacking client to have connected once")


def stop_attackers(attackers):
    for kind, proc, report in attackers:
        rc = proc.terminate(grace=15.0)  # SIGTERM: the attacker stops, writes its report and exits 0
        expect(rc == 0 and os.path.exists(report), f"http_attack.py --{kind} to exit 0 with a report",
               f"exit {rc}; {proc.stderr()[-400:]!r}")


def idle_from_one_address():
    n1 = state["n1"]
    report = t.path("idle.json")
    attackers = [("idle", spawn_attacker("idle", IDLE_CLIENTS, IDLE_SOURCE, report), report)]
    refused_before = metric_value(n1.metrics(), "tnode_http_connections_refused_total", reason="per_ip_limit")
    polls = []
    held_max = 0
    held = []
    try:
        wait_ready(attackers, 15.0)
        start = time.monotonic()
        k = 0
        while time.monotonic() - start < IDLE_MONITOR_SECONDS:
            held.append(http_established(n1, IDLE_SOURCE))
            held_max = max(held_max, held[-1])
            polls.append(get_health(n1.http, IDLE_MONITOR_SOURCE))
            k += 1
            pause = start + k * POLL_INTERVAL - time.monotonic()
            if pause > 0:
                time.sleep(pause)  # pacing the poller
    finally:
        stop_attackers(attackers)
    ok = [p for p in polls if p[0] == 200]
    slowest = max((p[2] for p in polls), default=0.0)
    t.note(f"{IDLE_CLIENTS} idle clients from {IDLE_SOURCE}: node1 held at most {held_max} HTTP connections; "
           f"monitor from {IDLE_MONITOR_SOURCE}: {len(polls)} polls, {len(ok)} x 200, slowest {slowest * 1000:.1f} ms")
    bad = [(p[0], p[3] or p[1][:60]) for p in polls if p[0] != 200]
    expect(len(polls) >= 0.9 * IDLE_MONITOR_SECONDS / POLL_INTERVAL, "the monitor to poll every 0.5 s",
           f"{len(polls)} polls")
    expect(not bad, f"every /health poll from {IDLE_MONITOR_SOURCE} to get 200", f"{len(bad)} did not: {bad[:3]}")
    expect(slowest < PROMPT, f"every /health answer within {PROMPT} s", f"slowest {slowest:.3f} s")
    # Sockets as the kernel sees them: the idle clients connected together,
    # so their idle timeouts end together, and on a loaded machine the
    # successors may be accepted before every freed socket has closed. The
    # cap holds in (nearly) every sample; a moment's overlap stays well
    # under what an uncapped server holds (all 64).
    over = [h for h in held if h > MAX_PER_IP + 1]
    expect(len(over) <= max(1, len(held) // 10),
           f"node1 to hold at most {MAX_PER_IP} connections from {IDLE_SOURCE} (+1 closing) in 90 % of samples",
           f"samples {held}")
    expect(held_max <= 2 * MAX_PER_IP, f"node1 never to hold more than {2 * MAX_PER_IP} from {IDLE_SOURCE}",
           f"samples {held}")
    expect(held_max >= MAX_PER_IP, f"the idle clients to hold their cap of {MAX_PER_IP} (the attack is real)",
           held_max)
    with open(report) as f:
        conns = json.load(f)["idle"]["connections"]
    refused = sum(1 for c in conns if c["outcome"] == "refused" and c["status"] == 503)
    counted = metric_value(n1.metrics(), "tnode_http_connections_refused_total", reason="per_ip_limit") - refused_before
    t.note(f"idle clients: {len(conns)} connections ended, {refused} refused with 503; node1 counts {counted:.0f} "
           f"per-address refusals")
    expect(refused >= IDLE_CLIENTS - MAX_PER_IP, f"at least {IDLE_CLIENTS - MAX_PER_IP} idle connections refused "
           f"with 503", refused)
    expect(counted >= refused, "node1 to count every per-address refusal the clients saw", f"{counted:.0f}")
    # The next phase starts from a server without the idle clients.
    poll(lambda: (http_established(n1) == 0, f"{http_established(n1)} HTTP connections established"), 15.0,
         "node1 to release the idle clients' connections")


def attack_and_monitor():
    n1 = state["n1"]
    attackers = []
    for kind, count in (("slowloris", SLOWLORIS), ("busy", BUSY)):
        report = t.path(f"{kind}.json")
        attackers.append((kind, spawn_attacker(kind, count, SOURCES, report), report))
    state["attackers"] = attackers
    # The attack is on once every attacking client has connected (or been
    # refused) once.
    wait_ready(attackers, 15.0)
    t.note(f"node1 holds {http_established(n1)} HTTP connections as the monitor starts")
    polls = []
    rss_max = 0
    start = time.monotonic()
    k = 0
    while time.monotonic() - start < MONITOR_SECONDS:
        polls.append(get_health(n1.http))
        rss_max = max(rss_max, rss_kb(n1.proc.pid))
        k += 1
        pause = start + k * POLL_INTERVAL - time.monotonic()
        if pause > 0:
            time.sleep(pause)  # pacing the poller
    state.update(polls=polls, rss_max=rss_max)
    stop_attackers(attackers)


def monitor_figures():
    polls = state["polls"]
    ok = sum(1 for p in polls if p[0] == 200)
    busy = sum(1 for p in polls if p[0] == 503 and b"too many connections" in p[1])
    degraded = sum(1 for p in polls if p[0] == 503) - busy
    errors = [p[3] for p in polls if p[0] is None]
    other = sum(1 for p in polls if p[0] not in (None, 200, 503))
    latencies = sorted(p[2] for p in polls)
    p50 = statistics.median(latencies) * 1000 if latencies else 0
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000 if latencies else 0
    t.note(f"monitor: {len(polls)} polls, {ok} x 200, {busy} x 503 busy, {degraded} x 503 degraded, "
           f"{other} other, {len(errors)} errors; latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
           f"max {latencies[-1] * 1000 if latencies else 0:.1f} ms")
    if errors:
        t.note(f"monitor errors (first 3): {errors[:3]}")
    expect(len(polls) >= 0.9 * MONITOR_SECONDS / POLL_INTERVAL, "the monitor to poll every 0.5 s",
           f"{len(polls)} polls")
    expect(ok >= 0.99 * len(polls), "at least 99 % of /health polls to get 200",
           f"{ok} of {len(polls)} ({100.0 * ok / max(1, len(polls)):.1f} %)")


def report(kind):
    for k, _, path in state["attackers"]:
        if k == kind:
            with open(path) as f:
                return json.load(f)
    raise CheckFailed(f"no {kind} report")


def slowloris_closed_by_deadline():
    conns = report("slowloris")["slowloris"]["connections"]
    accepted = [c for c in conns if c["outcome"] in ("closed", "answered", "open")]
    refused = [c for c in conns if c["outcome"] == "refused"]
    lifetimes = sorted(c["lifetime"] for c in accepted if c["outcome"] != "open")
    near_deadline = [x for x in lifetimes if HEADER_TIMEOUT - 0.5 <= x <= HEADER_TIMEOUT + CLOSE_SLACK]
    t.note(f"slowloris: {len(conns)} connections, {len(refused)} refused with 503, {len(lifetimes)} closed by the "
           f"server (lifetime p50 {statistics.median(lifetimes) if lifetimes else 0:.2f} s, max "
           f"{lifetimes[-1] if lifetimes else 0:.2f} s; {len(near_deadline)} at the {HEADER_TIMEOUT:.0f} s "
           f"deadline), {sum(1 for c in conns if c['outcome'] == 'open')} open at the end")
    too_long = [c for c in accepted if c["lifetime"] > HEADER_TIMEOUT + CLOSE_SLACK]
    expect(not too_long, f"no slowloris connection open longer than {HEADER_TIMEOUT + CLOSE_SLACK} s",
           f"{len(too_long)}, e.g. {too_long[:3]}")
    expect(len(near_deadline) >= SLOWLORIS // 2, f"at least {SLOWLORIS // 2} slowloris connections closed at the "
           f"header deadline", len(near_deadline))
    m = state["n1"].metrics()
    closed = by_label(m, "tnode_http_connections_closed_total", "reason")
    refused_m = by_label(m, "tnode_http_connections_refused_total", "reason")
    t.note(f"node1 closed HTTP connections by reason: {closed}; refused: {refused_m}")
    expect(closed.get("header_timeout", 0) >= len(near_deadline) // 2,
           "node1 to count the header-deadline closes", closed)
    expect(closed.get("evicted", 0) >= 1, "node1 to have evicted connections for newcomers", closed)
    expect(refused_m.get("per_ip_limit", 0) >= 1, "node1 to have refused connections over the per-IP cap", refused_m)


def busy_figures():
    b = report("busy")["busy"]
    t.note(f"busy clients: {b['requests']} responses {b['statuses']}, {b['connections']} connections, "
           f"{b['closed_by_server']} closed by node1, {b['errors']} connect errors")
    expect(b["statuses"].get("200", 0) >= 1000, "the busy clients to be served (the load is real)", b["statuses"])


def rss_bounded():
    growth_mb = (state["rss_max"] - state["rss_before"]) / 1024
    t.note(f"node1 RSS {state['rss_before'] / 1024:.1f} MiB before, {state['rss_max'] / 1024:.1f} MiB at most")
    limit = RSS_GROWTH_MB + ASAN_ALLOWANCE_MB
    expect(growth_mb < limit, f"node1's RSS to grow by less than {limit} MiB", f"{growth_mb:.1f} MiB")


def peers_unaffected():
    n1, n2 = state["n1"], state["n2"]
    sessions = {p["node_id"]: p["session"] for p in n1.peers()["peers"]}
    expect(sessions.get(n2.pubkey) == state["session"], "node2 still connected to node1 in the same session",
           sessions)
    start = n1.height()
    n1.wait_height(start + 2, 15.0)
    wait_same_tip([n1, n2], 15.0, "node2 to follow node1's tip")


def recovers():
    n1 = state["n1"]

    def settled():
        status, _ = n1.health()
        established = http_established(n1)
        gauge = metric_value(n1.metrics(), "tnode_http_connections")
        return (status == 200 and established <= 1 and gauge <= 1,
                f"/health {status}, {established} HTTP connections established, tnode_http_connections {gauge:.0f}")
    poll(settled, 15.0, "node1's /health 200 and every attacker's HTTP connection released")


t.check("node1 and node2 connected, node1 healthy", setup, required=True)
t.check(f"{IDLE_CLIENTS} idle clients from {IDLE_SOURCE}: /health from {IDLE_MONITOR_SOURCE} answers 200 promptly, "
        f"the address is capped at {MAX_PER_IP}", idle_from_one_address)
t.check(f"{SLOWLORIS} slowloris + {BUSY} busy clients from {SOURCES}, monitor polling for {MONITOR_SECONDS:.0f} s",
        attack_and_monitor, required=True)
t.check("the monitor got 200 for at least 99 % of its polls", monitor_figures)
t.check("slowloris connections closed by the header deadline; refusals and evictions counted",
        slowloris_closed_by_deadline)
t.check("the busy clients were served", busy_figures)
t.check("node1's RSS stayed bounded", rss_bounded)
t.check("node2 stayed connected and on node1's tip", peers_unaffected)
t.check("after the attack: /health 200, HTTP connections released", recovers)
t.finish()
