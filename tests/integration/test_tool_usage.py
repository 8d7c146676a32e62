"""The command-line contract shared by every binary: --help and --version,
exit codes (0 ok, 1 failure, 2 usage or configuration error), errors on
stderr with what to fix, and --json output that parses."""

import os
import re
import socket

from harness import TestRun, expect, expect_eq, expect_in, expect_rc, forge_chain, testnet

t = TestRun("tool usage")
TOOLS = {
    "tgenesis": ["keygen", "new", "hash", "verify", "show", "testnet", "network"],
    "tchain": ["info", "block", "headers", "verify", "export", "import", "diff"],
    "tpeer-probe": ["connect", "health", "stress", "local"],
}
state = {}


def project_version():
    """VERSION from project(...) in the top CMakeLists.txt, if the source is known."""
    src = os.environ.get("TNODE_SOURCE_DIR")
    if not src:
        return None
    try:
        with open(os.path.join(src, "CMakeLists.txt")) as f:
            m = re.search(r"project\s*\([^)]*VERSION\s+([0-9][0-9.]*)", f.read())
    except OSError:
        return None
    return m.group(1) if m else None


def help_everywhere():
    for tool, commands in TOOLS.items():
        r = t.tool(tool, "--help")
        expect_rc(r, 0)
        expect(r.stdout.strip() != "", f"`{tool} --help` to print help on stdout", "empty stdout")
        for c in commands:
            expect_in(c, r.stdout, f"`{tool} --help` (lists subcommand {c})")
            sub = t.tool(tool, c, "--help")
            expect_rc(sub, 0)
            expect(sub.stdout.strip() != "", f"`{tool} {c} --help` to print help on stdout", "empty stdout")


t.check("--help: exit 0 with help on stdout, for every binary and subcommand", help_everywhere)


def versions():
    want = project_version()
    for tool in TOOLS:
        r = t.tool(tool, "--version")
        expect_rc(r, 0)
        m = re.fullmatch(rf"{tool} (\d+\.\d+\.\d+)\s*", r.stdout)
        expect(m is not None, f"`{tool} --version` to print '{tool} X.Y.Z'", repr(r.stdout))
        if want:
            expect_eq(m.group(1), want, f"`{tool} --version` vs the project VERSION in CMakeLists.txt")


t.check("--version: prints the name and the project version, exit 0", versions)


def usage_errors_exit_2():
    d = t.path("nowhere")
    cases = [
        ("tgenesis", ["frobnicate"]),
        ("tgenesis", []),
        ("tgenesis", ["--frobnicate", "hash", "x.toml"]),
        ("tgenesis", ["hash"]),
        ("tgenesis", ["verify", "genesis.toml"]),
        ("tgenesis", ["keygen"]),
        ("tgenesis", ["testnet", "--dir", d]),
        ("tgenesis", ["new", "--block-time", "fast", "--out", t.path("g.toml")]),
        ("tchain", ["--data-dir", d, "frobnicate"]),
        ("tchain", ["--data-dir", d]),
        ("tchain", ["--data-dir", d, "block"]),
        ("tchain", ["--data-dir", d, "import"]),
        ("tchain", ["diff", d]),
        ("tchain", ["--data-dir", d, "headers", "--count", "many"]),
        ("tpeer-probe", ["frobnicate"]),
        ("tpeer-probe", []),
        ("tpeer-probe", ["connect"]),
        ("tpeer-probe", ["connect", "--timeout", "soon", "127.0.0.1"]),
        ("tpeer-probe", ["connect", "--genesis", os.path.join(d, "genesis.toml"), "127.0.0.1"]),
        ("tpeer-probe", ["connect", "--genesis", "g.toml", "--genesis-hash", "ab" * 32, "127.0.0.1"]),
        ("tpeer-probe", ["health"]),
        ("tpeer-probe", ["stress", "127.0.0.1"]),
        ("tpeer-probe", ["stress", "--connections", "none", "127.0.0.1"]),
        ("tpeer-probe", ["local", "--port", "70000"]),
        ("tpeer-probe", ["local", "--config", os.path.join(d, "tnode.toml")]),
    ]
    for tool, args in cases:
        r = t.tool(tool, *args)
        expect_rc(r, 2)
        expect(r.stderr.strip() != "", f"an error message on stderr for `{r.command()}`", "empty stderr")
        expect_eq(r.stdout, "", f"stdout of `{r.command()}`")
    expect(not os.path.exists(d), f"usage errors to create nothing at {d}", "it exists")
    # A mistyped command is named as such, not reported as a missing one.
    for tool, args in (("tgenesis", ["frobnicate"]), ("tchain", ["--data-dir", d, "inf"]), ("tpeer-probe", ["conect"])):
        r = t.tool(tool, *args)
        expect_in(f"unknown command '{args[-1]}'", r.stderr, f"stderr of `{r.command()}`")


t.check("unknown subcommand / option, missing or bad argument: exit 2, error on stderr, nothing on stdout",
        usage_errors_exit_2)


def store_location_required():
    r = t.tool("tchain", "info")
    expect_rc(r, 2)
    expect_in("--data-dir", r.stderr, "stderr of tchain without a store")
    expect_in("--config", r.stderr, "stderr of tchain without a store")
    r = t.tool("tchain", "--data-dir", t.path("x"), "--config", t.path("x.toml"), "info")
    expect_rc(r, 2)
    expect(r.stderr.strip() != "", "an error on stderr for --data-dir with --config", "empty stderr")


t.check("tchain with neither --data-dir nor --config (or both): exit 2", store_location_required)


def missing_store_named():
    missing = "/nonexistent" if not os.path.exists("/nonexistent") else t.path("nonexistent")
    for cmd in (["info"], ["verify"], ["--json", "info"], ["block", "1"], ["headers"]):
        r = t.tool("tchain", "--data-dir", missing, *cmd)
        expect_rc(r, 1)
        expect_in(missing, r.stderr, f"stderr of `{r.command()}`")
        expect_eq(r.stdout, "", f"stdout of `{r.command()}`")
    expect(not os.path.exists(missing), f"read-only commands not to create {missing}", "it was created")


t.check("tchain --data-dir /nonexistent info: exit 1 naming the path, nothing created", missing_store_named)


def config_errors_exit_2():
    missing = t.path("missing.toml")
    r = t.tool("tchain", "--config", missing, "info")
    expect_rc(r, 2)
    expect_in(missing, r.stderr, "stderr for a missing config file")
    cases = {
        "unknown key": ("[node]\ncolour = \"blue\"\n", "colour"),
        "bad duration": ("[network]\nping_interval = \"often\"\n", "ping_interval"),
        "bad address": ("[network]\nlisten = \"127.0.0.1:99999\"\n", "listen"),
        "bad role": ("[node]\nrole = \"king\"\n", "role"),
    }
    for what, (text, key) in cases.items():
        path = t.path(what.replace(" ", "-") + ".toml")
        with open(path, "w") as f:
            f.write(text)
        r = t.tool("tchain", "--config", path, "info")
        expect_rc(r, 2)
        expect_in(path, r.stderr, f"stderr for a config with a {what} (file)")
        expect_in(key, r.stderr, f"stderr for a config with a {what} (key)")


t.check("tchain --config with a missing or bad tnode.toml: exit 2 naming the file and key", config_errors_exit_2)


def json_parses():
    net, out = testnet(t, "net", "--nodes", 2, "--timestamp", "2026-01-01T00:00:00Z", "--block-time", "1s")
    chain = t.path("c.chain")
    tip = forge_chain(t, net, 20, chain)
    data = t.path("data")
    expect_rc(t.tool("tchain", "--data-dir", data, "import", chain), 0)
    # --json before and after the subcommand.
    for args in (["--json", "info"], ["info", "--json"]):
        j = t.tool_json("tchain", "--data-dir", data, *args)
        expect_eq((j.get("height"), j.get("tip")), (20, tip), f"tchain {' '.join(args)} (height, tip)")
    for args in (["--json", "verify"], ["verify", "--json"]):
        j = t.tool_json("tchain", "--data-dir", data, *args)
        expect_eq((j.get("ok"), j.get("blocks_checked")), (True, 21), f"tchain {' '.join(args)} (ok, blocks_checked)")
    for args in (["block", "7"], ["headers", "--count", "3"], ["export", t.path("e.chain")]):
        t.tool_json("tchain", "--json", "--data-dir", data, *args)
    t.tool_json("tchain", "--json", "diff", data, data)
    g = os.path.join(net, "genesis.toml")
    for args in (["hash", g], ["show", g], ["verify", g, "--hash", out["hash"]],
                 ["keygen", "--out", t.path("k.key")]):
        t.tool_json("tgenesis", "--json", *args)
    j = t.tool_json("tgenesis", "hash", g, "--json")
    expect_eq(j.get("hash"), out["hash"], "tgenesis hash --json (flag after the subcommand)")


t.check("--json output of info, verify, block, headers, export, diff and tgenesis commands parses", json_parses)


def probe_json_parses():
    # A closed port fails (exit 1) but still prints its JSON report.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    for args in (["--json", "connect", f"127.0.0.1:{port}"], ["connect", f"127.0.0.1:{port}", "--json"]):
        r = t.tool("tpeer-probe", *args)
        expect_rc(r, 1)
        expect_eq(r.json()["targets"][0]["class"], "refused", f"tpeer-probe {' '.join(args)} (class)")
    for args in (["--json", "local"], ["local", "--json"]):
        r = t.tool("tpeer-probe", *args)
        j = r.json()
        expect_rc(r, 0 if j.get("ok") else 1)
        expect("fd_limits" in j and "ephemeral_ports" in j, f"tpeer-probe {' '.join(args)} to report limits", j)


t.check("tpeer-probe --json (before or after the command) parses, also when a target fails", probe_json_parses)

t.finish()
