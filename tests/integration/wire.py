"""The peer wire protocol, for scenarios that speak raw bytes to a node
(stdlib only). Mirrors libcore/p2p/frame.hpp and libcore/p2p/messages.hpp:

  * FRAME_HEADER: magic u32 | type u16 | length u32 | checksum u32, little-endian;
  * MSG: message type name -> wire value (the handshake and ping types only);
  * REJECT_CODES: Reject code wire value -> name, as RejectCode in
    messages.hpp and its to_string (test_reject_codes_match.py compares);
  * network_magic(network), checksum(payload), blake2b256(data);
  * encode_frame(magic, type, payload) -> bytes;
  * read_frame(sock) -> (magic, type, length, checksum, payload), failing
    the check on a header announcing more than 1 MiB; recv_exactly(sock, n)
    underneath it;
  * decode_reject(payload) -> (code, detail).
"""

import hashlib
import struct

from harness import CheckFailed, binary, poll

FRAME_HEADER = struct.Struct("<IHII")  # magic u32 | type u16 | length u32 | checksum u32
MSG = {"hello": 1, "hello_ack": 2, "reject": 3, "ping": 4, "pong": 5}
REJECT_CODES = {1: "protocol_error", 2: "bad_magic", 3: "bad_checksum", 4: "oversized", 5: "unknown_type",
                6: "malformed", 7: "genesis_mismatch", 8: "network_mismatch", 9: "version", 10: "self",
                11: "banned", 12: "capacity", 13: "per_ip_limit", 14: "duplicate", 15: "stale_session",
                16: "timeout", 17: "bad_signature", 18: "not_masternode", 19: "handshake_order",
                20: "slow_peer", 21: "shutdown", 22: "invalid_block", 23: "evicted", 24: "admin"}


def blake2b256(data):
    return hashlib.blake2b(data, digest_size=32).digest()


def network_magic(network):
    return struct.unpack("<I", blake2b256(network.encode())[:4])[0]


def checksum(payload):
    return struct.unpack("<I", blake2b256(payload)[:4])[0]


def encode_frame(magic, mtype, payload):
    return FRAME_HEADER.pack(magic, mtype, len(payload), checksum(payload)) + payload


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def read_frame(sock):
    """(magic, type, length, checksum, payload) of the next frame."""
    magic, mtype, length, csum = FRAME_HEADER.unpack(recv_exactly(sock, FRAME_HEADER.size))
    if length > 1 << 20:
        raise CheckFailed(f"expected a small frame, saw a header announcing {length} bytes")
    return magic, mtype, length, csum, recv_exactly(sock, length)


def decode_reject(payload):
    """Reject payload (code u16 | detail: u32 length + bytes) -> (code, detail)."""
    if len(payload) < 6:
        raise CheckFailed(f"expected a Reject payload of at least 6 bytes, saw {payload!r}")
    code, n = struct.unpack_from("<HI", payload)
    detail = payload[6:6 + n]
    if len(detail) != n or len(payload) != 6 + n:
        raise CheckFailed(f"expected a Reject detail of {n} bytes filling the payload, saw {payload!r}")
    return code, detail.decode(errors="replace")


def start_responder(t, config, timeout=15.0):
    """tests/tools/wire_responder for `config`, spawned by TestRun t; waits for
    its "port N" line and returns (Background, port)."""
    proc = t.spawn("wire_responder", [binary("wire_responder"), "--config", config])

    def port_line():
        if not proc.running():
            raise CheckFailed(f"wire_responder exited {proc.returncode}: {proc.stderr().strip()!r}")
        lines = proc.stdout().splitlines()
        return (bool(lines) and lines[0].startswith("port "), proc.stdout().strip() or "no output yet")

    poll(port_line, timeout, "wire_responder to print its port")
    return proc, int(proc.stdout().splitlines()[0].split()[1])
