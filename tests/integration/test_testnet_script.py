"""scripts/testnet (what scripts/demo runs): up, status, peers, stop/start,
down, driven as a script would, with the binaries of this build.

  * `up 4 --masternodes 3 --hold 1` starts three nodes (the fourth held
    back) and returns once they answer; `status --json` lists all four;
  * the running nodes produce and converge on one tip; `start 4` brings in
    the late joiner, which catches up;
  * `stop 2 --kill` crashes one node: `status` exits 1; `start 2` brings it
    back onto the common tip;
  * `up` again on the running network only reports it (exit 0);
  * `down` stops every process (none left), `status` then exits 1."""

import json
import os
import subprocess
import sys

from harness import TestRun, bin_dir, expect, expect_eq, expect_in, poll

t = TestRun("scripts/testnet")
state = {}
SCRIPT = os.path.join(os.environ.get("TNODE_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))), "scripts", "testnet")


def testnet(*args, timeout=60):
    env = dict(os.environ, BUILD_DIR=bin_dir(), TESTNET_DIR=state["dir"])
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=timeout, env=env)


def status_json():
    r = testnet("status", "--json")
    return r.returncode, json.loads(r.stdout)


def pids_alive(doc):
    """Names of nodes whose process still runs. The nodes were started by
    the script (which exited), so as orphans they may be this harness's
    children now (it is a subreaper): reap those that exited."""
    alive = []
    for n in doc["nodes"]:
        pid = n.get("pid")
        if not pid:
            continue
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split()[2] != "Z":
                    alive.append(n["name"])
        except OSError:
            pass
    return alive


def one_tip(names):
    _, doc = status_json()
    rows = [n for n in doc["nodes"] if n["name"] in names]
    tips = {n.get("tip") for n in rows}
    return (len(tips) == 1 and None not in tips and rows[0].get("height", 0) >= 2,
            {n["name"]: (n.get("height"), (n.get("tip") or "")[:12]) for n in rows})


def up():
    from ports import free_port_range
    state["dir"] = t.path("net")
    base = free_port_range(8)
    r = testnet("up", "4", "--masternodes", "3", "--block-time", "500ms", "--base-port", str(base), "--hold", "1",
                "--no-setup")
    expect_eq(r.returncode, 0, f"up exit code ({r.stderr.strip()[-400:]})")
    expect_in("holding back node4", r.stdout, "up's output")
    code, doc = status_json()
    state["doc"] = doc
    expect_eq([n["name"] for n in doc["nodes"]], ["node1", "node2", "node3", "node4"], "status --json node names")
    expect_eq([n["running"] for n in doc["nodes"]], [True, True, True, False], "running flags")
    expect_eq(code, 1, "status exit code with node4 held back")


t.check("up 4 --hold 1 starts three nodes; status --json lists four", up, required=True)


def converge_and_join():
    poll(lambda: one_tip(["node1", "node2", "node3"]), 20.0, "the three running nodes on one tip at height >= 2")
    r = testnet("start", "4")
    expect_eq(r.returncode, 0, f"start 4 exit code ({r.stderr.strip()[-300:]})")
    poll(lambda: one_tip(["node1", "node2", "node3", "node4"]), 20.0, "all four on one tip")
    r = testnet("peers", "4")
    expect_eq(r.returncode, 0, "peers 4 exit code")
    for name in ("node1", "node2", "node3"):
        expect_in(name, r.stdout, "node4's peer table")
    r = testnet("status")
    expect_eq(r.returncode, 0, f"status exit code with every node up ({r.stdout[-300:]})")


t.check("they converge on one tip; the held-back node joins and catches up", converge_and_join)


def crash_and_back():
    r = testnet("stop", "2", "--kill")
    expect_eq(r.returncode, 0, "stop 2 --kill exit code")
    r = testnet("status")
    expect_eq(r.returncode, 1, "status exit code with node2 stopped")
    expect_in("stopped", r.stdout, "status output")
    r = testnet("start", "2")
    expect_eq(r.returncode, 0, f"start 2 exit code ({r.stderr.strip()[-300:]})")
    poll(lambda: one_tip(["node1", "node2", "node3", "node4"]), 20.0, "node2 back on the common tip")
    r = testnet("up", "4", "--no-setup")
    expect_eq(r.returncode, 0, "up again on the running network")
    expect_in("already up", r.stdout, "up's output")


t.check("a killed node restarts onto the common tip; up again only reports", crash_and_back)


def down():
    _, doc = status_json()
    r = testnet("down")
    expect_eq(r.returncode, 0, "down exit code")
    expect_eq(pids_alive(doc), [], "node processes alive after down")
    r = testnet("status")
    expect_eq(r.returncode, 1, "status exit code after down")


t.check("down stops every node", down)
if "dir" in state:
    testnet("down")
t.finish()
