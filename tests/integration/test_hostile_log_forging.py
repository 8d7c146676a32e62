"""Log forging by a hostile peer (DESIGN.md 11: "Peer-supplied strings are
escaped before logging"; issue 11 "hostile peers").

node1 logs in text, node2 in JSON (both at debug); they are masternodes
connected to each other. A fake peer (tests/tools/fake_peer, node3's key)
attacks each of them twice:
  * reject-forge: the real handshake with a user agent holding a newline and
    a forged log line, then Reject{protocol_error, detail} where the detail
    holds a newline, a forged text line, a forged JSON record, a terminal
    escape, invalid UTF-8 and ESC bytes up to the 256 bytes a Reject carries
    (node: "connected ... (<user agent>)", then "closed ...: protocol_error
    (by peer: <detail>)");
  * reject-forge-early: the same Reject instead of a Hello (node: "inbound
    handshake from ... failed: rejected:protocol_error (<detail>)").
Then (the logs read as bytes, split on "\\n" only, so a stray "\\r" shows):
  * every line of node1's log starts with a timestamp and level of the log's
    own format; no line starts with the forged line; the detail and the user
    agent appear only escaped (util::printable: "\\n", "\\xNN", "\\\\"), the
    detail cut at the node's bound (512 bytes, ending "\\...");
  * every line of node2's log is one JSON object {time, level, msg} (then,
    for an event, "event" and its fields); no record is the forged one, no
    msg or field holds a control character, and the escaped detail is in a
    msg and in the close's `detail` field, the escaped user agent in the
    connection's `user_agent` field;
  * node1 and node2 keep the connection they had (same session and
    connected_since), stay healthy and keep producing.
"""

import json
import re

from harness import CheckFailed, TestRun, expect, expect_eq, poll
from nodes import start_testnet, wait_same_tip

# What fake_peer sends (tests/tools/fake_peer.cpp, forged_detail() and
# kForgedUserAgent), as bytes.
MAX_REJECT_DETAIL = 256  # p2p::kMaxRejectDetail
MAX_PRINTED_REJECT_DETAIL = 512  # node::kMaxPrintedRejectDetail
MAX_PRINTED_USER_AGENT = 256  # node::kMaxPrintedUserAgent
FORGED_DETAIL = (b"bye\n2026-01-01T00:00:00.000Z warning p2p: banned 0000000000000000 for 1h: forged\r\n"
                 b'{"time":"2026-01-01T00:00:00.000Z","level":"warning","msg":"forged"}\n'
                 b"\x1b[2J\xff end").ljust(MAX_REJECT_DETAIL, b"\x1b")
FORGED_USER_AGENT = b'fake_peer\n2026-01-01T00:00:00.000Z warning p2p: forged user agent\n{"msg":"forged"}'
FORGED_LINE_START = "2026-01-01T00:00:00.000Z"

# A record of the text format: "2026-11-24T13:48:52.256Z info p2p: ...".
TEXT_RECORD = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (trace|debug|info|warning|error|critical) ")
BY_PEER = re.compile(r"\(by peer: (.*)\)$")
# The node's RFC 3339 time (util::format_rfc3339 leaves out ".000" on a whole second).
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")
FAKE_TIMEOUT = 15.0  # seconds for one fake peer run and the node's log line


CUT_MARKER = "\\..."


def printable(raw, max_bytes):
    """util::printable: printable ASCII kept (the backslash doubled), \\n \\r
    \\t, every other byte as \\xNN; when longer than max_bytes, cut after a
    whole escape and ended with CUT_MARKER, the whole at most max_bytes."""
    escapes = []
    for b in raw:
        if b == 0x5C:
            escapes.append("\\\\")
        elif 0x20 <= b <= 0x7E:
            escapes.append(chr(b))
        elif b in (0x0A, 0x0D, 0x09):
            escapes.append({0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}[b])
        else:
            escapes.append(f"\\x{b:02x}")
    if sum(len(e) for e in escapes) <= max_bytes:
        return "".join(escapes)
    out = ""
    for e in escapes:
        if len(out) + len(e) > max_bytes - len(CUT_MARKER):
            break
        out += e
    return out + CUT_MARKER


ESCAPED_DETAIL = printable(FORGED_DETAIL, MAX_PRINTED_REJECT_DETAIL)
ESCAPED_USER_AGENT = printable(FORGED_USER_AGENT, MAX_PRINTED_USER_AGENT)
RAW_FORGED_LINE = FORGED_DETAIL.split(b"\n")[1].decode()  # the forged text line itself

t = TestRun("hostile log forging")
state = {}


def session_view(node):
    return {p["node_id"]: (p["session"], p["connected_since"]) for p in node.peers()["peers"]}


def setup():
    net = start_testnet(t, "net", 3, masternodes=2, block_time="500ms")
    n1, n2, n3 = net[1], net[2], net[3]
    n1.start("log.format=text", log_level="debug")
    n2.start("log.format=json", log_level="debug")
    net.wait_http()
    net.wait_connected(15.0, [n1, n2])
    n1.wait_height(1, 15.0)
    state.update(net=net, n1=n1, n2=n2, n3=n3, before={n.name: session_view(n) for n in (n1, n2)})


t.check("node1 (text log) and node2 (JSON log) connected, producing", setup, required=True)


def log_text(node):
    """The node's log as it wrote it; CheckFailed unless it is UTF-8."""
    raw = node.log_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CheckFailed(f"expected {node.name}'s log to be UTF-8, saw {e.reason} at byte {e.start}: "
                          f"{raw[max(0, e.start - 80):e.end + 20]!r}")


def log_lines(node):
    """The node's records: its log split on "\\n" only, after checking the
    log ends with one."""
    lines = log_text(node).split("\n")
    expect_eq(lines[-1], "", f"{node.name}'s log's end (a newline after the last record)")
    return lines[:-1]


def has_control(text):
    return any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


def attack(node, mode, logged):
    """Runs fake_peer in `mode` against `node` until it has sent its Reject,
    then waits for the node to log it: for `logged` in its log, text that
    does not depend on how the detail is escaped (the later checks judge
    that, and show what a regression wrote)."""
    fake = t.spawn_tool("fake_peer", "--config", state["n3"].config, "--connect", node.listen, "--mode", mode)
    rc = fake.wait(FAKE_TIMEOUT)
    out = fake.stdout() + fake.stderr()
    expect(rc == 0 and "sent reject" in out, f"fake_peer --mode {mode} to send its Reject and exit 0",
           f"exit {rc}: {out[-400:]}")
    poll(lambda: (logged in node.log_bytes().decode(errors="replace"), node.log_tail(5)), FAKE_TIMEOUT,
         f"{node.name} to log the {mode} attack ({logged!r})")


def attack_all():
    # A failed inbound handshake is logged at debug, and at info unless one
    # from the same IP was reported within the minute: either line will do.
    for node in (state["n1"], state["n2"]):
        attack(node, "reject-forge", "protocol_error (by peer: bye")
        attack(node, "reject-forge-early", "failed: rejected:protocol_error (bye")


t.check("the fake peer forges a user agent and Reject details against each node, twice", attack_all, required=True)


def text_log_is_one_record_per_line():
    lines = log_lines(state["n1"])
    bad = [line for line in lines if not TEXT_RECORD.match(line)]
    expect(not bad, "every line of node1's log to start with a time and level of its own format",
           "; ".join(repr(b[:160]) for b in bad[:5]))
    forged = [line for line in lines if line.startswith(FORGED_LINE_START) or line.startswith("{")]
    expect(not forged, "no line of node1's log to start with the forged content", forged[:3])
    controls = [line for line in lines if has_control(line)]
    expect(not controls, "no control character (CR, ESC, C1) in any line of node1's log",
           [repr(line[:200]) for line in controls[:3]])


t.check("text log: every line is one of node1's own records; none starts with the forged line",
        text_log_is_one_record_per_line)


def text_log_escapes():
    lines = log_lines(state["n1"])
    text = "\n".join(lines)
    expect(RAW_FORGED_LINE not in text.replace(ESCAPED_DETAIL, ""),
           "the forged line only inside the escaped detail", RAW_FORGED_LINE)
    closes = [m.group(1) for m in (BY_PEER.search(line) for line in lines if " info p2p: closed inbound " in line)
              if m and m.group(1).startswith("bye")]
    expect(closes, "the fake peer's close logged at info with its detail", closes)
    for detail in closes:
        expect(len(detail) <= MAX_PRINTED_REJECT_DETAIL and detail.endswith(CUT_MARKER),
               f"the logged detail cut to at most {MAX_PRINTED_REJECT_DETAIL} bytes, ending {CUT_MARKER!r}",
               f"{len(detail)} bytes ending {detail[-20:]!r}")
        expect_eq(detail, ESCAPED_DETAIL, "the logged detail")
    failed = [line for line in lines if f"failed: rejected:protocol_error ({ESCAPED_DETAIL})" in line]
    expect(any(" p2p: inbound handshake from " in line or " p2p: handshake with " in line for line in failed),
           "the failed inbound handshake logged with the detail escaped", failed[:2])
    connected = [line for line in lines if " info p2p: connected inbound " in line and ESCAPED_USER_AGENT in line]
    expect(connected, "the fake peer's connection logged with its user agent escaped",
           [line for line in lines if "p2p: connected" in line][:3])
    for line in lines:
        if "forged" in line:
            expect(ESCAPED_DETAIL in line or ESCAPED_USER_AGENT in line,
                   "'forged' only inside an escaped detail or user agent", line[:300])


t.check("text log: the detail and the user agent appear escaped (\\n, \\r, \\x1b, \\xff), the detail cut",
        text_log_escapes)


def json_log_is_one_object_per_line():
    lines = log_lines(state["n2"])
    records = []
    for i, line in enumerate(lines):
        try:
            r = json.loads(line)  # strict: a raw control character in a string is an error
        except ValueError as e:
            raise CheckFailed(f"line {i + 1} of node2's log is not JSON ({e}): {line[:200]!r}")
        expect(isinstance(r, dict) and list(r)[:3] == ["time", "level", "msg"],
               f"line {i + 1} to be an object starting with time, level and msg", line[:200])
        expect(len(r) == 3 or list(r)[3] == "event", f"line {i + 1}: more keys only after an event", line[:200])
        expect(TIME.match(r["time"]) and r["time"] != FORGED_LINE_START, f"line {i + 1}'s time to be the node's",
               r["time"])
        records.append(r)
    forged = [r for r in records if r["msg"] == "forged" or ("forged" in r["msg"] and ESCAPED_DETAIL not in r["msg"]
                                                            and ESCAPED_USER_AGENT not in r["msg"])]
    expect(not forged, "no record of node2's log to be (or hold unescaped) the forged one",
           [r["msg"][:200] for r in forged[:3]])
    controls = [r["msg"] for r in records if has_control(r["msg"])]
    expect(not controls, "no msg of node2's log to hold a control character", [c[:200] for c in controls[:3]])
    texts = [(r.get("event"), k, v) for r in records for k, v in r.items() if isinstance(v, str)]
    controls = [x for x in texts if has_control(x[2])]
    expect(not controls, "no field of node2's log to hold a control character", controls[:3])
    forged = [x for x in texts if "forged" in x[2] and ESCAPED_DETAIL not in x[2] and ESCAPED_USER_AGENT not in x[2]]
    expect(not forged, "'forged' in a field only inside an escaped detail or user agent", forged[:3])
    closes = [r for r in records if r.get("event") == "peer_disconnected"
              and r.get("detail") == f"by peer: {ESCAPED_DETAIL}"]
    expect(closes and closes[0].get("reason") == "protocol_error",
           "node2's peer_disconnected record with reason protocol_error and the escaped, cut detail",
           [r for r in records if r.get("event") == "peer_disconnected"][:3])
    expect(any(r.get("event") == "peer_connected" and r.get("user_agent") == ESCAPED_USER_AGENT for r in records),
           "node2's peer_connected record with the escaped user agent",
           [r.get("user_agent") for r in records if r.get("event") == "peer_connected"][:3])
    failed = [r for r in records if r.get("event") == "handshake_failed" and r.get("detail") == ESCAPED_DETAIL]
    expect(failed and failed[0].get("reason") == "protocol_error" and failed[0].get("by_peer") is True,
           "node2's handshake_failed record: reason protocol_error, by_peer, the escaped detail",
           [r for r in records if r.get("event") == "handshake_failed"][:3])
    closes = [r["msg"] for r in records
              if r["msg"].startswith("p2p: closed inbound ") and r["msg"].endswith(f"(by peer: {ESCAPED_DETAIL})")]
    expect(closes, "node2's close record with the escaped, cut detail", "")
    failed = [r["msg"] for r in records if f"failed: rejected:protocol_error ({ESCAPED_DETAIL})" in r["msg"]]
    expect(failed, "node2's failed-handshake record with the escaped, cut detail", "")
    expect(any(ESCAPED_USER_AGENT in r["msg"] and r["msg"].startswith("p2p: connected inbound") for r in records),
           "the escaped user agent in node2's connected record",
           [r["msg"][:200] for r in records if r["msg"].startswith("p2p: connected inbound")][:3])


t.check("JSON log: one valid object per line; no record is forged; msgs and fields hold no control characters",
        json_log_is_one_object_per_line)


def honest_peers_served():
    n1, n2 = state["n1"], state["n2"]
    for n in (n1, n2):
        before = state["before"][n.name]
        after = session_view(n)
        other = n2 if n is n1 else n1
        expect(other.pubkey in after, f"{n.name} still connected to {other.name}", after)
        expect_eq(after[other.pubkey], before[other.pubkey],
                  f"{n.name}'s connection to {other.name} (session, connected_since)")
        status, h = n.health()
        expect(status == 200, f"{n.name} healthy", (status, h))
    h, _ = n1.tip()
    n1.wait_height(h + 2, 10.0)
    wait_same_tip([n1, n2], 10.0, "node1 and node2 on one tip")


t.check("node1 and node2 keep their connection, stay healthy and keep producing", honest_peers_served)
t.finish()
