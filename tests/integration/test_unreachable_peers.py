"""Unreachable peers (TESTING.md): static peers that never answer.

Part 1: one node with two static peers on 127.0.0.1: a port nothing listens
on (refused) and a Python listener that accepts and never speaks (the
handshake times out). With base_delay 200 ms, max_delay 1600 ms,
max_attempts 5, handshake_timeout 500 ms and a breaker that cannot trip
(breaker_failures 100), each address must be dialled exactly 5 times, then
parked (no more attempts), every wait between attempts must stay within the
backoff ceiling for that attempt (full jitter: anything from 0 up to
min(max_delay, base_delay * 2^(k-1)) after the k-th failure) plus the
handshake time, and the failures must be counted by class (refused,
timeout) and summarised in the log, not logged once per attempt.

Part 2: the circuit breaker against the refusing port (breaker_failures 3,
breaker_cooldown 2 s, no parking): open after 3 failures, no dial while
open, one trial dial after the 2 s cool-down, which fails and re-opens it
for twice as long (4 s)."""

import socket
import threading
import time

from harness import CheckFailed, TestRun, expect, expect_eq, poll
from nodes import start_testnet, toml_list
from ports import closed_port
from prom import by_label, metric_value
from wire import MSG, network_magic, read_frame

BASE_MS, MAX_MS, MAX_ATTEMPTS, HANDSHAKE_MS = 200, 1600, 5, 500
SLACK_MS = 400          # scheduling slack per gap (timer wake-up, a loaded machine)
PARK_DEADLINE = 15.0    # seconds: 5 attempts take at most ~3 s of backoff + 5 x 0.5 s of handshake
QUIET_WINDOW = 3.0      # seconds of watching a parked address for attempts that must not come
PARKED_RETRY_MS = 3600 * 1000
COOLDOWN_MS = 2000
TOL_MS = 25             # wall-clock vs steady-clock rounding

t = TestRun("unreachable peers")
state = {}


class SilentListener:
    """Accepts every connection and never sends a byte; records the first
    frame each connection sent (the node's Hello) and holds the socket until
    the node closes it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", closed_port()))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.first_frames = []
        self.lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn):
        conn.settimeout(30)
        try:
            magic, mtype, _length, _csum, _payload = read_frame(conn)
            with self.lock:
                self.first_frames.append((magic, mtype))
            while conn.recv(4096):  # until the node closes
                pass
        except (OSError, EOFError, CheckFailed):
            pass
        finally:
            conn.close()

    def close(self):
        self.sock.close()


def ceiling_ms(k):
    """Backoff ceiling after the k-th consecutive failure (k >= 1)."""
    return min(MAX_MS, BASE_MS * 2 ** (k - 1))


# ------------------------------------------------------------------ part 1


def setup():
    net = start_testnet(t, "net", 1)
    state["silent"] = SilentListener()
    state["refused_addr"] = f"127.0.0.1:{closed_port()}"
    state["silent_addr"] = f"127.0.0.1:{state['silent'].port}"
    node = net[1]
    state["node"], state["net"] = node, net
    node.start(f"network.peers={toml_list([state['refused_addr'], state['silent_addr']])}",
               f"reconnect.base_delay={BASE_MS}ms", f"reconnect.max_delay={MAX_MS}ms",
               f"reconnect.max_attempts={MAX_ATTEMPTS}", f"network.handshake_timeout={HANDSHAKE_MS}ms",
               "reconnect.breaker_failures=100")
    node.wait_http()
    t.note(f"refusing peer {state['refused_addr']}, silent peer {state['silent_addr']}")


t.check("node with a refusing and a silent static peer starts", setup, required=True)


def parked_after_max_attempts():
    node = state["node"]

    def parked():
        seen = []
        done = True
        for addr in (state["refused_addr"], state["silent_addr"]):
            e = node.address(addr)
            seen.append(f"{addr}: total_attempts={e['total_attempts']} parked={e['parked']} dialing={e['dialing']}")
            done &= e["parked"] and not e["dialing"]
        return (done, "; ".join(seen))

    poll(parked, PARK_DEADLINE, "both addresses parked", interval=0.05)
    state["parked_at"] = time.monotonic()
    for addr in (state["refused_addr"], state["silent_addr"]):
        e = node.address(addr)
        expect_eq((e["total_attempts"], e["attempts"], e["total_failures"], e["consecutive_failures"]),
                  (MAX_ATTEMPTS,) * 4,
                  f"{addr} (total_attempts, attempts, total_failures, consecutive_failures) when parked")
        expect_eq((e["class"], e["breaker"], e["connected"]), ("static", "closed", False),
                  f"{addr} (class, breaker, connected)")
        expect(e["next_dial_in_ms"] is not None and e["next_dial_in_ms"] > PARKED_RETRY_MS - 60_000,
               f"{addr}'s next dial about parked_retry (1 h) away", e["next_dial_in_ms"])


t.check(f"each address is dialled exactly {MAX_ATTEMPTS} times, then parked (next dial ~1 h away)",
        parked_after_max_attempts)


def quiet_after_parking():
    node = state["node"]
    before = {a: node.address(a)["total_attempts"] for a in (state["refused_addr"], state["silent_addr"])}
    accepted = state["silent"].accepted
    deadline = time.monotonic() + QUIET_WINDOW
    polls = 0
    while time.monotonic() < deadline:  # an observation window: nothing may happen in it
        for a, n in before.items():
            e = node.address(a)
            if e["total_attempts"] != n or e["dialing"]:
                raise CheckFailed(f"expected no attempt on parked {a} for {QUIET_WINDOW}s, saw total_attempts "
                                  f"{n} -> {e['total_attempts']} (dialing={e['dialing']}) after {polls} polls")
        polls += 1
        time.sleep(0.1)
    expect_eq(state["silent"].accepted, accepted, "connections the silent listener accepted while parked")


t.check(f"no attempt for {QUIET_WINDOW:.0f}s after parking", quiet_after_parking)


def gaps_within_ceiling():
    node = state["node"]
    report = []
    for addr, hs in ((state["refused_addr"], 0), (state["silent_addr"], HANDSHAKE_MS)):
        times = node.address(addr)["recent_attempts_ms"]
        expect_eq(len(times), MAX_ATTEMPTS, f"len(recent_attempts_ms) of {addr}")
        gaps = [b - a for a, b in zip(times, times[1:])]
        report.append(f"{addr} gaps {gaps} ms")
        for k, gap in enumerate(gaps, start=1):
            limit = ceiling_ms(k) + hs + SLACK_MS
            expect(gap <= limit, f"gap after failure {k} of {addr} <= ceiling {ceiling_ms(k)} + handshake {hs} + "
                   f"slack {SLACK_MS} = {limit} ms", f"{gap} ms (all gaps {gaps})")
            # A handshake that times out takes handshake_timeout before the
            # failure is even recorded: the silent peer cannot be redialled sooner.
            expect(gap >= hs - TOL_MS, f"gap after failure {k} of {addr} >= the {hs} ms handshake timeout",
                   f"{gap} ms (all gaps {gaps})")
    t.note("; ".join(report))


t.check("every gap between attempts <= backoff ceiling (+ handshake timeout + slack); silent peer >= 500 ms",
        gaps_within_ceiling)


def counted_by_class():
    node = state["node"]
    m = node.metrics()
    dial = by_label(m, "tnode_dial_errors_total", "reason")
    t.note(f"dial errors {dial}; handshake failures {by_label(m, 'tnode_handshake_failures_total', 'reason')}")
    expect_eq((dial.get("refused", 0), dial.get("timeout", 0)), (MAX_ATTEMPTS, MAX_ATTEMPTS),
              "tnode_dial_errors_total (refused, timeout)")
    expect_eq(metric_value(m, "tnode_reconnect_attempts_total", **{"class": "static"}), 2 * MAX_ATTEMPTS,
              "tnode_reconnect_attempts_total{class=static} (bounded: no tight loop)")
    expect_eq(metric_value(m, "tnode_handshake_failures_total", reason="timeout"), MAX_ATTEMPTS,
              "tnode_handshake_failures_total{reason=timeout}")
    expect_eq(state["silent"].accepted, MAX_ATTEMPTS, "connections the silent listener accepted")
    magic = network_magic("testnet")
    expect(all(f == (magic, MSG["hello"]) for f in state["silent"].first_frames)
           and len(state["silent"].first_frames) == MAX_ATTEMPTS,
           f"a Hello (type 1, magic {magic:#010x}) as the first frame of each of the {MAX_ATTEMPTS} connections",
           state["silent"].first_frames)
    refused_e = node.address(state["refused_addr"])
    silent_e = node.address(state["silent_addr"])
    expect(refused_e["last_error"].startswith("refused"), "the refusing peer's last_error to start with refused",
           refused_e["last_error"])
    expect(silent_e["last_error"].startswith("timeout"), "the silent peer's last_error to start with timeout",
           silent_e["last_error"])


t.check("failures counted by class: 5 refused, 5 timeout; 10 attempts in all; the silent peer got 5 Hellos",
        counted_by_class)


def log_summarised():
    # DESIGN.md 8: "No log line per retry storm: repeated failures for one
    # peer are summarised." 5 failures may give the first one and the
    # summary at parking, not one info line per attempt.
    log = state["node"].log()
    problems = []
    for addr in (state["refused_addr"], state["silent_addr"]):
        lines = [ln for ln in log.splitlines() if addr in ln and " info " in ln and "fail" in ln]
        if len(lines) > 3:
            problems.append(f"{len(lines)} info lines for {addr}: " + " | ".join(ln[24:] for ln in lines))
    expect(not problems, f"at most 3 info-level failure lines per address for {MAX_ATTEMPTS} failures",
           "; ".join(problems))


t.check("repeated failures are summarised in the log (not one info line per attempt)", log_summarised)


def stop_part1():
    state["node"].kill9()
    state["silent"].close()


t.check("part 1 node stopped", stop_part1)


# ------------------------------------------------------------------ part 2: breaker


def breaker_setup():
    net = start_testnet(t, "breaker", 1)
    node = net[1]
    state["bnode"] = node
    state["b_addr"] = f"127.0.0.1:{closed_port()}"
    node.start(f"network.peers={toml_list([state['b_addr']])}", f"reconnect.base_delay={BASE_MS}ms",
               f"reconnect.max_delay={MAX_MS}ms", "reconnect.max_attempts=1000", "reconnect.breaker_failures=3",
               f"reconnect.breaker_cooldown={COOLDOWN_MS}ms")
    node.wait_http()


t.check("breaker: node with one refusing static peer (breaker_failures 3, cool-down 2 s)", breaker_setup,
        required=True)


def breaker_opens():
    node, addr = state["bnode"], state["b_addr"]

    def opened():
        e = node.address(addr)
        return (e["breaker"] == "open", f"breaker {e['breaker']}, total_attempts {e['total_attempts']}")

    poll(opened, 10.0, f"{addr}'s breaker to open", interval=0.02)
    e = node.address(addr)
    state["open_seen"] = e
    expect_eq((e["total_attempts"], e["consecutive_failures"], e["cooldown_ms"], e["parked"]),
              (3, 3, COOLDOWN_MS, False), "(total_attempts, consecutive_failures, cooldown_ms, parked) when it opened")
    state["opened_ms"] = e["recent_attempts_ms"][-1]  # the 3rd attempt failed at once (refused): opened then
    expect(e["next_dial_in_ms"] is not None and e["next_dial_in_ms"] <= COOLDOWN_MS + TOL_MS,
           f"the next dial within the {COOLDOWN_MS} ms cool-down", e["next_dial_in_ms"])


t.check("breaker opens after 3 consecutive failures (cool-down 2000 ms)", breaker_opens)


def breaker_gauge():
    m = state["bnode"].metrics()
    e = state["bnode"].address(state["b_addr"])
    if e["breaker"] != "open":
        raise CheckFailed(f"expected the breaker still open to read the gauge, saw {e['breaker']}")
    expect_eq(metric_value(m, "tnode_breakers_open"), 1.0, "tnode_breakers_open while one breaker is open")


t.check("tnode_breakers_open is 1 while the breaker is open", breaker_gauge)


def trial_after_cooldown():
    node, addr = state["bnode"], state["b_addr"]
    saw = set()
    attempts_while_open = []

    def trial():
        e = node.address(addr)
        saw.add(e["breaker"])
        if e["breaker"] == "open" and e["total_attempts"] == 3:
            attempts_while_open.append(e["total_attempts"])
        return (e["total_attempts"] >= 4 and not e["dialing"],
                f"breaker {e['breaker']}, total_attempts {e['total_attempts']}")

    poll(trial, COOLDOWN_MS / 1000 + 5.0, "a trial dial after the cool-down", interval=0.02)
    e = node.address(addr)
    times = e["recent_attempts_ms"]
    gap = times[3] - times[2]
    t.note(f"breaker states seen while waiting: {sorted(saw)}; trial {gap} ms after it opened "
           f"(half_open lasts only while the trial dial is in flight)")
    expect_eq(e["total_attempts"], 4, "total_attempts after the cool-down (exactly one trial)")
    expect(COOLDOWN_MS - TOL_MS <= gap <= COOLDOWN_MS + 1000,
           f"the trial dial {COOLDOWN_MS} ms (+ <= 1 s) after the breaker opened, none before", f"{gap} ms")
    # The trial failed: open again, for twice as long.
    expect_eq((e["breaker"], e["cooldown_ms"]), ("open", 2 * COOLDOWN_MS),
              "(breaker, cooldown_ms) after the failed trial")
    state["trial_ms"] = times[3]


t.check("no dial while open; one trial dial after ~2 s; it fails and re-opens the breaker for 4 s",
        trial_after_cooldown)


def doubled_cooldown():
    node, addr = state["bnode"], state["b_addr"]

    def next_trial():
        e = node.address(addr)
        return (e["total_attempts"] >= 5 and not e["dialing"], f"total_attempts {e['total_attempts']}")

    poll(next_trial, 2 * COOLDOWN_MS / 1000 + 5.0, "a second trial after the doubled cool-down", interval=0.05)
    e = node.address(addr)
    gap = e["recent_attempts_ms"][4] - e["recent_attempts_ms"][3]
    expect_eq(e["total_attempts"], 5, "total_attempts after the second cool-down")
    expect(2 * COOLDOWN_MS - TOL_MS <= gap <= 2 * COOLDOWN_MS + 1000,
           f"the second trial {2 * COOLDOWN_MS} ms (+ <= 1 s) after the first", f"{gap} ms")
    expect_eq(e["cooldown_ms"], 4 * COOLDOWN_MS, "cooldown_ms after the second failed trial")
    m = node.metrics()
    expect_eq(metric_value(m, "tnode_dial_errors_total", reason="refused"), 5, "tnode_dial_errors_total{refused}")


t.check("the next trial waits the doubled cool-down (4 s); cool-down then 8 s", doubled_cooldown)
t.finish()
