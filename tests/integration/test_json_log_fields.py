"""Structured JSON log records (issue 15: "`--log-format json` lines carry
structured fields (event, peer id, address, reason, height, ...) rather
than only a message string"; tnode(1) LOGS).

node1 and node2, the two masternodes of a testnet, log with
`--log-format json --log-file`. A third node ("stranger": a one-node
testnet with the same network name but its own genesis) logs the same way
and lists node1 as a static peer, so its dial fails on the genesis. Then
node2 and node1 are stopped with SIGTERM. Read back (as bytes, split on
"\\n" only):
  * every line of every log is one JSON object with time, level, msg, no
    key twice; a record with more keys has an `event`;
  * node1 logged node_started with its node id, role, listen address and a
    numeric height; peer_connected for node2 with node2's node id, its
    listen address, its address (the dialled one when outbound) and a
    numeric height;
  * node1 logged block_produced with numeric heights that increase, its own
    id as producer and a 64-hex hash;
  * node1 logged handshake_failed for the stranger's connection with
    reason genesis_mismatch, kind rejected, by_peer false and an
    address on 127.0.0.1; the stranger logged dial_failed for node1's address
    with reason genesis_mismatch and redial false;
  * node2's shutdown: node2 logged node_stopping (signal SIGTERM),
    peer_disconnected for node1 with reason shutdown, and node_stopped;
    node1 logged peer_disconnected for node2 with reason shutdown and node2's
    goodbye in the detail;
  * a record the node logs without an event ("SIGHUP: log reopened", after
    a SIGHUP to node1) keeps exactly time, level and msg.
"""

import json
import re
import signal

from harness import CheckFailed, TestRun, expect, expect_eq, poll
from nodes import start_testnet, toml_list

HEX64 = re.compile(r"^[0-9a-f]{64}$")
LOOPBACK_ADDR = re.compile(r"^127\.0\.0\.1:\d+$")
STOP_GRACE = 15.0  # seconds for a node to say goodbye and exit after SIGTERM
FAST = ["reconnect.base_delay=100ms", "reconnect.max_delay=400ms"]

t = TestRun("json log fields")
state = {}


def json_log_args(name):
    path = t.path(f"{name}.log")
    return path, ["--log-format", "json", "--log-file", path]


def setup():
    net = start_testnet(t, "net", 2, masternodes=2, block_time="500ms")
    other = start_testnet(t, "other", 1)
    expect(net.hash != other.hash, "two testnets with different genesis hashes", (net.hash, other.hash))
    n1, n2, stranger = net[1], net[2], other[1]
    logs = {}
    for node in (n1, n2):
        logs[node.name], args = json_log_args(node.name)
        node.start(args=args)
    net.wait_http()
    net.wait_connected(15.0)
    n1.wait_height(3, 20.0)
    # node1 produces only in its own slots: wait for two of its blocks.
    def produced_by_node1():
        count = 0
        with open(logs[n1.name], errors="replace") as f:
            for line in f:
                try:
                    count += json.loads(line).get("event") == "block_produced"
                except ValueError:
                    pass  # a line still being written

        return count >= 2, f"{count} block_produced records"

    poll(produced_by_node1, 20.0, "node1 to log 2 block_produced records")
    logs["stranger"], args = json_log_args("stranger")
    stranger.start(f"network.peers={toml_list([n1.listen])}", *FAST, args=args)
    stranger.wait_http()
    state.update(net=net, n1=n1, n2=n2, stranger=stranger, logs=logs)

    # The stranger's dial fails once on the genesis and is never repeated.
    def stranger_refused():
        e = stranger.address(n1.listen)
        return (e["wrong_network"], e)

    poll(stranger_refused, 15.0, f"the stranger's /addrbook entry for {n1.listen} marked wrong_network")


t.check("node1, node2 (masternodes) and a stranger on another genesis, all logging JSON to files", setup,
        required=True)


def read_log(name):
    with open(state["logs"][name], errors="replace") as f:
        return f.read()


def stop_all():
    n1, n2, stranger = state["n1"], state["n2"], state["stranger"]
    # A record logged without an event, for the last check.
    n1.proc.proc.send_signal(signal.SIGHUP)
    poll(lambda: ("SIGHUP: log reopened" in read_log("node1"), ""), 10.0,
         "node1 to log \"SIGHUP: log reopened\"")
    rc = n2.proc.terminate(grace=STOP_GRACE)
    expect_eq(rc, 0, "node2's exit code after SIGTERM")
    # node1 sees node2's goodbye before we stop node1 too.
    poll(lambda: (not any(p["node_id"] == n2.pubkey for p in n1.peers()["peers"]), n1.peers()["count"]), 10.0,
         "node1 to have closed its connection to node2")
    for node in (stranger, n1):
        rc = node.proc.terminate(grace=STOP_GRACE)
        expect_eq(rc, 0, f"{node.name}'s exit code after SIGTERM")


t.check("node1 reopens its log (SIGHUP); node2, then the stranger and node1 stopped with SIGTERM (exit 0)", stop_all, required=True)


def unique_keys(pairs):
    keys = [k for k, _ in pairs]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise ValueError(f"key(s) {sorted(dup)} twice")
    return dict(pairs)


def records(name):
    """The records of one log: CheckFailed unless every line is one JSON
    object with time, level and msg and no key twice."""
    path = state["logs"][name]
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CheckFailed(f"expected {name}'s log to be UTF-8, saw {e.reason} at byte {e.start}")
    lines = text.split("\n")
    expect_eq(lines[-1], "", f"{name}'s log's end (a newline after the last record)")
    out = []
    for i, line in enumerate(lines[:-1]):
        try:
            r = json.loads(line, object_pairs_hook=unique_keys)
        except ValueError as e:
            raise CheckFailed(f"line {i + 1} of {name}'s log is not one JSON object with unique keys ({e}): "
                              f"{line[:200]!r}")
        expect(isinstance(r, dict) and list(r)[:3] == ["time", "level", "msg"],
               f"line {i + 1} of {name}'s log to start with time, level, msg", line[:200])
        expect(len(r) == 3 or "event" in r and list(r)[3] == "event",
               f"line {i + 1} of {name}'s log: more than time, level, msg only after an event", line[:200])
        out.append(r)
    expect(len(out) > 0, f"records in {name}'s log", path)
    return out


def events(name, event, **match):
    return [r for r in records(name) if r.get("event") == event and all(r.get(k) == v for k, v in match.items())]


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def show(recs, n=3):
    return "; ".join(json.dumps(r)[:300] for r in recs[:n]) or "none"


def every_line_json():
    for name in state["logs"]:
        recs = records(name)
        plain = [r for r in recs if "event" not in r]
        t.note(f"{name}: {len(recs)} records, {len(recs) - len(plain)} with an event")


t.check("every line of the three logs is one JSON object (time, level, msg first; more keys only with an event)",
        every_line_json)


def node_started():
    n1 = state["n1"]
    started = events("node1", "node_started")
    expect_eq(len(started), 1, "node1's node_started records")
    r = started[0]
    expect_eq((r.get("node"), r.get("role"), r.get("listen")), (n1.pubkey, "masternode", n1.listen),
              "node1's node_started (node, role, listen)")
    expect(is_int(r.get("height")) and HEX64.match(str(r.get("genesis"))), "a numeric height and a 64-hex genesis",
           show(started))
    expect_eq(r.get("genesis"), state["net"].hash, "node1's node_started genesis")


t.check("node_started: node id, role, listen address, genesis, numeric height", node_started)


def peer_connected():
    n1, n2 = state["n1"], state["n2"]
    recs = events("node1", "peer_connected", peer=n2.pubkey)
    expect(recs, "node1's peer_connected records for node2's id",
           show(events("node1", "peer_connected")))
    for r in recs:
        expect_eq(r.get("listen"), n2.listen, "peer_connected listen (node2's listen address)")
        expect(LOOPBACK_ADDR.match(str(r.get("addr"))), "an address 127.0.0.1:port", r.get("addr"))
        if r.get("direction") == "outbound":
            expect_eq(r.get("addr"), n2.listen, "the address of node1's outbound connection to node2")
        else:
            expect_eq(r.get("direction"), "inbound", "peer_connected direction")
        expect_eq((r.get("class"), r.get("role")), ("masternode", "masternode"), "peer_connected (class, role)")
        expect(is_int(r.get("height")), "a numeric height in peer_connected", r)


t.check("peer_connected on node1: node2's id, listen address and address, numeric height", peer_connected)


def block_produced():
    n1 = state["n1"]
    recs = events("node1", "block_produced")
    expect(len(recs) >= 2, "at least 2 block_produced records on node1", show(recs))
    heights = [r.get("height") for r in recs]
    expect(all(is_int(h) for h in heights), "numeric heights", heights[:10])
    expect(heights == sorted(heights) and len(set(heights)) == len(heights), "heights that only increase",
           heights[:20])
    for r in recs:
        expect_eq(r.get("producer"), n1.pubkey, "block_produced producer (node1's id)")
        expect(HEX64.match(str(r.get("hash"))), "a 64-hex block hash", r.get("hash"))
        expect(is_int(r.get("slot")), "a numeric slot", r.get("slot"))


t.check("block_produced on node1: increasing numeric heights, node1 as producer", block_produced)


def wrong_network():
    n1 = state["n1"]
    recs = events("node1", "handshake_failed", reason="genesis_mismatch")
    expect(recs, "node1's handshake_failed record with reason genesis_mismatch", show(events("node1", "handshake_failed")))
    r = recs[0]
    expect_eq((r.get("direction"), r.get("kind"), r.get("by_peer")), ("inbound", "rejected", False),
              "node1's handshake_failed (direction, kind, by_peer)")
    expect(LOOPBACK_ADDR.match(str(r.get("addr"))), "the stranger's address 127.0.0.1:port", r.get("addr"))
    expect("genesis" in str(r.get("detail")), "a detail naming the genesis", r.get("detail"))
    dials = events("stranger", "dial_failed", addr=n1.listen)
    expect(dials, f"the stranger's dial_failed records for {n1.listen}", show(events("stranger", "dial_failed")))
    expect_eq((dials[-1].get("reason"), dials[-1].get("redial"), dials[-1].get("by_peer")),
              ("genesis_mismatch", False, True), "the stranger's dial_failed (reason, redial, by_peer)")


t.check("a wrong-network peer: handshake_failed on node1 and dial_failed on the stranger, reason genesis_mismatch",
        wrong_network)


def shutdown():
    n1, n2 = state["n1"], state["n2"]
    stopping = events("node2", "node_stopping")
    expect_eq([r.get("signal") for r in stopping], ["SIGTERM"], "node2's node_stopping signals")
    mine = events("node2", "peer_disconnected", peer=n1.pubkey)
    expect(mine and mine[-1].get("reason") == "shutdown", "node2's last peer_disconnected for node1 with reason shutdown",
           show(mine))
    expect(events("node2", "node_stopped"), "node2's node_stopped record", "")
    theirs = events("node1", "peer_disconnected", peer=n2.pubkey)
    expect(theirs, "node1's peer_disconnected records for node2", show(events("node1", "peer_disconnected")))
    last = theirs[-1]
    expect_eq(last.get("reason"), "shutdown", "node1's reason for the close of node2's connection")
    expect(str(last.get("detail", "")).startswith("by peer: "), "node2's goodbye in the detail", last.get("detail"))
    expect(last.get("direction") in ("inbound", "outbound") and LOOPBACK_ADDR.match(str(last.get("addr"))),
           "direction and address in peer_disconnected", last)
    expect([r.get("signal") for r in events("node1", "node_stopping")] == ["SIGTERM"]
           and events("node1", "node_stopped"), "node1's node_stopping (SIGTERM) and node_stopped", "")


t.check("shutdown: node_stopping, peer_disconnected with reason shutdown on both sides, node_stopped", shutdown)


def plain_records():
    recs = [r for r in records("node1") if r["msg"] == "SIGHUP: log reopened"]
    expect(recs, "node1's \"SIGHUP: log reopened\" record", "")
    expect_eq(sorted(recs[0]), ["level", "msg", "time"], "the keys of a record logged without an event")


t.check("a record without an event (SIGHUP: log reopened) keeps exactly time, level, msg", plain_records)
t.finish()
