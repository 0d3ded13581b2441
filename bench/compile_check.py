#!/usr/bin/env python3
"""Holds fixer's verification against CPython's compile() on mutants of real files.

What: for every Python file given (or found under a directory given) that compile()
accepts, makes mutants that change one statement (or add one line) in ways likely to
give a compile-time-only error: `*` before an expression, an unparenthesised `:=`, a call
or a starred name as a target, `return`/`yield`/`await`/`break` moved outside their
contexts, a keyword argument or a parameter repeated, `nonlocal`/`global` where they
cannot stand, a late `from __future__`, ... (and some valid neighbours: a parenthesised
`:=`, a starred tuple). Each mutant is judged by compile() and by fixer's verification
(`fixer verify-change --jsonl`, one process for all of them, the original as the old
text, so the masked parse of a changed statement runs as it does for a rewrite).

Why: tree-sitter-python accepts code that CPython refuses; a rewrite producing such code
must be refused. The goal is 0 mutants that compile() rejects, tree-sitter parses and
fixer accepts ("missed"), and 0 that compile() accepts and fixer refuses ("wrongly
refused").

    python3 bench/compile_check.py /usr/lib/python3.11 [--per-kind 2] [--seed 1]
        [--fixer target/release/fixer] [--show 20]

Counts are printed per mutation and in total; `--show N` prints up to N mutants of each
kind of failure.
"""

import argparse
import ast
import json
import os
import random
import subprocess
import sys
import warnings
from collections import Counter, defaultdict


def python_files(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for f in sorted(files):
                    if f.endswith(".py"):
                        yield os.path.join(root, f)
        elif p.endswith(".py"):
            yield p


def compiles(text):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(text, "<mutant>", "exec", dont_inherit=True)
            return True, ""
        except SyntaxError as e:
            return False, e.msg or ""
        except (ValueError, RecursionError, MemoryError) as e:
            return None, str(e)


class Source:
    """A file's text as lines of bytes, for edits at ast positions (byte columns)."""

    def __init__(self, text):
        self.text = text
        self.lines = text.encode("utf-8").splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))
        self.data = text.encode("utf-8")

    def offset(self, lineno, col):
        return self.starts[lineno - 1] + col

    def span(self, node):
        return (
            self.offset(node.lineno, node.col_offset),
            self.offset(node.end_lineno, node.end_col_offset),
        )

    def segment(self, node):
        a, b = self.span(node)
        return self.data[a:b].decode("utf-8")

    def replace(self, start, end, new):
        return (self.data[:start] + new.encode("utf-8") + self.data[end:]).decode("utf-8")

    def replace_node(self, node, new):
        a, b = self.span(node)
        return self.replace(a, b, new)

    def insert_line(self, lineno, line):
        """Inserts `line` (with its indentation) before line `lineno` (1-based)."""
        at = self.starts[lineno - 1]
        nl = "\r\n" if self.data[at - 2 : at] == b"\r\n" else "\n"
        return self.replace(at, at, line + nl)

    def indent_of(self, node):
        line = self.lines[node.lineno - 1].decode("utf-8", "replace")
        return line[: len(line) - len(line.lstrip())]


def single_line(node):
    return node.lineno == node.end_lineno


SIMPLE = (ast.Name, ast.Attribute, ast.Subscript)


def walk_with_parents(tree):
    """(node, parent function or None, enclosing loops depth) for every node."""
    stack = [(tree, None, None)]
    while stack:
        node, func, parent = stack.pop()
        yield node, func, parent
        inner = node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else func
        for child in ast.iter_child_nodes(node):
            stack.append((child, inner, node))


def mutants(src, tree, rng, per_kind):
    """Yields (kind, expected_valid_or_None, new_text)."""
    by_kind = defaultdict(list)
    nodes = list(walk_with_parents(tree))
    top_level = tree.body

    def add(kind, make):
        by_kind[kind].append(make)

    for node, func, parent in nodes:
        if isinstance(node, ast.Assign) and single_line(node):
            v = node.value
            if isinstance(v, SIMPLE):
                add("star value of assignment", lambda v=v: src.replace_node(v, "*" + src.segment(v)))
                add("starred tuple value (valid)", lambda v=v: src.replace_node(v, "*" + src.segment(v) + ", 0"))
            add("walrus value of assignment", lambda v=v: src.replace_node(v, "_w := " + src.segment(v)))
            add("parenthesised walrus value (valid)", lambda v=v: src.replace_node(v, "(_w := " + src.segment(v) + ")"))
            t = node.targets[0]
            if isinstance(t, ast.Name):
                add("starred name as target", lambda t=t: src.replace_node(t, "*" + t.id))
                add("call as target", lambda t=t: src.replace_node(t, t.id + "()"))
                if func is not None:
                    ind = src.indent_of(node)
                    add("global after assignment", lambda t=t, ind=ind, node=node: src.insert_line(node.end_lineno + 1, ind + "global " + t.id))
            if isinstance(t, (ast.Tuple, ast.List)) and len(t.elts) >= 2 and all(isinstance(e, ast.Name) for e in t.elts):
                add("two starred targets", lambda t=t: src.replace_node(t, ", ".join("*" + e.id for e in t.elts)))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and len(node.body) >= 2:
            # A tab or spaces before one statement of a body: the other statements,
            # unchanged, no longer agree with it (IndentationError, TabError).
            for i, kind in ((0, "tab before a body's first statement"), (1, "tab before a body's second statement")):
                st = node.body[i]
                if single_line(st):
                    add(kind, lambda st=st: src.replace_node(st, "\t" + src.segment(st)))
            st = node.body[0]
            if single_line(st):
                add("spaces before a body's first statement", lambda st=st: src.replace_node(st, "  " + src.segment(st)))
        if isinstance(node, ast.AugAssign) and single_line(node):
            t = node.target
            if isinstance(t, ast.Name):
                add("tuple as augmented target", lambda t=t: src.replace_node(t, t.id + ", _z"))
            if isinstance(node.value, SIMPLE):
                add("star value of augmented assignment", lambda v=node.value: src.replace_node(v, "*" + src.segment(v)))
            add("walrus value of augmented assignment", lambda v=node.value: src.replace_node(v, "_w := " + src.segment(v)))
        if isinstance(node, ast.Return) and node.value is not None and single_line(node):
            v = node.value
            if isinstance(v, SIMPLE):
                add("star value of return", lambda v=v: src.replace_node(v, "*" + src.segment(v)))
            add("walrus value of return", lambda v=v: src.replace_node(v, "_w := " + src.segment(v)))
            add("return at module level", lambda node=node: src.insert_line(len(src.lines) + 1, src.segment(node)) if src.data.endswith(b"\n") else None)
        if isinstance(node, ast.Assert) and single_line(node):
            t = node.test
            if isinstance(t, SIMPLE):
                add("star in assert", lambda t=t: src.replace_node(t, "*" + src.segment(t)))
            add("walrus in assert", lambda t=t: src.replace_node(t, "_w := " + src.segment(t)))
            if node.msg is None:
                add("assert with three parts", lambda node=node: src.replace_node(node, src.segment(node) + ", 1, 2"))
        if isinstance(node, ast.Expr) and single_line(node):
            v = node.value
            if isinstance(v, ast.Call):
                add("walrus as statement", lambda v=v: src.replace_node(v, "_w := " + src.segment(v)))
                fn = v.func
                if isinstance(fn, ast.Name) and fn.id == "print" and v.args and not v.keywords:
                    add("print statement", lambda v=v: src.replace_node(v, "print " + ", ".join(src.segment(a) for a in v.args)))
            if isinstance(v, SIMPLE):
                add("star as statement", lambda v=v: src.replace_node(v, "*" + src.segment(v)))
            if isinstance(v, (ast.Yield, ast.YieldFrom)):
                add("yield at module level", lambda node=node: src.insert_line(len(src.lines) + 1, src.segment(node)) if src.data.endswith(b"\n") else None)
            if isinstance(v, ast.Await):
                add("await in a sync function", lambda node=node: None)
        if isinstance(node, ast.Call) and single_line(node) and node.keywords:
            k = node.keywords[0]
            if k.arg is not None:
                last = (node.args + [kw.value for kw in node.keywords])[-1]
                a, b = src.span(last)
                add("keyword argument repeated", lambda k=k, b=b: src.replace(b, b, ", " + k.arg + "=" + src.segment(k.value)))
                if not any(kw.arg is None for kw in node.keywords):
                    add("positional after keyword", lambda b=b: src.replace(b, b, ", _p"))
                add("walrus as keyword value", lambda k=k: src.replace_node(k.value, "_w := " + src.segment(k.value)))
                if isinstance(k.value, SIMPLE):
                    add("star as keyword value", lambda k=k: src.replace_node(k.value, "*" + src.segment(k.value)))
            else:
                a, b = src.span(k.value)
                add("star after double star", lambda b=b: src.replace(b, b, ", *_s"))
                add("positional after double star", lambda b=b: src.replace(b, b, ", _p"))
        if isinstance(node, ast.Call) and single_line(node) and node.args and not node.keywords:
            a0 = node.args[0]
            if not isinstance(a0, ast.Starred):
                add("walrus as positional argument (valid)", lambda a0=a0: src.replace_node(a0, "_w := " + src.segment(a0)))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            pos = args.posonlyargs + args.args
            body0 = node.body[0]
            ind = src.indent_of(body0)
            line0 = body0.lineno
            if body0.lineno > node.lineno and not isinstance(body0, ast.Expr) or body0.lineno > node.lineno:
                if len(pos) >= 2 and single_line(pos[1]):
                    add("parameter repeated", lambda pos=pos: src.replace_node(pos[1], pos[0].arg))
                if len(pos) >= 2 and not args.defaults and single_line(pos[0]):
                    add("non-default after default", lambda pos=pos: src.replace_node(pos[0], src.segment(pos[0]) + "=None"))
                names = sorted({n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)})
                if func is None and names:
                    name = rng.choice(names)
                    add("nonlocal in a top-level function", lambda name=name, ind=ind, line0=line0: src.insert_line(line0, ind + "nonlocal " + name))
                if func is not None:
                    outer = sorted({n.id for n in ast.walk(func) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)} - {a.arg for a in pos})
                    mine = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {a.arg for a in pos + args.kwonlyargs}
                    free = [n for n in outer if n not in mine]
                    if free:
                        add("nonlocal naming an enclosing binding (valid)", lambda n=free[0], ind=ind, line0=line0: src.insert_line(line0, ind + "nonlocal " + n))
                if pos:
                    add("parameter declared global", lambda p=pos[0].arg, ind=ind, line0=line0: src.insert_line(line0, ind + "global " + p))
                add("break outside a loop", lambda ind=ind, line0=line0: src.insert_line(line0, ind + "break"))
                add("continue outside a loop", lambda ind=ind, line0=line0: src.insert_line(line0, ind + "continue"))
                add("import * in a function", lambda ind=ind, line0=line0: src.insert_line(line0, ind + "from os import *"))
                if isinstance(node, ast.FunctionDef):
                    add("await in a sync function", lambda ind=ind, line0=line0: src.insert_line(line0, ind + "await _a"))
                    add("async with in a sync function", lambda ind=ind, line0=line0: src.insert_line(line0, ind + "async with _a: pass"))
                    add("async comprehension in a sync function", lambda ind=ind, line0=line0: src.insert_line(line0, ind + "_l = [x async for x in _a]"))
                else:
                    add("yield from in an async function", lambda ind=ind, line0=line0: src.insert_line(line0, ind + "yield from _a"))
                    add("await in an async function (valid)", lambda ind=ind, line0=line0: src.insert_line(line0, ind + "await _a"))
        if isinstance(node, ast.ClassDef):
            body0 = node.body[0]
            if body0.lineno > node.lineno:
                ind = src.indent_of(body0)
                add("yield in a class body", lambda ind=ind, l=body0.lineno: src.insert_line(l, ind + "yield"))
                add("return in a class body", lambda ind=ind, l=body0.lineno: src.insert_line(l, ind + "return"))
        if isinstance(node, (ast.For, ast.While)):
            body0 = node.body[0]
            if body0.lineno > node.lineno:
                ind = src.indent_of(body0)
                add("break in a loop (valid)", lambda ind=ind, l=body0.lineno: src.insert_line(l, ind + "if _c: break"))
            if isinstance(node, ast.For) and isinstance(node.target, ast.Name) and single_line(node.target):
                t = node.target
                add("call as for target", lambda t=t: src.replace_node(t, t.id + "()"))
                add("starred for target", lambda t=t: src.replace_node(t, "*" + t.id))
            if isinstance(node, ast.For) and isinstance(node.iter, SIMPLE) and single_line(node.iter):
                add("star as for iterable", lambda it=node.iter: src.replace_node(it, "*" + src.segment(it)))
        if isinstance(node, ast.With):
            for item in node.items:
                if isinstance(item.optional_vars, ast.Name):
                    v = item.optional_vars
                    add("call as with target", lambda v=v: src.replace_node(v, v.id + "()"))
                    add("starred with target", lambda v=v: src.replace_node(v, "*" + v.id))
                elif item.optional_vars is None and single_line(item.context_expr):
                    add("walrus as with item", lambda e=item.context_expr: src.replace_node(e, "_w := " + src.segment(e)))
        if isinstance(node, ast.Try) and len(node.handlers) >= 2:
            h = node.handlers[0]
            if h.type is not None:
                a, b = src.offset(h.lineno, h.col_offset), src.offset(h.lineno, h.col_offset) + len("except")
                if src.data[a:b] == b"except":
                    add("except and except* on one try", lambda a=a, b=b: src.replace(a, b, "except*"))
        if isinstance(node, ast.Delete) and single_line(node):
            t = node.targets[0]
            if isinstance(t, ast.Name):
                add("call as del target", lambda t=t: src.replace_node(t, t.id + "()"))
        if isinstance(node, (ast.ListComp, ast.SetComp)) and single_line(node) and func is not None:
            add("yield in a comprehension", lambda e=node.elt: src.replace_node(e, "(yield)"))
            g = node.generators[0]
            if isinstance(g.target, ast.Name):
                add("walrus rebinding a comprehension variable", lambda e=node.elt, n=g.target.id: src.replace_node(e, "(" + n + " := 0)"))
        if isinstance(node, ast.Lambda) and single_line(node):
            add("walrus as lambda body", lambda b=node.body: src.replace_node(b, "_w := " + src.segment(b)))
            la = node.args.args
            if len(la) >= 2:
                add("lambda parameter repeated", lambda la=la: src.replace_node(la[1], la[0].arg))

    # Module level: a late or unknown __future__ import.
    if len(top_level) >= 2:
        s = top_level[1]
        if not isinstance(s, ast.ImportFrom) or s.module != "__future__":
            add("late __future__ import", lambda s=s: src.insert_line(s.lineno, "from __future__ import annotations"))
        add("unknown __future__ feature", lambda s=top_level[0]: src.insert_line(s.lineno, "from __future__ import nosuch") if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)) else None)
        add("nonlocal at module level", lambda s=s: src.insert_line(s.lineno, "nonlocal _n") if s.col_offset == 0 else None)
        add("statement added (valid)", lambda s=s: src.insert_line(s.lineno, "_x = 1") if s.col_offset == 0 else None)

    for kind, makers in sorted(by_kind.items()):
        rng.shuffle(makers)
        done = 0
        for make in makers:
            if done >= per_kind:
                break
            try:
                new = make()
            except (UnicodeDecodeError, IndexError):
                new = None
            if new is None or new == src.text:
                continue
            done += 1
            yield kind, new


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--fixer", default=None, help="the fixer binary (default: target/release/fixer, else target/debug/fixer)")
    ap.add_argument("--per-kind", type=int, default=2, help="mutants of each kind per file")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--show", type=int, default=10, help="mutants to print of each kind of failure")
    ap.add_argument("--max-files", type=int, default=0)
    ap.add_argument("--no-whole", action="store_true", help="skip judging each file whole (every statement changed)")
    args = ap.parse_args()
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    fixer = args.fixer or next(
        (p for p in (os.path.join(here, "target/release/fixer"), os.path.join(here, "target/debug/fixer")) if os.path.exists(p)),
        "fixer",
    )
    proc = subprocess.Popen([fixer, "verify-change", "--jsonl"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8")
    rng = random.Random(args.seed)
    stats = defaultdict(Counter)
    failures = defaultdict(list)
    files = 0
    for path in python_files(args.paths):
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (UnicodeDecodeError, OSError):
            continue
        ok, _ = compiles(text)
        if not ok:
            continue
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError):
            continue
        files += 1
        if args.max_files and files > args.max_files:
            break
        if not args.no_whole:
            # The whole file as new: every statement is judged; compile() accepts it.
            proc.stdin.write(json.dumps({"old": "", "new": text}) + "\n")
            proc.stdin.flush()
            reply = json.loads(proc.stdout.readline())
            w = stats["(whole file, valid)"]
            w["tried"] += 1
            w["compiled"] += 1
            if not reply.get("accepted"):
                if reply.get("rule") is None:
                    w["rejected by tree-sitter"] += 1
                else:
                    w["wrongly refused"] += 1
                    failures["wrongly refused"].append((path, "whole file", reply, text, ""))
        src = Source(text)
        for kind, new in mutants(src, tree, rng, args.per_kind):
            valid, msg = compiles(new)
            if valid is None:
                continue
            proc.stdin.write(json.dumps({"old": text, "new": new}) + "\n")
            proc.stdin.flush()
            reply = json.loads(proc.stdout.readline())
            s = stats[kind]
            s["tried"] += 1
            if valid:
                s["compiled"] += 1
                if not reply.get("accepted"):
                    s["wrongly refused"] += 1
                    failures["wrongly refused"].append((path, kind, reply, new, text))
            else:
                s["rejected by compile()"] += 1
                if not reply.get("accepted") and reply.get("rule") is None:
                    s["rejected by tree-sitter"] += 1
                elif not reply.get("accepted"):
                    s["refused by the compile rules"] += 1
                else:
                    s["missed (fixer accepts)"] += 1
                    failures["missed (fixer accepts)"].append((path, kind, msg, new, text))
    proc.stdin.close()
    proc.wait()

    cols = ["tried", "compiled", "wrongly refused", "rejected by compile()", "rejected by tree-sitter", "refused by the compile rules", "missed (fixer accepts)"]
    total = Counter()
    width = max([len(k) for k in stats] + [10])
    print(f"{files} files; mutants per kind per file: {args.per_kind}; seed {args.seed}")
    print(" " * width + " | " + " | ".join(cols))
    for kind in sorted(stats):
        total.update(stats[kind])
        print(kind.ljust(width) + " | " + " | ".join(str(stats[kind][c]).rjust(len(c)) for c in cols))
    print("TOTAL".ljust(width) + " | " + " | ".join(str(total[c]).rjust(len(c)) for c in cols))
    ts_accepted = total["rejected by compile()"] - total["rejected by tree-sitter"]
    print()
    print(f"mutants tried: {total['tried']}")
    print(f"compile() rejects, tree-sitter accepts: {ts_accepted}")
    print(f"  of which fixer's verification accepts (goal 0): {total['missed (fixer accepts)']}")
    print(f"compile() accepts, fixer refuses (goal 0): {total['wrongly refused']}")
    if stats["(whole file, valid)"]["rejected by tree-sitter"]:
        print(f"  (files tree-sitter does not parse, not counted: {stats['(whole file, valid)']['rejected by tree-sitter']})")
    for what, items in failures.items():
        for path, kind, info, new, old in items[: args.show]:
            import difflib

            diff = [l for l in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0) if l.startswith(("+", "-")) and not l.startswith(("+++", "---"))]
            print(f"\n{what}: {path} [{kind}] {info}")
            if kind == "whole file" and isinstance(info, dict) and info.get("line"):
                print("    line:", new.splitlines()[info["line"] - 1].strip())
                continue
            for l in diff[:4]:
                print("   ", l)
    return 1 if total["missed (fixer accepts)"] or total["wrongly refused"] else 0


if __name__ == "__main__":
    sys.exit(main())
