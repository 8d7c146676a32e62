"""tpeer-probe names why a connection failed: refused, timeout, reset,
protocol_error:<reason>, rejected:<reason>, with each step's result, its
time and the exit code (0 all good, 1 a target failed, 2 usage error).

Every peer is on 127.0.0.1: a closed port; Python listeners that never
speak, send garbage, or close; Python HTTP servers for `health`; and
wire_responder (tests/tools), the real responder side of the handshake,
for the success path, a genesis mismatch and `stress`. The last part runs
the same probes against a live tnode when it is built.
"""

import http.server
import json
import os
import resource
import socket
import struct
import threading

import wire
from harness import (CheckFailed, SetupError, TestRun, binary, expect, expect_eq, expect_in, expect_rc, poll,
                     testnet)
from ports import closed_port

STEP_TIMEOUT = "1s"  # --timeout for the probes that must time out
WAIT = 15.0          # seconds to wait for a process to be ready

t = TestRun("probe failure classes")
state = {}


def probe(*args, **kw):
    return t.tool("tpeer-probe", *args, **kw)


def probe_json(*args, rc):
    """Runs tpeer-probe with --json, expects exit code `rc`; returns the JSON."""
    r = probe("--json", *args)
    expect_rc(r, rc)
    if rc != 0:
        expect_in("tpeer-probe: error:", r.stderr, f"stderr of `{r.command()}`")
    return r.json()


def only_target(doc):
    targets = doc.get("targets")
    expect(isinstance(targets, list) and len(targets) == 1, "exactly one entry in targets", targets)
    return targets[0]


def step(target, name):
    for s in target["steps"]:
        if s["step"] == name:
            return s
    raise CheckFailed(f"expected a step '{name}' in {target['steps']!r}")


def expect_step_names(target, names):
    expect_eq([s["step"] for s in target["steps"]], names, "the steps reported")


# ----------------------------------------------------------------- listeners


def read_frame(conn):
    """One wire frame from conn: (magic, type, payload)."""
    magic, mtype, _length, _checksum, payload = wire.read_frame(conn)
    return magic, mtype, payload


class Listener:
    """A loopback TCP listener in a thread, serving each connection with
    `behaviour(conn, record)`; what it records is kept in `self.records`."""

    def __init__(self, behaviour):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.behaviour = behaviour
        self.records = []
        self.held = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(WAIT)
            record = {}
            self.records.append(record)
            threading.Thread(target=self._handle, args=(conn, record), daemon=True).start()

    def _handle(self, conn, record):
        try:
            if self.behaviour(conn, record) == "hold":
                self.held.append(conn)
                return
        except Exception as e:  # noqa: BLE001 - recorded for the check to show
            record["error"] = f"{type(e).__name__}: {e}"
        conn.close()

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


def never_speaks(conn, record):
    return "hold"  # keep the connection open and silent until the test ends


def sends_garbage(conn, record, garbage=b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"):
    """Reads the probe's Hello, answers with `garbage` (an SSH banner), then
    records every frame the probe sends until it closes (it must send a
    Reject first)."""
    record["hello"] = read_frame(conn)
    conn.sendall(garbage)
    frames = []
    while True:
        try:
            frames.append(read_frame(conn))
        except EOFError:
            break
    record["after"] = frames


def reads_hello_then_closes(conn, record):
    record["hello"] = read_frame(conn)  # nothing left unread: we close with a FIN


def closes_at_once(conn, record):
    pass  # closed without reading the Hello


# ----------------------------------------------------------------- checks: connection classes

NET = ["--network", "testnet", "--genesis-hash", "ab" * 32]


def refused():
    port = closed_port()
    doc = probe_json("connect", *NET, f"127.0.0.1:{port}", rc=1)
    expect_eq(doc.get("ok"), False, "ok")
    tg = only_target(doc)
    expect_eq(tg["address"], f"127.0.0.1:{port}", "address")
    expect_eq(tg["class"], "refused", "class")
    expect_eq(tg["ok"], False, "target ok")
    expect_step_names(tg, ["connect"])
    s = step(tg, "connect")
    expect_eq((s["ok"], s["status"], s["class"], s["kind"]), (False, "failed", "refused", "refused"),
              "connect step (ok, status, class, kind)")
    expect(isinstance(s["ms"], (int, float)) and s["ms"] >= 0, "a time in ms", s.get("ms"))
    expect_eq(tg["failure"]["class"], "refused", "failure.class")
    expect_eq(tg["peer"], None, "peer")
    # Human output names the class too, and the exit code is the same.
    r = probe("connect", f"127.0.0.1:{port}")
    expect_rc(r, 1)
    expect_in("refused", r.stdout, "human output")


t.check("closed port: class refused in the connect step, exit 1", refused)


def silent_listener_times_out():
    listener = Listener(never_speaks)
    try:
        doc = probe_json("connect", *NET, "--timeout", STEP_TIMEOUT, f"127.0.0.1:{listener.port}", rc=1)
        tg = only_target(doc)
        expect_eq(tg["class"], "timeout", "class")
        expect_step_names(tg, ["connect", "handshake"])
        expect_eq(step(tg, "connect")["ok"], True, "connect step ok")
        hs = step(tg, "handshake")
        expect_eq((hs["status"], hs["class"]), ("failed", "timeout"), "handshake step (status, class)")
        expect(900 <= hs["ms"] < 5000, "the handshake step to end at the 1 s timeout", hs["ms"])
        expect_eq(doc["timeout_ms"], 1000, "timeout_ms")
    finally:
        listener.close()


t.check("listener that never speaks, --timeout 1s: handshake timeout, exit 1", silent_listener_times_out)


def garbage_is_protocol_error():
    listener = Listener(sends_garbage)
    try:
        doc = probe_json("connect", *NET, "--timeout", "5s", f"127.0.0.1:{listener.port}", rc=1)
        tg = only_target(doc)
        expect_eq(tg["class"], "protocol_error:bad_magic", "class")
        hs = step(tg, "handshake")
        expect_eq((hs["kind"], hs["code"]), ("protocol_error", "bad_magic"), "handshake step (kind, code)")
        expect_in("magic", hs["detail"], "detail")
        poll(lambda: (len(listener.records) == 1 and "after" in listener.records[0], listener.records), WAIT,
             "the listener to see the probe close")
        rec = listener.records[0]
        expect("error" not in rec, "the listener to read whole frames", rec.get("error"))
        magic, mtype, _ = rec["hello"]
        expect_eq(mtype, 1, "type of the probe's first frame (Hello)")
        # The probe tells the peer why before closing: one Reject{bad_magic}.
        expect_eq([f[1] for f in rec["after"]], [3], "frame types the probe sent after the garbage (Reject)")
        code, = struct.unpack("<H", rec["after"][0][2][:2])
        expect_eq(code, 2, "the Reject's code (bad_magic)")
        expect_eq(rec["after"][0][0], magic, "the Reject's magic")
    finally:
        listener.close()


t.check("listener that answers with garbage: protocol_error:bad_magic, and the probe sends a Reject",
        garbage_is_protocol_error)


def http_answer_is_named():
    listener = Listener(lambda conn, record: sends_garbage(
        conn, record, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
    try:
        doc = probe_json("connect", *NET, "--timeout", "5s", f"127.0.0.1:{listener.port}", rc=1)
        tg = only_target(doc)
        expect_eq(tg["class"], "protocol_error:http_server", "class")
        expect_in("this is an HTTP server", step(tg, "handshake")["detail"], "detail")
        r = probe("connect", *NET, f"127.0.0.1:{listener.port}")
        expect_in("this is an HTTP server", r.stdout, "human output")
    finally:
        listener.close()


t.check("a peer that answers in HTTP: class protocol_error:http_server, 'this is an HTTP server'", http_answer_is_named)


def close_is_reset():
    for behaviour, what in ((reads_hello_then_closes, "reads the Hello, then closes"),
                            (closes_at_once, "closes at once")):
        listener = Listener(behaviour)
        try:
            doc = probe_json("connect", *NET, f"127.0.0.1:{listener.port}", rc=1)
            tg = only_target(doc)
            expect_eq(tg["class"], "reset", f"class against a listener that {what}")
            expect_eq(step(tg, "handshake")["kind"], "reset", f"handshake kind ({what})")
        finally:
            listener.close()


t.check("listener that closes without a reason: class reset, exit 1", close_is_reset)


def no_network_asks_genesis_first():
    listener = Listener(never_speaks)
    try:
        for args in (["--json", "connect"], ["connect", "--json"]):  # --json before and after the command
            r = probe(*args, "--timeout", STEP_TIMEOUT, f"127.0.0.1:{listener.port}")
            expect_rc(r, 1)
            doc = r.json()
            expect_eq(doc["network"], None, "network")
            tg = only_target(doc)
            expect_eq((tg["ok"], tg["class"]), (False, "timeout"), "target (ok, class)")
            expect_step_names(tg, ["genesis"])
            g = step(tg, "genesis")
            expect_eq((g["ok"], g["status"], g["class"]), (False, "failed", "timeout"), "genesis step")
    finally:
        listener.close()


t.check("no network given: the peer is asked for its genesis first; a silent one times out in that step, exit 1",
        no_network_asks_genesis_first)


def several_targets_in_order():
    listener = Listener(never_speaks)
    port = closed_port()
    try:
        doc = probe_json("connect", "--timeout", STEP_TIMEOUT, f"127.0.0.1:{listener.port}", f"127.0.0.1:{port}", rc=1)
        expect_eq([tg["class"] for tg in doc["targets"]], ["timeout", "refused"], "classes, in argument order")
        expect_eq(doc["ok"], False, "ok")
    finally:
        listener.close()


t.check("two targets, one silent, one refused: both reported in order, exit 1", several_targets_in_order)


def usage_errors():
    cases = [
        ["connect"],
        ["connect", "127.0.0.1:99999"],
        ["connect", "--timeout", "soon", "127.0.0.1"],
        ["connect", "--network", "testnet", "127.0.0.1"],
        ["connect", "--network", "testnet", "--genesis-hash", "xyz", "127.0.0.1"],
        ["connect", "--genesis", t.path("missing.toml"), "127.0.0.1"],
        ["stress", "127.0.0.1"],
        ["stress", *NET, "--connections", "0", "127.0.0.1"],
        ["health", "https://127.0.0.1"],
        ["crawl"],
        ["crawl", "--time-limit", "0s", "127.0.0.1"],
        ["crawl", "--max-nodes", "0", "127.0.0.1"],
        ["crawl", "--network", "testnet", "127.0.0.1"],
    ]
    for args in cases:
        r = probe(*args)
        expect_rc(r, 2)
        expect(r.stderr.strip() != "", f"an error on stderr for `{r.command()}`", "empty stderr")
        expect_eq(r.stdout, "", f"stdout of `{r.command()}`")


t.check("bad targets, durations, hashes, files and a stress without a network: exit 2", usage_errors)


# ----------------------------------------------------------------- checks: health


class HealthServer:
    """Answers every GET with `status` and `body` (bytes), in a thread."""

    def __init__(self, status, body):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                self.server.paths.append(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.paths = []
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def health_doc(status):
    return json.dumps({"status": status, "height": 12, "tip": "cd" * 32, "genesis": "ef" * 32,
                       "peers": {"inbound": 1, "outbound": 2, "masternodes": 3}, "syncing": status == "syncing",
                       "uptime_s": 42}).encode()


def health_classes():
    cases = [
        (200, health_doc("ok"), 0, "ok"),
        (200, health_doc("syncing"), 0, "syncing"),
        (503, health_doc("degraded"), 1, "degraded"),
        (404, b'{"error": "not found"}', 1, "http_404"),
        (200, b"<html>hello</html>", 1, "protocol_error"),
    ]
    for status, body, rc, verdict in cases:
        server = HealthServer(status, body)
        try:
            doc = probe_json("health", f"127.0.0.1:{server.port}", rc=rc)
            expect_eq((doc["class"], doc["ok"], doc["http_status"]), (verdict, rc == 0, status),
                      f"(class, ok, http_status) for HTTP {status} {body[:30]!r}")
            expect_eq(server.httpd.paths, ["/health"], "paths requested")
            if verdict in ("ok", "syncing", "degraded"):
                expect_eq((doc["health"]["height"], doc["health"]["peers"]["masternodes"]), (12, 3),
                          "health.height, health.peers.masternodes")
        finally:
            server.close()
    # A URL with a path: that path instead of /health.
    server = HealthServer(200, health_doc("ok"))
    try:
        doc = probe_json("health", f"http://127.0.0.1:{server.port}/node1/health", rc=0)
        expect_eq(server.httpd.paths, ["/node1/health"], "path requested for a URL with a path")
        expect_eq(doc["url"], f"http://127.0.0.1:{server.port}/node1/health", "url")
        r = probe("health", f"127.0.0.1:{server.port}")
        expect_rc(r, 0)
        expect_in("inbound 1, outbound 2, masternodes 3", r.stdout, "human health output")
    finally:
        server.close()
    doc = probe_json("health", f"127.0.0.1:{closed_port()}", rc=1)
    expect_eq((doc["class"], doc["http_status"], doc["health"]), ("refused", None, None),
              "(class, http_status, health) of a closed port")


t.check("health: 200 ok/syncing exit 0; 503, 404, non-JSON, closed port exit 1 with their class", health_classes)


def labelled(text, label):
    """The value of the human output's `label` line, None if there is none."""
    for line in text.splitlines():
        if line.startswith("  " + label + " ") and line[2:14].rstrip() == label:
            return line[14:].strip()
    return None


def health_identity_and_reason():
    # A node that says who it is, degraded: the text names it and the reason.
    doc = json.loads(health_doc("degraded"))
    doc.update({"reason": "no peers where peers are expected", "network": "probenet", "protocol_version": 7,
                "version": "9.8.7", "node_id": "ab" * 32, "role": "regular"})
    server = HealthServer(503, json.dumps(doc).encode())
    try:
        r = probe("health", f"127.0.0.1:{server.port}")
        expect_rc(r, 1)
        for label, value in (("status", "degraded"), ("reason", "no peers where peers are expected"),
                             ("network", "probenet"), ("version", "9.8.7"), ("protocol", "7"),
                             ("node id", "ab" * 32), ("role", "regular"), ("result", "degraded")):
            expect_eq(labelled(r.stdout, label), value, f"the '{label}' line of the human output ({r.stdout!r})")
        expect_in("degraded: no peers where peers are expected (HTTP 503)", r.stderr, "the error line")
        j = probe_json("health", f"127.0.0.1:{server.port}", rc=1)
        expect_eq({k: j["health"].get(k) for k in doc}, doc, "--json health (the node's document as sent)")
    finally:
        server.close()
    # An older node's document without them: no line for a missing field.
    server = HealthServer(200, health_doc("ok"))
    try:
        r = probe("health", f"127.0.0.1:{server.port}")
        expect_rc(r, 0)
        for label in ("reason", "network", "version", "protocol", "node id", "role"):
            expect_eq(labelled(r.stdout, label), None, f"a '{label}' line for an older node ({r.stdout!r})")
        expect_eq(labelled(r.stdout, "height"), "12", "the height line")
    finally:
        server.close()
    # Another status with a JSON error: the error is shown and in the error line.
    server = HealthServer(404, b'{"error": "not found"}')
    try:
        r = probe("health", f"127.0.0.1:{server.port}")
        expect_rc(r, 1)
        expect_eq(labelled(r.stdout, "error"), "not found", f"the 'error' line ({r.stdout!r})")
        expect_in("http_404: not found (HTTP 404)", r.stderr, "the error line")
    finally:
        server.close()


t.check("health: the text names network, version, protocol, node id, role and a degraded node's reason; "
        "an older node's missing fields print nothing", health_identity_and_reason)


# ----------------------------------------------------------------- checks: a real handshake responder


def responder_lines(proc, count):
    """The first `count` per-connection lines of wire_responder."""
    def enough():
        lines = proc.stdout().splitlines()[1:]
        return (len(lines) >= count, lines)
    poll(enough, WAIT, f"{count} connection line(s) from wire_responder")
    return proc.stdout().splitlines()[1:count + 1]


def responder_setup():
    net, out = testnet(t, "net", "--nodes", 1)
    state["net"], state["node"], state["hash"] = net, out["nodes"][0], out["hash"]
    state["responder"], state["rport"] = wire.start_responder(t, state["node"]["config"], WAIT)
    other, _ = testnet(t, "other", "--nodes", 1)  # same network name, other keys: another genesis
    state["other_genesis"] = os.path.join(other, "genesis.toml")
    othernet, _ = testnet(t, "othernet", "--nodes", 1, "--network", "othernet")
    state["othernet_genesis"] = os.path.join(othernet, "genesis.toml")


t.check("wire_responder starts on a testnet node's config", responder_setup, required=True)


def responder_ok():
    genesis = os.path.join(state["net"], "genesis.toml")
    doc = probe_json("connect", "--genesis", genesis, f"127.0.0.1:{state['rport']}", rc=0)
    tg = only_target(doc)
    expect_eq((tg["ok"], tg["class"]), (True, "ok"), "target (ok, class)")
    expect_step_names(tg, ["connect", "handshake", "ping"])
    for s in tg["steps"]:
        expect_eq((s["ok"], s["status"]), (True, "ok"), f"step {s['step']}")
    peer = tg["peer"]
    expect_eq(peer["node_id"], state["node"]["pubkey"], "peer.node_id (the node's key)")
    expect_eq((peer["role"], peer["role_checked"]), ("masternode", True), "peer (role, role_checked)")
    expect_eq((peer["protocol_version"], peer["user_agent"], peer["best_height"]), (2, "wire_responder/test", 0),
              "peer (protocol_version, user_agent, best_height)")
    expect_eq(peer["listen_port"], state["rport"], "peer.listen_port")
    expect(isinstance(peer["rtt_ms"], (int, float)) and peer["rtt_ms"] >= 0, "an rtt in ms", peer["rtt_ms"])
    expect_eq(doc["network"]["masternodes_known"], True, "network.masternodes_known")
    # The probe closed with a reason, not a reset.
    line = responder_lines(state["responder"], 1)[0]
    expect(line.startswith("ok ") and line.endswith("closed: shutdown probe done"),
           "the responder to log the probe's Reject{shutdown, 'probe done'}", line)


t.check("handshake with the right genesis: ok, node id, role masternode, rtt; closed with shutdown", responder_ok)


def responder_mismatch():
    before = len(state["responder"].stdout().splitlines())
    doc = probe_json("connect", "--genesis", state["other_genesis"], f"127.0.0.1:{state['rport']}", rc=1)
    tg = only_target(doc)
    expect_eq(tg["class"], "rejected:genesis_mismatch", "class")
    hs = step(tg, "handshake")
    expect_eq((hs["kind"], hs["code"], hs["by_peer"]), ("rejected", "genesis_mismatch", True),
              "handshake step (kind, code, by_peer)")
    expect_in("genesis", hs["detail"], "the peer's detail")
    # Another network name is another wire magic: neither side can read the
    # other's frames, so the probe reports the peer's Reject as bad magic.
    doc = probe_json("connect", "--genesis", state["othernet_genesis"], f"127.0.0.1:{state['rport']}", rc=1)
    expect_eq(only_target(doc)["class"], "protocol_error:bad_magic", "class with another network name")
    lines = responder_lines(state["responder"], before + 1)  # index 0 is "port": +1 line per connection
    expect_eq(lines[before - 1:before + 1], ["fail rejected:genesis_mismatch", "fail protocol_error:bad_magic"],
              "what the responder logged")


t.check("another genesis: rejected:genesis_mismatch (by the peer); another network: bad_magic; exit 1",
        responder_mismatch)


def responder_hash_only():
    g = state["hash"]
    doc = probe_json("connect", "--network", "testnet", "--genesis-hash", g, f"127.0.0.1:{state['rport']}", rc=0)
    peer = only_target(doc)["peer"]
    expect_eq((peer["role"], peer["role_checked"]), ("masternode", False), "peer (role, role_checked)")
    expect_eq(doc["network"]["masternodes_known"], False, "network.masternodes_known")
    r = probe("connect", "--network", "testnet", "--genesis-hash", g, f"127.0.0.1:{state['rport']}")
    expect_rc(r, 0)
    expect_in("not checked", r.stdout, "human output of an unchecked masternode claim")


t.check("--network with --genesis-hash: handshake ok, masternode claim reported as not checked", responder_hash_only)


def responder_config():
    doc = probe_json("connect", "--config", state["node"]["config"], f"127.0.0.1:{state['rport']}", rc=0)
    expect_eq(only_target(doc)["class"], "ok", "class with --config")


t.check("--config: the node's genesis file is used", responder_config)


def responder_stress():
    n, c = 40, 4
    state["ids_before_stress"] = {line.split()[1] for line in state["responder"].stdout().splitlines()
                                  if line.startswith("ok ")}
    doc = probe_json("stress", "--genesis", os.path.join(state["net"], "genesis.toml"), "--connections", n,
                     "--concurrency", c, f"127.0.0.1:{state['rport']}", rc=0)
    expect_eq((doc["connections"], doc["concurrency"], doc["succeeded"], doc["failed"], doc["success_rate"]),
              (n, c, n, 0, 1.0), "(connections, concurrency, succeeded, failed, success_rate)")
    expect_eq(doc["failures"], {}, "failures")
    hs = doc["handshake_ms"]
    expect_eq(hs["count"], n, "handshake_ms.count")
    expect(0 <= hs["p50"] <= hs["p90"] <= hs["p99"] <= hs["max"], "p50 <= p90 <= p99 <= max", hs)
    expect(doc["handshakes_per_s"] > 0 and doc["total_s"] > 0, "a positive rate and total time", doc)
    # Each handshake is its own peer: n more distinct node ids, each closed with a reason.
    def closed_ids():
        return {line.split()[1] for line in state["responder"].stdout().splitlines()
                if line.startswith("ok ") and line.endswith("closed: shutdown probe done")}

    poll(lambda: (len(closed_ids() - state["ids_before_stress"]) == n, len(closed_ids() - state["ids_before_stress"])),
         WAIT, f"{n} new distinct probe node ids closed with shutdown at the responder")
    # Failures are counted by class.
    doc = probe_json("stress", *NET, "--connections", 3, "--concurrency", 2, f"127.0.0.1:{closed_port()}", rc=1)
    expect_eq((doc["succeeded"], doc["failures"], doc["handshake_ms"]), (0, {"refused": 3}, None),
              "(succeeded, failures, handshake_ms) against a closed port")


t.check("stress: 40 handshakes, 4 at a time, all succeed with percentiles; failures counted by class",
        responder_stress)


# ----------------------------------------------------------------- checks: local


def local_limits():
    listener = Listener(never_speaks)
    try:
        r = probe("--json", "local", "--port", listener.port)
        doc = r.json()
        expect_rc(r, 0 if doc["ok"] else 1)
        expect_eq(doc["port"], listener.port, "port")
        expect_eq(doc["sockets"]["by_state"].get("LISTEN"), 1, "LISTEN sockets on our listener's port")
        want = [None if v == resource.RLIM_INFINITY else v for v in resource.getrlimit(resource.RLIMIT_NOFILE)]
        expect_eq([doc["fd_limits"]["soft"], doc["fd_limits"]["hard"]], want, "fd_limits (soft, hard)")
        expect(doc["fds_needed"]["total"] > doc["fds_needed"]["max_inbound"], "the need to include more than peers",
               doc["fds_needed"])
        lo, hi = open("/proc/sys/net/ipv4/ip_local_port_range").read().split()
        expect_eq((doc["ephemeral_ports"]["low"], doc["ephemeral_ports"]["high"]), (int(lo), int(hi)),
                  "ephemeral_ports")
    finally:
        listener.close()


t.check("local: fd limits, sockets on a port by state, ephemeral range match the system", local_limits)


# ----------------------------------------------------------------- live tnode (separate: needs tnode)


def free_port_pair():
    """P with P and P+1 both free on loopback (tgenesis: p2p P, HTTP P+1)."""
    for _ in range(50):
        a = socket.socket()
        a.bind(("127.0.0.1", 0))
        p = a.getsockname()[1]
        b = socket.socket()
        try:
            b.bind(("127.0.0.1", p + 1))
            return p
        except OSError:
            continue
        finally:
            a.close()
            b.close()
    raise SetupError("no two consecutive free loopback ports")


def live_node_checks():
    try:
        tnode = binary("tnode")
    except SetupError:
        t.note("not run: tnode binary not built yet (live-node probes)")
        return
    base = free_port_pair()
    net, out = testnet(t, "live", "--nodes", 1, "--base-port", base, "--block-time", "1s")
    node = out["nodes"][0]
    genesis = os.path.join(net, "genesis.toml")
    proc = t.spawn("tnode", [tnode, "--config", node["config"]])

    def started():
        if not proc.running():
            raise CheckFailed(f"tnode exited {proc.returncode}: {proc.stderr().strip()[-800:]!r}")
        r = probe("--json", "health", node["http"], "--timeout", "1s")
        return (r.rc == 0, r.stdout.strip()[:300] or r.stderr.strip())

    t.check("live tnode: starts and answers /health", lambda: poll(started, WAIT, "tnode to answer /health with 200"),
            required=True)

    def connect_ok():
        doc = probe_json("connect", "--genesis", genesis, node["listen"], rc=0)
        tg = only_target(doc)
        expect_eq(tg["class"], "ok", "class")
        expect_eq(tg["peer"]["node_id"], node["pubkey"], "peer.node_id (the node's key)")
        expect_eq((tg["peer"]["role"], tg["peer"]["role_checked"]), ("masternode", True), "peer (role, role_checked)")
        expect(isinstance(tg["peer"]["rtt_ms"], (int, float)), "an rtt", tg["peer"]["rtt_ms"])

    t.check("live tnode: connect ok, node id is the key's, role masternode", connect_ok)

    def mismatch():
        other, _ = testnet(t, "live-other", "--nodes", 1, "--base-port", base)
        doc = probe_json("connect", "--genesis", os.path.join(other, "genesis.toml"), node["listen"], rc=1)
        tg = only_target(doc)
        expect_eq(tg["class"], "rejected:genesis_mismatch", "class")
        expect_eq(step(tg, "handshake")["by_peer"], True, "handshake by_peer")
        othernet, _ = testnet(t, "live-othernet", "--nodes", 1, "--base-port", base, "--network", "othernet")
        doc = probe_json("connect", "--genesis", os.path.join(othernet, "genesis.toml"), node["listen"], rc=1)
        expect_eq(only_target(doc)["class"], "protocol_error:bad_magic", "class with another network name (magic)")

    t.check("live tnode: another genesis is rejected:genesis_mismatch, another network bad_magic, exit 1", mismatch)

    def health():
        doc = probe_json("health", node["http"], rc=0)
        expect_eq(doc["http_status"], 200, "http_status")
        expect(doc["class"] in ("ok", "syncing"), "class ok or syncing", doc["class"])
        expect(isinstance(doc["health"].get("height"), int), "health.height to be a number", doc["health"])
        r = probe("health", node["http"])
        expect_rc(r, 0)
        expect_eq((labelled(r.stdout, "node id"), labelled(r.stdout, "role"), labelled(r.stdout, "network")),
                  (node["pubkey"], "masternode", doc["health"]["network"]), f"the live node's text ({r.stdout!r})")
        expect(proc.running(), "tnode to keep running after the probes", f"exited {proc.returncode}")

    t.check("live tnode: health 200 after the probes, its text names it; node still running", health)

    def stress():
        doc = probe_json("stress", "--genesis", genesis, "--connections", 20, "--concurrency", 4, node["listen"],
                         rc=0)
        expect_eq((doc["succeeded"], doc["failures"]), (20, {}), "(succeeded, failures)")
        expect(proc.running(), "tnode to keep running after the stress", f"exited {proc.returncode}")

    t.check("live tnode: stress 20 handshakes, 4 at a time, all succeed", stress)

    def survives_linger():
        # The node ends each probe connection with a bounded linger (timers of
        # a few seconds): it must still be serving once they have all fired.
        # The node's own uptime is the clock, so this polls, never sleeps.
        start = probe_json("health", node["http"], rc=0)["health"]["uptime_s"]

        def later():
            if not proc.running():
                raise CheckFailed(f"tnode exited {proc.returncode}: {proc.stderr().strip()[-800:]!r}")
            doc = probe_json("health", node["http"], rc=0)
            return (doc["health"]["uptime_s"] >= start + 4, doc["health"]["uptime_s"])

        poll(later, WAIT, f"tnode to keep answering /health until uptime {start + 4} s")

    t.check("live tnode: still serving 4 s after the probes closed", survives_linger)


live_node_checks()

t.finish()
