"""Shared harness for the integration scenarios (Python 3 stdlib only).

A scenario script looks like this:

    from harness import TestRun, expect, expect_eq, expect_rc

    t = TestRun("genesis determinism")
    def same_hash():
        r = t.tool("tgenesis", "hash", path)
        expect_rc(r, 0)
        ...
    t.check("two processes give the same hash", same_hash)
    t.finish()              # prints "N passed, M failed", exits 0 or 1

What it holds:
  * binary(name): a built binary, found through TNODE_BIN_DIR (the build
    directory; SetupError if unset or not built);
  * one temporary directory per script, removed at exit unless
    TNODE_KEEP_TEST_DIR is set (t.dir, t.path(), t.subdir());
  * run() and t.tool()/t.tool_json(): a command with a timeout, returning
    Result (rc, stdout, stderr);
  * t.spawn()/t.spawn_tool(): Background processes that are killed whatever
    happens (t.finish(), atexit, SIGTERM/SIGINT/SIGHUP handlers, and
    PR_SET_PDEATHSIG so they die with us even if we are SIGKILLed);
  * poll(): wait for a condition with a deadline and fail with
    "expected X, saw Y" (never sleep to synchronise);
  * expect(), expect_eq(), expect_in(), expect_rc(): raise CheckFailed
    saying what was expected and what was seen;
  * a check/report API: t.check() prints one line per named check (a
    required=True check stops the later ones), t.note(), then t.finish()
    prints exactly "N passed, M failed" and exits 1 if any check failed;
    t.not_run(reason) prints "not run: reason" and exits SKIP_CODE (77,
    reported by ctest as skipped) when the machine cannot run the scenario;
  * t.add_cleanup(fn): fn runs when the run ends however it ends (finish,
    failure, exception, SIGTERM/SIGINT/SIGHUP), before the background
    processes are killed and the work dir is removed (e.g. lab.py's `down`);
  * chain helpers: testnet() (`tgenesis testnet`), forge_chain()
    (`tforge chain`), chain_info() (`tchain info`), file_mode().

Built on it: nodes.py (tnode processes of a testnet: Node, Testnet,
start_testnet), ports.py (free loopback ports), prom.py (/metrics text),
procfs.py (a process's TCP sockets and RSS from /proc) and wire.py (the
peer wire protocol: frames, Reject codes).
"""

import atexit
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

DEFAULT_TIMEOUT = 60.0  # seconds for one foreground command
SKIP_CODE = 77  # exit status of a scenario that cannot run here (ctest SKIP_RETURN_CODE)

# Where each binary lives under the build directory.
BINARIES = {
    "tgenesis": "apps/tgenesis",
    "tchain": "apps/tchain",
    "tnode": "apps/tnode",
    "tpeer-probe": "apps/tpeer-probe",
    "tforge": "tests/tools/tforge",
    "http_echo_server": "tests/tools/http_echo_server",
    "wire_responder": "tests/tools/wire_responder",
    "fake_peer": "tests/tools/fake_peer",
    "hostile_peer": "tests/tools/hostile_peer",
}


class CheckFailed(Exception):
    """A check's assertion did not hold; the message says expected vs seen."""


class SetupError(Exception):
    """The environment is not usable (no build dir, missing binary)."""


# --------------------------------------------------------------------------
# Binaries


def bin_dir():
    d = os.environ.get("TNODE_BIN_DIR")
    if not d:
        raise SetupError("TNODE_BIN_DIR is not set (run through ctest, or export it to the build directory)")
    if not os.path.isdir(d):
        raise SetupError(f"TNODE_BIN_DIR={d} is not a directory")
    return d


def binary(name):
    """Absolute path of a built binary; SetupError if it is not built."""
    rel = BINARIES.get(name, name)
    path = os.path.join(bin_dir(), rel)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise SetupError(f"binary {name} not found at {path} (build it first)")
    return path


# --------------------------------------------------------------------------
# Foreground commands


class Result(tuple):
    """(rc, stdout, stderr) that also names its parts and the command."""

    def __new__(cls, rc, stdout, stderr, argv):
        self = super().__new__(cls, (rc, stdout, stderr))
        self.argv = argv
        return self

    rc = property(lambda self: self[0])
    stdout = property(lambda self: self[1])
    stderr = property(lambda self: self[2])

    def command(self):
        return " ".join(str(a) for a in self.argv)

    def describe(self):
        """Short description for failure messages."""
        def clip(s):
            s = s.strip()
            return s if len(s) <= 800 else s[:400] + " [...] " + s[-400:]
        return f"`{self.command()}` exited {self.rc}; stdout: {clip(self.stdout)!r}; stderr: {clip(self.stderr)!r}"

    def json(self):
        """stdout parsed as JSON; CheckFailed (with the text) if it is not."""
        try:
            return json.loads(self.stdout)
        except ValueError as e:
            raise CheckFailed(f"expected JSON on stdout of `{self.command()}`, saw {self.stdout[:400]!r} ({e})")


def run(argv, timeout=DEFAULT_TIMEOUT, cwd=None, env=None, input=None):
    """Runs argv to completion; returns Result (rc, stdout, stderr).

    A command still running after `timeout` seconds is killed and the check
    fails, naming the command."""
    argv = [str(a) for a in argv]
    try:
        p = subprocess.run(argv, cwd=cwd, env=env, input=input, capture_output=True, text=True,
                           timeout=timeout, preexec_fn=_child_setup)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        raise CheckFailed(f"expected `{' '.join(argv)}` to finish within {timeout}s, it was still running "
                          f"(stdout so far: {out[-400:]!r})")
    return Result(p.returncode, p.stdout, p.stderr, argv)


# --------------------------------------------------------------------------
# Background processes


_PR_SET_PDEATHSIG = 1
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - non-Linux
    _libc = None


def _child_setup():
    """In the child before exec: die with the harness, even on SIGKILL."""
    if _libc is not None and sys.platform.startswith("linux"):
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Background:
    """A process started by spawn(); stdout/stderr go to files in log_dir."""

    def __init__(self, argv, log_dir, name, cwd=None, env=None):
        self.argv = [str(a) for a in argv]
        self.name = name
        self.stdout_path = os.path.join(log_dir, f"{name}.stdout")
        self.stderr_path = os.path.join(log_dir, f"{name}.stderr")
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv, cwd=cwd, env=env, stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         preexec_fn=_child_setup)
        self.pid = self.proc.pid

    def running(self):
        return self.proc.poll() is None

    @property
    def returncode(self):
        return self.proc.poll()

    def kill9(self):
        """SIGKILL the process (if still running) and reap it. Returns True
        if the signal is what ended it, False if it had exited by itself."""
        if self.running():
            try:
                self.proc.send_signal(signal.SIGKILL)
            except ProcessLookupError:
                pass
        return self.proc.wait() == -signal.SIGKILL

    def terminate(self, grace=5.0):
        """SIGTERM, then SIGKILL after `grace` seconds. Returns the exit code."""
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.kill9()
        return self.proc.wait()

    def wait(self, timeout=DEFAULT_TIMEOUT):
        """Waits for exit; CheckFailed if it is still running after timeout."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise CheckFailed(f"expected {self.name} (`{' '.join(self.argv)}`) to exit within {timeout}s, "
                              f"it is still running")

    def stdout(self):
        with open(self.stdout_path, errors="replace") as f:
            return f.read()

    def stderr(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def result(self):
        """Result of a finished process (rc, stdout, stderr)."""
        return Result(self.proc.wait(), self.stdout(), self.stderr(), self.argv)


class _Registry:
    """Every background process the harness started; all killed at exit."""

    def __init__(self):
        self.procs = []
        self.installed = False

    def add(self, p):
        self.install()
        self.procs.append(p)

    def kill_all(self):
        for p in self.procs:
            try:
                p.kill9()
            except Exception:  # keep going: every process must die
                pass
        self.procs.clear()

    def install(self):
        if self.installed:
            return
        self.installed = True
        atexit.register(self.kill_all)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, _exit_on_signal)


def _exit_on_signal(signum, _frame):
    # SystemExit unwinds try/finally blocks; atexit handlers then run.
    print(f"# interrupted by signal {signum}: killing background processes, removing the work dir", flush=True)
    _registry.kill_all()
    raise SystemExit(128 + signum)


_registry = _Registry()


# --------------------------------------------------------------------------
# Waiting and assertions


def poll(predicate, timeout, describe, interval=0.02):
    """Calls predicate() until it holds; returns what it returned.

    predicate() returns either a truthy/falsy value, or a pair
    (ok, observed) where `observed` is what to report if time runs out.
    Exceptions raised by predicate (e.g. connection refused) count as "not
    yet" and are reported as what was seen. On timeout: CheckFailed with
    "expected <describe> within <timeout>s, saw <last observation>"."""
    deadline = time.monotonic() + timeout
    seen = "nothing (predicate never ran)"
    delay = interval
    while True:
        try:
            value = predicate()
            if isinstance(value, tuple) and len(value) == 2:
                ok, seen = value
            else:
                ok, seen = bool(value), value
            if ok:
                return value
        except CheckFailed as e:
            seen = str(e)
        except Exception as e:  # noqa: BLE001 - reported, not swallowed
            seen = f"{type(e).__name__}: {e}"
        if time.monotonic() >= deadline:
            raise CheckFailed(f"expected {describe} within {timeout}s, saw {seen}")
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.25)


def expect(cond, expected, seen=""):
    if not cond:
        raise CheckFailed(f"expected {expected}" + (f", saw {seen}" if seen != "" else ""))


def expect_eq(actual, wanted, what):
    if actual != wanted:
        raise CheckFailed(f"expected {what} = {wanted!r}, saw {actual!r}")


def expect_in(needle, haystack, what):
    if needle not in haystack:
        raise CheckFailed(f"expected {what} to contain {needle!r}, saw {haystack.strip()[:800]!r}")


def expect_rc(result, code):
    """The command exited with `code`; on failure shows its stdout/stderr."""
    if result.rc != code:
        raise CheckFailed(f"expected exit code {code}, saw {result.describe()}")


# --------------------------------------------------------------------------
# Check runner


class TestRun:
    """One scenario script: its temp dir, its processes, its checks."""

    def __init__(self, title):
        self.title = title
        self.passed = 0
        self.failed = 0
        self.aborted_by = None
        self.own_procs = []
        self.cleanups = []
        _registry.install()
        self.dir = tempfile.mkdtemp(prefix="tnode-it-")
        atexit.register(self._cleanup)
        print(f"# {title} (work dir {self.dir})", flush=True)
        try:
            self.bins = {name: binary(name) for name in ("tgenesis", "tchain", "tforge")}
        except SetupError as e:
            self._record(False, "binaries are built", str(e))
            self.finish()

    # ---- files and processes

    def subdir(self, name):
        """A fresh directory inside this run's temp dir."""
        path = os.path.join(self.dir, name)
        os.makedirs(path, exist_ok=False)
        return path

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def tool(self, name, *args, timeout=DEFAULT_TIMEOUT, cwd=None, env=None):
        """Runs a built binary: tool("tchain", "--data-dir", d, "info")."""
        return run([self.bins.get(name) or binary(name), *args], timeout=timeout, cwd=cwd, env=env)

    def tool_json(self, name, *args, **kw):
        """Runs a tool that must exit 0 and print JSON; returns the JSON."""
        r = self.tool(name, *args, **kw)
        expect_rc(r, 0)
        return r.json()

    def spawn(self, name, argv, cwd=None, env=None):
        """Starts a background process; it is killed at exit whatever happens."""
        logs = os.path.join(self.dir, "logs")
        os.makedirs(logs, exist_ok=True)
        unique = f"{name}.{len(self.own_procs)}"
        p = Background(argv, logs, unique, cwd=cwd, env=env)
        _registry.add(p)
        self.own_procs.append(p)
        return p

    def spawn_tool(self, name, *args, cwd=None, env=None):
        return self.spawn(name, [self.bins.get(name) or binary(name), *args], cwd=cwd, env=env)

    # ---- checks

    def check(self, name, fn, required=False):
        """Runs fn() as one named check; returns its value (None if it failed).

        required=True: when this check fails the later ones are not run
        (they are reported and counted as failed, never as passed)."""
        if self.aborted_by is not None:
            self._record(False, name, f"not run: required check '{self.aborted_by}' failed")
            return None
        start = time.monotonic()
        try:
            value = fn()
        except CheckFailed as e:
            self._record(False, name, str(e), time.monotonic() - start)
        except SetupError as e:
            self._record(False, name, f"setup: {e}", time.monotonic() - start)
        except Exception:  # a bug in the test or an unexpected crash: still one failed check
            self._record(False, name, "unexpected exception:\n" + traceback.format_exc(), time.monotonic() - start)
        else:
            self._record(True, name, "", time.monotonic() - start)
            return value
        if required:
            self.aborted_by = name
        return None

    def note(self, text):
        """An informational line (not a check)."""
        print(f"   # {text}", flush=True)

    def not_run(self, reason):
        """The scenario cannot run on this machine (not root, no kernel
        support, ...): cleans up, prints "not run: <reason>" and exits
        SKIP_CODE, which ctest reports as skipped, not passed."""
        self._cleanup()
        print(f"not run: {reason}", flush=True)
        sys.exit(SKIP_CODE)

    def add_cleanup(self, fn):
        """fn() runs once when the run ends, however it ends (last added,
        first run), before background processes are killed and the work dir
        removed. An exception in fn is printed, and the other cleanups still run."""
        self.cleanups.append(fn)

    def _record(self, ok, name, why, secs=None):
        took = f" ({secs:.2f}s)" if secs is not None else ""
        if ok:
            self.passed += 1
            print(f"ok   {name}{took}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name}{took}: {why}", flush=True)

    def finish(self):
        """Kills this run's processes, removes the temp dir, prints the
        summary line and exits (status 1 if any check failed or none ran)."""
        self._cleanup()
        if self.passed + self.failed == 0:
            self._record(False, "at least one check ran", "no checks were run")
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(1 if self.failed else 0)

    def _cleanup(self):
        while self.cleanups:
            fn = self.cleanups.pop()
            try:
                fn()
            except BaseException:  # noqa: BLE001 - a cleanup must not stop the others
                print("# cleanup failed:\n" + traceback.format_exc(), flush=True)
        for p in self.own_procs:
            try:
                p.kill9()
            except Exception:
                pass
        self.own_procs.clear()
        if self.dir and os.path.isdir(self.dir):
            if os.environ.get("TNODE_KEEP_TEST_DIR"):
                print(f"# kept {self.dir} (TNODE_KEEP_TEST_DIR set)", flush=True)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------
# Shared helpers for chain scenarios


def file_mode(path):
    return os.stat(path).st_mode & 0o777


def testnet(t, name, *args):
    """`tgenesis testnet --dir <tmp>/<name> ...`; returns (dir, json output)."""
    d = t.path(name)
    out = t.tool_json("tgenesis", "--json", "testnet", "--dir", d, *args)
    return d, out


def forge_chain(t, testnet_dir, blocks, out, *extra, timeout=DEFAULT_TIMEOUT):
    """`tforge chain`; returns the tip hash it printed."""
    r = t.tool("tforge", "chain", "--testnet", testnet_dir, "--blocks", blocks, "--out", out, *extra, timeout=timeout)
    expect_rc(r, 0)
    tip = r.stdout.strip()
    expect(len(tip) == 64 and all(c in "0123456789abcdef" for c in tip), "tforge to print a 64-hex tip hash",
           repr(r.stdout))
    return tip


def chain_info(t, data_dir):
    """`tchain --data-dir D info --json`, which must succeed."""
    return t.tool_json("tchain", "--data-dir", data_dir, "--json", "info")
