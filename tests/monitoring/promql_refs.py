"""What the shipped dashboard and alert rules query (stdlib only).

  * refs(expr) -> Refs: the metric names a PromQL expression selects, the
    label names each selector matches on, and the label names its
    by/without/on/ignoring/group_left/group_right clauses use. Functions,
    aggregations, keywords, numbers, durations, strings and Grafana
    variables ($job, $__rate_interval) are told apart from metric names; an
    unknown function name is an error (a typo must not pass as a metric).
  * dashboard_queries(dashboard) / rule_queries(rules): (where, expr) of
    every panel target and template variable / every alert and recording rule;
  * annotation_metrics(rules): (where, name) of every tnode_* name the
    annotations mention;
  * Families.from_exposition(text): metric families of a /metrics body with
    their TYPE, label names and series names (histogram _bucket/_sum/_count);
  * problems(queries, families): each query's reference that /metrics does
    not have, as readable lines (empty: all present).
"""

import json
import re

# PromQL functions and aggregation operators (Prometheus 2.4x).
FUNCTIONS = {
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh", "avg_over_time",
    "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh", "count_over_time", "day_of_month",
    "day_of_week", "day_of_year", "days_in_month", "deg", "delta", "deriv", "exp", "floor", "histogram_count",
    "histogram_fraction", "histogram_quantile", "histogram_sum", "holt_winters", "hour", "idelta", "increase",
    "irate", "label_join", "label_replace", "last_over_time", "ln", "log10", "log2", "max_over_time",
    "min_over_time", "minute", "month", "pi", "predict_linear", "present_over_time", "quantile_over_time", "rad",
    "rate", "resets", "round", "scalar", "sgn", "sin", "sinh", "sort", "sort_desc", "sqrt", "stddev_over_time",
    "stdvar_over_time", "sum_over_time", "tan", "tanh", "time", "timestamp", "vector", "year",
    # aggregations
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
    "quantile",
}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}
# Labels Prometheus adds to every scraped series (target labels).
TARGET_LABELS = {"job", "instance"}
# Series Prometheus makes itself: queryable without being in /metrics.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling",
             "scrape_series_added"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

_TOKEN = re.compile(r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<braces>\{(?:[^{}"]|"(?:[^"\\]|\\.)*")*\})
  | (?P<range>\[[^\]]*\])
  | (?P<number>(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)(?:ms|[smhdwy])?(?:\d+(?:ms|[smhdwy]))*)
  | (?P<var>\$\{?[A-Za-z_][A-Za-z0-9_]*\}?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>==|!=|>=|<=|=~|!~|[-+*/%^<>(),@])
""", re.VERBOSE)
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')\s*,?')


class QueryError(ValueError):
    pass


class Refs:
    def __init__(self):
        self.selectors = []   # (metric name, [label names matched])
        self.grouping = set()  # label names of by/without/on/ignoring/group_*

    @property
    def metrics(self):
        return {name for name, _ in self.selectors}


def tokens(expr):
    pos, out = 0, []
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            raise QueryError(f"cannot read PromQL at {expr[pos:pos + 30]!r} (offset {pos})")
        pos = m.end()
        if m.lastgroup != "space":
            out.append((m.lastgroup, m.group()))
    return out


def matcher_labels(braces):
    body, labels, pos = braces[1:-1], [], 0
    while pos < len(body):
        m = _MATCHER.match(body, pos)
        if not m:
            if body[pos:].strip():
                raise QueryError(f"cannot read label matchers {braces!r}")
            break
        labels.append(m.group(1))
        pos = m.end()
    return labels


def refs(expr):
    """The Refs of one PromQL expression (QueryError if it cannot be read)."""
    toks, r, i = tokens(expr), Refs(), 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else (None, None)
        if kind == "braces":  # a selector without a name: {__name__="..."}
            labels = matcher_labels(text)
            names = [m.group(1) for m in re.finditer(r'__name__\s*=\s*"([^"]*)"', text)]
            if not names:
                raise QueryError(f"a selector without a metric name: {text}")
            r.selectors.append((names[0], [lbl for lbl in labels if lbl != "__name__"]))
        elif kind == "ident":
            word = text
            if word in GROUPING:
                if nxt[1] == "(":
                    j = i + 2
                    while j < len(toks) and toks[j][1] != ")":
                        if toks[j][0] == "ident":
                            r.grouping.add(toks[j][1])
                        elif toks[j][1] != ",":
                            raise QueryError(f"unexpected {toks[j][1]!r} in {word} (...)")
                        j += 1
                    i = j
                elif word in ("by", "without", "on", "ignoring"):
                    raise QueryError(f"{word} without a label list")
            elif word in KEYWORDS:
                pass
            elif nxt[1] == "(" or nxt[1] in ("by", "without"):
                if word not in FUNCTIONS:
                    raise QueryError(f"unknown PromQL function {word}()")
            else:
                labels = matcher_labels(nxt[1]) if nxt[0] == "braces" else []
                r.selectors.append((word, labels))
                if nxt[0] == "braces":
                    i += 1
        i += 1
    return r


# ---------------------------------------------------------------- sources

def dashboard_queries(dashboard):
    """(where, expr) of every panel target (rows' nested panels included) and
    every query template variable; label_values(metric, label) becomes the
    selector `metric` plus a grouping on `label`."""
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((f"panel {p.get('id')} {p.get('title')!r} target {t.get('refId')}", t["expr"]))
            walk(p.get("panels", []))

    walk(dashboard.get("panels", []))
    for v in dashboard.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        m = re.fullmatch(r"\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*", q)
        if m:
            out.append((f"variable {v['name']}", f"group by ({m.group(2)}) ({m.group(1)})"))
        else:
            out.append((f"variable {v['name']}", q))
    return out


def rule_queries(rules):
    out = []
    for g in rules.get("groups", []):
        for rule in g.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            out.append((f"rule {name}", rule["expr"]))
    return out


def annotation_metrics(rules):
    out = []
    for g in rules.get("groups", []):
        for rule in g.get("rules", []):
            for key, text in (rule.get("annotations") or {}).items():
                for name in re.findall(r"\btnode_[a-z0-9_]+", text):
                    out.append((f"rule {rule.get('alert')} annotation {key}", name))
    return out


# --------------------------------------------------------------- /metrics

class Families:
    """Metric families of one or more /metrics bodies."""

    def __init__(self):
        self.types = {}    # family -> TYPE
        self.labels = {}   # family -> set of label names seen on its samples
        self.sampled = set()  # families with at least one sample

    @classmethod
    def from_exposition(cls, *texts):
        f = cls()
        for text in texts:
            f.add(text)
        return f

    def add(self, text):
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(None, 3)
                self.types[name] = kind.strip()
                self.labels.setdefault(name, set())
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = re.match(r"([A-Za-z_:][A-Za-z0-9_:]*)(\{.*\})?\s", line)
            if not m:
                continue
            family = self.family_of(m.group(1))
            if family is None:
                raise QueryError(f"/metrics sample without a TYPE line: {line[:120]}")
            self.sampled.add(family)
            if m.group(2):
                self.labels[family].update(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="', m.group(2)))

    def family_of(self, series):
        """The family a series name belongs to, or None."""
        if series in self.types and self.types[series] not in ("histogram", "summary"):
            return series
        for suffix in HISTOGRAM_SUFFIXES:
            base = series[: -len(suffix)]
            if series.endswith(suffix) and self.types.get(base) in ("histogram", "summary"):
                if suffix == "_bucket" and self.types[base] != "histogram":
                    return None
                return base
        return None

    def series_labels(self, series):
        family = self.family_of(series)
        labels = set(self.labels.get(family, set()))
        if not series.endswith("_bucket"):
            labels.discard("le")
        return labels


def problems(queries, families):
    """Readable lines, one per reference /metrics does not have."""
    out = []
    for where, expr in queries:
        try:
            r = refs(expr)
        except QueryError as e:
            out.append(f"{where}: {e}: {expr}")
            continue
        if not r.selectors:
            out.append(f"{where}: queries no metric: {expr}")
        known = set(TARGET_LABELS)
        for name, labels in r.selectors:
            if name in SYNTHETIC:
                continue
            family = families.family_of(name)
            if family is None:
                hint = " (a histogram is queried as _bucket, _sum or _count)" if families.types.get(name) in (
                    "histogram", "summary") else ""
                out.append(f"{where}: metric {name} is not in /metrics{hint}")
                continue
            have = families.series_labels(name)
            known |= have
            if family not in families.sampled and labels:
                out.append(f"{where}: {name} has no series in /metrics, so its labels cannot be checked")
                continue
            for lbl in labels:
                if lbl not in have | TARGET_LABELS:
                    out.append(f"{where}: {name} has no label {lbl!r} (it has {sorted(have) or 'none'})")
        for lbl in sorted(r.grouping):
            if lbl not in known:
                out.append(f"{where}: label {lbl!r} of by/on/without/ignoring/group_* is on none of "
                           f"{sorted(r.metrics)} (nor a target label)")
    return out


def load_dashboard(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
