"""Automatic ban at ban_threshold (DESIGN.md 6: "a peer whose score reaches
ban_threshold ... is banned").

A fake peer (node2's identity, advertising a listen port) connects to node1 and sends a frame with a bad
checksum, again and again. Each handshake earns +5, each protocol violation
costs -25; at the default ban_threshold (-50) node1 bans it:
  * after at most 4 rounds its handshake is refused with reason banned;
  * /bans gives the reason ("score s reached ban_threshold") with s <= -50;
  * the listen address it announced is unverified in /addrbook (no node id)
    and neither banned nor scored down: the penalty went to the node id."""

from harness import TestRun, expect, expect_in, poll
from nodes import start_testnet
from ports import free_port_range

t = TestRun("automatic ban at ban_threshold")
state = {}


def setup():
    net = start_testnet(t, "net", 2, masternodes=1, block_time="1s")
    net[1].start()
    net[1].wait_http()
    state.update(n1=net[1], n2=net[2], port=free_port_range(1))


t.check("node1 running", setup, required=True)


def banned():
    n1, n2, port = state["n1"], state["n2"], state["port"]
    outputs = []
    for round_ in range(1, 6):
        fake = t.spawn_tool("fake_peer", "--config", n2.config, "--connect", n1.listen, "--mode", "garbage",
                            "--listen-port", str(port))
        poll(lambda: (not fake.running(), fake.stdout()), 10.0, f"round {round_} to end")
        outputs.append(fake.stdout().strip().replace("\n", " | "))
        if "fail rejected:banned" in fake.stdout():
            break
        expect_in("closed: ", fake.stdout(), f"round {round_}: node1 closing the violating connection")
    t.note(f"rounds: {outputs}")
    expect("fail rejected:banned" in outputs[-1] and len(outputs) <= 4,
           "the handshake refused with reason banned within 4 rounds", outputs)
    bans = n1.get_ok("/bans")["bans"]
    expect(any(b["node_id"] == n2.pubkey and "reached ban_threshold" in b["reason"] for b in bans),
           "a ban of node2's id at /bans naming ban_threshold", bans)
    reason = next(b["reason"] for b in bans if b["node_id"] == n2.pubkey)
    score = int(reason.split("score ", 1)[1].split()[0])
    expect(score <= -50, "the node id's score at or below ban_threshold (-50), as the reason gives it", reason)
    # The listen address it announced was never dialled and verified: it
    # carries no node id, and the penalties were not charged to it (DESIGN.md
    # 11: a penalty goes to the connection, not to an address someone else
    # may own).
    entry = n1.address(f"127.0.0.1:{port}")
    expect(entry["node_id"] is None, f"127.0.0.1:{port} unverified (no node id) in /addrbook", entry)
    expect(not entry["banned"] and entry["score"] > -50, f"127.0.0.1:{port} neither banned nor scored down", entry)


t.check("repeated protocol violations bring the score to ban_threshold: banned", banned)
t.finish()
