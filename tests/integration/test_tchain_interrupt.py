"""`tchain export` and `tchain import` interrupted by SIGINT/SIGTERM: export
deletes its .partial file, leaves no chain file and exits 130/143 saying so;
import stops between two atomic batches, prints its summary (blocks imported,
where it stopped, that a rerun resumes) and exits 130; the store it leaves
verifies, and the same import run again completes the chain.

The signal must land mid-way: the tool is stopped (SIGSTOP) once it has
visibly started, and is signalled only when what it has written so far shows
that work remains (partial file well short of the whole; store height well
below the chain's). When the tool ran past that point first (a fast machine),
the attempt is repeated on a fresh file or store, a few times at most."""

import filecmp
import os
import signal
import time

from harness import (CheckFailed, TestRun, chain_info, expect, expect_eq, expect_in, expect_rc, forge_chain,
                     testnet)

t = TestRun("tchain interrupted")
BLOCKS = 50000
ATTEMPTS = 6
START_TIMEOUT = 60.0  # seconds for the tool to show that it started
IMPORT_BATCH = 1024  # kImportBatch in apps/tchain/tchain.cpp
state = {}


def wait_for(predicate, timeout, describe):
    """Polls predicate() every 2 ms (the tool may be quick) until it is true
    or the tool exited; returns the predicate's last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(0.002)


def setup():
    net, _out = testnet(t, "net", "--nodes", 2, "--timestamp", "2026-01-01T00:00:00Z", "--block-time", "1s")
    state["chain"] = t.path("forged.chain")
    state["tip"] = forge_chain(t, net, BLOCKS, state["chain"], timeout=300)
    state["src"] = t.path("src")
    expect_rc(t.tool("tchain", "--data-dir", state["src"], "import", state["chain"], timeout=300), 0)
    expect_eq(chain_info(t, state["src"]).get("height"), BLOCKS, "source store height")


t.check(f"a forged {BLOCKS}-block chain imported into a source store", setup, required=True)


def interrupted_export(signo):
    full = os.path.getsize(state["chain"])  # export writes the same bytes as tforge
    margin = 64 * 1024  # more than stdio's buffer: what may not be on disk yet
    for attempt in range(1, ATTEMPTS + 1):
        out = t.path(f"export-{signo.name}-{attempt}.chain")
        partial = out + ".partial"
        p = t.spawn_tool("tchain", "--data-dir", state["src"], "export", out)
        started = wait_for(lambda: (os.path.exists(partial) and os.path.getsize(partial) > 0) or not p.running(),
                           START_TIMEOUT, f"{partial} to appear")
        expect(started, f"{partial} to appear within {START_TIMEOUT}s", "it did not")
        p.proc.send_signal(signal.SIGSTOP)
        written = os.path.getsize(partial) if os.path.exists(partial) else None
        if not p.running() or written is None or written > full - margin:
            p.proc.send_signal(signal.SIGCONT)
            expect_rc(p.result(), 0)  # too late to interrupt: it must then have succeeded
            t.note(f"export attempt {attempt}: finished before it could be interrupted ({written} of {full} bytes)")
            continue
        p.proc.send_signal(signo)
        p.proc.send_signal(signal.SIGCONT)
        r = p.result()
        expect_rc(r, 128 + signo)
        expect_in(f"interrupted by {signo.name} after", r.stderr, "export's error")
        expect_in(f"removed {partial}", r.stderr, "export's error")
        expect_in(f"{out} was not written", r.stderr, "export's error")
        expect(not os.path.exists(partial), f"{partial} to be deleted", "it is still there")
        expect(not os.path.exists(out), f"no {out}", "it exists")
        t.note(f"export attempt {attempt}: interrupted by {signo.name} with {written} of {full} bytes written")
        # The same export then completes.
        expect_rc(t.tool("tchain", "--data-dir", state["src"], "export", out, timeout=300), 0)
        expect(filecmp.cmp(out, state["chain"], shallow=False), f"{out} to equal the forged chain file",
               "it differs")
        expect(not os.path.exists(partial), f"no {partial} after a complete export", "it is there")
        return
    raise CheckFailed(f"expected an export to be caught mid-way in {ATTEMPTS} attempts, each finished first")


t.check("export interrupted by SIGINT: .partial deleted, exit 130, a rerun completes",
        lambda: interrupted_export(signal.SIGINT))
t.check("export interrupted by SIGTERM: .partial deleted, exit 143",
        lambda: interrupted_export(signal.SIGTERM))


def store_height(data_dir):
    """The height a read-only open sees, or None before the store exists."""
    r = t.tool("tchain", "--data-dir", data_dir, "--json", "info")
    return r.json().get("height") if r.rc == 0 else None


def reference_hash(height):
    return t.tool_json("tchain", "--data-dir", state["src"], "--json", "block", height)["hash"]


def interrupted_import():
    for attempt in range(1, ATTEMPTS + 1):
        dst = t.path(f"import-{attempt}")
        p = t.spawn_tool("tchain", "--data-dir", dst, "import", state["chain"])
        wait_for(lambda: not p.running() or (store_height(dst) or 0) >= 1, START_TIMEOUT,
                 f"{dst} to hold a block")
        p.proc.send_signal(signal.SIGSTOP)
        seen = store_height(dst) if p.running() else None
        # One batch may be on its way into the store and the next one read:
        # with more than that left, a signal now lands before the last batch.
        if seen is None or seen + 4 * IMPORT_BATCH > BLOCKS:
            p.proc.send_signal(signal.SIGCONT)
            expect_rc(p.result(), 0)
            t.note(f"import attempt {attempt}: finished before it could be interrupted (height {seen})")
            continue
        p.proc.send_signal(signal.SIGINT)
        p.proc.send_signal(signal.SIGCONT)
        r = p.result()
        if r.rc == 0:  # the store view lagged behind the importer: not interrupted, try again
            t.note(f"import attempt {attempt}: finished although height {seen} was seen; retrying")
            continue
        expect_rc(r, 130)
        info = chain_info(t, dst)
        height, tip = info.get("height"), info.get("tip")
        expect(seen <= height < BLOCKS, f"the interrupted store's height in [{seen}, {BLOCKS})", height)
        expect_in(f"interrupted: imported {height} blocks (0 already known); tip {height} {tip}", r.stdout,
                  "import's summary")
        expect_in("interrupted by SIGINT after block", r.stderr, "import's error")
        expect_in(f"the store is consistent at height {height}", r.stderr, "import's error")
        expect_in("run the same import again to resume", r.stderr, "import's error")
        v = t.tool("tchain", "--data-dir", dst, "--json", "verify", timeout=300)
        expect_rc(v, 0)
        expect_eq((v.json().get("ok"), v.json().get("height")), (True, height), "verify (ok, height)")
        expect_eq(tip, reference_hash(height), f"tip = the forged block at height {height}")
        t.note(f"import attempt {attempt}: interrupted at height {height} of {BLOCKS} (seen {seen} when stopped)")
        again = t.tool("tchain", "--data-dir", dst, "--json", "import", state["chain"], timeout=300)
        expect_rc(again, 0)
        j = again.json()
        expect_eq((j.get("imported"), j.get("already_known"), j.get("height"), j.get("tip")),
                  (BLOCKS - height, height, BLOCKS, state["tip"]),
                  "the rerun's (imported, already_known, height, tip)")
        return
    raise CheckFailed(f"expected an import to be caught mid-way in {ATTEMPTS} attempts, each finished first")


t.check("import interrupted by SIGINT: summary, exit 130, store verifies, a rerun resumes", interrupted_import)

t.finish()
