"""Crash safety of the store: `tchain import` killed with SIGKILL at random
moments, round after round on the same data dir, always leaves a store that
reopens, verifies, never goes backwards, and whose tip is exactly the forged
block at its height; a final import completes the chain.

Reproduce a run with TNODE_TEST_SEED=<seed printed below>; change the number
of rounds with TNODE_CRASH_ROUNDS."""

import os
import random
import time

from harness import TestRun, chain_info, expect, expect_eq, expect_in, expect_rc, forge_chain, testnet

t = TestRun("crash safety of import")
BLOCKS = 50000  # a full import takes several seconds, so most kills land mid-write
ROUNDS_WANTED = os.environ.get("TNODE_CRASH_ROUNDS")  # default: 20, fewer where an import is slow (below)
KILL_BUDGET_S = 60.0  # about how long the kill rounds may take together
# Each kill lands at a random fraction of how long a whole import took here
# (measured in setup): a slow machine or a sanitizer build scales the kill
# moments with it, so they still land while blocks are written.
MIN_FRACTION, MAX_FRACTION = 0.02, 0.5
SEED = int(os.environ.get("TNODE_TEST_SEED") or random.SystemRandom().randrange(2**32))
rng = random.Random(SEED)
t.note(f"seed {SEED} (set TNODE_TEST_SEED={SEED} to replay), kill after "
       f"{MIN_FRACTION:.0%}-{MAX_FRACTION:.0%} of a whole import's time")

state = {"height": None}
outcomes = {"killed while adding blocks": 0, "killed with no new block stored": 0,
            "killed before the store existed": 0, "finished early": 0}


def reference_hash(height):
    return t.tool_json("tchain", "--data-dir", state["ref"], "--json", "block", height)["hash"]


def setup():
    net, _out = testnet(t, "net", "--nodes", 2, "--timestamp", "2026-01-01T00:00:00Z", "--block-time", "1s")
    state["chain"] = t.path("chain.bin")
    state["tip"] = forge_chain(t, net, BLOCKS, state["chain"])
    state["ref"] = t.path("reference")
    started = time.monotonic()
    expect_rc(t.tool("tchain", "--data-dir", state["ref"], "import", state["chain"], timeout=120), 0)
    state["import_ms"] = (time.monotonic() - started) * 1000
    t.note(f"a whole import of {BLOCKS} blocks took {state['import_ms']:.0f} ms here")
    j = chain_info(t, state["ref"])
    expect_eq((j.get("height"), j.get("tip")), (BLOCKS, state["tip"]), "reference store (height, tip)")
    state["dir"] = t.path("victim")


t.check(f"reference: a forged {BLOCKS}-block chain imported in full once", setup, required=True)


def crash_round(n, delay_ms):
    p = t.spawn_tool("tchain", "--data-dir", state["dir"], "import", state["chain"])
    time.sleep(delay_ms / 1000.0)  # the randomized kill moment, not a synchronisation
    killed = p.kill9()
    if not killed:
        expect_rc(p.result(), 0)  # it finished before the kill: it must have succeeded
    r = t.tool("tchain", "--data-dir", state["dir"], "--json", "verify", timeout=120)
    if killed and state["height"] is None and r.rc == 1 and "no chain store" in r.stderr:
        # Killed before the genesis batch landed: nothing to check yet, the
        # next round's import must initialise the store.
        outcomes["killed before the store existed"] += 1
        t.note(f"round {n}: killed after {delay_ms} ms before the store was initialised ({r.stderr.strip()})")
        return
    expect_rc(r, 0)
    v = r.json()
    info = chain_info(t, state["dir"])
    height, tip = info.get("height"), info.get("tip")
    expect_eq((v.get("height"), v.get("tip")), (height, tip), "verify's (height, tip) vs info's")
    prev = state["height"]
    expect(prev is None or height >= prev, f"height to be >= the previous round's {prev}", height)
    expect_eq(tip, reference_hash(height), f"tip = the forged block at height {height}")
    if not killed:
        expect_eq((height, tip), (BLOCKS, state["tip"]), "(height, tip) after an import that finished")
        outcomes["finished early"] += 1
    elif prev is None or height > prev:
        outcomes["killed while adding blocks"] += 1
    else:
        outcomes["killed with no new block stored"] += 1
    state["height"] = height
    t.note(f"round {n}: {'killed' if killed else 'finished'} after {delay_ms} ms, height {height}")


def creation_kills():
    """Kills landing while the store is being created (0-60 ms after start)
    leave no store or a complete one, never a half-made database that every
    later open refuses."""
    seen = {"no store": 0, "initialised": 0}
    for i in range(12):
        d = t.path(f"create{i}")
        p = t.spawn_tool("tchain", "--data-dir", d, "import", state["chain"])
        time.sleep(rng.randint(0, 60) / 1000.0)  # the randomized kill moment, not a synchronisation
        p.kill9()
        r = t.tool("tchain", "--data-dir", d, "--json", "verify", timeout=120)
        if r.rc == 1 and "no chain store" in r.stderr:
            seen["no store"] += 1
        else:
            expect_rc(r, 0)
            seen["initialised"] += 1
        # Whatever was left, importing again completes it.
        expect_rc(t.tool("tchain", "--data-dir", d, "import", state["chain"], timeout=120), 0)
        expect_eq(chain_info(t, d).get("tip"), state["tip"], f"tip after re-import into {d}")
    t.note(f"kills during creation: {seen}")


t.check("kill -9 while the store is being created: no store or a whole one", creation_kills)

# 20 rounds, fewer when a whole import is slow (a sanitizer build), so the
# rounds stay within about KILL_BUDGET_S; at least 5.
ROUNDS = int(ROUNDS_WANTED) if ROUNDS_WANTED else max(
    5, min(20, int(KILL_BUDGET_S * 1000 / max(state.get("import_ms", 1000), 1.0))))
t.note(f"{ROUNDS} rounds")
for n in range(1, ROUNDS + 1):
    delay = int(rng.uniform(MIN_FRACTION, MAX_FRACTION) * state.get("import_ms", 1000))
    t.check(f"round {n}: kill -9 at {delay} ms into an import; store verifies, height monotone, tip is the forged block",
            lambda n=n, delay=delay: crash_round(n, delay))


def final_import():
    r = t.tool("tchain", "--data-dir", state["dir"], "import", state["chain"], timeout=120)
    expect_rc(r, 0)
    expect_in(state["tip"], r.stdout, "import output (tip)")
    j = chain_info(t, state["dir"])
    expect_eq((j.get("height"), j.get("tip")), (BLOCKS, state["tip"]), "(height, tip) after the final import")
    expect_rc(t.tool("tchain", "--data-dir", state["dir"], "verify", timeout=120), 0)
    d = t.tool_json("tchain", "--json", "diff", state["dir"], state["ref"])
    expect_eq(d.get("same"), True, "diff against the reference: same")


t.check("a final import completes: tip = the reference tip", final_import)


def kills_happened():
    killed = ROUNDS - outcomes["finished early"]
    t.note(f"{killed} of {ROUNDS} rounds killed a running import, {outcomes['finished early']} finished early; "
           + ", ".join(f"{k}: {v}" for k, v in outcomes.items()))
    expect(outcomes["killed while adding blocks"] >= 1,
           "at least one round to kill an import while it was adding blocks (else nothing was tested; "
           "make the chain longer)", outcomes)


t.check("some kills landed while blocks were being written", kills_happened)

t.finish()
