"""Addresses are what peers say they are, and that is checked (DESIGN.md 11,
issue 14): a node announces its own address in its signed Hello, and its
outbound connections leave from its listen address.

Four nodes on one host, each listening on a loopback address of its own and
all on the SAME port: mn1 127.0.0.1:P and mn2 127.0.0.2:P (masternodes),
reg3 127.0.0.3:P and reg4 127.0.0.4:P (regular nodes). Written by
`tgenesis network`, whose configs are then edited to listen on the node's
own address with no external_address, so what is announced is the listen
address. Before the change, every node's outbound connection came from
127.0.0.1, and its peers pieced its address together as 127.0.0.1:P: the
masternode mn1's own address. Checks:
  * everyone connects to everyone;
  * every node's /peers shows each peer at that peer's own listen address;
  * every inbound connection comes from the peer's listen IP (the inbound
    side's /peers `address`), so outbound connections leave from there;
  * no node's /addrbook holds an address that is not one of the four listen
    addresses, nor a node id other than the one listening there: a regular
    node's id is never on a masternode's record; also after the chain has
    grown and addresses have been gossiped."""

import re

from harness import TestRun, expect, expect_eq, poll
from nodes import Node, wait_same_tip
from ports import all_free, free_port_range

t = TestRun("announced addresses")
HOSTS = [("mn1", "127.0.0.1"), ("mn2", "127.0.0.2"), ("reg3", "127.0.0.3"), ("reg4", "127.0.0.4")]
MASTERNODES = 2
CONNECT_TIMEOUT = 30.0
state = {}


def shared_port():
    """A port below the ephemeral range that is free on all four addresses."""
    for _ in range(50):
        port = free_port_range(1)
        if all_free(port, 1, [ip for _, ip in HOSTS]):
            return port
    raise AssertionError("no port free on 127.0.0.1-4")


def listen_on_own_address(config, listen):
    """The config listens on `listen` itself and sets no external_address."""
    with open(config) as f:
        text = f.read()
    text, n_listen = re.subn(r'(?m)^listen = "0\.0\.0\.0:\d+"$', f'listen = "{listen}"', text)
    text, n_external = re.subn(r'(?m)^external_address = ".*"$', 'external_address = ""', text)
    expect_eq((n_listen, n_external), (1, 1), f"network.listen and network.external_address lines in {config}")
    with open(config, "w") as f:
        f.write(text)


def setup():
    port = shared_port()
    http_base = free_port_range(len(HOSTS))
    hosts = [a for name, ip in HOSTS for a in ("--host", f"{name}={ip}:{port}")]
    out = t.tool_json("tgenesis", "--json", "network", "--dir", t.path("net"), *hosts, "--masternodes", MASTERNODES,
                      "--block-time", "500ms")
    nodes = []
    for i, info in enumerate(out["nodes"]):
        listen, http = f"{HOSTS[i][1]}:{port}", f"127.0.0.1:{http_base + i}"
        listen_on_own_address(info["config"], listen)
        node = Node(t, i + 1, dict(info, listen=listen, http=http), t.path("net"))
        expect_eq(node.name, HOSTS[i][0], f"node {i + 1}'s name")
        node.start(f"http.listen={http}")
        nodes.append(node)
    for n in nodes:
        n.wait_http()
    state["nodes"] = nodes
    state["by_id"] = {n.pubkey: n for n in nodes}
    state["by_listen"] = {n.listen: n for n in nodes}
    t.note(f"four nodes on 127.0.0.1-4, all on port {port}; "
           f"{', '.join(f'{n.name} {n.role}' for n in nodes)}")


t.check("four nodes, each on its own loopback address and the same port", setup, required=True)


def connected():
    nodes = state["nodes"]

    def all_connected():
        seen = {}
        for n in nodes:
            seen[n.name] = sorted(state["by_id"][p["node_id"]].name if p["node_id"] in state["by_id"]
                                  else p["node_id"][:12] for p in n.peers()["peers"])
        want = {n.name: sorted(m.name for m in nodes if m is not n) for n in nodes}
        return seen == want, seen

    poll(all_connected, CONNECT_TIMEOUT, "each node to list exactly the other three as peers", interval=0.05)


t.check("every node connects to every other one", connected, required=True)


def peers_at_their_listen_addresses():
    problems = []
    for n in state["nodes"]:
        for p in n.peers()["peers"]:
            peer = state["by_id"][p["node_id"]]
            if p["listen_address"] != peer.listen:
                problems.append(f"{n.name} shows {peer.name} ({p['direction']}) at listen_address "
                                f"{p['listen_address']!r}, not {peer.listen}")
    expect(not problems, "each peer at its own listen address in every /peers", "; ".join(problems))


t.check("every /peers shows each peer at that peer's own listen address", peers_at_their_listen_addresses)


def outbound_from_listen_address():
    problems, inbound = [], 0
    for n in state["nodes"]:
        for p in n.peers()["peers"]:
            if p["direction"] != "inbound":
                continue
            inbound += 1
            peer = state["by_id"][p["node_id"]]
            source_ip = p["address"].rsplit(":", 1)[0]
            if source_ip != peer.listen.rsplit(":", 1)[0]:
                problems.append(f"{peer.name}'s connection to {n.name} comes from {p['address']}, "
                                f"not from its listen address {peer.listen}")
    expect(inbound > 0, "some inbound connections to look at", inbound)
    expect(not problems, "every outbound connection to leave from its node's listen address", "; ".join(problems))
    t.note(f"{inbound} inbound connections, each from its dialler's listen IP")


t.check("outbound connections leave from the listen address (the inbound side's remote IP)",
        outbound_from_listen_address)


def addrbooks_hold_only_true_addresses():
    problems = []
    for n in state["nodes"]:
        for a in n.addrbook()["addresses"]:
            owner = state["by_listen"].get(a["address"])
            if owner is None:
                problems.append(f"{n.name} records {a['address']} (no node listens there; source {a['source']})")
                continue
            if owner is n:
                if not a["self"]:
                    problems.append(f"{n.name}'s own address {a['address']} is not marked self")
                continue
            if a.get("node_id") is not None and a["node_id"] != owner.pubkey:
                who = state["by_id"].get(a["node_id"])
                problems.append(f"{n.name} records {who.name if who else a['node_id'][:12]}'s id on "
                                f"{owner.name}'s ({owner.role}) address {a['address']}")
            if owner.role == "masternode" and a["class"] != "masternode":
                problems.append(f"{n.name} records masternode {owner.name}'s {a['address']} as {a['class']}")
    expect(not problems, "every /addrbook entry to be a node's own listen address with that node's id",
           "; ".join(problems))


t.check("every /addrbook: only the nodes' listen addresses, each with its own node's id",
        addrbooks_hold_only_true_addresses)


def still_true_after_the_chain_grows():
    nodes = state["nodes"]
    for n in nodes:
        n.wait_height(4, 30)
    wait_same_tip(nodes, 30, "the four nodes on one tip at height >= 4")
    # Every node dials the others (they are its static peers), gossips and is
    # dialled: each entry gets verified with the id found there.
    peers_at_their_listen_addresses()
    addrbooks_hold_only_true_addresses()

    def all_verified():
        unverified = []
        for n in nodes:
            for a in n.addrbook()["addresses"]:
                owner = state["by_listen"][a["address"]]
                if owner is not n and a.get("node_id") != owner.pubkey:
                    unverified.append(f"{n.name}: {a['address']} -> {a.get('node_id')}")
        return not unverified, unverified

    poll(all_verified, 30, "every node's entry for each other node verified with that node's id")
    addrbooks_hold_only_true_addresses()


t.check("after blocks and gossip: the same, and every entry verified with its own node's id",
        still_true_after_the_chain_grows)

t.finish()
