"""core::http::Server over real loopback sockets (tests/tools/http_echo_server):
status codes and JSON, keep-alive, size limits, malformed input, the
connection limit under load, the admin guard, bind errors and a clean stop."""

import http.client
import json
import re
import socket

from harness import CheckFailed, TestRun, binary, expect, expect_eq, expect_in, expect_rc, poll, run

TOKEN = "it-admin-token"
MAX_CONNECTIONS = 64  # the server's default (ServerLimits::max_connections)
TIMEOUT = 10.0

t = TestRun("http server")
state = {}


def start_server(*args):
    proc = t.spawn("http_echo_server", [binary("http_echo_server"), "0", *args])

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
                expect(head == b"" or head.startswith(b"HTTP/1.1 503"), "503 or a close beyond the limit", head[:80])
                refused += 1
        t.note(f"{served} served, {refused} refused (503 or closed)")
        expect(1 <= served <= MAX_CONNECTIONS, f"between 1 and {MAX_CONNECTIONS} connections served", served)
        expect(refused >= total - MAX_CONNECTIONS, f"at least {total - MAX_CONNECTIONS} refused", refused)
        expect(state["proc"].running(), "the server to survive", f"exited {state['proc'].returncode}")
    finally:
        for s in socks:
            s.close()
    # The slots come back once those connections close.
    poll(lambda: (request("GET", "/hello")[0] == 200, "not 200 yet"), TIMEOUT, "GET /hello to succeed again")
    expect_still_serving()


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
t.check("100 connections beyond the limit: no crash, serves afterwards", over_connection_limit)
t.check("admin route refused without the token, accepted with it", admin_guard)
t.check("admin route refused when no token is configured", admin_without_configured_token)
t.check("bind failure names the address", bind_error_names_address)
t.check("SIGTERM stops the server cleanly", clean_stop)
t.finish()
