"""Loopback ports for the nodes a scenario starts (stdlib only).

  * free_port_range(count): P such that P .. P+count-1 are all free on
    127.0.0.1, chosen at random below the kernel's ephemeral range, so no
    outbound connection (ours or a node's) can be holding a port a node
    later wants to listen on;
  * closed_port(): one such port that nothing listens on.

start_testnet() in nodes.py takes its port block from free_port_range().
"""

import os
import random
import socket
import time

from harness import SetupError


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def all_free(base, count, hosts=("127.0.0.1",)):
    """Ports base .. base+count-1 can all be bound on every IPv4 address in `hosts` right now."""
    held = []
    try:
        for p in range(base, base + count):
            for host in hosts:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                held.append(s)
                s.bind((host, p))
        return True
    except OSError:
        return False
    finally:
        for s in held:
            s.close()


def free_port_range(count):
    """P such that P .. P+count-1 are all free on 127.0.0.1 right now.

    Chosen at random below the ephemeral range (so that parallel scenarios
    rarely collide, and no outgoing connection takes one of them)."""
    hi = _ephemeral_low() - count - 1
    lo = min(20000, hi - 1000)
    rnd = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(200):
        base = rnd.randrange(lo, hi)
        if all_free(base, count):
            return base
    raise SetupError(f"no {count} consecutive free loopback ports in {lo}..{hi}")


def closed_port():
    """A loopback port nothing listens on: free below the ephemeral range."""
    return free_port_range(1)
