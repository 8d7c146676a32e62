"""Restart reconnect (TESTING.md): kill -9 one of 4 connected masternodes and
restart it with the same config. Every other node has it back in /peers
(with its new session) within 5 s of the restart, and it has its 3 peers.
Every setting stays at its default (idle_timeout 90 s, ping_interval 5 s,
base_delay 5 s), so passing proves nobody waited for an idle timeout or a
long backoff: the new connection replaces the old one at once.

On loopback kill -9 closes the dead node's sockets, so its peers read EOF at
once. The second part is the harder case of a host that froze (the old TCP
connections stay open and silent): node2 is stopped with SIGSTOP and the
same key comes back as a new process (a copy of node2's key and config, on
other ports, because the frozen process still holds node2's). Its peers must
replace the stale connection with the new session at once (reason
stale_session), within 5 s, with idle_timeout still 90 s."""

import os
import shutil
import signal
import time

from harness import CheckFailed, TestRun, expect, expect_eq, poll
from nodes import Node, start_testnet
from ports import free_port_range
from prom import by_label, metric_value

N = 4
VICTIM = 2
RECONNECT_DEADLINE = 5.0  # seconds from the restart

t = TestRun("restart reconnect")
state = {}


def setup():
    net = start_testnet(t, "net", N)
    state["net"] = net
    net.start_all()
    net.wait_connected(15.0)
    victim = net[VICTIM]
    # The victim's session as its peers see it, before the kill.
    state["old_session"] = {n.name: next(p["session"] for p in n.peers()["peers"] if p["node_id"] == victim.pubkey)
                            for n in net if n is not victim}
    sessions = set(state["old_session"].values())
    expect(len(sessions) == 1, f"every peer to see one session for node{VICTIM}", sessions)


t.check(f"{N} masternodes fully connected", setup, required=True)


def kill_and_restart():
    net = state["net"]
    victim = net[VICTIM]
    expect(victim.kill9(), f"node{VICTIM} to be ended by SIGKILL", f"exit code {victim.proc.returncode}")
    # Restart at once, same config and data dir, same ports.
    state["restart_at"] = time.monotonic()
    victim.restart()


t.check(f"kill -9 node{VICTIM}, restart it with the same config", kill_and_restart, required=True)


def others_see_new_session():
    net = state["net"]
    victim = net[VICTIM]
    others = [n for n in net if n is not victim]

    def back():
        missing = []
        for n in others:
            rows = [p for p in n.peers()["peers"] if p["node_id"] == victim.pubkey]
            if len(rows) != 1:
                missing.append(f"{n.name}: {len(rows)} entries for node{VICTIM}")
            elif rows[0]["session"] == state["old_session"][n.name]:
                missing.append(f"{n.name}: still the old session")
        return (not missing, "; ".join(missing))

    remaining = RECONNECT_DEADLINE - (time.monotonic() - state["restart_at"])
    poll(back, max(0.1, remaining), f"node{VICTIM} (new session) in every other node's /peers "
         f"{RECONNECT_DEADLINE:.0f}s after the restart", interval=0.02)
    took = time.monotonic() - state["restart_at"]
    state["took"] = took
    t.note(f"every other node had node{VICTIM}'s new session {took:.2f}s after the restart")


t.check(f"within {RECONNECT_DEADLINE:.0f}s of the restart every other node lists node{VICTIM} with a new session",
        others_see_new_session)


def victim_has_all():
    net = state["net"]
    victim = net[VICTIM]
    remaining = RECONNECT_DEADLINE - (time.monotonic() - state["restart_at"])
    want = sorted(n.pubkey for n in net if n is not victim)
    poll(lambda: (victim.peer_ids() == want, [net.name_of(i) for i in victim.peer_ids()]), max(0.1, remaining),
         f"node{VICTIM} to list exactly the other {N - 1} nodes")
    status, h = victim.health()
    expect_eq((status, h.get("status"), h.get("peers", {}).get("masternodes")), (200, "ok", N - 1),
              f"node{VICTIM} /health (status code, status, masternodes)")


t.check(f"node{VICTIM} has its {N - 1} peers and /health 200 ok", victim_has_all)


def mesh_intact():
    net = state["net"]
    ok, seen = net.connectivity()
    expect(ok, "every node to list exactly the other 3 (no duplicate or missing entry)", seen)
    # One entry per peer and, between the survivors, the old connections untouched.
    for n in net:
        if n.index == VICTIM:
            continue
        status, h = n.health()
        if status != 200 or h.get("status") != "ok":
            raise CheckFailed(f"expected {n.name} /health 200 ok, saw {status} {h}")


t.check("the whole mesh is intact again (every node lists exactly the other 3)", mesh_intact)


def closes_explained():
    # How the survivors learned of the death: the kernel closed node2's
    # sockets, so they read EOF/reset at once (not an idle timeout).
    net = state["net"]
    reasons = {}
    for n in net:
        if n.index == VICTIM:
            continue
        for k, v in by_label(n.metrics(), "tnode_disconnects_total", "reason").items():
            reasons[k] = reasons.get(k, 0) + v
    t.note(f"survivors' disconnects by reason: {reasons}")
    expect(reasons.get("timeout", 0) == 0, "no disconnect by idle timeout", reasons)
    lost = sum(v for k, v in reasons.items() if k != "duplicate")
    expect(lost >= N - 1, f"at least {N - 1} closes (one per survivor's connection to node{VICTIM})", reasons)


t.check("survivors counted the lost connection (not as an idle timeout)", closes_explained)


# ------------------------------------------------------------------ part 2: a frozen host


def freeze_and_clone():
    net = state["net"]
    victim = net[VICTIM]
    state["frozen_session"] = {n.name: next(p["session"] for p in n.peers()["peers"] if p["node_id"] == victim.pubkey)
                               for n in net if n is not victim}
    state["stale_before"] = {n.name: metric_value(n.metrics(), "tnode_disconnects_total", reason="stale_session")
                             for n in net if n is not victim}
    victim.proc.proc.send_signal(signal.SIGSTOP)
    state["frozen"] = victim.proc
    # node2's identity in a new directory (the frozen process holds the old
    # store's lock and ports).
    clone_dir = os.path.join(net.dir, "node2-clone")
    os.makedirs(clone_dir)
    for f in ("node.key", "tnode.toml"):
        shutil.copy2(os.path.join(victim.dir, f), os.path.join(clone_dir, f))
    base = free_port_range(2)
    clone = Node(t, VICTIM, {"name": "node2-clone", "config": os.path.join(clone_dir, "tnode.toml"),
                             "dir": clone_dir, "listen": f"127.0.0.1:{base}", "http": f"127.0.0.1:{base + 1}",
                             "pubkey": victim.pubkey, "role": victim.role}, net.dir)
    state["clone"] = clone
    state["clone_at"] = time.monotonic()
    clone.start(f"network.listen=127.0.0.1:{base}", f"http.listen=127.0.0.1:{base + 1}")


t.check(f"node{VICTIM} frozen (SIGSTOP); its key restarted as a new process on other ports", freeze_and_clone,
        required=True)


def stale_replaced():
    net = state["net"]
    clone = state["clone"]
    others = [n for n in net if n.index != VICTIM]

    def replaced():
        waiting = []
        for n in others:
            rows = [p for p in n.peers()["peers"] if p["node_id"] == clone.pubkey]
            if len(rows) != 1:
                waiting.append(f"{n.name}: {len(rows)} entries for node{VICTIM}")
            elif rows[0]["session"] == state["frozen_session"][n.name]:
                waiting.append(f"{n.name}: still the frozen process's session")
            elif rows[0]["listen_address"] != clone.listen:
                waiting.append(f"{n.name}: listen_address {rows[0]['listen_address']}, expected {clone.listen}")
        return (not waiting, "; ".join(waiting))

    remaining = RECONNECT_DEADLINE - (time.monotonic() - state["clone_at"])
    poll(replaced, max(0.1, remaining), f"every other node to have replaced the frozen node{VICTIM}'s connection "
         f"with the new session within {RECONNECT_DEADLINE:.0f}s", interval=0.02)
    t.note(f"stale connections replaced {time.monotonic() - state['clone_at']:.2f}s after the new process started")


t.check(f"within {RECONNECT_DEADLINE:.0f}s the new session replaces the frozen one at every peer (no idle timeout)",
        stale_replaced)


def stale_counted():
    net = state["net"]
    short = []
    for n in net:
        if n.index == VICTIM:
            continue
        # The close of the stale connection is counted once it finished
        # (graceful close, bounded by the linger time).
        def counted(n=n):
            v = metric_value(n.metrics(), "tnode_disconnects_total", reason="stale_session")
            was = state["stale_before"][n.name]
            return (v >= was + 1, f"{n.name}: {v:g} (before {was:g})")
        try:
            poll(counted, 5.0, f"{n.name}'s tnode_disconnects_total{{reason=\"stale_session\"}} to grow by 1")
        except CheckFailed as e:
            short.append(str(e))
    expect(not short, "every survivor to count the replaced connection as stale_session", "; ".join(short))


t.check("each survivor counts one close with reason stale_session", stale_counted)


def clone_has_all():
    net = state["net"]
    clone = state["clone"]
    want = sorted(n.pubkey for n in net if n.index != VICTIM)
    poll(lambda: (clone.peer_ids() == want, [net.name_of(i) for i in clone.peer_ids()]), 5.0,
         f"the new node{VICTIM} process to list exactly the other {N - 1} nodes")
    state["frozen"].kill9()


t.check(f"the new node{VICTIM} process has its {N - 1} peers", clone_has_all)
t.finish()
