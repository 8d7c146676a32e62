#!/usr/bin/env python3
"""monitoring.promql_refs: the reader behind the live metrics check tells
metric names from functions, keywords, durations and Grafana variables, and
problems() reports a misspelt metric, a bare histogram name, an unknown
label and an unknown function (so the live check can fail)."""

import sys

from promql_refs import Families, QueryError, problems, refs

EXPOSITION = """\
# HELP tnode_connections Open peer connections.
# TYPE tnode_connections gauge
tnode_connections{direction="inbound",class="masternode"} 1
# HELP tnode_chain_height Height.
# TYPE tnode_chain_height gauge
tnode_chain_height 5
# HELP tnode_dial_errors_total Dial errors.
# TYPE tnode_dial_errors_total counter
# HELP tnode_handshake_duration_seconds Durations.
# TYPE tnode_handshake_duration_seconds histogram
tnode_handshake_duration_seconds_bucket{le="0.1"} 1
tnode_handshake_duration_seconds_bucket{le="+Inf"} 1
tnode_handshake_duration_seconds_sum 0.01
tnode_handshake_duration_seconds_count 1
"""

failures = []


def check(what, got, want):
    if got != want:
        failures.append(f"{what}: expected {want!r}, saw {got!r}")
    else:
        print(f"ok   {what}")


def selectors(expr):
    return sorted((n, tuple(sorted(lbl))) for n, lbl in refs(expr).selectors)


check("functions, by, durations and variables are not metrics",
      selectors('sum by (instance, reason) (rate(tnode_dial_errors_total{job=~"$job", reason!="x"}'
                '[$__rate_interval])) > 0'),
      [("tnode_dial_errors_total", ("job", "reason"))])
check("by/on/group_right labels",
      sorted(refs('max by (job) (tnode_chain_height) - on (job) group_right tnode_chain_height > 5').grouping),
      ["job"])
check("offset, bool, unless, time(), clamp_min, scalar numbers",
      selectors('(time() - tnode_chain_tip_timestamp_seconds) > bool clamp_min(5 * tnode_block_time_seconds, 6e1) '
                'unless on (job, instance) changes(tnode_chain_height[5m] offset 1h) > 0'),
      [("tnode_block_time_seconds", ()), ("tnode_chain_height", ()), ("tnode_chain_tip_timestamp_seconds", ())])
check("strings with braces and quotes inside matchers",
      selectors('tnode_connections{class="a}b", direction=~"in\\"x"}'), [("tnode_connections", ("class", "direction"))])
check("a histogram quantile over _bucket",
      selectors('histogram_quantile(0.95, sum by (le) (rate(tnode_handshake_duration_seconds_bucket[5m])))'),
      [("tnode_handshake_duration_seconds_bucket", ())])
try:
    refs("sum(rat(tnode_chain_height[5m]))")
    failures.append("an unknown function rat() was accepted")
except QueryError as e:
    print(f"ok   unknown function refused: {e}")

fam = Families.from_exposition(EXPOSITION)
check("families and labels of an exposition",
      (fam.family_of("tnode_handshake_duration_seconds_count"), sorted(fam.series_labels("tnode_connections")),
       fam.family_of("tnode_handshake_duration_seconds")),
      ("tnode_handshake_duration_seconds", ["class", "direction"], None))
check("present metrics and labels: no problem",
      problems([("q", 'sum by (instance, class) (tnode_connections{job="x"})'),
                ("h", "rate(tnode_handshake_duration_seconds_sum[5m])"),
                ("u", "up == 0")], fam), [])
bad = problems([
    ("typo", "tnode_chain_heigth"),
    ("bare histogram", "rate(tnode_handshake_duration_seconds[5m])"),
    ("label", 'tnode_connections{peer_class="masternode"}'),
    ("grouping", "sum by (reason) (tnode_connections)"),
    ("le on a gauge", 'tnode_chain_height{le="1"}'),
    ("no series to read labels from", 'tnode_dial_errors_total{reason="refused"}'),
], fam)
check("every wrong reference is reported", [line.split(":")[0] for line in bad],
      ["typo", "bare histogram", "label", "grouping", "le on a gauge", "no series to read labels from"])
for line in bad:
    print(f"     {line}")

for f in failures:
    print(f"FAIL {f}")
sys.exit(1 if failures else 0)
