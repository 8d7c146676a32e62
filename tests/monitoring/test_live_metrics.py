#!/usr/bin/env python3
"""monitoring.live_metrics: every metric the shipped Grafana dashboard and
alert rules query is in the /metrics of a live node, with the labels they
use.

Two masternodes (tgenesis testnet, block time 1 s) connect; node1 also has
a static peer on a closed port (dial errors) and gets 64 random bytes on its
p2p port (a handshake failure); then node2 stops (a disconnect). The
/metrics bodies of both nodes, scraped after these events, give the
families, their TYPE and label names. Every selector of every dashboard
target, template variable and alert rule must name a family (histograms
through _bucket/_sum/_count), every label it matches on must be on that
family, every by/on/... label on one of the expression's families (or be
job/instance), and every tnode_* name an alert annotation mentions must
exist. The gauges the alerts added (tnode_masternodes, _seen,
tnode_chain_tip_timestamp_seconds, tnode_block_time_seconds) must read
what the testnet is.

    test_live_metrics.py [--extra-query EXPR]...
--extra-query adds a query to check (to see the test fail on a wrong name)."""

import argparse
import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("TNODE_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))

from harness import CheckFailed, TestRun, expect, expect_eq, poll  # noqa: E402
from nodes import start_testnet, toml_list  # noqa: E402
from ports import closed_port  # noqa: E402
from prom import metric_value, parse_metrics  # noqa: E402
from promql_refs import (Families, annotation_metrics, dashboard_queries, load_dashboard,  # noqa: E402
                         problems, rule_queries)

DASHBOARD = os.path.join(SOURCE, "contrib", "grafana", "tnode-dashboard.json")
RULES = os.path.join(SOURCE, "contrib", "prometheus", "tnode-alerts.yml")

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("--extra-query", action="append", default=[], help="another PromQL expression to check")
args = ap.parse_args()

try:
    import yaml
except ImportError:
    print("FAIL: Python's yaml module is missing: install python3-yaml (scripts/setup does)")
    sys.exit(1)

t = TestRun("dashboard and alert metrics exist in a live node's /metrics")
state = {}


def queries():
    with open(RULES, encoding="utf-8") as f:
        rules = yaml.safe_load(f)
    qs = dashboard_queries(load_dashboard(DASHBOARD)) + rule_queries(rules)
    qs += [(f"--extra-query {i + 1}", q) for i, q in enumerate(args.extra_query)]
    # An annotation's tnode_* name is checked as a bare selector.
    qs += [(where, name) for where, name in annotation_metrics(rules)]
    expect(len(qs) > 20, "the dashboard and the rules to hold more than 20 queries", len(qs))
    return qs


state["queries"] = t.check("the dashboard and the alert rules are read", queries, required=True)


def setup():
    net = start_testnet(t, "net", 2, block_time="1s")
    state["net"] = net
    n1, n2 = net[1], net[2]
    state["dead"] = f"127.0.0.1:{closed_port()}"
    n1.start(f"network.peers={toml_list([state['dead']])}")
    n2.start()
    net.wait_http()
    net.wait_connected(15.0)


t.check("two masternodes connected (node1 with a static peer on a closed port)", setup, required=True)


def events():
    n1 = state["net"][1]
    with socket.create_connection(("127.0.0.1", n1.p2p_port), timeout=5.0) as s:
        s.sendall(os.urandom(64))
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass

    def seen():
        m = n1.metrics()
        have = {name for name, _ in m}
        want = {"tnode_dial_errors_total", "tnode_handshake_failures_total", "tnode_peer_height"}
        return (want <= have, f"series of {sorted(want & have) or 'none'} of {sorted(want)}")

    poll(seen, 20.0, "node1 /metrics to have dial error, handshake failure and peer height series")
    state["text2"] = state["net"][2].get_ok("/metrics")
    state["net"][2].proc.terminate()

    def disconnected():
        m = n1.metrics()
        return (any(name == "tnode_disconnects_total" for name, _ in m), "no tnode_disconnects_total series yet")

    poll(disconnected, 15.0, "node1 to count node2's disconnect in tnode_disconnects_total")
    state["text1"] = n1.get_ok("/metrics")


t.check("a dial error, a handshake failure and a disconnect happen on node1", events, required=True)


def all_present():
    fam = Families.from_exposition(state["text1"], state["text2"])
    bad = problems(state["queries"], fam)
    t.note(f"{len(state['queries'])} queries against {len(fam.types)} families of /metrics")
    if bad:
        raise CheckFailed("expected every queried metric and label in /metrics, these are not:\n    "
                          + "\n    ".join(bad))


t.check("every metric and label the dashboard and the alerts query is in /metrics", all_present)


def gauges():
    m1, m2 = parse_metrics(state["text1"]), parse_metrics(state["text2"])
    expect_eq(metric_value(m2, "tnode_block_time_seconds"), 1.0, "node2 tnode_block_time_seconds (block time 1s)")
    expect_eq(metric_value(m2, "tnode_masternodes"), 2.0, "node2 tnode_masternodes")
    expect_eq(metric_value(m2, "tnode_masternodes_seen"), 2.0, "node2 tnode_masternodes_seen (connected)")
    expect_eq(metric_value(m1, "tnode_masternodes_seen"), 1.0, "node1 tnode_masternodes_seen after node2 stopped")
    tip = metric_value(m1, "tnode_chain_tip_timestamp_seconds")
    now = time.time()
    expect(now - 86400 < tip < now + 5, f"node1 tnode_chain_tip_timestamp_seconds within the last day (now {now:.0f})",
           tip)


t.check("the gauges the alerts need read the testnet's values", gauges)
t.finish()
