"""Distributed genesis: the same genesis.toml gives the same genesis hash in
any process and any working directory; every argument is part of the hash;
`verify` and `show` report what a user needs; bad files are refused with the
file and key named; key files are private and never overwritten."""

import os

from harness import TestRun, expect, expect_eq, expect_in, expect_rc, file_mode

t = TestRun("genesis determinism")

TIMESTAMP = "2026-06-01T12:00:00Z"
state = {}


def is_hash(text):
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def make_keys():
    keys = t.subdir("keys")
    pubkeys = []
    for i in (1, 2, 3):
        path = os.path.join(keys, f"k{i}.key")
        r = t.tool("tgenesis", "keygen", "--out", path)
        expect_rc(r, 0)
        pk = r.stdout.strip()
        expect(is_hash(pk), f"keygen to print a 64-hex public key for {path}", repr(r.stdout))
        pubkeys.append(pk)
    expect_eq(len(set(pubkeys)), 3, "number of distinct public keys from three keygens")
    state["pubkeys"] = pubkeys
    state["keys_dir"] = keys


t.check("keygen makes three distinct keys", make_keys, required=True)


def genesis_args(**change):
    pk = state["pubkeys"]
    args = {
        "network": "detnet",
        "timestamp": TIMESTAMP,
        "block_time": "5s",
        "masternodes": [f"mn1:{pk[0]}@127.0.0.1:26000", f"mn2:{pk[1]}@127.0.0.1:26002"],
        "allocation": f"{pk[2]}:1000000",
    }
    args.update(change)
    argv = ["--network", args["network"], "--timestamp", args["timestamp"], "--block-time", args["block_time"]]
    for mn in args["masternodes"]:
        argv += ["--masternode", mn]
    argv += ["--allocation", args["allocation"]]
    return argv


def new_genesis(workdir, *argv):
    """`tgenesis new --out genesis.toml ARGS` run inside workdir."""
    r = t.tool("tgenesis", "new", "--out", "genesis.toml", *argv, cwd=workdir)
    expect_rc(r, 0)
    h = r.stdout.strip()
    expect(is_hash(h), "`tgenesis new` to print a 64-hex genesis hash", repr(r.stdout))
    return h


def two_processes_same_hash():
    a, b, c = t.subdir("a"), t.subdir("b"), t.subdir("c")
    ha = new_genesis(a, *genesis_args())
    hb = new_genesis(b, *genesis_args())
    expect_eq(hb, ha, "hash printed by `new` in a second directory")
    # A third process in a third directory hashes both files.
    for d, printed in ((a, ha), (b, hb)):
        r = t.tool("tgenesis", "hash", os.path.relpath(os.path.join(d, "genesis.toml"), c), cwd=c)
        expect_rc(r, 0)
        expect_eq(r.stdout.strip(), printed, f"`tgenesis hash` of {d}/genesis.toml from another directory")
    with open(os.path.join(a, "genesis.toml"), "rb") as fa, open(os.path.join(b, "genesis.toml"), "rb") as fb:
        ba, bb = fa.read(), fb.read()
    expect(ba == bb, "the two genesis.toml files to be byte-identical",
           f"{len(ba)} vs {len(bb)} bytes, differing:\n{ba.decode()}\n---\n{bb.decode()}")
    state["hash"] = ha
    state["file"] = os.path.join(a, "genesis.toml")


t.check("same arguments in two processes and directories: same hash, same bytes", two_processes_same_hash,
        required=True)


def every_argument_counts():
    pk = state["pubkeys"]
    variants = {
        "network": genesis_args(network="detnet2"),
        "timestamp +1s": genesis_args(timestamp="2026-06-01T12:00:01Z"),
        "block time": genesis_args(block_time="6s"),
        "masternode order": genesis_args(masternodes=[f"mn2:{pk[1]}@127.0.0.1:26002",
                                                      f"mn1:{pk[0]}@127.0.0.1:26000"]),
        "masternode name": genesis_args(masternodes=[f"mnX:{pk[0]}@127.0.0.1:26000",
                                                     f"mn2:{pk[1]}@127.0.0.1:26002"]),
        "masternode address": genesis_args(masternodes=[f"mn1:{pk[0]}@127.0.0.1:26004",
                                                        f"mn2:{pk[1]}@127.0.0.1:26002"]),
        "masternode key": genesis_args(masternodes=[f"mn1:{pk[2]}@127.0.0.1:26000",
                                                    f"mn2:{pk[1]}@127.0.0.1:26002"]),
        "allocation amount": genesis_args(allocation=f"{pk[2]}:1000001"),
    }
    seen = {"(unchanged)": state["hash"]}
    for what, argv in variants.items():
        d = t.subdir("variant-" + what.replace(" ", "-").replace("+", ""))
        h = new_genesis(d, *argv)
        clash = [k for k, v in seen.items() if v == h]
        expect(not clash, f"changing the {what} to change the genesis hash", f"the same hash as {clash} ({h})")
        seen[what] = h


t.check("changing any one argument changes the hash", every_argument_counts)


def formatting_does_not_count():
    # The hash is over the canonical genesis, not the text: comments, key
    # order and spacing do not change it.
    with open(state["file"]) as f:
        lines = f.read().splitlines()
    top = [l for l in lines if l.split("=")[0].strip() in ("network", "timestamp", "block_time")]
    rest = [l for l in lines if l not in top]
    text = "# edited by hand\n" + "\n".join(reversed(top)) + "\n\n" + "\n".join(rest).replace(" = ", "=") + "\n"
    path = t.path("reformatted.toml")
    with open(path, "w") as f:
        f.write(text)
    r = t.tool("tgenesis", "hash", path)
    expect_rc(r, 0)
    expect_eq(r.stdout.strip(), state["hash"], f"hash of the same genesis reformatted:\n{text}")


t.check("comments, key order and spacing do not change the hash", formatting_does_not_count)


def verify_right_and_wrong():
    h, path = state["hash"], state["file"]
    r = t.tool("tgenesis", "verify", path, "--hash", h)
    expect_rc(r, 0)
    expect_in(h, r.stdout, "stdout of verify with the right hash")
    wrong = h[:-1] + ("0" if h[-1] != "0" else "1")
    r = t.tool("tgenesis", "verify", path, "--hash", wrong)
    expect_rc(r, 1)
    expect_in(h, r.stderr, "stderr of verify with a wrong hash (the actual hash)")
    expect_in(wrong, r.stderr, "stderr of verify with a wrong hash (the expected hash)")
    r = t.tool("tgenesis", "--json", "verify", path, "--hash", wrong)
    expect_rc(r, 1)
    j = r.json()
    expect_eq((j.get("ok"), j.get("hash"), j.get("expected")), (False, h, wrong), "verify --json (ok, hash, expected)")
    r = t.tool("tgenesis", "verify", path, "--hash", "not-a-hash")
    expect_rc(r, 2)
    expect(r.stderr.strip() != "", "an error on stderr for a malformed --hash", "empty stderr")


t.check("verify --hash: exit 0 when right, 1 naming both hashes when wrong, 2 when malformed",
        verify_right_and_wrong)


def show_json_matches():
    j = t.tool_json("tgenesis", "--json", "show", state["file"])
    pk = state["pubkeys"]
    expect_eq(j.get("hash"), state["hash"], "show --json hash")
    expect_eq(j.get("network"), "detnet", "show --json network")
    expect_eq(j.get("timestamp"), TIMESTAMP, "show --json timestamp")
    expect_eq(j.get("block_time"), "5s", "show --json block_time")
    expect_eq([(m.get("name"), m.get("pubkey"), m.get("address")) for m in j.get("masternodes", [])],
              [("mn1", pk[0], "127.0.0.1:26000"), ("mn2", pk[1], "127.0.0.1:26002")], "show --json masternodes")
    expect_eq([(a.get("pubkey"), a.get("amount")) for a in j.get("allocations", [])], [(pk[2], 1000000)],
              "show --json allocations")
    r = t.tool("tgenesis", "show", state["file"])
    expect_rc(r, 0)
    for text in (state["hash"], "detnet", pk[0], pk[1], "127.0.0.1:26000"):
        expect_in(text, r.stdout, "plain `show` output")


t.check("show --json parses and matches the arguments", show_json_matches)


def edited_copy(name, edit):
    with open(state["file"]) as f:
        text = f.read()
    new = edit(text)
    expect(new != text, f"the test's edit for {name} to change the file")
    path = t.path(name)
    with open(path, "w") as f:
        f.write(new)
    return path


def unknown_key_refused():
    top = edited_copy("unknown-top.toml", lambda s: s.replace('network', 'colour = "blue"\nnetwork', 1))
    r = t.tool("tgenesis", "hash", top)
    expect_rc(r, 1)
    expect_eq(r.stdout, "", "stdout of hash on a bad file")
    expect_in(top, r.stderr, "stderr for an unknown top-level key (file)")
    expect_in("colour", r.stderr, "stderr for an unknown top-level key (key)")
    inner = edited_copy("unknown-mn.toml", lambda s: s.replace('name', 'weight = 3\nname', 1))
    r = t.tool("tgenesis", "hash", inner)
    expect_rc(r, 1)
    expect_in(inner, r.stderr, "stderr for an unknown masternode key (file)")
    expect_in("masternodes[0].weight", r.stderr, "stderr for an unknown masternode key (key)")


t.check("a genesis with an unknown key: exit 1 naming the file and the key", unknown_key_refused)


def bad_pubkey_refused():
    pk = state["pubkeys"][1]
    for name, bad in (("bad-pubkey-hex.toml", "zz" + pk[2:]), ("bad-pubkey-short.toml", pk[:-2])):
        path = edited_copy(name, lambda s: s.replace(pk, bad))
        for cmd in ("hash", "show"):
            r = t.tool("tgenesis", cmd, path)
            expect_rc(r, 1)
            expect_in(path, r.stderr, f"stderr of `{cmd}` for a bad pubkey (file)")
            expect_in("masternodes[1].pubkey", r.stderr, f"stderr of `{cmd}` for a bad pubkey (key)")


t.check("a genesis with a bad pubkey: exit 1 naming the file and the key", bad_pubkey_refused)


def keygen_refuses_overwrite():
    path = os.path.join(state["keys_dir"], "k1.key")
    expect_eq(oct(file_mode(path)), oct(0o600), f"mode of {path}")
    with open(path, "rb") as f:
        before = f.read()
    r = t.tool("tgenesis", "keygen", "--out", path)
    expect_rc(r, 1)
    expect_in(path, r.stderr, "stderr of keygen over an existing file")
    with open(path, "rb") as f:
        expect(f.read() == before, f"{path} to be unchanged after a refused keygen", "its bytes changed")
    expect_eq(oct(file_mode(path)), oct(0o600), f"mode of {path} after a refused keygen")
    j = t.tool_json("tgenesis", "--json", "keygen", "--out", t.path("k4.key"))
    expect_eq(j.get("key_file"), t.path("k4.key"), "keygen --json key_file")
    expect(is_hash(j.get("pubkey", "")), "keygen --json to give a 64-hex pubkey", j)
    expect_eq(oct(file_mode(t.path("k4.key"))), oct(0o600), "mode of a key made with --json")


t.check("keygen: key files are mode 0600 and never overwritten", keygen_refuses_overwrite)


def new_refuses_overwrite():
    d = os.path.dirname(state["file"])
    with open(state["file"], "rb") as f:
        before = f.read()
    r = t.tool("tgenesis", "new", "--out", "genesis.toml", *genesis_args(network="other"), cwd=d)
    expect_rc(r, 1)
    expect_in("genesis.toml", r.stderr, "stderr of `new` over an existing file")
    with open(state["file"], "rb") as f:
        expect(f.read() == before, "genesis.toml unchanged after a refused `new`", "its bytes changed")
    h = new_genesis(d, *genesis_args(network="other"), "--force")
    expect(h != state["hash"], "`new --force` to write the new genesis", f"the old hash {h}")


t.check("new: refuses to replace a genesis file unless --force", new_refuses_overwrite)

t.finish()
