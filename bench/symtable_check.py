#!/usr/bin/env python3
"""Holds fixer's semantic model against CPython's own symbol tables.

For every .py file under the given paths that this Python compiles, the scopes and
symbols of `symtable.symtable()` are compared with those of `fixer inspect scopes`:
each scope (type, name, line) with each symbol's `is_*` flags. Names starting with
`.` (the implicit `.0` of a comprehension) and the `__class__` cell are left out on
both sides, as `fixer inspect scopes` documents.

    python3 bench/symtable_check.py /usr/lib/python3.11 path/to/django path/to/sympy

Prints the counts (files, scopes compared, scopes that differ, files tree-sitter could
not parse and so fixer skips, as every command does) and the first differences;
exits 1 when a compared scope differs, else 0.
"""

import argparse
import collections
import json
import os
import subprocess
import symtable
import sys
import tokenize
import warnings

FLAGS = (
    "local",
    "global",
    "declared_global",
    "nonlocal",
    "free",
    "imported",
    "parameter",
    "assigned",
    "referenced",
)


def keep(name):
    return not name.startswith(".") and name != "__class__"


def cpython_scopes(path):
    """The scopes symtable reports for `path`, or None when CPython rejects it."""
    try:
        with tokenize.open(path) as f:
            source = f.read()
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(source, path, "exec", dont_inherit=True)
            table = symtable.symtable(source, path, "exec")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
    out = []
    stack = [table]
    while stack:
        t = stack.pop()
        symbols = {}
        for s in t.get_symbols():
            name = s.get_name()
            if keep(name):
                symbols[name] = [f for f in FLAGS if getattr(s, "is_" + f)()]
        out.append((t.get_type(), t.get_name(), t.get_lineno(), symbols))
        stack.extend(reversed(t.get_children()))
    return out


def python_files(paths):
    for p in paths:
        if os.path.isfile(p):
            yield os.path.abspath(p)
            continue
        for root, dirs, files in os.walk(p):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(".py"):
                    yield os.path.abspath(os.path.join(root, name))


def fixer_scopes(fixer, files, chunk=400):
    """`fixer inspect scopes` over `files`, grouped by path; and the files it skipped."""
    by_path = collections.defaultdict(list)
    for i in range(0, len(files), chunk):
        part = files[i : i + chunk]
        run = subprocess.run(
            [fixer, "inspect", "scopes", *part],
            capture_output=True,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
        )
        if run.returncode != 0:
            sys.exit(f"error: `fixer inspect scopes` exited {run.returncode}: {run.stderr}")
        for line in run.stdout.splitlines():
            o = json.loads(line)
            symbols = {k: v for k, v in o["symbols"].items() if keep(k)}
            by_path[o["path"]].append((o["type"], o["name"], o["line"], symbols))
    return by_path


def describe(a, b):
    """What differs between two scopes with the same type, name and line."""
    parts = []
    for name in sorted(set(a[3]) | set(b[3])):
        x, y = a[3].get(name), b[3].get(name)
        if x != y:
            parts.append(f"{name}: symtable {x} fixer {y}")
    return "; ".join(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="+")
    ap.add_argument(
        "--fixer",
        default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "fixer"),
        help="the fixer binary (default: target/release/fixer)",
    )
    ap.add_argument("--show", type=int, default=20, help="differences to print")
    args = ap.parse_args()

    files = list(python_files(args.paths))
    expected = {}
    rejected = 0
    for f in files:
        scopes = cpython_scopes(f)
        if scopes is None:
            rejected += 1
        else:
            expected[f] = scopes
    got = fixer_scopes(args.fixer, sorted(expected))

    scopes_total = differ = 0
    skipped = []
    shown = 0
    for path, want in expected.items():
        have = got.get(path)
        if have is None:
            skipped.append((path, len(want)))
            continue
        scopes_total += len(want)
        key = lambda s: (s[0], s[1], s[2], json.dumps(s[3], sort_keys=True))
        want_c = collections.Counter(key(s) for s in want)
        have_c = collections.Counter(key(s) for s in have)
        missing = want_c - have_c
        extra = have_c - want_c
        n = max(sum(missing.values()), sum(extra.values()))
        differ += n
        if n and shown < args.show:
            extra_by_head = {k[:3]: k for k in extra}
            for k in missing:
                if shown >= args.show:
                    break
                shown += 1
                other = extra_by_head.pop(k[:3], None)
                where = f"{path}:{k[2]}: {k[0]} {k[1]}"
                if other is None:
                    print(f"{where}: missing from fixer")
                else:
                    a = (*k[:3], json.loads(k[3]))
                    b = (*other[:3], json.loads(other[3]))
                    print(f"{where}: {describe(a, b)}")
            for k in extra_by_head.values():
                if shown >= args.show:
                    break
                shown += 1
                print(f"{path}:{k[2]}: {k[0]} {k[1]}: not a scope symtable reports")
    for p, n in skipped[: args.show]:
        print(f"{p}: skipped by fixer, tree-sitter-python does not parse it ({n} scopes)")
    print(
        f"{len(files)} files, {len(expected)} compiled by CPython "
        f"({sys.version.split()[0]}), {rejected} rejected; "
        f"{scopes_total} scopes compared, {differ} differ; "
        f"{len(skipped)} files fixer could not parse ({sum(n for _, n in skipped)} scopes)"
    )
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
