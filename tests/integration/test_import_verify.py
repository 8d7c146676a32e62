"""tchain on a real store: a forged 10,000-block chain imports, verifies and
reads back (info, block, headers) exactly as forged; export/import round-trips
it; diff finds the fork point; damage, truncation and a foreign genesis are
reported with the height, hash or genesis a user needs to act."""

import os
import struct

from harness import (TestRun, chain_info, expect, expect_eq, expect_in, expect_rc, forge_chain, testnet)

t = TestRun("import and verify")
BLOCKS = 10000
GENESIS_TIME = "2026-01-01T00:00:00Z"
GENESIS_MS = 1767225600000  # GENESIS_TIME in Unix milliseconds
BLOCK_TIME_MS = 1000
SKIP_EVERY = 777
state = {}


def whole_blocks_before(path, cut):
    """How many complete block records of chain file `path` end at or before
    byte offset `cut` (file: magic, u32 len + genesis, then u32 len + block)."""
    with open(path, "rb") as f:
        data = f.read()
    expect(data[:8] == b"TNCHAIN1", f"{path} to start with the chain file magic", repr(data[:8]))
    (glen,) = struct.unpack_from("<I", data, 8)
    pos, count = 12 + glen, 0
    while pos + 4 <= len(data):
        (n,) = struct.unpack_from("<I", data, pos)
        if n == 0xFFFFFFFF or pos + 4 + n > cut:
            break
        pos += 4 + n
        count += 1
    return count


def setup():
    d, out = testnet(t, "net", "--nodes", 3, "--timestamp", GENESIS_TIME, "--block-time", "1s")
    chain = t.path("main.chain")
    state.update(net=d, genesis=out["hash"], chain=chain, tip=forge_chain(t, d, BLOCKS, chain))
    state["a"] = t.path("a")
    r = t.tool("tchain", "--data-dir", state["a"], "--json", "import", chain)
    expect_rc(r, 0)
    j = r.json()
    expect_eq((j.get("imported"), j.get("already_known"), j.get("height"), j.get("tip")),
              (BLOCKS, 0, BLOCKS, state["tip"]), "import --json (imported, already_known, height, tip)")


t.check(f"tforge chain --blocks {BLOCKS} imports into a fresh data dir", setup, required=True)


def verify_ok():
    r = t.tool("tchain", "--data-dir", state["a"], "verify")
    expect_rc(r, 0)
    expect_in(f"{BLOCKS + 1} blocks", r.stdout, "verify output")
    expect_in(state["tip"], r.stdout, "verify output (tip hash)")
    j = t.tool_json("tchain", "--data-dir", state["a"], "--json", "verify")
    expect_eq((j.get("ok"), j.get("blocks_checked"), j.get("height"), j.get("tip")),
              (True, BLOCKS + 1, BLOCKS, state["tip"]), "verify --json (ok, blocks_checked, height, tip)")
    expect("fault" not in j, "no fault in verify --json", j.get("fault"))


t.check(f"verify: exit 0, {BLOCKS + 1} blocks checked", verify_ok)


def info_matches_forge():
    j = chain_info(t, state["a"])
    expect_eq(j.get("height"), BLOCKS, "info height")
    expect_eq(j.get("tip"), state["tip"], "info tip (tforge's printed hash)")
    expect_eq(j.get("genesis"), state["genesis"], "info genesis (testnet's hash)")
    expect_eq((j.get("masternodes"), j.get("block_time_ms")), (3, BLOCK_TIME_MS), "info (masternodes, block_time_ms)")
    r = t.tool("tchain", "--data-dir", state["a"], "info")
    expect_rc(r, 0)
    expect_in(state["tip"], r.stdout, "plain info output")


t.check("info --json: height and tip are tforge's", info_matches_forge)


def block_and_headers():
    a = state["a"]
    b = t.tool_json("tchain", "--data-dir", a, "--json", "block", 5000)
    prev = t.tool_json("tchain", "--data-dir", a, "--json", "block", 4999)
    expect_eq(b.get("height"), 5000, "block 5000 height")
    expect_eq(b.get("parent"), prev.get("hash"), "block 5000 parent = hash of block 4999")
    expect_eq(b.get("main_chain"), True, "block 5000 main_chain")
    expect(b.get("slot", 0) > prev.get("slot", 0), "block 5000's slot after block 4999's",
           (prev.get("slot"), b.get("slot")))
    expect_eq(b.get("timestamp_ms"), GENESIS_MS + b.get("slot", 0) * BLOCK_TIME_MS,
              "block 5000 timestamp (start of its slot)")
    expect(b.get("producer_name") in ("mn1", "mn2", "mn3"), "block 5000 producer to be a genesis masternode",
           b.get("producer_name"))
    expect_eq(f"mn{b.get('slot', 0) % 3 + 1}", b.get("producer_name"), "producer of block 5000 (slot mod 3)")
    expect(len(b.get("transactions", [])) >= 1 and b["transactions"][0].get("kind") == "coinbase",
           "block 5000 to start with a coinbase", b.get("transactions"))
    by_hash = t.tool_json("tchain", "--data-dir", a, "--json", "block", b["hash"])
    expect_eq(by_hash, b, "block looked up by hash vs by height")

    rows = t.tool_json("tchain", "--data-dir", a, "--json", "headers", "--from", 9990, "--count", 5)
    expect_eq([r.get("height") for r in rows], list(range(9990, 9995)), "heights from headers --from 9990 --count 5")
    for lower, upper in zip(rows, rows[1:]):
        expect_eq(upper.get("parent"), lower.get("hash"), f"parent of header {upper.get('height')}")
    b9990 = t.tool_json("tchain", "--data-dir", a, "--json", "block", 9990)
    expect_eq(rows[0].get("hash"), b9990.get("hash"), "headers row 9990 vs block 9990")
    tail = t.tool_json("tchain", "--data-dir", a, "--json", "headers", "--from", BLOCKS - 1, "--count", 5)
    expect_eq([r.get("height") for r in tail], [BLOCKS - 1, BLOCKS], "headers past the tip stop at the tip")
    expect_eq(tail[-1].get("hash"), state["tip"], "last header hash = tip")
    r = t.tool("tchain", "--data-dir", a, "block", BLOCKS + 1)
    expect_rc(r, 1)
    expect_in(str(BLOCKS + 1), r.stderr, "stderr for a block above the tip")


t.check("block 5000 and headers --from 9990 --count 5 are consistent", block_and_headers)


def reimport_is_idempotent():
    r = t.tool("tchain", "--data-dir", state["a"], "--json", "import", state["chain"])
    expect_rc(r, 0)
    j = r.json()
    expect_eq((j.get("imported"), j.get("already_known"), j.get("tip")), (0, BLOCKS, state["tip"]),
              "second import (imported, already_known, tip)")


t.check("importing the same file again adds nothing", reimport_is_idempotent)


def export_import_roundtrip():
    exported = t.path("exported.chain")
    j = t.tool_json("tchain", "--data-dir", state["a"], "--json", "export", exported)
    expect_eq((j.get("blocks"), j.get("height")), (BLOCKS, BLOCKS), "export --json (blocks, height)")
    state["b"] = t.path("b")
    r = t.tool("tchain", "--data-dir", state["b"], "import", exported)
    expect_rc(r, 0)
    jb = chain_info(t, state["b"])
    expect_eq((jb.get("height"), jb.get("tip"), jb.get("genesis")), (BLOCKS, state["tip"], state["genesis"]),
              "(height, tip, genesis) of the store imported from the export")
    d = t.tool_json("tchain", "--json", "diff", state["a"], state["b"])
    expect_eq((d.get("same"), d.get("fork_height")), (True, BLOCKS), "diff A B (same, fork_height)")
    r = t.tool("tchain", "diff", state["a"], state["b"])
    expect_rc(r, 0)
    expect_in("same", r.stdout, "plain diff output of two equal stores")


t.check("export, import into a second dir: same tip; diff says same", export_import_roundtrip)


def diff_finds_fork():
    # The skipping chain leaves slot K empty: heights 1..K-1 are the same
    # blocks as the main chain, height K differs.
    fork_blocks = 9000
    chain = t.path("skip.chain")
    skip_tip = forge_chain(t, state["net"], fork_blocks, chain, "--skip-every", SKIP_EVERY)
    c = t.path("c")
    expect_rc(t.tool("tchain", "--data-dir", c, "import", chain), 0)
    fork = SKIP_EVERY - 1
    same = [t.tool_json("tchain", "--data-dir", x, "--json", "block", fork)["hash"] for x in (state["a"], c)]
    expect_eq(same[1], same[0], f"block {fork} in both stores")
    after = [t.tool_json("tchain", "--data-dir", x, "--json", "block", fork + 1)["hash"] for x in (state["a"], c)]
    expect(after[0] != after[1], f"block {fork + 1} to differ between the stores", after)
    d = t.tool_json("tchain", "--json", "diff", state["a"], c)
    expect_eq((d.get("same"), d.get("fork_height"), d.get("fork_hash")), (False, fork, same[0]),
              "diff (same, fork_height, fork_hash)")
    expect_eq((d["a"].get("only"), d["b"].get("only"), d["b"].get("tip")),
              (BLOCKS - fork, fork_blocks - fork, skip_tip), "diff (A only, B only, B tip)")
    r = t.tool("tchain", "diff", c, state["a"])
    expect_rc(r, 0)
    expect_in("diverged", r.stdout, "plain diff output")
    expect_in(f"{fork} {same[0]}", r.stdout, "plain diff output (common height and hash)")


t.check(f"a chain forged with --skip-every {SKIP_EVERY}: diff reports fork height {SKIP_EVERY - 1}", diff_finds_fork)


def truncated_file():
    with open(state["chain"], "rb") as f:
        data = f.read()
    cut = len(data) // 2
    whole = whole_blocks_before(state["chain"], cut)
    expect(0 < whole < BLOCKS, "the cut to fall inside the block records", whole)
    truncated = t.path("truncated.chain")
    with open(truncated, "wb") as f:
        f.write(data[:cut])
    d = t.path("d")
    r = t.tool("tchain", "--data-dir", d, "import", truncated)
    expect_rc(r, 1)
    expect_in("truncated", r.stderr, "stderr of importing a truncated file")
    expect_in(truncated, r.stderr, "stderr of importing a truncated file (file name)")
    expect_in(f"{whole} blocks imported", r.stderr, "stderr of importing a truncated file (count)")
    j = chain_info(t, d)
    expect_eq(j.get("height"), whole, "height after importing a file cut in the middle")
    ref = t.tool_json("tchain", "--data-dir", state["a"], "--json", "block", whole)
    expect_eq(j.get("tip"), ref.get("hash"), f"tip after the truncated import = block {whole} of the full chain")
    expect_rc(t.tool("tchain", "--data-dir", d, "verify"), 0)


t.check("a truncated chain file: the whole blocks before the cut are imported, exit 1 naming the truncation",
        truncated_file)


def foreign_genesis():
    other, out = testnet(t, "other", "--nodes", 1, "--timestamp", GENESIS_TIME, "--block-time", "1s")
    chain = t.path("other.chain")
    forge_chain(t, other, 10, chain)
    r = t.tool("tchain", "--data-dir", state["a"], "import", chain)
    expect_rc(r, 1)
    expect_in(state["genesis"], r.stderr, "stderr of a foreign import (the store's genesis)")
    expect_in(out["hash"], r.stderr, "stderr of a foreign import (the file's genesis)")
    j = chain_info(t, state["a"])
    expect_eq((j.get("height"), j.get("tip")), (BLOCKS, state["tip"]), "store A after the refused import")
    # --genesis: the file must belong to the named genesis.toml.
    r = t.tool("tchain", "--data-dir", t.path("e"), "import", chain, "--genesis", os.path.join(state["net"],
                                                                                                "genesis.toml"))
    expect_rc(r, 1)
    expect_in(out["hash"], r.stderr, "stderr of import --genesis with another genesis")
    expect(not os.path.exists(os.path.join(t.path("e"), "chain")), "no store created by a refused import",
           "a store was created")


t.check("a chain file of another genesis: exit 1 naming both genesis hashes, store untouched", foreign_genesis)


def corruption_found():
    r = t.tool("tforge", "corrupt", "--data-dir", state["b"], "--height", 4321)
    expect_rc(r, 0)
    bad = r.stdout.strip()
    expect(len(bad) == 64, "tforge corrupt to print the block hash", repr(r.stdout))
    r = t.tool("tchain", "--data-dir", state["b"], "verify")
    expect_rc(r, 1)
    expect_in("4321", r.stderr, "verify stderr (height)")
    expect_in(bad, r.stderr, "verify stderr (hash)")
    r = t.tool("tchain", "--data-dir", state["b"], "--json", "verify")
    expect_rc(r, 1)
    j = r.json()
    expect_eq((j.get("ok"), (j.get("fault") or {}).get("height"), (j.get("fault") or {}).get("hash")),
              (False, 4321, bad), "verify --json (ok, fault.height, fault.hash)")
    # The undamaged store still verifies.
    expect_rc(t.tool("tchain", "--data-dir", state["a"], "verify"), 0)


t.check("tforge corrupt --height 4321: verify exits 1 naming height 4321 and the hash", corruption_found)

t.finish()
