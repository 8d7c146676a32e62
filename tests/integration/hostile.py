"""The hostile peer (tests/tools/hostile_peer) for scenario scripts (stdlib only).

    from harness import TestRun, expect_eq
    from hostile import HostilePeer

    hp = HostilePeer(t, node.config, node.listen, "violate", times=3)
    hp.wait_events("closed", 3, timeout=30)       # three closes seen
    s = hp.finish()                                # exit 0; the summary dict
    expect_eq(s["closes"], {"bad_checksum": 3}, "close reasons")

    flood = HostilePeer(t, cfg, node.listen, "ping-flood", seconds=30)
    ev = flood.wait_event("closed", timeout=35)
    t.note(f"closed by {ev.reason} after {ev.t}s, {flood.total_sent('pings')} pings")

Options are keyword arguments named after the tool's flags: claim_height=5
is --claim-height 5, announce=True is --announce, None or False leaves the
flag out. The node's config (`config`) gives the network; its key is not
used (pass key_file= for that). See the header of tests/tools/hostile_peer.cpp
for the modes and the output lines.

What it holds:
  * HostilePeer: the tool started with TestRun.spawn_tool (killed at exit
    whatever happens); lines(), events(kind), wait_event(), wait_events(),
    wait_line(), running(), stop() (SIGTERM, then the summary), finish()
    (waits for exit 0, returns the summary), summary(), total_sent(),
    closes(), describe();
  * Event: one parsed output line; parse_line(line) -> Event or None.
Waits fail with "expected X, saw Y" on timeout, and at once when the tool
exited without printing what was waited for.
"""

import json
import re
import signal
import time

from harness import CheckFailed, expect_eq

MODES = ("claim", "gossip", "violate", "hijack", "far-future", "ping-flood", "half-frame")

# One regular expression per output line kind; named groups become Event fields.
_PATTERNS = {
    "opened": re.compile(r"^opened conn=(?P<conn>\d+) from=(?P<local>\S+)$"),
    "connected": re.compile(r"^connected (?P<key>[0-9a-f]+) conn=(?P<conn>\d+) peer=(?P<peer>[0-9a-f]+)$"),
    "fail": re.compile(r"^fail (?P<label>\S+) \((?P<detail>.*)\) conn=(?P<conn>\d+)$"),
    "closed": re.compile(r"^closed: (?P<reason>\S+) \((?P<detail>.*)\) conn=(?P<conn>\d+) t=(?P<t>[0-9.]+)$"),
    "sent": re.compile(r"^sent (?P<n>\d+) (?P<what>\S+) conn=(?P<conn>\d+)$"),
    "got": re.compile(r"^got (?P<type>\S+) conn=(?P<conn>\d+)$"),
    "note": re.compile(r"^note (?P<text>.*)$"),
    "summary": re.compile(r"^summary (?P<json>\{.*\})$"),
}
_INTS = ("conn", "n")
_FLOATS = ("t",)


class Event:
    """One output line: .kind ("closed", "sent", ...), .line, and the line's
    fields as attributes (conn, reason, detail, t, label, n, what, key, peer,
    local, type, text); a field the line does not have is None."""

    FIELDS = ("conn", "reason", "detail", "t", "label", "n", "what", "key", "peer", "local", "type", "text")

    def __init__(self, kind, line, fields):
        self.kind = kind
        self.line = line
        for name in self.FIELDS:
            setattr(self, name, None)
        for name, value in fields.items():
            if name in _INTS:
                value = int(value)
            elif name in _FLOATS:
                value = float(value)
            setattr(self, name, value)

    def __repr__(self):
        return f"Event({self.line!r})"


def parse_line(line):
    """The Event of one output line, or None for a line of no known kind."""
    for kind, pattern in _PATTERNS.items():
        m = pattern.match(line)
        if m:
            return Event(kind, line, m.groupdict())
    return None


def tool_args(config, connect, mode, options):
    """The command line for `mode` with keyword `options` as flags."""
    args = ["--config", config, "--connect", connect, "--mode", mode]
    for name, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        args += [flag] if value is True else [flag, str(value)]
    return args


class HostilePeer:
    """A running hostile_peer against one node."""

    def __init__(self, t, config, connect, mode, **options):
        if mode not in MODES:
            raise CheckFailed(f"expected a hostile_peer mode among {MODES}, saw {mode!r}")
        self.t = t
        self.mode = mode
        self.args = tool_args(config, connect, mode, options)
        self.proc = t.spawn_tool("hostile_peer", *self.args)

    # ---- output

    def lines(self):
        """Complete lines of stdout so far (a line being written is left out)."""
        text = self.proc.stdout()
        return text.split("\n")[:-1]

    def events(self, kind=None):
        """Parsed events so far, oldest first; only those of `kind` if given."""
        out = [e for e in (parse_line(line) for line in self.lines()) if e is not None]
        return [e for e in out if kind is None or e.kind == kind]

    def describe(self, n=12):
        """The last lines of stdout and stderr, for failure messages."""
        out = self.lines()[-n:]
        err = self.proc.stderr().strip().splitlines()[-4:]
        state = "running" if self.running() else f"exited {self.proc.returncode}"
        return f"hostile_peer {self.mode} ({state}); stdout tail: {out}; stderr tail: {err}"

    def running(self):
        return self.proc.running()

    # ---- waiting

    def _wait(self, found, timeout, describe):
        """Polls found() -> value or None until a value comes; fails on
        timeout, or at once once the tool exited without it."""
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            alive = self.running()
            value = found()
            if value:
                return value
            if not alive:
                raise CheckFailed(f"expected {describe}, but hostile_peer exited first; saw {self.describe()}")
            if time.monotonic() >= deadline:
                raise CheckFailed(f"expected {describe} within {timeout}s, saw {self.describe()}")
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.25)

    def wait_events(self, kind, count, timeout, match=None):
        """The first `count` events of `kind` (for which match(event) holds)."""
        def found():
            got = [e for e in self.events(kind) if match is None or match(e)]
            return got[:count] if len(got) >= count else None
        return self._wait(found, timeout, f"{count} '{kind}' line(s) from hostile_peer {self.mode}")

    def wait_event(self, kind, timeout, match=None):
        """The first event of `kind` (for which match(event) holds)."""
        return self.wait_events(kind, 1, timeout, match)[0]

    def wait_line(self, text, timeout):
        """The first output line containing `text`."""
        def found():
            return next((line for line in self.lines() if text in line), None)
        return self._wait(found, timeout, f"a line containing {text!r} from hostile_peer {self.mode}")

    # ---- ending

    def summary(self):
        """The summary dict (the tool must have printed it: it has exited)."""
        found = self.events("summary")
        if found:
            return json.loads(found[-1].line[len("summary "):])
        raise CheckFailed(f"expected a 'summary {{json}}' line from hostile_peer, saw {self.describe()}")

    def finish(self, timeout=60.0):
        """Waits for the tool to end by itself; expects exit 0; returns the summary."""
        rc = self.proc.wait(timeout)
        expect_eq(rc, 0, f"hostile_peer {self.mode} exit status ({self.describe()})")
        return self.summary()

    def stop(self, grace=5.0):
        """SIGTERM (the tool closes its connections and prints its summary);
        expects exit 0; returns the summary."""
        if self.running():
            self.proc.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(grace)
        if rc == -signal.SIGTERM and self.events("summary"):
            return self.summary()  # it had finished and was exiting when the signal came
        expect_eq(rc, 0, f"hostile_peer {self.mode} exit status ({self.describe()})")
        return self.summary()

    # ---- counts from the events so far

    def total_sent(self, what):
        """The sum over connections of the latest 'sent <n> <what>' of each."""
        latest = {}
        for e in self.events("sent"):
            if e.what == what:
                latest[e.conn] = e.n
        return sum(latest.values())

    def closes(self):
        """{reason: count} of the 'closed:' lines so far."""
        out = {}
        for e in self.events("closed"):
            out[e.reason] = out.get(e.reason, 0) + 1
        return out
