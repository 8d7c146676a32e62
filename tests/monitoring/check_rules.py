#!/usr/bin/env python3
"""monitoring.promtool_rules: `promtool check rules` accepts
contrib/prometheus/tnode-alerts.yml and `promtool test rules` passes its
unit tests (tnode-alerts.test.yml), and every alert has `for:`, a severity
label (critical or warning) and summary/description annotations naming the
instance and the value. A missing promtool fails (scripts/setup installs the
`prometheus` package, which ships it): this check never passes silently.

    check_rules.py RULES.yml TESTS.yml"""

import os
import shutil
import subprocess
import sys

try:
    import yaml
except ImportError:
    sys.exit("FAIL: Python's yaml module is missing: install python3-yaml (scripts/setup does)")


def run(argv, cwd):
    r = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)
    return r.returncode, (r.stdout + r.stderr).strip()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    rules, tests = (os.path.abspath(p) for p in sys.argv[1:])
    promtool = shutil.which("promtool")
    if not promtool:
        print("FAIL: promtool is missing, so the alert rules cannot be checked. Install it: scripts/setup "
              "installs the `prometheus` package (apt-get install --no-install-recommends prometheus).")
        return 1
    bad = []
    rc, out = run([promtool, "check", "rules", rules], os.path.dirname(rules))
    print(f"$ promtool check rules {rules}\n{out}")
    if rc != 0:
        bad.append(f"promtool check rules exited {rc}")
    # promtool resolves rule_files relative to the test file's directory.
    rc, out = run([promtool, "test", "rules", os.path.basename(tests)], os.path.dirname(tests))
    print(f"$ promtool test rules {tests}\n{out}")
    if rc != 0:
        bad.append(f"promtool test rules exited {rc}")

    with open(rules, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    with open(tests, encoding="utf-8") as f:
        tested = {t["alertname"] for case in yaml.safe_load(f)["tests"] for t in case.get("alert_rule_test", [])
                  if t.get("exp_alerts")}
    alerts = [r for g in doc["groups"] for r in g["rules"] if "alert" in r]
    if not alerts:
        bad.append("no alert rules")
    for r in alerts:
        name = r["alert"]
        if not r.get("for"):
            bad.append(f"{name}: no for:")
        if (r.get("labels") or {}).get("severity") not in ("critical", "warning"):
            bad.append(f"{name}: severity label is not critical or warning")
        ann = r.get("annotations") or {}
        for key in ("summary", "description"):
            if not ann.get(key):
                bad.append(f"{name}: no {key} annotation")
        text = " ".join(str(v) for v in ann.values())
        if "$labels.instance" not in text:
            bad.append(f"{name}: the annotations do not name the instance ($labels.instance)")
        if "$value" not in text and name != "TnodeDown":  # down: the value is always 0
            bad.append(f"{name}: the annotations do not show the value ($value)")
        if name not in tested:
            bad.append(f"{name}: no test in {os.path.basename(tests)} where it fires")
    for line in bad:
        print(f"FAIL {line}")
    if not bad:
        print(f"ok: {len(alerts)} alerts checked and tested")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
