"""A running process seen from outside, through Linux /proc (stdlib only).

  * tcp_sockets(pid): [(local_port, remote_port, state)] of the process's
    IPv4/IPv6 TCP sockets, to prove which connection is which at the
    socket level; tcp_connections(pid) the same with the remote IP;
  * rss_kb(pid): its resident set size in KiB;
  * asan_rss_allowance_mb(): the MiB an RSS bound must allow when tnode is
    built with AddressSanitizer (0 otherwise); call it before starting the
    nodes, as it also sets ASAN_OPTIONS for them.
"""

import ipaddress
import os

from harness import binary

TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
              "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN",
              "0B": "CLOSING"}


def _hex_port(text):
    return int(text.rsplit(":", 1)[1], 16)


def _hex_ip(text):
    """The address of /proc/net/tcp{,6} ("0100007F:1F90" -> "127.0.0.1")."""
    h = text.rsplit(":", 1)[0]
    raw = b"".join(bytes.fromhex(h[i:i + 8])[::-1] for i in range(0, len(h), 8))  # 32-bit words, host order
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw))
    v6 = ipaddress.IPv6Address(raw)
    return str(v6.ipv4_mapped or v6)


def tcp_connections(pid):
    """[(local_port, remote_ip, remote_port, state)] of the process's
    IPv4/IPv6 TCP sockets (an IPv4-mapped IPv6 peer as its IPv4 address)."""
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    out = []
    for table in (f"/proc/{pid}/net/tcp", f"/proc/{pid}/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 9 and cols[9] in inodes:
                out.append((_hex_port(cols[1]), _hex_ip(cols[2]), _hex_port(cols[2]),
                            TCP_STATES.get(cols[3], cols[3])))
    return out


def tcp_sockets(pid):
    """[(local_port, remote_port, state)] of the process's IPv4/IPv6 TCP sockets."""
    return [(local, rport, state) for local, _, rport, state in tcp_connections(pid)]


def rss_kb(pid):
    """The process's resident set size in KiB (0 if unknown)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def asan_rss_allowance_mb():
    """For memory checks: 0 for a normal build. Under AddressSanitizer freed
    memory waits in a quarantine before reuse, so RSS does not come back
    down: this bounds the quarantine of the nodes started from now on
    (ASAN_OPTIONS) and returns the MiB to allow for it."""
    with open(binary("tnode"), "rb") as f:
        if b"__asan_init" not in f.read():
            return 0
    os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") +
                                  ":quarantine_size_mb=16:thread_local_quarantine_size_kb=256").lstrip(":")
    return 128
