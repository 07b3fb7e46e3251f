#!/usr/bin/python3
"""The daemon's shape, checked: what docs/architecture.md promises a newcomer.

- kernel.c is the only file that includes the BPF skeleton;
- no two modules of user/ depend on each other in a loop (a module is x.c with x.h;
  it depends on another by including its header or calling its x__ functions);
- every header compiles on its own;
- main.c is under 150 lines and no function of user/ is over 120;
- the kernel side is layered: a bpf/ header calls only functions defined in itself or
  in the headers it includes (directly or not), so no header calls up into one that
  includes it (the protocol parsers call down into the connection layer, never the
  other way) and the includes have no loop.

Prints what is wrong and exits 1, or says ok.
"""
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
USER = ROOT / "user"
BPF = ROOT / "bpf"
MAX_FUNCTION_LINES = 120
MAX_MAIN_LINES = 150


def modules():
    """{module: set of modules it depends on}"""
    deps = {}
    for f in sorted(USER.glob("*.[ch]")):
        text = f.read_text()
        uses = {h.rsplit(".", 1)[0] for h in re.findall(r'#include "([\w.]+)"', text)}
        uses |= set(re.findall(r"\b([a-z_]+)__[a-z_]+\(", text))
        deps.setdefault(f.stem, set()).update(uses - {f.stem})
    return {m: {d for d in ds if d in deps} for m, ds in deps.items()}


def loops(deps):
    """Each dependency loop once, as a list of modules."""
    found, seen = [], set()

    def walk(start, node, path):
        for nxt in sorted(deps[node]):
            if nxt == start:
                key = frozenset(path)
                if key not in seen:
                    seen.add(key)
                    found.append(path + [start])
            elif nxt > start and nxt not in path:
                walk(start, nxt, path + [nxt])
    for m in sorted(deps):
        walk(m, m, [m])
    return found


def long_functions():
    """(file, function, lines) of functions over the limit: a definition starts at a
    line "type name(...)" followed by "{" and ends at the next "}" alone on a line."""
    out = []
    for f in sorted(USER.glob("*.c")):
        lines = f.read_text().split("\n")
        start = None
        for i, line in enumerate(lines):
            if re.match(r"^[a-z].*\)\s*$", line) and i + 1 < len(lines) and lines[i + 1] == "{":
                start = (i, line)
            elif line == "}" and start:
                n = i - start[0] + 1
                if n > MAX_FUNCTION_LINES:
                    out.append((f.name, start[1].split("(")[0], n))
                start = None
    return out


def headers_alone(cc):
    """Headers that do not compile as the only include of a file."""
    bad = []
    with tempfile.TemporaryDirectory() as tmp:
        src = pathlib.Path(tmp) / "one.c"
        for h in sorted(USER.glob("*.h")):
            src.write_text('#include "%s"\n' % h.name)
            r = subprocess.run([cc, "-std=gnu11", "-D_GNU_SOURCE", "-Wall", "-Werror",
                                "-fsyntax-only", "-I%s" % (ROOT / "include"), "-I%s" % USER,
                                "-I%s" % (ROOT / "build"), str(src)],
                               capture_output=True, text=True)
            if r.returncode:
                bad.append((h.name, r.stderr.strip().splitlines()[0] if r.stderr else "?"))
    return bad


def bpf_layers():
    """Problems of the kernel side's layering: include loops, and calls of a function
    defined in a header the caller does not include (a call up, or sideways)."""
    includes, defined, calls = {}, {}, {}
    definition = re.compile(r"^(?:static\s+)?(?:__always_inline\s+|__noinline\s+)*"
                            r"[a-z_][\w\s*]*?\b(\w+)\([^;]*$", re.M)
    for f in sorted(BPF.glob("*.bpf.h")):
        text = f.read_text()
        includes[f.name] = set(re.findall(r'#include "(\w+\.bpf\.h)"', text))
        lines = text.split("\n")
        for i, line in enumerate(lines):
            m = definition.match(line)
            # a definition: its parameters close on this or a later line, then "{" alone
            if m and any(lines[j] == "{" for j in range(i + 1, min(i + 4, len(lines)))):
                defined.setdefault(m.group(1), set()).add(f.name)
        body = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        calls[f.name] = set(re.findall(r"\b(\w+)\(", body))
    problems = []

    def below(name, path=()):
        if name in path:
            problems.append("bpf includes in a loop: %s" % " -> ".join(path + (name,)))
            return set()
        out = set()
        for inc in includes.get(name, ()):
            out |= {inc} | below(inc, path + (name,))
        return out
    for name in sorted(includes):
        reach = below(name) | {name}
        for fn in sorted(calls[name]):
            homes = defined.get(fn, set())
            if homes and not homes & reach:
                problems.append("bpf/%s calls %s of %s, which it does not include" %
                                (name, fn, ", ".join(sorted(homes))))
    return sorted(set(problems))


def main():
    cc = sys.argv[1] if len(sys.argv) > 1 else "cc"
    problems = []
    skel = [f.name for f in sorted(USER.glob("*.[ch]")) if "redscope.skel.h" in f.read_text()]
    if skel != ["kernel.c"]:
        problems.append("files that include the skeleton: %s (only kernel.c may)" % skel)
    for loop in loops(modules()):
        problems.append("modules in a loop: %s" % " -> ".join(loop))
    for name, err in headers_alone(cc):
        problems.append("%s does not compile alone: %s" % (name, err))
    main_lines = len((USER / "main.c").read_text().splitlines())
    if main_lines >= MAX_MAIN_LINES:
        problems.append("main.c has %d lines (under %d)" % (main_lines, MAX_MAIN_LINES))
    for name, func, n in long_functions():
        problems.append("%s: %s is %d lines (at most %d)" % (name, func, n, MAX_FUNCTION_LINES))
    problems += bpf_layers()
    for p in problems:
        print("structure: " + p)
    if problems:
        return 1
    print("structure: ok (%d modules, no loops, main.c %d lines)" % (len(modules()), main_lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
