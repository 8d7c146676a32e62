#!/usr/bin/env python3
"""monitoring.dashboard: contrib/grafana/tnode-dashboard.json is an importable
Grafana 9/10 dashboard with a sane structure:
  * valid JSON; schemaVersion of Grafana 9/10 (36..39); a title and a uid;
  * a ${DS_PROMETHEUS} datasource input (__inputs) and a datasource template
    variable of that name, and query variables `job` and `instance`;
  * panel ids unique (rows' nested panels included), every panel with a
    gridPos (h, w, x, y; inside the 24 columns), no two panels overlapping;
  * every non-row panel has targets, each with an expr and the
    ${DS_PROMETHEUS} datasource, and the panel's datasource is that one too;
  * every expr selects on $job (and, unless fleet-wide, $instance) and can
    be read by promql_refs (so the live check sees its metrics);
  * every expr is valid PromQL: with the Grafana variables replaced
    ($__rate_interval by 5m, $job/$instance by .*) they are written as
    recording rules and `promtool check rules` must accept them (a missing
    promtool fails).

    check_dashboard.py DASHBOARD.json
Exit 0 when all holds, 1 with one line per problem."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from promql_refs import QueryError, dashboard_queries, load_dashboard, refs

DS_UID = "${DS_PROMETHEUS}"


def check(d):
    bad = []
    if not (36 <= d.get("schemaVersion", 0) <= 39):
        bad.append(f"schemaVersion {d.get('schemaVersion')} is not Grafana 9/10's (36..39)")
    for key in ("title", "uid"):
        if not d.get(key):
            bad.append(f"no {key}")
    inputs = {i.get("name"): i for i in d.get("__inputs", [])}
    if inputs.get("DS_PROMETHEUS", {}).get("pluginId") != "prometheus":
        bad.append("no __inputs entry DS_PROMETHEUS of plugin prometheus")
    variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
    if variables.get("DS_PROMETHEUS", {}).get("type") != "datasource":
        bad.append("no datasource template variable DS_PROMETHEUS")
    for name in ("job", "instance"):
        v = variables.get(name)
        if not v or v.get("type") != "query":
            bad.append(f"no query template variable {name}")
        elif (v.get("datasource") or {}).get("uid") != DS_UID:
            bad.append(f"variable {name}: datasource is not {DS_UID}")

    ids, boxes = {}, []

    def walk(panels):
        for p in panels:
            title = f"panel {p.get('id')} {p.get('title')!r}"
            pid = p.get("id")
            if not isinstance(pid, int):
                bad.append(f"{title}: no integer id")
            elif pid in ids:
                bad.append(f"{title}: id {pid} also used by {ids[pid]!r}")
            else:
                ids[pid] = p.get("title")
            g = p.get("gridPos")
            if not isinstance(g, dict) or any(not isinstance(g.get(k), int) for k in "hwxy"):
                bad.append(f"{title}: no gridPos with integer h, w, x, y")
            else:
                if g["w"] <= 0 or g["h"] <= 0 or g["x"] < 0 or g["y"] < 0 or g["x"] + g["w"] > 24:
                    bad.append(f"{title}: gridPos {g} outside the 24 columns")
                for other, og in boxes:
                    if (g["x"] < og["x"] + og["w"] and og["x"] < g["x"] + g["w"]
                            and g["y"] < og["y"] + og["h"] and og["y"] < g["y"] + g["h"]):
                        bad.append(f"{title}: gridPos {g} overlaps {other} {og}")
                boxes.append((title, g))
            if p.get("type") == "row":
                walk(p.get("panels", []))
                continue
            if not p.get("type") or not p.get("title"):
                bad.append(f"{title}: no type or title")
            if (p.get("datasource") or {}).get("uid") != DS_UID:
                bad.append(f"{title}: panel datasource is not {DS_UID}")
            targets = p.get("targets") or []
            if not targets:
                bad.append(f"{title}: no targets")
            for t in targets:
                where = f"{title} target {t.get('refId')}"
                if (t.get("datasource") or {}).get("uid") != DS_UID:
                    bad.append(f"{where}: datasource is not {DS_UID}")
                expr = t.get("expr") or ""
                if not expr.strip():
                    bad.append(f"{where}: no expr")
                elif '$job' not in expr:
                    bad.append(f"{where}: does not select on $job: {expr}")

    walk(d.get("panels", []))
    if not ids:
        bad.append("no panels")
    for where, expr in dashboard_queries(d):
        try:
            r = refs(expr)
            if not r.selectors:
                bad.append(f"{where}: queries no metric: {expr}")
        except QueryError as e:
            bad.append(f"{where}: {e}")
    return bad, len(ids)


def promql_problems(d):
    """promtool's verdict on every dashboard query, as recording rules."""
    promtool = shutil.which("promtool")
    if not promtool:
        return ["promtool is missing, so the dashboard's PromQL cannot be checked. Install it: scripts/setup "
                "installs the `prometheus` package (apt-get install --no-install-recommends prometheus)."]
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for i, (where, expr) in enumerate(dashboard_queries(d)):
        concrete = expr.replace("$__rate_interval", "5m")
        concrete = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", ".*", concrete)
        lines.append(f"      - record: dashboard:query_{i}")
        lines.append(f"        expr: {json.dumps(concrete)}  # {where}")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "dashboard-queries.yml")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        r = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        return [f"promtool check rules on the dashboard's queries exited {r.returncode}:\n{r.stdout}{r.stderr}"]
    return []


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    try:
        d = load_dashboard(sys.argv[1])
    except (OSError, ValueError) as e:
        print(f"FAIL {sys.argv[1]}: not a readable JSON file: {e}")
        return 1
    bad, n = check(d)
    bad += promql_problems(d)
    for line in bad:
        print(f"FAIL {line}")
    if bad:
        return 1
    print(f"ok: {sys.argv[1]}: {n} panels, {len(dashboard_queries(d))} queries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
