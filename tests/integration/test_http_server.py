"""core::http::Server over real loopback sockets (tests/tools/http_echo_server):
status codes and JSON, keep-alive, size limits, malformed input, the per-IP
cap under load, eviction for a newcomer when full, the header deadline and
the idle keep-alive timeout, the admin guard, bind errors and a clean stop."""

import http.client
import json
import re
import socket
import time

from harness import CheckFailed, TestRun, binary, expect, expect_eq, expect_in, expect_rc, poll, run
from ports import free_port_range

TOKEN = "it-admin-token"
MAX_PER_IP = 8  # the server's default (ServerLimits::max_connections_per_ip)
TIMEOUT = 10.0
# A second server with small limits, for the deadlines and for eviction.
SMALL = {"max_connections": 6, "per_ip": 3, "header_ms": 3000, "idle_ms": 1000}

t = TestRun("http server")
state = {}


def start_server(*args):
    # A port below the ephemeral range (ports.py), so no outgoing connection holds it.
    proc = t.spawn("http_echo_server", [binary("http_echo_server"), str(free_port_range(1)), *args])

    def bound_port():
        if not proc.running():
            raise CheckFailed(f"http_echo_server exited {proc.returncode}: {proc.stderr().strip()!r}")
        m = re.search(r"^port (\d+)$", proc.stdout(), re.M)
        return (m is not None, proc.stdout().strip() or "no output yet")

    poll(bound_port, TIMEOUT, "http_echo_server to print its port")
    port = int(re.search(r"^port (\d+)$", proc.stdout(), re.M).group(1))
    return proc, port


def connection():
    return http.client.HTTPConnection("127.0.0.1", state["port"], timeout=TIMEOUT)


def request(method, path, body=None, headers=None):
    """One request on a fresh connection: (status, headers dict, body bytes)."""
    c = connection()
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def raw_exchange(data):
    """Sends raw bytes, returns everything the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", state["port"]), timeout=TIMEOUT) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def expect_still_serving():
    status, _, body = request("GET", "/hello")
    expect_eq(status, 200, "GET /hello status")
    expect_eq(json.loads(body), {"hello": "world"}, "GET /hello body")
    expect(state["proc"].running(), "the server to keep running", f"exited {state['proc'].returncode}")


# ---------------------------------------------------------------------- checks


def starts():
    state["proc"], state["port"] = start_server("--admin-token", TOKEN)


def get_json():
    status, headers, body = request("GET", "/hello")
    expect_eq(status, 200, "status")
    expect_eq(headers.get("content-type"), "application/json", "Content-Type")
    expect_eq(headers.get("content-length"), str(len(body)), "Content-Length")
    expect_eq(headers.get("connection"), "keep-alive", "Connection (HTTP/1.1 default)")
    expect_eq(json.loads(body), {"hello": "world"}, "body")
    status, _, body = request("GET", "/items/42?q=a%20b")
    expect_eq(status, 200, "GET /items/42 status")
    expect_eq(json.loads(body), {"id": "42", "query": {"q": "a b"}}, "parameter and query")
    status, _, body = request("GET", "/info")
    expect_eq(json.loads(body), {"remote": "127.0.0.1", "loopback": True}, "remote address")


def not_found():
    status, headers, body = request("GET", "/nope")
    expect_eq(status, 404, "status")
    expect_eq(json.loads(body), {"error": "not found", "path": "/nope"}, "body")
    expect_eq(headers.get("content-length"), str(len(body)), "Content-Length")


def method_not_allowed():
    status, headers, body = request("GET", "/echo")
    expect_eq(status, 405, "status")
    expect_eq(headers.get("allow"), "POST", "Allow header")
    expect_eq(json.loads(body)["error"], "method not allowed", "error")


def keep_alive():
    c = connection()
    try:
        c.request("GET", "/hello")
        r1 = c.getresponse()
        r1.read()
        expect_eq(r1.status, 200, "first status")
        sock = c.sock
        expect(sock is not None, "the connection to stay open after the first response", "closed")
        local = sock.getsockname()
        c.request("POST", "/echo", body=b"second")
        r2 = c.getresponse()
        body = json.loads(r2.read())
        expect_eq(r2.status, 200, "second status")
        expect_eq(body, {"body": "second", "length": 6}, "second body")
        expect(c.sock is sock and c.sock.getsockname() == local, "both requests on one TCP connection",
               "http.client reconnected")
        # Connection: close is honoured.
        c.request("GET", "/hello", headers={"Connection": "close"})
        r3 = c.getresponse()
        r3.read()
        expect_eq(r3.getheader("Connection"), "close", "Connection header after 'Connection: close'")
    finally:
        c.close()


def http10_closes():
    reply = raw_exchange(b"GET /hello HTTP/1.0\r\n\r\n")
    expect(reply.startswith(b"HTTP/1.0 200"), "an HTTP/1.0 200 reply", reply[:100])
    expect_in("Connection: close", reply.decode(errors="replace"), "HTTP/1.0 reply headers")


def oversized_body():
    status, headers, body = request("POST", "/echo", body=b"x" * (128 * 1024))
    expect_eq(status, 413, "status for a 128 KiB body")
    expect_eq(headers.get("connection"), "close", "Connection")
    expect_in("larger than", json.loads(body)["error"], "error")
    status, _, _ = request("POST", "/echo", body=b"x" * (60 * 1024))
    expect_eq(status, 200, "status for a 60 KiB body")
    status, _, _ = request("GET", "/hello", headers={"X-Big": "y" * (32 * 1024)})
    expect_eq(status, 431, "status for 32 KiB of headers")
    expect_still_serving()


def garbage():
    for junk in (b"\x00\x01\x02garbage\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET /hello HTTP/1.1\r\nBad Header\r\n\r\n",
                 b"POST /echo HTTP/1.1\r\nContent-Length: -5\r\n\r\n", bytes(range(256)) * 4):
        reply = raw_exchange(junk)
        expect(reply.startswith(b"HTTP/1.1 400 "), f"400 for {junk[:30]!r}", reply[:120])
        expect_in("Connection: close", reply.decode(errors="replace"), "400 reply headers")
    # Half a request then a hang-up: no reply needed, no harm done.
    with socket.create_connection(("127.0.0.1", state["port"]), timeout=TIMEOUT) as s:
        s.sendall(b"GET /hel")
    expect_still_serving()


def over_connection_limit():
    total = 100
    socks = []
    try:
        for _ in range(total):
            socks.append(socket.create_connection(("127.0.0.1", state["port"]), timeout=TIMEOUT))
        for s in socks:
            try:
                s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            except OSError:
                pass  # already refused and reset
        served = refused = 0
        for s in socks:
            try:
                head = s.recv(65536)
            except OSError:
                head = b""
            if head.startswith(b"HTTP/1.1 200"):
                served += 1
            else:
                expect(head == b"" or (head.startswith(b"HTTP/1.1 503") and b"from your address" in head),
                       "a 503 naming the per-address limit, or a close, beyond the cap", head[:200])
                refused += 1
        t.note(f"{served} served, {refused} refused (503 or closed)")
        expect(1 <= served <= MAX_PER_IP, f"between 1 and {MAX_PER_IP} connections from one address served", served)
        expect(refused >= total - MAX_PER_IP, f"at least {total - MAX_PER_IP} refused", refused)
        expect(state["proc"].running(), "the server to survive", f"exited {state['proc'].returncode}")
    finally:
        for s in socks:
            s.close()
    # The slots come back once those connections close.
    poll(lambda: (request("GET", "/hello")[0] == 200, "not 200 yet"), TIMEOUT, "GET /hello to succeed again")
    expect_still_serving()


# ---- the small server: deadlines and eviction

def small_server():
    state["small"], state["small_port"] = start_server(
        "--max-connections", str(SMALL["max_connections"]), "--max-connections-per-ip", str(SMALL["per_ip"]),
        "--header-timeout-ms", str(SMALL["header_ms"]), "--idle-timeout-ms", str(SMALL["idle_ms"]))


def connect_from(source):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.bind((source, 0))
    s.connect(("127.0.0.1", state["small_port"]))
    return s


def read_until_close(s, limit):
    """Everything the server sends until it closes; CheckFailed if it is
    still open after `limit` seconds."""
    s.settimeout(limit)
    chunks = []
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise CheckFailed(f"expected the server to close the connection within {limit}s, it is still open")
    return b"".join(chunks)


def drops(reason):
    return state["small"].stdout().split().count(reason)


def get_on(s):
    """One GET /hello on an open connection: the status."""
    s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(65536)
        if not chunk:
            raise CheckFailed(f"expected a response, the server closed after {head[:100]!r}")
        head += chunk
    length = int(re.search(rb"Content-Length: (\d+)", head, re.I).group(1))
    body = head.split(b"\r\n\r\n", 1)[1]
    while len(body) < length:
        body += s.recv(65536)
    return int(head.split()[1])


def header_deadline():
    # Headers trickling in: closed header_timeout after accept, unanswered,
    # however steadily the bytes come.
    before = drops("header_timeout")
    with connect_from("127.0.0.2") as s:
        start = time.monotonic()
        s.sendall(b"GET /hello HTTP/1.1\r\n")
        closed_at = None
        for i in range(40):
            try:
                s.sendall(f"X-Slow-{i}: y\r\n".encode())
            except OSError:
                closed_at = time.monotonic() - start
                break
            s.settimeout(0.2)  # pacing the drip
            try:
                if s.recv(65536) == b"":
                    closed_at = time.monotonic() - start
                    break
            except socket.timeout:
                pass
            except ConnectionResetError:
                closed_at = time.monotonic() - start
                break
    limit = SMALL["header_ms"] / 1000
    expect(closed_at is not None, "the slow request to be closed", "still open after 40 header lines")
    t.note(f"slow headers closed after {closed_at:.2f}s (header_timeout {limit}s)")
    expect(limit - 0.2 <= closed_at <= limit + 2.0, f"the close about {limit}s after accept", f"{closed_at:.2f}s")
    poll(lambda: (drops("header_timeout") > before, state["small"].stdout()[-200:]), TIMEOUT,
         "the server to report drop header_timeout")
    # Headers that complete in time are served, even when they trickle.
    with connect_from("127.0.0.2") as s:
        for part in (b"GET /hel", b"lo HTTP/1.1\r\nHo", b"st: x\r\n", b"\r\n"):
            s.sendall(part)
            time.sleep(0.1)  # pacing the drip
        reply = s.recv(65536)
        expect(reply.startswith(b"HTTP/1.1 200"), "a 200 for headers sent in pieces within the deadline", reply[:80])


def idle_timeout():
    before = drops("idle_timeout")
    limit = SMALL["idle_ms"] / 1000
    with connect_from("127.0.0.2") as s:
        # Requests closer together than idle_timeout keep the connection.
        for i in range(4):
            if i:
                time.sleep(limit / 2)  # pacing the requests
            expect(get_on(s) == 200, "200 on the kept-alive connection")
        start = time.monotonic()  # the last response is in: the idle time starts
        read_until_close(s, limit + 3.0)
        idle = time.monotonic() - start
    t.note(f"idle keep-alive closed after {idle:.2f}s (idle_timeout {limit}s)")
    expect(limit - 0.2 <= idle <= limit + 2.0, f"the idle connection closed about {limit}s after the response",
           f"{idle:.2f}s")
    poll(lambda: (drops("idle_timeout") > before, state["small"].stdout()[-200:]), TIMEOUT,
         "the server to report drop idle_timeout")


def eviction():
    # Fill the server: 3 + 3 idle connections from two addresses (the cap is
    # 3, the server holds 6). Their first request is due after header_ms, so
    # the checks below run well inside that.
    socks = []
    try:
        for source in ("127.0.0.2", "127.0.0.3"):
            for _ in range(SMALL["per_ip"]):
                socks.append(connect_from(source))
        # The connections are counted when accepted: wait until a newcomer
        # from a crowded address is refused for the per-address cap.
        def capped():
            with connect_from("127.0.0.2") as s:
                reply = read_until_close(s, TIMEOUT)
            return (b"from your address" in reply, reply[:120])
        poll(capped, TIMEOUT, "127.0.0.2 to be at its cap")
        before = drops("evicted")
        # A newcomer from a third address is served in the slot of the
        # longest-waiting connection of a most crowded address: the first one.
        with connect_from("127.0.0.4") as s:
            expect(get_on(s) == 200, "a newcomer from 127.0.0.4 served while the server is full")
            poll(lambda: (drops("evicted") == before + 1, state["small"].stdout()[-200:]), TIMEOUT,
                 "the server to report one eviction")
            socks[0].settimeout(TIMEOUT)
            expect(read_until_close(socks[0], TIMEOUT) == b"", "the oldest idle connection closed unanswered")
            for other in socks[1:]:
                other.settimeout(0.05)
                try:
                    data = other.recv(1)
                    expect(False, "the other connections to stay open", f"one got {data!r}")
                except socket.timeout:
                    pass
            # Still full (127.0.0.4 holds its slot): 127.0.0.2, down to 2,
            # cannot take a slot from 127.0.0.3 (3): the spread would not even out.
            with connect_from("127.0.0.2") as s2:
                reply = read_until_close(s2, TIMEOUT)
            expect(reply.startswith(b"HTTP/1.1 503") and b"too many connections" in reply and
                   b"from your address" not in reply, "503 'too many connections' for 127.0.0.2", reply[:200])
            # The server reports the drop after it closed the socket: poll for the line.
            poll(lambda: (drops("full") >= 1, state["small"].stdout()[-200:]), TIMEOUT,
                 "the server to report drop full")
    finally:
        for s in socks:
            s.close()
    poll(lambda: (request_small() == 200, "not 200 yet"), TIMEOUT, "the small server to serve again")


def request_small():
    with connect_from("127.0.0.5") as s:
        return get_on(s)


def admin_guard():
    status, _, body = request("POST", "/admin/ping")
    expect_eq(status, 403, "status without a token")
    expect_eq(json.loads(body)["error"], "forbidden", "error")
    status, _, _ = request("POST", "/admin/ping", headers={"Authorization": "Bearer wrong"})
    expect_eq(status, 403, "status with a wrong token")
    status, _, body = request("POST", "/admin/ping", headers={"Authorization": f"Bearer {TOKEN}"})
    expect_eq(status, 200, "status with the token")
    expect_eq(json.loads(body), {"ok": True}, "body")


def admin_without_configured_token():
    proc, port = start_server()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        c.request("POST", "/admin/ping", headers={"Authorization": "Bearer "})
        r = c.getresponse()
        expect_eq(r.status, 403, "status when no admin token is configured")
        expect_in("admin_token", json.loads(r.read())["reason"], "reason")
    finally:
        c.close()
        proc.kill9()


def bind_error_names_address():
    r = run([binary("http_echo_server"), str(state["port"])], timeout=TIMEOUT)
    expect_rc(r, 1)
    expect_in(f"127.0.0.1:{state['port']}: address already in use", r.stderr, "stderr")


def clean_stop():
    # An idle keep-alive connection must not hold the stop up.
    with socket.create_connection(("127.0.0.1", state["port"]), timeout=TIMEOUT):
        rc = state["proc"].terminate(grace=5.0)
    expect_eq(rc, 0, "exit code after SIGTERM")


t.check("http_echo_server starts and prints its port", starts, required=True)
t.check("GET returns 200 JSON with Content-Length and Connection", get_json)
t.check("unknown path is 404 JSON naming the path", not_found)
t.check("known path, wrong method is 405 with Allow", method_not_allowed)
t.check("keep-alive: two requests on one connection, then Connection: close", keep_alive)
t.check("HTTP/1.0 without keep-alive gets Connection: close", http10_closes)
t.check("oversized body is 413, oversized headers 431, server keeps serving", oversized_body)
t.check("garbage bytes get 400 and the server keeps serving", garbage)
t.check("100 connections from one address: the per-IP cap holds, serves afterwards", over_connection_limit)
t.check("a server with small limits starts", small_server, required=False)
t.check("slow headers are closed at the header deadline; pieces within it are served", header_deadline)
t.check("an idle keep-alive connection is closed after idle_timeout, a busy one is kept", idle_timeout)
t.check("full: a newcomer from another address takes the slot of the most crowded one", eviction)
t.check("admin route refused without the token, accepted with it", admin_guard)
t.check("admin route refused when no token is configured", admin_without_configured_token)
t.check("bind failure names the address", bind_error_names_address)
t.check("SIGTERM stops the server cleanly", clean_stop)
t.finish()
