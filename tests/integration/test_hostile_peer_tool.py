"""hostile_peer's own contract (tests/tools/hostile_peer.cpp, driven through
hostile.py by the hostile scenarios), checked against wire_responder (the
real responder side of the handshake), so no node has to run:
  * --help exits 0 and lists every mode; usage and configuration errors exit
    2 with a message on stderr and nothing on stdout;
  * a target nothing listens on: exit 1, "fail refused", still a summary;
  * violate --times 2: two handshakes, two bad-checksum frames, both closed
    with wire_responder's reason bad_checksum; exit 0, --json summary;
  * every other mode runs against it until --seconds and exits 0 with a
    summary counting what it sent; SIGTERM stops it cleanly."""

from harness import TestRun, expect, expect_eq, expect_in, expect_rc, testnet
from hostile import MODES, HostilePeer
from ports import closed_port
from wire import start_responder

t = TestRun("hostile_peer tool")
state = {}
WAIT = 15.0


def setup():
    net, out = testnet(t, "net", "--nodes", 1)
    state["config"] = out["nodes"][0]["config"]
    _, port = start_responder(t, state["config"], WAIT)
    state["target"] = f"127.0.0.1:{port}"


t.check("a testnet config and wire_responder listening", setup, required=True)


def help_and_usage():
    r = t.tool("hostile_peer", "--help")
    expect_rc(r, 0)
    for mode in MODES:
        expect_in(mode, r.stdout, "hostile_peer --help (lists every mode)")
    cfg, target = state["config"], state["target"]
    base = ["--config", cfg, "--connect", target]
    cases = [
        [],
        base,
        base + ["--mode", "frobnicate"],
        ["--config", cfg, "--mode", "claim"],
        base + ["--mode", "hijack"],
        base + ["--mode", "claim", "--bind", "10.0.0.1"],
        ["--config", cfg, "--connect", "10.1.2.3:5", "--mode", "claim"],
        base + ["--mode", "gossip", "--tag-count", "3"],
        base + ["--mode", "claim", "--random-key", "--key-file", cfg],
        base + ["--mode", "claim", "--count", "0"],
        base + ["--mode", "claim", "--listen-port", "70000"],
        base + ["--mode", "far-future", "--headers", "--times", "2001"],
        ["--config", t.path("missing.toml"), "--connect", target, "--mode", "claim"],
    ]
    for args in cases:
        r = t.tool("hostile_peer", *args)
        expect_rc(r, 2)
        expect(r.stderr.strip() != "", f"an error on stderr for `{r.command()}`", "empty stderr")
        expect_eq(r.stdout, "", f"stdout of `{r.command()}`")


t.check("--help lists the modes (exit 0); usage and config errors exit 2, stderr only", help_and_usage)


def refused():
    r = t.tool("hostile_peer", "--config", state["config"], "--connect", f"127.0.0.1:{closed_port()}", "--mode",
               "violate", "--times", "2")
    expect_rc(r, 1)
    expect_in("fail refused", r.stdout, "output against a closed port")
    expect_in("summary {", r.stdout, "output against a closed port")


t.check("a closed port: exit 1 with 'fail refused' and a summary", refused)


def run_json(mode, *args):
    return t.tool_json("hostile_peer", "--config", state["config"], "--connect", state["target"], "--mode", mode,
                       "--json", *args, timeout=WAIT)


def violate():
    s = run_json("violate", "--times", "2")
    expect_eq((s["attempts"], s["connected"], s["sent"].get("bad_frames")), (2, 2, 2),
              "violate --times 2 (attempts, handshakes, bad frames)")
    expect_eq(s["closes"], {"bad_checksum": 2}, "close reasons (wire_responder's Reject)")
    keys = {c["key"] for c in s["connections"]}
    expect_eq(len(keys), 1, "distinct keys over the rounds (the lane keeps its key without --random-key)")
    s = run_json("hijack", "--times", "2", "--random-key", "--listen-port", "24100", "--bind", "127.0.0.1")
    expect_eq(s["closes"], {"bad_checksum": 2}, "hijack close reasons")
    expect_eq(len({c["key"] for c in s["connections"]}), 2, "distinct keys with --random-key")


t.check("violate and hijack: each round closed with bad_checksum; keys as asked", violate)


def timed_modes():
    s = run_json("claim", "--count", "3", "--announce", "--seconds", "2.5")
    expect_eq((s["connected"], s["stopped_by"]), (3, "seconds"), "claim --count 3 (handshakes, stopped by)")
    expect(s["sent"].get("new_blocks", 0) >= 3, "claim --announce: a NewBlock a second per connection", s["sent"])
    expect_eq(len({c["key"] for c in s["connections"]}), 3, "claim --count 3: one key per connection")
    s = run_json("gossip", "--addresses", "2500", "--rate", "50", "--seconds", "1.5")
    expect_eq((s["sent"].get("addresses"), s["sent"].get("peers_messages")), (2500, 3),
              "gossip --addresses 2500 (addresses, Peers messages of at most 1000)")
    s = run_json("far-future", "--times", "3", "--seconds", "1")
    expect_eq(s["sent"].get("new_blocks"), 3, "far-future --times 3 NewBlocks")
    s = run_json("far-future", "--times", "5", "--headers", "--parent", "tip", "--seconds", "1")
    expect_eq(s["sent"].get("headers"), 5, "far-future --headers: 5 headers in one message")
    s = run_json("ping-flood", "--seconds", "1.5")
    expect(s["sent"].get("pings", 0) > 0, "ping-flood to count pings sent", s["sent"])
    s = run_json("half-frame", "--count", "2", "--frame-bytes", "1000", "--seconds", "1")
    expect_eq((s["opened"], s["connected"], s["sent"].get("bytes")), (2, 0, 2 * (14 + 500)),
              "half-frame --count 2 (opened, handshakes, bytes sent)")


t.check("claim, gossip, far-future, ping-flood, half-frame run until --seconds with their counts", timed_modes)


def sigterm():
    hp = HostilePeer(t, state["config"], state["target"], "claim")
    ev = hp.wait_event("connected", WAIT)
    expect(len(ev.key) == 64 and len(ev.peer) == 64, "node ids in the 'connected' line", ev.line)
    s = hp.stop()
    expect_eq((s["stopped_by"], s["connected"]), ("signal", 1), "summary after SIGTERM (stopped by, handshakes)")


t.check("SIGTERM: the connection is closed, the summary printed, exit 0 (through hostile.py)", sigterm)
t.finish()
