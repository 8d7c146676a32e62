"""Single node (TESTING.md "single node"; DESIGN.md 10 `tnode --dev`).

`tnode --dev --data-dir D --block-time 200ms` makes a key, a one-masternode
genesis and tnode.toml in D and produces at once:
  * it reaches height >= 5, and `tchain verify` passes on its store while
    it runs;
  * SIGTERM stops it (exit 0); run again, it resumes the same chain (same
    genesis, height not lower, still producing) without creating anything;
  * --block-time on an existing dev network is reported as not applied;
    --dev with --config is a usage error (exit 2)."""

import json
import os

from harness import TestRun, binary, expect, expect_eq, expect_in, file_mode, poll
from nodes import http_get
from ports import free_port_range
from prom import metric_value, parse_metrics

t = TestRun("single node (tnode --dev)")
state = {}


def health():
    status, body = http_get(state["http"], "/health")
    expect(status == 200, "/health 200", f"{status} {body[:200]}")
    return json.loads(body)


def start(*extra):
    argv = [binary("tnode"), "--dev", "--data-dir", state["dir"], "--listen", state["listen"], "--http-listen",
            state["http"], *extra]
    state["proc"] = t.spawn("tnode-dev", argv)
    poll(lambda: health(), 15.0, "tnode --dev to answer /health")
    return state["proc"]


def first_run():
    base = free_port_range(2)
    state.update(dir=t.path("dev"), listen=f"127.0.0.1:{base}", http=f"127.0.0.1:{base + 1}")
    start("--block-time", "200ms")
    for name in ("genesis.toml", "node.key", "tnode.toml"):
        expect(os.path.isfile(os.path.join(state["dir"], name)), f"{name} in the dev directory",
               sorted(os.listdir(state["dir"])))
    expect_eq(file_mode(os.path.join(state["dir"], "node.key")), 0o600, "node.key mode")
    poll(lambda: (health()["height"] >= 5, f"height {health()['height']}"), 15.0, "height >= 5 (200 ms slots)")
    h = health()
    expect_eq((h["status"], h["role"], h["syncing"]), ("ok", "masternode", False), "/health status, role, syncing")
    produced = metric_value(parse_metrics(http_get(state["http"], "/metrics")[1]), "tnode_blocks_produced_total")
    expect(produced >= 5, "tnode_blocks_produced_total >= 5", produced)
    state["genesis"] = h["genesis"]
    expect_in("created a development network", state["proc"].stderr(), "first run's log")


t.check("tnode --dev creates its network and produces: height >= 5 with 200 ms slots", first_run, required=True)


def verify_while_running():
    height = health()["height"]
    r = t.tool("tchain", "--data-dir", state["dir"], "--json", "verify", timeout=60)
    expect_eq(r.rc, 0, f"tchain verify exit code while tnode runs ({r.stdout.strip()[-300:]} {r.stderr[-300:]})")
    out = r.json()
    expect(out.get("height", -1) >= height, f"verified height >= {height}", out)
    expect(state["proc"].running(), "tnode still running after tchain verify", state["proc"].returncode)


t.check("tchain verify passes on the running node's store", verify_while_running)


def resumes():
    before = health()["height"]
    rc = state["proc"].terminate()
    expect_eq(rc, 0, "exit code after SIGTERM")
    start("--block-time", "5s")
    h = health()
    expect_eq(h["genesis"], state["genesis"], "genesis after restart (the same dev network)")
    expect(h["height"] >= before, f"height after restart >= {before}", h["height"])
    poll(lambda: (health()["height"] >= before + 3, f"height {health()['height']}"), 10.0,
         f"production to continue past {before + 3} (still 200 ms slots)")
    err = state["proc"].stderr()
    expect("created a development network" not in err, "no new network on the second run", err[-400:])
    expect_in("--block-time applies only to a new dev network", err, "second run's stderr")


t.check("run again, it resumes the same chain and keeps producing (--block-time not applied)", resumes)


def dev_with_config():
    r = t.tool("tnode", "--dev", "--config", os.path.join(state["dir"], "tnode.toml"))
    expect_eq(r.rc, 2, "exit code of --dev with --config")
    expect_in("--dev and --config", r.stderr, "stderr")
    r = t.tool("tnode", "--config", os.path.join(state["dir"], "tnode.toml"), "--block-time", "1s")
    expect_eq(r.rc, 2, "exit code of --block-time without --dev")


t.check("--dev with --config, and --block-time without --dev, are usage errors", dev_with_config)
t.finish()
