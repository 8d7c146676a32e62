"""`tpeer-probe local --pid` on a running tnode: its open-file limits are the
ones /proc/PID/limits shows, its listening sockets are exactly its P2P and
HTTP ports, its established sockets are exactly its peer connections (checked
against /peers and against the harness's own reading of /proc), and its needs
come from the config it was started with. A pid file works like the pid; a
process that does not exist, one that is not tnode and a malformed --pid are
refused with a message naming the problem."""

import os

from harness import TestRun, expect, expect_eq, expect_in, expect_rc, poll
from nodes import start_testnet
from procfs import tcp_connections

t = TestRun("tpeer-probe local --pid")
NODES = 3
state = {}


def setup():
    net = start_testnet(t, "net", NODES)
    net.start_all()
    net.wait_http()
    net.wait_connected(timeout=30)
    state["net"] = net


t.check(f"{NODES} nodes running, each connected to the others", setup, required=True)


def proc_fd_limits(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return [None if v == "unlimited" else int(v) for v in (soft, hard)]
    raise AssertionError("no Max open files row")


def probe_matches_node():
    node = state["net"][1]
    pid = node.proc.pid
    others = {n.p2p_port for n in state["net"].nodes if n is not node}

    def observe():
        r = t.tool("tpeer-probe", "--json", "local", "--pid", pid)
        expect_rc(r, 0)
        j = r.json()
        peers = len(node.peers()["peers"])
        mine = [c for c in tcp_connections(pid) if c[3] == "ESTABLISHED"]
        established = j["sockets"]["established"]
        # Each established socket is a peer connection: inbound on our P2P
        # port, or outbound to another node's.
        kinds = sorted("in" if int(e["local"].rsplit(":", 1)[1]) == node.p2p_port
                       else "out" if int(e["remote"].rsplit(":", 1)[1]) in others else e["remote"]
                       for e in established)
        seen = {"established": len(established), "peers": peers, "harness's /proc view": len(mine),
                "kinds": kinds}
        ok = len(established) == peers == NODES - 1 == len(mine) and all(k in ("in", "out") for k in kinds)
        return ok, (j, seen)

    j, seen = poll(observe, 30, f"established sockets = {NODES - 1} peers (probe, /peers and /proc agreeing)")[1]
    t.note(f"node1 (pid {pid}): {seen}")
    expect_eq((j.get("pid"), j.get("process")), (pid, "tnode"), "(pid, process)")
    listening = sorted(int(a.rsplit(":", 1)[1]) for a in j["sockets"]["listening"])
    expect_eq(listening, sorted([node.p2p_port, node.http_port]), "listening ports (P2P, HTTP)")
    soft, hard = proc_fd_limits(pid)
    expect_eq((j["fd_limits"]["soft"], j["fd_limits"]["hard"]), (soft, hard), "fd_limits vs /proc/PID/limits")
    expect(0 < j["fds_open"] <= len(os.listdir(f"/proc/{pid}/fd")) + 8, "fds_open close to /proc/PID/fd's count",
           j["fds_open"])
    expect_eq(j["fds_needed"]["for"], node.config, "the config its needs come from (its --config)")
    need = j["fds_needed"]
    expect(need["max_handshakes"] >= 32 and need["http_connections"] > 0,
           "the need to count handshakes (>= 32) and HTTP connections, as tnode does", need)
    expect_eq((j.get("ok"), j.get("fd_ok"), j.get("errors")), (True, True, []), "(ok, fd_ok, errors)")

    text = t.tool("tpeer-probe", "local", "--pid", pid)
    expect_rc(text, 0)
    for needle in (f"{pid} (tnode)", f"127.0.0.1:{node.p2p_port}", f"127.0.0.1:{node.http_port}", "established"):
        expect_in(needle, text.stdout, "the text report")

    pid_file = t.path("node1.pid")
    with open(pid_file, "w") as f:
        f.write(f"{pid}\n")
    by_file = t.tool("tpeer-probe", "--json", "local", "--pid", pid_file)
    expect_rc(by_file, 0)
    expect_eq(by_file.json().get("pid"), pid, "the pid read from the pid file")


t.check("node1's limits, listening ports and established peer sockets", probe_matches_node)


def bad_pids():
    with open("/proc/sys/kernel/pid_max") as f:
        beyond = int(f.read()) + 1  # no process can have it
    r = t.tool("tpeer-probe", "local", "--pid", beyond)
    expect_rc(r, 1)
    expect_in(f"process {beyond}: no such process", r.stderr, "the error for a pid that does not exist")

    me = os.getpid()  # this Python harness, not a tnode
    r = t.tool("tpeer-probe", "local", "--pid", me)
    expect_rc(r, 1)
    with open(f"/proc/{me}/comm") as f:
        comm = f.read().strip()
    expect_in(f"process {me} is '{comm}' (/proc/{me}/comm), not tnode", r.stderr, "the error for a non-tnode pid")

    r = t.tool("tpeer-probe", "local", "--pid", "nonsense")
    expect_rc(r, 2)
    expect_in("--pid 'nonsense': not a process id, nor a readable pid file", r.stderr, "the error for a bad --pid")
    junk = t.path("junk.pid")
    with open(junk, "w") as f:
        f.write("twelve\n")
    r = t.tool("tpeer-probe", "local", "--pid", junk)
    expect_rc(r, 2)
    expect_in(f"--pid '{junk}': the file does not hold a pid (it holds \"twelve\")", r.stderr,
              "the error for a pid file without a pid")


t.check("a missing process, a non-tnode process and a bad --pid are refused by name", bad_pids)

t.finish()
