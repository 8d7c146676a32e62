#!/usr/bin/env python3
"""docs.man_covers_options: the man pages must not drift from the code.

For every binary of the toolkit that is built, runs `<tool> --help` and
`<tool> <command> --help` for each command it lists, and checks that every
long option (--xyz) printed there, and every command name, appears in
man/<tool>.1. A built binary without a man page, or a man page whose binary
is not built, is a failure.

Environment: TNODE_BIN_DIR (the CMake build directory; binaries are looked
up in apps/, bin/ and the directory itself) and TNODE_SOURCE_DIR (the source
tree; pages are in man/). Prints one line per check and a last line
"N passed, M failed"; exits 1 when anything failed or nothing was checked.
"""

import os
import re
import shutil
import subprocess
import sys

TOOLS = ["tgenesis", "tchain", "tnode", "tpeer-probe"]
LONG_OPTION = re.compile(r"(?<![\w-])--[A-Za-z0-9][A-Za-z0-9_-]*")
SUBCOMMANDS_HEADER = re.compile(r"^\s*subcommands:\s*$", re.IGNORECASE)


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {what}")
        else:
            self.failed += 1
            print(f"FAIL {what}" + (f": {detail}" if detail else ""))
        return ok


def find_binary(bin_dir, tool):
    for sub in ("apps", "bin", "."):
        path = os.path.join(bin_dir, sub, tool)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def run_help(argv):
    """Returns (exit code, combined output) of `argv --help`."""
    try:
        proc = subprocess.run(argv + ["--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=30, text=True, env=dict(os.environ, COLUMNS="200"))
    except (OSError, subprocess.TimeoutExpired) as e:
        return -1, str(e)
    return proc.returncode, proc.stdout


def subcommands(help_text):
    """Command names listed under "Subcommands:" in CLI11 help output."""
    names, inside = [], False
    for line in help_text.splitlines():
        if SUBCOMMANDS_HEADER.match(line):
            inside = True
            continue
        if inside:
            if not line.strip():
                break
            if not line.startswith(" "):
                break
            names.append(line.split()[0])
    return names


def page_text(page):
    """The page as a reader sees it (rendered without line breaks when mandoc
    is available) plus its source with mdoc flags spelt out, so an option is
    found however it was written."""
    with open(page, encoding="utf-8") as f:
        source = f.read()
    # mdoc: ".Fl -json" renders as "--json", ".Fl o" as "-o"; "\-" is a minus.
    spelt = source.replace("\\-", "-")
    spelt = re.sub(r"\bFl\s+(-?[A-Za-z0-9][\w-]*)", lambda m: "-" + m.group(1), spelt)
    rendered = ""
    mandoc = shutil.which("mandoc")
    if mandoc:
        try:
            proc = subprocess.run([mandoc, "-Tascii", "-Owidth=1000", page], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, timeout=30)
            rendered = re.sub(r".\x08", "", proc.stdout.decode("utf-8", "replace"))
        except (OSError, subprocess.TimeoutExpired):
            rendered = ""
    return rendered + "\n" + spelt


def mentions_option(text, option):
    return re.search(r"(?<![\w-])" + re.escape(option) + r"(?![\w-])", text) is not None


def describes_command(source, command):
    """The page marks the command up as one: mdoc ".Cm new", or man(7) bold."""
    w = re.escape(command)
    return re.search(r"\bCm\s+" + w + r"(?![\w-])|\\fB" + w + r"(?![\w-])|^\.B\s+" + w + r"(?![\w-])",
                     source, re.MULTILINE) is not None


def check_tool(checks, tool, binary, page):
    code, top = run_help([binary])
    if not checks.check(code == 0, f"{tool} --help exits 0", f"exit {code}: {top.strip()[:200]}"):
        return
    text = page_text(page)
    with open(page, encoding="utf-8") as f:
        source = f.read()
    scopes = [([], top)]
    commands = subcommands(top)
    for command in commands:
        checks.check(describes_command(source, command), f"{tool}.1 describes command '{command}'",
                     f"no '.Cm {command}' (or bold {command}) in man/{tool}.1")
        code, out = run_help([binary, command])
        if checks.check(code == 0, f"{tool} {command} --help exits 0", f"exit {code}: {out.strip()[:200]}"):
            scopes.append(([command], out))
    for path, help_text in scopes:
        where = " ".join([tool] + path)
        for option in sorted(set(LONG_OPTION.findall(help_text))):
            checks.check(mentions_option(text, option), f"{tool}.1 documents {option} (from '{where} --help')",
                         f"'{option}' is printed by '{where} --help' but not in man/{tool}.1")


def main():
    bin_dir = os.environ.get("TNODE_BIN_DIR")
    src_dir = os.environ.get("TNODE_SOURCE_DIR")
    checks = Checks()
    if not bin_dir or not src_dir:
        checks.check(False, "environment", "TNODE_BIN_DIR and TNODE_SOURCE_DIR must be set")
        print(f"{checks.passed} passed, {checks.failed} failed")
        return 1
    for tool in TOOLS:
        binary = find_binary(bin_dir, tool)
        page = os.path.join(src_dir, "man", tool + ".1")
        has_page = os.path.isfile(page)
        if binary is None and not has_page:
            print(f"skip {tool}: not built and no man page yet")
            continue
        if not checks.check(binary is not None, f"{tool} is built",
                            f"man/{tool}.1 exists but no {tool} binary under {bin_dir} (build it first)"):
            continue
        if not checks.check(has_page, f"{tool} has a man page", f"{binary} is built but man/{tool}.1 is missing"):
            continue
        check_tool(checks, tool, binary, page)
    if checks.passed + checks.failed == 0:
        checks.check(False, "anything checked", "no binary and no man page found")
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 0 if checks.failed == 0 and checks.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
