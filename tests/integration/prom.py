"""Prometheus text exposition, as served by a node's GET /metrics (stdlib only).

  * parse_metrics(text) -> {(name, frozenset(labels.items())): value};
  * metric_value(metrics, name, **labels): one series' value, 0 if absent;
  * metric_series(metrics, name): every series of one metric;
  * by_label(metrics, name, label): {label value: value}, e.g. per reason.

Node.metrics() in nodes.py returns parse_metrics() of the node's /metrics.
"""

import re

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text exposition -> {(name, frozenset(labels.items())): value}."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        labels = frozenset(_LABEL.findall(m.group(3) or ""))
        try:
            out[(m.group(1), labels)] = float(m.group(4))
        except ValueError:
            continue
    return out


def metric_value(metrics, name, **labels):
    """The sample's value; 0 when the series is absent (counters start at 0)."""
    return metrics.get((name, frozenset(labels.items())), 0.0)


def metric_series(metrics, name):
    """{labels dict as sorted tuple: value} of every series of `name`."""
    return {tuple(sorted(lbl)): v for (n, lbl), v in metrics.items() if n == name}


def by_label(metrics, name, label):
    """{label value: value} for a metric with one label (e.g. reason)."""
    out = {}
    for (n, lbl), v in metrics.items():
        if n == name:
            d = dict(lbl)
            if label in d:
                out[d[label]] = v
    return out
