#!/usr/bin/env python3
"""package.install_tree: what `cmake --install` puts where.

Installs the build tree (TNODE_BIN_DIR) twice:
  * --prefix /usr with DESTDIR (Debian's layout, what scripts/package uses):
    binaries in /usr/bin, man pages, the unit in /lib/systemd/system, the
    example config in /etc/tnode, logrotate in /etc/logrotate.d, bash
    completion; exactly these files and nothing else (plus the Grafana and
    Prometheus files when the source tree has them);
  * --prefix <dir> without DESTDIR: every file stays under the prefix (the
    host's /etc is never written).
Then: the installed binaries run, installed files equal their sources, a
second install keeps an edited /etc/tnode/tnode.toml, and the example
config's commented defaults are tnode's defaults (uncommenting every key
resolves to the same configuration).
"""

import difflib
import filecmp
import glob
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import TestRun, expect, expect_rc, run  # noqa: E402

TOOLS = ["tnode", "tpeer-probe", "tgenesis", "tchain"]
SOURCE = os.environ.get("TNODE_SOURCE_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
BUILD = os.environ.get("TNODE_BIN_DIR", "")
CMAKE = os.environ.get("CMAKE_COMMAND", "cmake")


def expected_files(usr, etc, unit_dir):
    """Path (relative to the install root) -> source file it must equal
    (None for binaries)."""
    files = {}
    for tool in TOOLS:
        files[f"{usr}/bin/{tool}"] = None
        files[f"{usr}/share/bash-completion/completions/{tool}"] = f"contrib/bash-completion/{tool}"
    for page in sorted(glob.glob(os.path.join(SOURCE, "man", "*.[15]"))):
        name = os.path.basename(page)
        files[f"{usr}/share/man/man{name[-1]}/{name}"] = f"man/{name}"
    files[f"{unit_dir}/tnode.service"] = "contrib/systemd/tnode.service"
    files[f"{etc}/tnode/tnode.toml"] = "contrib/tnode.toml"
    files[f"{etc}/logrotate.d/tnode"] = "contrib/logrotate/tnode"
    for sub, pattern in (("grafana", "*.json"), ("prometheus", "*.yml")):
        for f in sorted(glob.glob(os.path.join(SOURCE, "contrib", sub, pattern))):
            files[f"{usr}/share/tnode/{sub}/{os.path.basename(f)}"] = f"contrib/{sub}/{os.path.basename(f)}"
    return {k.lstrip("/"): v for k, v in files.items()}


def tree(root):
    found = set()
    for d, _, names in os.walk(root):
        for n in names:
            found.add(os.path.relpath(os.path.join(d, n), root))
    return found


def install(prefix, destdir=None):
    env = dict(os.environ)
    env.pop("DESTDIR", None)
    if destdir:
        env["DESTDIR"] = destdir
    r = run([CMAKE, "--install", BUILD, "--prefix", prefix], env=env, timeout=120)
    expect_rc(r, 0)
    return r


t = TestRun("cmake --install tree")
if not BUILD:
    t.not_run("TNODE_BIN_DIR is not set (run through ctest)")
root = t.path("root")
prefix = t.path("opt")
debian_layout = expected_files("usr", "etc", "lib/systemd/system")


def destdir_install():
    install("/usr", destdir=root)
    found = tree(root)
    missing = sorted(set(debian_layout) - found)
    extra = sorted(found - set(debian_layout))
    expect(not missing and not extra, f"exactly {len(debian_layout)} files",
           f"missing {missing}, unexpected {extra}")


def prefix_install():
    install(prefix)
    want = expected_files("", "etc", "lib/systemd/system")
    found = tree(prefix)
    expect(found == set(want), f"every file under the prefix {prefix}: {sorted(want)}",
           f"missing {sorted(set(want) - found)}, unexpected {sorted(found - set(want))}")


def binaries_run():
    for tool in TOOLS:
        path = os.path.join(root, "usr", "bin", tool)
        expect(os.access(path, os.X_OK), f"{path} executable", oct(os.stat(path).st_mode))
        r = run([path, "--version"])
        expect_rc(r, 0)
        expect(r.stdout.startswith(tool + " "), f"`{tool} --version` to print '{tool} <version>'", r.stdout)


def same_as_sources():
    for rel, src in debian_layout.items():
        if src is None:
            continue
        expect(filecmp.cmp(os.path.join(root, rel), os.path.join(SOURCE, src), shallow=False),
               f"{rel} identical to {src}", "it differs")


def config_kept():
    config = os.path.join(root, "etc", "tnode", "tnode.toml")
    with open(config, "a", encoding="ascii") as f:
        f.write("# edited by the operator\n")
    r = install("/usr", destdir=root)
    with open(config, encoding="ascii") as f:
        text = f.read()
    expect(text.endswith("# edited by the operator\n"), "a second install to keep the edited config",
           f"its end is {text[-80:]!r}; install said {r.stdout[-300:]!r}")
    expect("Kept" in r.stdout, "the install to say it kept the config", r.stdout[-300:])


def example_defaults():
    """Uncommenting every `#key = value` (or `# key = value`) line changes
    nothing: the comments show tnode's real defaults."""
    src = os.path.join(SOURCE, "contrib", "tnode.toml")
    with open(src, encoding="ascii") as f:
        text = f.read()
    uncommented = re.sub(r"(?m)^# ?([a-z_]+ = )", r"\1", text)
    keys = len(re.findall(r"(?m)^# ?[a-z_]+ = ", text))
    expect(keys >= 40, "at least 40 commented keys in the example", keys)
    d = t.subdir("config")
    for name, body in (("example.toml", text), ("uncommented.toml", uncommented)):
        with open(os.path.join(d, name), "w", encoding="ascii") as f:
            f.write(body)
    tnode = os.path.join(BUILD, "apps", "tnode")
    # A hash-only genesis and a peer make both files complete configurations.
    extra = ["--check-config", "--set", "genesis.hash=" + "0" * 64, "--peer", "127.0.0.1:1"]
    a = run([tnode, "--config", os.path.join(d, "example.toml"), *extra])
    b = run([tnode, "--config", os.path.join(d, "uncommented.toml"), *extra])
    expect_rc(a, 0)
    expect_rc(b, 0)
    diff = list(difflib.unified_diff(a.stdout.splitlines(), b.stdout.splitlines(), "commented", "uncommented",
                                     lineterm="", n=0))
    expect(not diff, "the same resolved configuration with every key uncommented", diff[2:])
    expect('data_dir = "/var/lib/tnode"' in a.stdout, "node.data_dir /var/lib/tnode", a.stdout[:200])


t.check("install --prefix /usr into a DESTDIR: exactly the expected files", destdir_install, required=True)
t.check("install --prefix DIR: everything stays under DIR", prefix_install)
t.check("the installed binaries run (--version)", binaries_run)
t.check("installed files are their sources", same_as_sources)
t.check("a second install keeps an edited /etc/tnode/tnode.toml", config_kept)
t.check("the example config's commented values are tnode's defaults", example_defaults)
t.finish()
