#!/usr/bin/env python3
"""package.completion: bash completion matches what the tools accept.

For each of the four tools, sources /usr/share/bash-completion/bash_completion
and contrib/bash-completion/<tool> in a bash, and completes:
  * `<tool> `          -> exactly the subcommands `<tool> --help` lists;
  * `<tool> --`        -> exactly the long options of `<tool> --help`;
  * `<tool> CMD --`    -> exactly the long options of `<tool> --help` and
                          `<tool> CMD --help` (global options are accepted
                          after a command too), except for tnode, whose
                          top-level options belong to running the node and
                          are refused after `init`: there only init's.
So a completion that misses a new command or option, or offers one that no
longer exists, fails. Needs the built binaries (TNODE_BIN_DIR) and the
bash-completion package (scripts/setup installs it).
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "docs"))
from harness import CheckFailed, TestRun, binary, expect, run  # noqa: E402
from man_covers_options import LONG_OPTION, run_help, subcommands  # noqa: E402

TOOLS = ["tnode", "tpeer-probe", "tgenesis", "tchain"]
# Tools whose top-level options are not accepted after a command.
OWN_OPTIONS_ONLY = {"tnode"}
SOURCE = os.environ.get("TNODE_SOURCE_DIR") or os.path.join(HERE, "..", "..")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"

# Completes one command line (ending in the word being completed) the way
# bash does on TAB: the function registered with `complete -F` for the tool,
# called with COMP_WORDS/COMP_CWORD/COMP_LINE/COMP_POINT set.
DRIVER = r'''
source "$1"
source "$2"
spec=$(complete -p "$3") || { echo "no completion registered for $3" >&2; exit 3; }
func=$(sed -n 's/.*-F \([^ ]*\).*/\1/p' <<<"$spec")
shift 3
for line in "$@"; do
    COMP_LINE=$line
    COMP_POINT=${#line}
    read -ra COMP_WORDS <<<"$line"
    [[ $line == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    "$func" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf '%s\n' "${COMPREPLY[@]}" "@@end"
done
'''


def complete(tool, lines):
    """Completion candidates of each line, as sets."""
    script = os.path.join(SOURCE, "contrib", "bash-completion", tool)
    expect(os.path.isfile(script), f"a completion file {script}", "none")
    r = run(["bash", "-c", DRIVER, "driver", BASH_COMPLETION, script, tool, *lines])
    if r.rc != 0:
        raise CheckFailed(f"expected the completion of {tool} to run, saw {r.describe()}")
    answers = r.stdout.split("@@end\n")[:-1]
    expect(len(answers) == len(lines), f"{len(lines)} answers", r.stdout[-400:])
    return [set(a.split()) for a in answers]


def options(help_text):
    return set(LONG_OPTION.findall(help_text))


def compare(what, offered, wanted):
    missing, extra = sorted(wanted - offered), sorted(offered - wanted)
    expect(not missing and not extra, f"`{what}<TAB>` to offer {sorted(wanted)}",
           f"missing {missing}, offered but not in --help {extra}")


def check_tool(tool):
    path = binary(tool)
    code, top = run_help([path])
    expect(code == 0, f"`{tool} --help` to exit 0", f"exit {code}")
    commands = subcommands(top)
    lines = [f"{tool} ", f"{tool} --"]
    wanted = [set(commands), options(top)]
    for command in commands:
        code, text = run_help([path, command])
        expect(code == 0, f"`{tool} {command} --help` to exit 0", f"exit {code}")
        lines.append(f"{tool} {command} --")
        wanted.append(options(text) if tool in OWN_OPTIONS_ONLY else options(top) | options(text))
    for line, offered, want in zip(lines, complete(tool, lines), wanted):
        if line == f"{tool} " and not commands:
            continue  # no commands: what a bare TAB offers (files) is bash's business
        compare(line, offered, want)
    return len(lines)


t = TestRun("bash completion")
if not os.path.isfile(BASH_COMPLETION):
    t.not_run(f"{BASH_COMPLETION} missing (apt-get install bash-completion; scripts/setup does)")
for tool in TOOLS:
    t.check(f"{tool}: subcommands and long options complete as --help lists them", lambda tool=tool: check_tool(tool))
t.check("tnode --log-format completes its values",
        lambda: expect(complete("tnode", ["tnode --log-format "])[0] == {"text", "json"}, "text and json"))
t.check("a value is not taken for a command (tgenesis --network new --)",
        lambda: compare("tgenesis --network new --", complete("tgenesis", ["tgenesis --network new --"])[0],
                        options(run_help([binary("tgenesis")])[1])))
t.finish()
