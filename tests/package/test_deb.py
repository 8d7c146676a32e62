#!/usr/bin/env python3
"""package.deb: scripts/package builds a lintian-clean .deb that installs,
runs and uninstalls cleanly on a Debian system.

Builds the package from the build tree (TNODE_BIN_DIR) with scripts/package
(lintian must report no error; run twice: safe to repeat), checks its
metadata, then installs it into a throw-away copy of this machine, never
the machine itself: in a private mount namespace (unshare -m), an overlay
whose lower layer is / and whose upper layer is a tmpfs, with its own /proc
and a tmpfs /dev holding only null, zero, full, random and urandom; chroot
into it and:
  dpkg -i  -> the tools run, man finds and mandoc renders the pages,
              `systemd-analyze verify` accepts the unit, the tnode user and
              group, /var/lib/tnode (tnode, 0750), the config root:tnode 0640;
  dpkg -i again (reinstall) keeps an edited config;
  dpkg -r  -> no binaries, pages or unit left; /var/lib/tnode and the
              config kept;
  dpkg -P  -> the config gone; /var/lib/tnode (the node's key and chain)
              still kept.
The host's /usr/bin/tnode and dpkg database are checked unchanged at the
end. Needs root, unshare and overlayfs: otherwise "not run" (exit 77).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from harness import TestRun, expect, expect_eq, expect_in, expect_rc, run  # noqa: E402

SOURCE = os.environ.get("TNODE_SOURCE_DIR") or os.path.join(HERE, "..", "..")
BUILD = os.environ.get("TNODE_BIN_DIR", "")
TOOLS = ["tnode", "tpeer-probe", "tgenesis", "tchain"]
NEEDED = ["unshare", "mount", "umount", "chroot", "dpkg", "dpkg-deb", "lintian", "dh", "readelf", "mandoc",
          "systemd-analyze"]
IN_NAMESPACE = "TNODE_PACKAGE_TEST_NAMESPACE"


def host_state():
    """What must not change on the host: /usr/bin/tnode and dpkg's view of tnode."""
    st = os.stat("/usr/bin/tnode") if os.path.lexists("/usr/bin/tnode") else None
    status = subprocess.run(["dpkg-query", "-W", "-f=${Status} ${Version}", "tnode"], capture_output=True, text=True)
    return (st and (st.st_ino, st.st_mtime_ns, st.st_size), status.stdout.strip())


def preflight():
    """The reason this machine cannot run the scenario, or None."""
    if os.geteuid() != 0:
        return "needs root (mount namespaces, overlayfs, chroot, dpkg)"
    if not BUILD:
        return "TNODE_BIN_DIR is not set (run through ctest)"
    missing = [c for c in NEEDED if shutil.which(c) is None]
    if missing:
        return f"missing {', '.join(missing)} (scripts/setup installs them)"
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                            "d=$(mktemp -d) && mount -t tmpfs tmpfs $d && mkdir $d/u $d/w $d/m && "
                            "mount -t overlay overlay -o lowerdir=/,upperdir=$d/u,workdir=$d/w $d/m; "
                            "rc=$?; umount -R $d; rmdir $d; exit $rc"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot mount an overlay of / in a private mount namespace: {probe.stderr.strip()[:200]}"
    return None


# Outside the namespace: decide whether we can run, then run again inside one.
if not os.environ.get(IN_NAMESPACE):
    reason = preflight()
    if reason:
        print("# Debian package (preflight)")
        print(f"not run: {reason}", flush=True)
        sys.exit(77)
    before = host_state()
    env = dict(os.environ, **{IN_NAMESPACE: "1"})
    rc = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, os.path.abspath(__file__)],
                        env=env).returncode
    after = host_state()
    if after != before:
        print(f"FAIL the host is untouched: /usr/bin/tnode and dpkg's tnode were {before}, now {after}")
        sys.exit(1)
    print("ok   the host is untouched (/usr/bin/tnode, dpkg status of tnode)")
    sys.exit(rc)

t = TestRun("Debian package: build, lintian, install into an overlay of /, remove")
dist = t.subdir("dist")
deb = {}


def build_package():
    start = time.monotonic()
    r = run([os.path.join(SOURCE, "scripts", "package"), "--no-build", "--build-dir", BUILD, "--out", dist],
            timeout=600)
    expect_rc(r, 0)
    path = r.stdout.strip().splitlines()[-1]
    expect(os.path.isfile(path) and path.startswith(dist), f"the .deb's path in {dist} on the last line", path)
    errors = [line for line in r.stderr.splitlines() if line.startswith("E: ")]
    expect(not errors, "no lintian error", errors)
    for line in r.stderr.splitlines():
        if line.startswith(("W: ", "I: ")):
            t.note("lintian " + line)
    t.note(f"scripts/package took {time.monotonic() - start:.0f}s; {os.path.getsize(path) // 1024} KiB")
    deb["path"] = path


def metadata():
    path = deb["path"]
    depends = run(["dpkg-deb", "-f", path, "Depends"]).stdout.strip()
    t.note("Depends: " + depends)
    for lib in ("libc6", "libstdc++6", "libsodium23", "adduser"):
        expect_in(lib, depends, "Depends")
    listing = run(["dpkg-deb", "-c", path]).stdout
    for f in [f"./usr/bin/{x}" for x in TOOLS] + ["./lib/systemd/system/tnode.service",
                                                  "./usr/share/man/man1/tnode.1.gz",
                                                  "./usr/share/man/man5/tnode.toml.5.gz",
                                                  "./usr/share/doc/tnode/copyright",
                                                  "./usr/share/doc/tnode/changelog.gz",
                                                  "./etc/tnode/tnode.toml"]:
        expect_in(f + "\n", listing + "\n", "the package's files")
    expect("./var/lib/tnode" not in listing, "no /var/lib/tnode in the package (postinst makes it; dpkg -r must "
           "not remove it)", "it is listed")
    d = t.subdir("extract")
    expect_rc(run(["dpkg-deb", "-e", path, os.path.join(d, "DEBIAN")]), 0)
    with open(os.path.join(d, "DEBIAN", "conffiles"), encoding="ascii") as f:
        conffiles = f.read().split()
    expect("/etc/tnode/tnode.toml" in conffiles, "/etc/tnode/tnode.toml a conffile", conffiles)
    expect_rc(run(["dpkg-deb", "-x", path, d]), 0)
    for tool in TOOLS:
        sections = run(["readelf", "-S", "-W", os.path.join(d, "usr", "bin", tool)]).stdout
        expect(".debug_info" not in sections and ".symtab" not in sections, f"{tool} stripped",
               "it has .debug_info or .symtab")


def package_twice():
    r = run([os.path.join(SOURCE, "scripts", "package"), "--no-build", "--no-lintian", "--build-dir", BUILD,
             "--out", dist], timeout=600)
    expect_rc(r, 0)
    expect_eq(r.stdout.strip().splitlines()[-1], deb["path"], "the second run's .deb")
    expect_eq(sorted(os.listdir(dist)), [os.path.basename(deb["path"])], "the output directory's files")


# ---- the throw-away root

base = tempfile.mkdtemp(prefix="tnode-pkg-root-")  # mounts live here, never under t.dir (rmtree)
root = os.path.join(base, "merged")
mounted = []


def unmount_all():
    for m in reversed(mounted):
        subprocess.run(["umount", "-l", m], capture_output=True)
    mounted.clear()
    # Only empty directories are removed: nothing here may follow a mount.
    for d in ("merged", ""):
        try:
            os.rmdir(os.path.join(base, d) if d else base)
        except OSError:
            pass


t.add_cleanup(unmount_all)


def mount(*args):
    r = run(["mount", *args])
    expect_rc(r, 0)
    mounted.append(args[-1])


def make_root():
    mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", base)
    for d in ("upper", "work", "merged"):
        os.mkdir(os.path.join(base, d))
    mount("-t", "overlay", "overlay", "-o",
          f"lowerdir=/,upperdir={base}/upper,workdir={base}/work", root)
    mount("-t", "proc", "proc", os.path.join(root, "proc"))
    mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", os.path.join(root, "dev"))
    for name, minor in (("null", 3), ("zero", 5), ("full", 7), ("random", 8), ("urandom", 9)):
        dev = os.path.join(root, "dev", name)
        os.mknod(dev, 0o20666, os.makedev(1, minor))
        os.chmod(dev, 0o666)
    # man-db's dpkg trigger rebuilds the whole man index: slow and not what
    # is tested (man -w searches the directories itself).
    auto = os.path.join(root, "var", "lib", "man-db", "auto-update")
    if os.path.exists(auto):
        os.remove(auto)
    shutil.copy(deb["path"], os.path.join(root, "tmp", "tnode.deb"))
    expect(not os.path.exists(os.path.join(root, "usr", "bin", "tnode")), "no tnode in the fresh root",
           "/usr/bin/tnode exists (installed on the host?)")


def inside(command, timeout=300):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive",
           "HOME": "/root"}
    return run(["chroot", root, "/bin/sh", "-c", command], env=env, timeout=timeout)


def ok_inside(command, timeout=300):
    r = inside(command, timeout)
    expect_rc(r, 0)
    return r.stdout


def exists_inside(path):
    return os.path.lexists(os.path.join(root, path.lstrip("/")))


def install():
    ok_inside("dpkg -i /tmp/tnode.deb </dev/null")
    expect_in("install ok installed", ok_inside("dpkg-query -W -f='${Status}' tnode"), "dpkg status")


def tools_run():
    for tool in TOOLS:
        expect_eq(ok_inside(f"command -v {tool}").strip(), f"/usr/bin/{tool}", f"where {tool} is found")
        out = ok_inside(f"{tool} --version")
        expect(out.startswith(tool + " "), f"`{tool} --version` to print '{tool} <version>'", out)
    out = ok_inside("tgenesis keygen --out /tmp/k.key")
    expect(len(out.strip()) == 64, "tgenesis keygen to print a 64-hex node id", out)


def man_pages():
    for page, path in (("tnode", "/usr/share/man/man1/tnode.1.gz"), ("5 tnode.toml", "/usr/share/man/man5/tnode.toml.5.gz"),
                       ("tpeer-probe", "/usr/share/man/man1/tpeer-probe.1.gz"),
                       ("tgenesis", "/usr/share/man/man1/tgenesis.1.gz"), ("tchain", "/usr/share/man/man1/tchain.1.gz")):
        expect_eq(ok_inside(f"man -w {page}").strip(), path, f"`man -w {page}`")
        text = re.sub(r".\x08", "", ok_inside(f"mandoc -Tascii {path}"))
        expect_in("NAME", text, f"{path} rendered")
        expect(len(text) > 1000, f"{path} rendered to more than 1000 characters", len(text))


def unit_verifies():
    r = inside("systemd-analyze verify /lib/systemd/system/tnode.service")
    expect_rc(r, 0)
    complaints = [line for line in (r.stdout + r.stderr).splitlines() if "tnode" in line]
    expect(not complaints, "systemd-analyze verify to say nothing about tnode.service", complaints)


def user_and_dirs():
    pw = ok_inside("getent passwd tnode").strip().split(":")
    expect_eq(pw[5], "/var/lib/tnode", "tnode's home")
    expect(pw[6] in ("/usr/sbin/nologin", "/sbin/nologin"), "a nologin shell", pw[6])
    expect(int(pw[2]) < 1000, "a system uid (< 1000)", pw[2])
    ok_inside("getent group tnode")
    expect_eq(ok_inside("stat -c '%U:%G %a' /var/lib/tnode /var/log/tnode").split("\n")[:2],
              ["tnode:tnode 750", "tnode:tnode 750"], "owner and mode of /var/lib/tnode, /var/log/tnode")
    expect_eq(ok_inside("stat -c '%U:%G %a' /etc/tnode/tnode.toml").strip(), "root:tnode 640",
              "owner and mode of /etc/tnode/tnode.toml (it may hold http.admin_token)")
    # The tnode user can read its configuration; the shipped one resolves
    # (given a genesis hash and a peer, which the operator adds).
    out = ok_inside("runuser -u tnode -- tnode --config /etc/tnode/tnode.toml --check-config "
                    f"--set genesis.hash={'0' * 64} --peer 127.0.0.1:1")
    expect_in('data_dir = "/var/lib/tnode"', out, "the resolved configuration")


def reinstall_keeps_config():
    ok_inside("echo '# edited' >> /etc/tnode/tnode.toml && echo state > /var/lib/tnode/node.key")
    ok_inside("dpkg -i /tmp/tnode.deb </dev/null")
    expect(ok_inside("tail -n 1 /etc/tnode/tnode.toml").strip() == "# edited", "the edited config kept",
           "it was replaced")
    expect_eq(ok_inside("stat -c '%U:%G %a' /etc/tnode/tnode.toml").strip(), "root:tnode 640", "config mode")


def remove():
    ok_inside("dpkg -r tnode </dev/null")
    left = [p for p in [f"/usr/bin/{x}" for x in TOOLS] + ["/lib/systemd/system/tnode.service",
                                                           "/usr/share/man/man1/tnode.1.gz",
                                                           "/usr/share/bash-completion/completions/tnode"]
            if exists_inside(p)]
    expect(not left, "no binaries, pages, unit or completion left", left)
    expect_eq(ok_inside("cat /var/lib/tnode/node.key").strip(), "state", "/var/lib/tnode/node.key after dpkg -r")
    expect(exists_inside("/etc/tnode/tnode.toml"), "the config kept until purge", "it is gone")


def purge():
    ok_inside("dpkg -P tnode </dev/null")
    expect(not exists_inside("/etc/tnode"), "/etc/tnode gone after purge", "it is still there")
    expect_eq(ok_inside("cat /var/lib/tnode/node.key").strip(), "state", "/var/lib/tnode/node.key after purge")
    overrides = inside("dpkg-statoverride --list /etc/tnode/tnode.toml")
    expect(overrides.rc != 0, "the statoverride removed", overrides.stdout)


t.check("scripts/package builds the .deb, lintian reports no error", build_package, required=True)
t.check("Depends, files, conffiles, stripped binaries", metadata)
t.check("scripts/package runs again into the same directory", package_twice)
t.check("a throw-away root: overlay of / on a tmpfs, own /proc and /dev", make_root, required=True)
t.check("dpkg -i in the throw-away root", install, required=True)
t.check("the installed tools run", tools_run)
t.check("man finds and mandoc renders the installed pages", man_pages)
t.check("systemd-analyze verify accepts the installed unit", unit_verifies)
t.check("the tnode user, /var/lib/tnode, /var/log/tnode, the config's owner", user_and_dirs)
t.check("reinstalling keeps an edited config", reinstall_keeps_config)
t.check("dpkg -r: no binaries left, /var/lib/tnode and the config kept", remove)
t.check("dpkg -P: the config gone, /var/lib/tnode kept", purge)
t.finish()
