"""Reject codes: the Python table the scenarios decode Rejects with
(wire.REJECT_CODES, wire value -> name) is the C++ one, names and values.

The C++ source of truth, read from TNODE_SOURCE_DIR (default: this file's
repository):
  * libcore/p2p/messages.hpp: `enum class RejectCode` (name = wire value)
    and `kAllRejectCodes` (every code, which reject_code_from_wire and
    parse_reject_code go through);
  * libcore/p2p/messages.cpp: `to_string(RejectCode)`, the name a node
    puts in metrics labels and logs.
Each mismatch is named in the failure message. No process is started."""

import os
import re

from harness import CheckFailed, TestRun, expect
from wire import REJECT_CODES

SOURCE_DIR = os.environ.get("TNODE_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HPP = os.path.join(SOURCE_DIR, "libcore", "p2p", "messages.hpp")
CPP = os.path.join(SOURCE_DIR, "libcore", "p2p", "messages.cpp")
PY = "wire.REJECT_CODES"

t = TestRun("reject codes match the C++ list")
cxx = {}


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def braced_body(text, opening, where):
    """The text between the `{` that ends `opening` (a regex) and its `}`."""
    m = re.search(opening, text)
    if not m:
        raise CheckFailed(f"expected /{opening}/ in {where}, found none")
    start = text.index("{", m.start())
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1:i]
    raise CheckFailed(f"expected a closing brace after /{opening}/ in {where}")


def parse_sources():
    for path in (HPP, CPP):
        expect(os.path.isfile(path), f"the C++ source {path} (TNODE_SOURCE_DIR={SOURCE_DIR})", "no such file")
    with open(HPP) as f:
        hpp = strip_comments(f.read())
    with open(CPP) as f:
        cpp = strip_comments(f.read())

    # enum class RejectCode : std::uint16_t { name = value, ... };
    enum = {}
    value = -1
    body = braced_body(hpp, r"enum\s+class\s+RejectCode\b[^{;]*\{", HPP)
    for item in (s.strip() for s in body.split(",")):
        if not item:
            continue
        m = re.fullmatch(r"([A-Za-z_]\w*)\s*(?:=\s*(\w+))?", item)
        if not m:
            raise CheckFailed(f"expected `name` or `name = integer` in enum RejectCode ({HPP}), saw {item!r}")
        try:
            value = int(m.group(2), 0) if m.group(2) else value + 1  # C++: implicit = previous + 1
        except ValueError:
            raise CheckFailed(f"expected an integer literal for RejectCode::{m.group(1)} ({HPP}), "
                              f"saw {m.group(2)!r}")
        if m.group(1) in enum:
            raise CheckFailed(f"expected RejectCode::{m.group(1)} once in {HPP}, saw it twice")
        enum[m.group(1)] = value

    # inline constexpr std::array kAllRejectCodes = { RejectCode::a, ... };
    listed = re.findall(r"RejectCode::(\w+)", braced_body(hpp, r"\bkAllRejectCodes\s*=\s*\{", HPP))

    # std::string_view to_string(RejectCode code) { switch ... case RejectCode::a: return "a"; ... }
    names = {}
    body = braced_body(cpp, r"\bto_string\s*\(\s*RejectCode\s+\w+\s*\)\s*\{", CPP)
    for enumerator, text in re.findall(r'case\s+RejectCode::(\w+)\s*:\s*return\s+"([^"]*)"\s*;', body):
        names[enumerator] = text

    expect(enum, f"enumerators in enum class RejectCode ({HPP})", "none")
    expect(listed, f"RejectCode::... entries in kAllRejectCodes ({HPP})", "none")
    expect(names, f'`case RejectCode::X: return "x";` lines in to_string(RejectCode) ({CPP})', "none")
    cxx.update(enum=enum, listed=listed, names=names)
    t.note(f"C++: {len(enum)} RejectCode enumerators, {len(listed)} in kAllRejectCodes, "
           f"{len(names)} to_string cases; Python: {len(REJECT_CODES)} in {PY}")


t.check("the C++ RejectCode enum, kAllRejectCodes and to_string(RejectCode) parse", parse_sources, required=True)


def report(problems, what):
    if problems:
        raise CheckFailed(f"expected {what}; {len(problems)} mismatch(es):\n  " + "\n  ".join(problems))


def python_matches_enum():
    enum = cxx["enum"]
    problems = []
    py_by_name = {}
    for value, name in sorted(REJECT_CODES.items()):
        if name in py_by_name:
            problems.append(f"{PY} names {name!r} twice: at {py_by_name[name]} and {value}")
        else:
            py_by_name[name] = value
    for name in sorted(set(enum) | set(py_by_name), key=lambda n: enum.get(n, py_by_name.get(n))):
        if name not in py_by_name:
            holder = REJECT_CODES.get(enum[name])
            problems.append(f"RejectCode::{name} = {enum[name]} is not in {PY}"
                            + (f" (which has {enum[name]}: {holder!r})" if holder is not None else ""))
        elif name not in enum:
            problems.append(f"{PY} has {py_by_name[name]}: {name!r}, but RejectCode has no enumerator {name}")
        elif enum[name] != py_by_name[name]:
            problems.append(f"{name}: RejectCode::{name} = {enum[name]} in C++, {py_by_name[name]} in {PY}")
    report(problems, f"{PY} to be exactly enum class RejectCode of {HPP} (name and wire value of each code)")


t.check(f"{PY}: the same names with the same wire values as enum class RejectCode", python_matches_enum)


def python_matches_to_string():
    enum, names = cxx["enum"], cxx["names"]
    problems = []
    for enumerator, value in sorted(enum.items(), key=lambda kv: kv[1]):
        if enumerator not in names:
            problems.append(f"to_string(RejectCode) has no case for RejectCode::{enumerator} (value {value})")
        elif names[enumerator] != REJECT_CODES.get(value):
            py = f"{PY} has {REJECT_CODES[value]!r}" if value in REJECT_CODES else f"{PY} has no code {value}"
            problems.append(f"RejectCode::{enumerator} (value {value}): to_string gives {names[enumerator]!r}, {py}")
    for enumerator in sorted(set(names) - set(enum)):
        problems.append(f"to_string(RejectCode) has a case for RejectCode::{enumerator}, which is no enumerator")
    report(problems, f"to_string(RejectCode) in {CPP} to give {PY}'s name for every code")


t.check(f"to_string(RejectCode) gives {PY}'s name for every code", python_matches_to_string)


def all_codes_listed():
    enum, listed = cxx["enum"], cxx["listed"]
    problems = [f"RejectCode::{e} (value {enum[e]}) is missing from kAllRejectCodes"
                for e in sorted(enum, key=enum.get) if e not in listed]
    problems += [f"kAllRejectCodes lists RejectCode::{e} {listed.count(e)} times"
                 for e in sorted(set(listed)) if listed.count(e) > 1]
    problems += [f"kAllRejectCodes lists RejectCode::{e}, which is no enumerator"
                 for e in sorted(set(listed) - set(enum))]
    report(problems, f"kAllRejectCodes in {HPP} to list every RejectCode exactly once (else the node "
                     f"cannot decode it from the wire)")


t.check("kAllRejectCodes lists every RejectCode exactly once", all_codes_listed)

t.finish()
