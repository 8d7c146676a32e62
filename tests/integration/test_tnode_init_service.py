"""Setting up a node without hand-work, and running it as a service (issue 15).

  * `tnode init --data-dir D` writes a commented tnode.toml (it parses:
    `tnode --check-config` accepts it) and a 0600 node key whose id
    `tgenesis pubkey` prints; a second run refuses, names the file and
    changes nothing; `--print` writes nothing.
  * `tgenesis pubkey` agrees with `keygen`; `tgenesis show KEYFILE` says it is
    a key file and names `tgenesis pubkey`.
  * A masternode never gets a generated key: `init --role masternode
    --genesis G` without --key refuses and writes nothing; with a key that is
    not in G it refuses; and `tnode` with role masternode and a missing key
    file exits with an error naming the path and the genesis masternodes,
    without creating a key.
  * Started with NOTIFY_SOCKET (as systemd's Type=notify does), tnode sends
    READY=1 with a STATUS line once /health answers, and STOPPING=1 on
    SIGTERM; --pid-file holds its pid while it runs and is gone after."""

import os
import socket

from harness import TestRun, binary, expect, expect_eq, expect_in, expect_rc, file_mode, poll, testnet
from nodes import http_get
from ports import free_port_range

t = TestRun("tnode init, tgenesis pubkey, the masternode key rule, systemd notify and pid file")
state = {}


def init_writes_config_and_key():
    d = t.path("regular")
    r = t.tool("tnode", "init", "--data-dir", d, "--peer", "127.0.0.1:24999")
    expect_rc(r, 0)
    config, key = os.path.join(d, "tnode.toml"), os.path.join(d, "node.key")
    expect(os.path.isfile(config) and os.path.isfile(key), "tnode.toml and node.key written", sorted(os.listdir(d)))
    expect_eq(file_mode(key), 0o600, "node.key mode")
    text = open(config).read()
    expect_in("# max_inbound = 64", text, "tnode.toml (a default shown commented out)")
    expect_in('peers = ["127.0.0.1:24999"]', text, "tnode.toml (the --peer given, active)")
    checked = t.tool("tnode", "--config", config, "--check-config")
    expect_rc(checked, 0)
    expect_in('peers = ["127.0.0.1:24999"]', checked.stdout, "the resolved configuration")
    pub = t.tool("tgenesis", "pubkey", key)
    expect_rc(pub, 0)
    expect_in(f"node id {pub.stdout.strip()}", r.stdout, "init's output (the node id of the key it wrote)")
    state["regular"] = (d, text, open(key).read())


t.check("tnode init writes a commented tnode.toml that parses, and a key tgenesis pubkey reads",
        init_writes_config_and_key, required=True)


def init_refuses_to_overwrite():
    d, text, key = state["regular"]
    r = t.tool("tnode", "init", "--data-dir", d)
    expect_rc(r, 1)
    expect_in(os.path.join(d, "tnode.toml") + " already exists", r.stderr, "stderr")
    expect_eq((open(os.path.join(d, "tnode.toml")).read(), open(os.path.join(d, "node.key")).read()), (text, key),
              "tnode.toml and node.key after the refused second init")
    # Only the key there: still refused, and no tnode.toml appears.
    d2 = t.path("key-only")
    os.makedirs(d2)
    with open(os.path.join(d2, "node.key"), "w") as f:
        f.write(key)
    os.chmod(os.path.join(d2, "node.key"), 0o600)
    r = t.tool("tnode", "init", "--data-dir", d2)
    expect_rc(r, 1)
    expect_in("node.key already exists", r.stderr, "stderr")
    expect_eq(sorted(os.listdir(d2)), ["node.key"], "files after the refusal")


t.check("a second tnode init refuses, names the file and changes nothing", init_refuses_to_overwrite)


def init_print_writes_nothing():
    d = t.path("printed")
    r = t.tool("tnode", "init", "--print", "--data-dir", d, "--role", "masternode")
    expect_rc(r, 0)
    expect_in('role = "masternode"', r.stdout, "printed tnode.toml")
    expect(not os.path.exists(d), "nothing written with --print", os.listdir(d) if os.path.exists(d) else "")


t.check("tnode init --print prints the file and writes nothing", init_print_writes_nothing)


def packaged_example_is_the_template():
    r = t.tool("tnode", "init", "--print", "--data-dir", "/var/lib/tnode", "--config", "/etc/tnode/tnode.toml")
    expect_rc(r, 0)
    example = os.path.join(os.environ["TNODE_SOURCE_DIR"], "contrib", "tnode.toml")
    expect_eq(open(example).read(), r.stdout,
              "contrib/tnode.toml (the package's /etc/tnode/tnode.toml) vs `tnode init --print --data-dir "
              "/var/lib/tnode --config /etc/tnode/tnode.toml`; regenerate it with that command")


t.check("the packaged example config is tnode init's template", packaged_example_is_the_template)


def pubkey_matches_keygen():
    k = t.path("k.key")
    made = t.tool("tgenesis", "keygen", "-o", k)
    expect_rc(made, 0)
    pub = t.tool("tgenesis", "pubkey", k)
    expect_rc(pub, 0)
    expect_eq(pub.stdout, made.stdout, "tgenesis pubkey output vs keygen's")
    js = t.tool_json("tgenesis", "--json", "pubkey", k)
    expect_eq(js.get("pubkey"), made.stdout.strip(), "tgenesis --json pubkey")
    shown = t.tool("tgenesis", "show", k)
    expect_rc(shown, 1)
    expect_in("this is a node key file, not a genesis.toml", shown.stderr, "tgenesis show on a key file")
    expect_in(f"tgenesis pubkey {k}", shown.stderr, "tgenesis show on a key file")
    bad = t.tool("tgenesis", "pubkey", t.path("missing.key"))
    expect_rc(bad, 1)
    expect_in("missing.key: key file not found", bad.stderr, "tgenesis pubkey on a missing file")


t.check("tgenesis pubkey prints what keygen printed; show names a key file", pubkey_matches_keygen)


def masternode_key_rules():
    net, out = testnet(t, "net", "--nodes", "2", "--base-port", str(free_port_range(4)), "--block-time", "1s")
    state["net"] = net
    genesis = os.path.join(net, "genesis.toml")
    d = t.path("mn")
    r = t.tool("tnode", "init", "--data-dir", d, "--role", "masternode", "--genesis", genesis)
    expect_rc(r, 2)
    expect_in("never generates one", r.stderr, "init --role masternode --genesis without --key")
    expect(not os.path.exists(d), "nothing written", os.listdir(d) if os.path.exists(d) else "")
    stranger = t.path("stranger.key")
    expect_rc(t.tool("tgenesis", "keygen", "-o", stranger), 0)
    r = t.tool("tnode", "init", "--data-dir", d, "--role", "masternode", "--genesis", genesis, "--key", stranger)
    expect_rc(r, 2)
    expect_in("is not a masternode of the genesis", r.stderr, "init with a key outside the genesis")
    expect(not os.path.exists(d), "nothing written", os.listdir(d) if os.path.exists(d) else "")

    # The daemon itself: role masternode, key file missing (a typo).
    node1 = os.path.join(net, "node1")
    missing = os.path.join(node1, "typo.key")
    r = t.tool("tnode", "--config", os.path.join(node1, "tnode.toml"), "--set", f"node.key_file={missing}",
               timeout=30)
    expect_rc(r, 1)
    expect_in(f"node.key_file {missing} does not exist, and a masternode never generates its key", r.stderr,
              "tnode's error")
    for name in ("mn1", "mn2"):
        expect_in(name, r.stderr, "tnode's error (the genesis masternodes it lists)")
    expect(not os.path.exists(missing), "no key generated at the mistyped path", missing)


t.check("a masternode never gets a generated key (init and tnode)", masternode_key_rules, required=True)


def init_masternode_with_key():
    net = state["net"]
    d = t.path("mn1")
    base = free_port_range(2)
    key = os.path.join(net, "node1", "node.key")
    r = t.tool("tnode", "init", "--data-dir", d, "--role", "masternode", "--genesis", os.path.join(net, "genesis.toml"),
               "--key", key, "--listen", f"127.0.0.1:{base}", "--http-listen", f"127.0.0.1:{base + 1}")
    expect_rc(r, 0)
    expect(sorted(os.listdir(d)) == ["genesis.toml", "tnode.toml"], "tnode.toml and the genesis copy, no new key",
           sorted(os.listdir(d)))
    state["mn1"] = (d, f"127.0.0.1:{base + 1}")


t.check("tnode init --role masternode --genesis G --key K writes a config using K", init_masternode_with_key,
        required=True)


def notify_and_pid_file():
    d, http = state["mn1"]
    sock_path = t.path("notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(0.2)
    t.add_cleanup(sock.close)
    pid_file = t.path("run", "tnode.pid")
    os.makedirs(os.path.dirname(pid_file), exist_ok=True)
    env = dict(os.environ, NOTIFY_SOCKET=sock_path)
    proc = t.spawn("mn1", [binary("tnode"), "--config", os.path.join(d, "tnode.toml"), "--pid-file", pid_file],
                   env=env)
    messages = []

    def received(word):
        try:
            messages.append(sock.recv(4096).decode())
        except socket.timeout:
            pass
        return any(word in m for m in messages), messages

    poll(lambda: received("READY=1"), 20.0, "READY=1 on NOTIFY_SOCKET")
    ready = next(m for m in messages if "READY=1" in m)
    expect_in("STATUS=height ", ready, "the READY message")
    status, _ = http_get(http, "/health")
    expect(status in (200, 503), "/health answers once READY=1 was sent", status)
    expect_eq(open(pid_file).read(), f"{proc.pid}\n", "the pid file")
    rc = proc.terminate(grace=15.0)
    expect_eq(rc, 0, "exit code after SIGTERM")
    poll(lambda: received("STOPPING=1"), 5.0, "STOPPING=1 on NOTIFY_SOCKET")
    expect(not os.path.exists(pid_file), "the pid file removed at exit", pid_file)


t.check("tnode tells systemd READY=1 and STOPPING=1, and keeps its pid file while it runs", notify_and_pid_file)


def pid_file_error():
    d, _ = state["mn1"]
    with open(t.path("a-file"), "w") as f:
        f.write("x")
    r = t.tool("tnode", "--config", os.path.join(d, "tnode.toml"), "--pid-file", t.path("a-file", "x.pid"),
               timeout=30)
    expect_rc(r, 1)
    expect_in("--pid-file: ", r.stderr, "stderr")
    expect_in("a-file", r.stderr, "stderr")


t.check("a pid file that cannot be written stops the start with its path", pid_file_error)

t.finish()
