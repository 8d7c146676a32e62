"""Flapping link (issue 12): masternode n1's links go down and up every 3 s
for a minute, on 4 hosts (3 masternodes, 1 regular), 1 s slots. Keep-alive
settings short enough that each 3 s outage kills the connections
(ping_interval 1 s, ping_timeout 1 s): every outage is a real disconnect and
every reconnection a real dial.

  * each peer's dial attempts to and from n1 are counted (/addrbook
    total_attempts) and bounded: no more than one every 2 s on average per
    address over the minute (a reconnect storm would be hundreds);
  * n1 really was cut each time (disconnects counted by the others);
  * when the flapping stops, all four are connected and on one tip within
    15 s.

Figures printed: attempts per address, disconnects, time back in sync."""

import time

from harness import TestRun, expect, poll
from lab import Lab, one_tip, tips

N = 4
MASTERNODES = 3
PERIOD = 3.0
FLAP_SECONDS = 60.0
MAX_ATTEMPTS = int(FLAP_SECONDS / 2)  # per address over the minute
SETS = ["network.ping_interval=1s", "network.ping_timeout=1s"]

t = TestRun("fault: flapping link")
lab = Lab.or_not_run(t)
state = {}
N1 = "10.77.0.1:24100"


def attempts():
    """{(dialler, address): total_attempts} for every dial to or from n1."""
    out = {}
    for i in range(1, N + 1):
        _, book = lab.http_json(i, "/addrbook")
        for a in book["addresses"]:
            if (i == 1) != (a["address"] == N1):  # n1 dialling out, or the others dialling n1
                out[(f"n{i}", a["address"])] = a["total_attempts"]
    return out


def up():
    lab.up(N, masternodes=MASTERNODES, block_time="1s", sets=SETS)

    def connected():
        counts = {i: len(lab.peer_ids(i)) for i in range(1, N + 1)}
        return all(c == N - 1 for c in counts.values()), counts

    poll(connected, 30.0, f"all {N} connected", interval=0.3)
    state["attempts"] = attempts()
    state["disconnects"] = {i: sum(v for (n, lbl), v in lab.metrics(i).items() if n == "tnode_disconnects_total")
                            for i in range(2, N + 1)}


t.check(f"up {N} ({MASTERNODES} masternodes, pings every 1s, 1s to answer)", up, required=True)


def flap():
    lab.fault("flap", 1, f"{int(PERIOD)}s")
    # The fault's duration: the link flaps for a minute.
    time.sleep(FLAP_SECONDS)
    lab.fault("heal")
    state["healed"] = time.monotonic()
    after = attempts()
    made = {k: after.get(k, 0) - state["attempts"].get(k, 0) for k in after}
    t.note("dial attempts during the minute, per (dialler, address): "
           + ", ".join(f"{d}->{a} {v}" for (d, a), v in sorted(made.items())))
    disconnects = {i: sum(v for (n, lbl), v in lab.metrics(i).items() if n == "tnode_disconnects_total")
                   - state["disconnects"][i] for i in range(2, N + 1)}
    t.note(f"disconnects counted by n2..n{N} during the minute: {disconnects}")
    expect(sum(disconnects.values()) >= 3, "the outages to have cut connections (each is a real disconnect)",
           disconnects)
    storm = {k: v for k, v in made.items() if v > MAX_ATTEMPTS}
    expect(not storm, f"at most {MAX_ATTEMPTS} attempts per address in {FLAP_SECONDS:.0f}s (no reconnect storm)",
           storm)


t.check(f"flap n1 every {PERIOD:.0f}s for {FLAP_SECONDS:.0f}s: attempts bounded, no storm", flap, required=True)


def back():
    def together():
        counts = {i: len(lab.peer_ids(i)) for i in range(1, N + 1)}
        same = one_tip(lab.status())
        return all(c == N - 1 for c in counts.values()) and same[0], f"peers {counts}; tips {same[1]}"

    poll(together, 15.0, "all connected and on one tip within 15s of the flapping stopping", interval=0.2)
    t.note(f"back in sync {time.monotonic() - state['healed']:.1f}s after the flapping stopped")


t.check("when it stops: all connected, one tip", back)
t.finish()
