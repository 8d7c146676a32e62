#!/usr/bin/env python3
"""The status page (GET /, DESIGN.md section 8) in a real browser:

  * GET / of a live node is one HTML document (text/html; charset=utf-8,
    Cache-Control no-cache, a Content-Security-Policy allowing only
    same-origin fetches);
  * headless Chromium renders it against a running 3-node testnet: the
    rendered #height lies between node1's /health height before and after
    the rendering, #peer-count is node1's number of peers (2), #node-id and
    #network are node1's, the peer table has a row per peer and the change
    log starts with the first view;
  * over the DevTools protocol (real time, not a virtual-time budget), the
    change log shows the height moving by 2 or more in one coalesced
    "height A -> B" entry after a few refreshes;
  * then, node3 and node2 killed: the log names each peer that left, then
    "status ok -> degraded: <reason>", and #status, #reason and
    #peer-count show node1's degraded /health (503);
  * a screenshot of the rendered page is saved under the build directory's
    test-output/test_status_page/ (its path is printed).

Needs /usr/bin/chromium (Debian package `chromium`, installed by
scripts/setup); without it the scenario reports "not run" (exit 77).
"""

import html.parser
import json
import os
import re
import select
import shutil
import signal
import subprocess
import time
import urllib.request

import nodes
from harness import CheckFailed, TestRun, bin_dir, expect, expect_eq, expect_in, poll

CHROMIUM_TIMEOUT = 60.0  # seconds for one headless Chromium run
RENDER_BUDGET_MS = 5000  # --virtual-time-budget: page time for the first rounds of fetches
# Headless, no sandbox (root), no GPU, and nothing that talks to the outside.
BROWSER_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--no-default-browser-check", "--disable-extensions", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update", "--hide-scrollbars"]

t = TestRun("the status page in headless Chromium")
chromium = shutil.which("chromium") or ("/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None)
if chromium is None:
    t.not_run("chromium not installed (Debian package chromium; scripts/setup installs it)")

browser_dir = t.subdir("chromium")
output_dir = os.path.join(bin_dir(), "test-output", "test_status_page")
os.makedirs(output_dir, exist_ok=True)


def kill_browser_leftovers():
    """Every process still running with our --user-data-dir (renderers,
    zygotes that outlived their parent): SIGKILL, by pid."""
    me = os.getpid()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == me:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if browser_dir.encode() in cmdline:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass


t.add_cleanup(kill_browser_leftovers)


def run_chromium(*args, virtual_time=True):
    """One headless Chromium run, in its own process group and profile,
    killed with its children whatever happens; returns (rc, stdout, stderr)."""
    argv = [chromium, *BROWSER_FLAGS, f"--user-data-dir={browser_dir}"]
    if virtual_time:
        argv.append(f"--virtual-time-budget={RENDER_BUDGET_MS}")
    argv += args
    env = dict(os.environ, HOME=browser_dir)
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         text=True, env=env, start_new_session=True)
    try:
        out, err = p.communicate(timeout=CHROMIUM_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"expected `{' '.join(argv)}` to finish within {CHROMIUM_TIMEOUT}s, it was still running")
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
        kill_browser_leftovers()
    return p.returncode, out, err


class Elements(html.parser.HTMLParser):
    """The text of every element with an id, and the rows of #peer-rows and
    #changes, from a dumped DOM."""

    VOID = {"meta", "link", "br", "hr", "img", "input"}

    def __init__(self, text):
        super().__init__()
        self.by_id = {}
        self.open = []  # (tag, id or None)
        self.peer_rows = 0
        self.changes = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        ident = dict(attrs).get("id")
        parents = [i for _, i in self.open]
        if tag == "tr" and "peer-rows" in parents:
            self.peer_rows += 1
        if tag == "li" and "changes" in parents:
            self.changes.append("")
        self.open.append((tag, ident))
        if ident is not None:
            self.by_id[ident] = ""

    def handle_endtag(self, tag):
        while self.open:
            open_tag, _ = self.open.pop()
            if open_tag == tag:
                break

    def handle_data(self, data):
        for _, ident in self.open:
            if ident is not None:
                self.by_id[ident] += data
        if any(i == "changes" for _, i in self.open) and self.changes:
            self.changes[-1] += data

    def text(self, ident):
        return self.by_id.get(ident, "").strip()


net = nodes.start_testnet(t, "net", nodes=3, network="pagenet")
a = net[1]
url = f"http://127.0.0.1:{a.http_port}/"


def start():
    net.start_all()
    net.wait_http()
    net.wait_connected(timeout=20)


t.check("three masternodes connect", start, required=True)


def page_served():
    with urllib.request.urlopen(url, timeout=5) as r:
        body = r.read().decode()
        expect_eq(r.status, 200, "GET / status")
        expect_eq(r.headers.get("Content-Type"), "text/html; charset=utf-8", "GET / Content-Type")
        expect_eq(r.headers.get("Cache-Control"), "no-cache", "GET / Cache-Control")
        expect_in("connect-src 'self'", r.headers.get("Content-Security-Policy") or "", "GET / CSP")
    expect(body.startswith("<!DOCTYPE html>"), "an HTML document", body[:80])


t.check("GET / serves the page: text/html; charset=utf-8, no-cache, a CSP", page_served)


def rendered_page_shows_the_node():
    peers = len(a.peers()["peers"])
    expect_eq(peers, 2, "node1's peers in /peers")

    def rendered():
        before = a.health()[1]["height"]
        rc, dom, err = run_chromium("--dump-dom", url)
        after = a.health()[1]["height"]
        if rc != 0:
            return False, f"chromium exit {rc}: {err.strip()[-400:]!r}"
        page = Elements(dom)
        shown = page.text("height")
        if not shown.isdigit():
            return False, f"#height {shown!r} (the page has not rendered /health yet)"
        if before <= int(shown) <= after and page.text("peer-count") == str(peers):
            return True, (page, before, after)
        return False, f"#height {shown} (node1 at {before}..{after}), #peer-count {page.text('peer-count')!r}"

    _, (page, before, after) = poll(rendered, 3 * CHROMIUM_TIMEOUT,
                               f"#height within node1's heights and #peer-count {peers} in the rendered page",
                               interval=0.5)
    t.note(f"rendered #height {page.text('height')} (node1 at {before}..{after}), "
           f"#peer-count {page.text('peer-count')}")
    expect_eq(page.text("node-id"), a.pubkey, "#node-id")
    expect_eq(page.text("network"), "pagenet", "#network")
    expect_eq(page.text("role"), "masternode", "#role")
    expect(page.text("status") in ("ok", "syncing"), "#status ok or syncing", page.text("status"))
    expect_eq(page.peer_rows, peers, "rows in the peer table")
    expect(page.changes and any("first view" in c for c in page.changes), "the change log to hold the first view",
           page.changes)


t.check("headless Chromium renders node1's height, peer count, id and network", rendered_page_shows_the_node)


class DevTools:
    """Headless Chromium driven over the DevTools protocol on a pipe
    (--remote-debugging-pipe: we write JSON messages ending in NUL to its fd
    3 and read them from its fd 4), so the page runs in real time and the
    test can read its DOM whenever it likes."""

    def __init__(self):
        to_child, self._to = os.pipe()
        self._from, from_child = os.pipe()

        def fds():
            a, b = os.dup(to_child), os.dup(from_child)  # copies first: 3 and 4 may be either of them
            os.dup2(a, 3)
            os.dup2(b, 4)

        argv = [chromium, *BROWSER_FLAGS, f"--user-data-dir={browser_dir}", "--remote-debugging-pipe", "about:blank"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, env=dict(os.environ, HOME=browser_dir),
                                     start_new_session=True, pass_fds=(3, 4), preexec_fn=fds)
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._next_id = 0
        self.session = None

    def call(self, method, params=None, session=True, timeout=CHROMIUM_TIMEOUT):
        """Sends one command; returns its result (CheckFailed on an error or
        no answer within timeout). Events in between are skipped."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._to, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                answer = json.loads(raw)
                if answer.get("id") == self._next_id:
                    if "error" in answer:
                        raise CheckFailed(f"expected DevTools {method} to succeed, saw {answer['error']}")
                    return answer.get("result", {})
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from], [], [], max(0.0, left))
            if not ready:
                raise CheckFailed(f"expected an answer to DevTools {method} within {timeout}s, saw none")
            chunk = os.read(self._from, 1 << 16)
            if not chunk:
                raise CheckFailed(f"expected an answer to DevTools {method}, chromium closed the pipe "
                                  f"(exit {self.proc.poll()})")
            self._buffer += chunk

    def open(self, page_url):
        target = self.call("Target.createTarget", {"url": page_url}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in r:
            raise CheckFailed(f"expected `{expression}` to evaluate, saw {r['exceptionDetails']}")
        return r["result"].get("value")

    def close(self):
        for fd in (self._to, self._from):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        kill_browser_leftovers()


def log_entries(browser):
    """The change log's entries as text, newest first."""
    return browser.evaluate("[...document.querySelectorAll('#changes li')].map((li) => li.textContent)") or []


def change_log_follows_the_chain():
    # In real time, the masternodes produce a block a second: after a few
    # 2 s refreshes the log shows the height moving by 2 or more, in one
    # entry however many refreshes saw it move.
    browser = DevTools()
    try:
        browser.open(url)
        def moved():
            changes = log_entries(browser)
            heights = [c for c in changes if re.search(r"height \d+ \u2192 \d+$", c)]
            if len(heights) != 1:
                return False, changes
            a_, b_ = map(int, re.findall(r"\d+", heights[0].split("height", 1)[1]))
            return b_ - a_ >= 2, changes

        _, changes = poll(moved, 30.0, "one change-log entry 'height A \u2192 B' with B >= A + 2", interval=0.25)
        t.note(f"change log: {changes}")
        expect(any("first view" in c for c in changes), "the first view in the change log", changes)
    finally:
        browser.close()


t.check("the change log records the height moving, as one entry", change_log_follows_the_chain)


def peers_leave_and_status_degrades():
    # node1's peers stop (kill -9): the log says who left, then that the
    # status went to degraded with the node's reason, and the page shows it.
    browser = DevTools()
    try:
        browser.open(url)
        poll(lambda: (any("first view" in c for c in log_entries(browser)), log_entries(browser)), 30.0,
             "the first view in the change log")
        for gone in (net[3], net[2]):
            gone.kill9()
            left = f"peer left: {gone.pubkey[:12]}"
            poll(lambda: (any(left in c for c in log_entries(browser)), log_entries(browser)), 30.0,
                 f"'{left}...' in the change log")
        poll(lambda: (any("status ok \u2192 degraded: " in c for c in log_entries(browser)), log_entries(browser)),
             30.0, "'status ok \u2192 degraded: <reason>' in the change log")
        shown = browser.evaluate("[document.getElementById('status').textContent, "
                                 "document.getElementById('reason').textContent, "
                                 "document.getElementById('peer-count').textContent]")
        status, health = a.health()
        expect_eq(status, 503, f"node1's /health status ({health})")
        expect_eq(shown, ["degraded", health["reason"], "0"], "the page's (#status, #reason, #peer-count)")
        t.note(f"change log: {log_entries(browser)}")
    finally:
        browser.close()


def screenshot():
    path = os.path.join(output_dir, "status_page.png")
    if os.path.exists(path):
        os.remove(path)
    rc, _, err = run_chromium(f"--screenshot={path}", "--window-size=1200,900", url)
    expect_eq(rc, 0, f"chromium --screenshot exit status ({err.strip()[-400:]!r})")
    expect(os.path.isfile(path) and os.path.getsize(path) > 1000, f"a PNG at {path}", "none or empty")
    with open(path, "rb") as f:
        expect_eq(f.read(8), b"\x89PNG\r\n\x1a\n", "the screenshot's PNG signature")
    t.note(f"screenshot: {path}")


t.check("a screenshot of the rendered page is saved", screenshot)

t.check("peers leaving and the degraded status (with its reason) appear in the change log",
        peers_leave_and_status_degrades)

t.finish()
