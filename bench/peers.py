#!/usr/bin/env python3
"""fixer's restructuring recipes beside the tools people would otherwise use.

Two comparisons, each written as Markdown to stdout (progress on stderr) and as raw
numbers to bench/.cache/peers-<mode>.json:

  python3 bench/peers.py move      move-module beside rope's MoveModule on Django 5.2.19
  python3 bench/peers.py imports   unresolved-imports beside pyright and mypy on the
                                   field-report project and three real projects

`move` copies the Django tree afresh for every run, moves `django/utils/functional.py`
into `django/core/` with each tool (rope can only move a module into another package,
so that is the move both are asked for), and records wall time, CPU time and peak RSS
(from bench/run.py's `measure`), the files changed, the changed files CPython no longer
compiles, the references to the old dotted path left in .py files, and whether
`import django.core.functional, django.utils.text` and Django's own `utils_tests`
pass after the move.

`imports` runs each checker on each project and keeps the findings about imports of the
project's own modules (a missing third-party package is counted apart). Every finding is
judged by a runtime oracle: the import statement at that line is executed in the
project's venv, the way pytest would import the file. An import that works is a false
report; one that fails is a true finding, or a guarded one when a `try`/`except
ImportError` around it expects the failure.

Tools are pinned in PEER_REQUIREMENTS and installed into bench/.cache/peers-venv; the
real projects, their sdists and venvs come from bench/ecosystem.py's cache.
"""

from __future__ import annotations

import argparse
import ast
import filecmp
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ecosystem  # noqa: E402
import run as bench  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
CACHE = BENCH_DIR / ".cache"
PEER_VENV = CACHE / "peers-venv"
PEER_REQUIREMENTS = ("rope==1.14.0", "mypy==1.18.2", "pyright==1.1.407", "asgiref", "sqlparse")

MOVE_FROM = "django.utils.functional"
MOVE_TO = "django.core.functional"

FIELD_REPORT = BENCH_DIR / "projects" / "field-report"
REAL_PROJECTS = ("click", "jinja2", "marshmallow")

ROPE_MOVE = r"""
import sys
from rope.base.project import Project
from rope.refactor.move import MoveModule
# rope stops at the first file it cannot parse: the ones CPython does not compile either
# (Django ships a few on purpose) are given to it as ignored resources.
project = Project(sys.argv[1], ropefolder=None, ignored_resources=sys.argv[4:])
module = project.get_resource(sys.argv[2])
changes = MoveModule(project, module).get_changes(project.get_resource(sys.argv[3]))
project.do(changes)
project.close()
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def peer_python() -> Path:
    py = PEER_VENV / "bin" / "python"
    marker = PEER_VENV / "peers-requirements.txt"
    want = "\n".join(PEER_REQUIREMENTS)
    if py.exists() and marker.exists() and marker.read_text() == want:
        return py
    log(f"installing {' '.join(PEER_REQUIREMENTS)} into {PEER_VENV}")
    subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    *PEER_REQUIREMENTS], check=True)
    marker.write_text(want)
    return py


def fixer_binary(args) -> Path:
    return Path(args.fixer).resolve() if args.fixer else bench.build_fixer()


def tool_version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"? ({exc})"
    lines = [x for x in (out.stdout + out.stderr).strip().splitlines() if "WARNING" not in x]
    return lines[0] if lines else "?"


# ---------------------------------------------------------------- move


def changed_files(before: Path, after: Path) -> tuple[list[str], list[str], list[str]]:
    """(modified, created, deleted) .py and other files, relative paths."""
    def files(root: Path) -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()
                and ".ropeproject" not in p.parts and "__pycache__" not in p.parts}
    a, b = files(before), files(after)
    modified = sorted(f for f in a & b if not filecmp.cmp(before / f, after / f, shallow=False))
    return modified, sorted(b - a), sorted(a - b)


def does_not_compile(root: Path, rels: list[str]) -> list[str]:
    bad = []
    for rel in rels:
        if rel.endswith(".py"):
            try:
                compile((root / rel).read_bytes(), rel, "exec", dont_inherit=True)
            except (SyntaxError, ValueError):
                bad.append(rel)
    return bad


def stale_references(root: Path) -> list[str]:
    """.py files (outside the moved module) that still name the old dotted path."""
    hits = []
    for p in root.rglob("*.py"):
        try:
            text = p.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if MOVE_FROM in text:
            hits.append(str(p.relative_to(root)))
    return sorted(hits)


def django_checks(py: Path, tree: Path, out_dir: Path, module: str = MOVE_TO) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1")
    smoke = subprocess.run([str(py), "-c", f"import {module}, django.utils.text, django.db.models"],
                           cwd=tree, env=env, capture_output=True, text=True)
    t0 = time.perf_counter()
    suite = subprocess.run([str(py), "tests/runtests.py", "utils_tests", "--parallel", "1", "-v", "0"],
                           cwd=tree, env=env, capture_output=True, text=True, timeout=1800)
    (out_dir / "utils_tests.txt").write_text(suite.stdout + suite.stderr)
    tail = (suite.stdout + suite.stderr).strip().splitlines()[-3:]
    return {"import_ok": smoke.returncode == 0, "import_error": smoke.stderr.strip()[-300:],
            "utils_tests_rc": suite.returncode, "utils_tests_tail": " / ".join(tail),
            "utils_tests_s": round(time.perf_counter() - t0, 1)}


def move_mode(args) -> int:
    py = peer_python()
    fixer = fixer_binary(args)
    trees = bench.ensure_sources(CACHE, Path(sys.executable))
    django = next(t for t in trees if t.name.lower().startswith("django"))
    broken = does_not_compile(django, [str(p.relative_to(django)) for p in django.rglob("*.py")])
    work = CACHE / "peers-move"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    tools = {
        "fixer": lambda tree: [str(fixer), "apply", "move-module", "--set", f"from={MOVE_FROM}",
                               "--set", f"to={MOVE_TO}", str(tree)],
        "rope": lambda tree: [str(py), "-c", ROPE_MOVE, str(tree), "django/utils/functional.py",
                              "django/core", *broken],
    }
    runs: dict[str, list[dict]] = {t: [] for t in tools}
    quality: dict[str, dict] = {}
    for i in range(args.runs):
        for name, argv in (tools.items() if i % 2 == 0 else reversed(list(tools.items()))):
            tree = work / f"{name}-{i}" / django.name
            shutil.copytree(django, tree, symlinks=True)
            log(f"run {i + 1}/{args.runs}: {name}")
            m = bench.measure(argv(tree), tree.parent, tree.parent / "stdout.txt", tree.parent / "stderr.txt")
            runs[name].append(m.to_json())
            if name not in quality:
                modified, created, deleted = changed_files(django, tree)
                q = {"exit_code": m.exit_code, "modified": len(modified), "created": created,
                     "deleted": deleted,
                     "not_compiling": does_not_compile(tree, modified + created),
                     "stale": stale_references(tree),
                     "stderr_tail": (tree.parent / "stderr.txt").read_text(errors="replace")[-600:]}
                log(f"  {name}: checking the moved tree (Django's utils_tests)")
                q.update(django_checks(py, tree, tree.parent))
                quality[name] = q
            elif not args.keep:
                shutil.rmtree(tree.parent)
    base = work / "unchanged" / django.name
    shutil.copytree(django, base, symlinks=True)
    log("baseline: Django's utils_tests on the unchanged tree")
    baseline = django_checks(py, base, base.parent, MOVE_FROM)
    result = {"machine": ecosystem.machine(), "fixer": ecosystem.fixer_version(fixer),
              "rope": tool_version([str(py), "-c", "import rope; print('rope', rope.VERSION)"]),
              "move": [MOVE_FROM, MOVE_TO], "broken": broken, "runs": runs, "quality": quality, "baseline": baseline}
    (CACHE / "peers-move.json").write_text(json.dumps(result, indent=1))
    print(render_move(result))
    return 0


def median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def render_move(r: dict) -> str:
    L = [f"move `{r['move'][0]}` to `{r['move'][1]}` in Django 5.2.19 ({r['fixer']}; {r['rope']}); "
         f"median of {len(r['runs']['fixer'])} runs, tools alternating, a fresh copy each run", "",
         "| tool | wall | CPU | peak RSS | files modified / created / deleted | not compiling | "
         "files still naming the old path | `import` after | Django `utils_tests` after |",
         "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, ms in r["runs"].items():
        q = r["quality"][name]
        wall = median([m["wall_s"] for m in ms])
        cpu = median([m["cpu_s"] for m in ms])
        rss = median([m["peak_rss_mib"] for m in ms])
        L.append(f"| {name} | {wall:.2f} s | {cpu:.2f} s | {rss:.0f} MiB | {q['modified']} / "
                 f"{len(q['created'])} / {len(q['deleted'])} | {len(q['not_compiling'])} | "
                 f"{len(q['stale'])} | {'ok' if q['import_ok'] else 'fails'} | "
                 f"{'pass' if q['utils_tests_rc'] == 0 else 'FAIL'} ({q['utils_tests_tail'][:80]}) |")
    b = r["baseline"]
    L += ["", f"rope was given the {len(r['broken'])} files CPython does not compile as "
          "`ignored_resources` (without them it stops at the first with `ModuleSyntaxError`); "
          "fixer reads them, reports them and moves on. "
          "\"Still naming the old path\" counts comments and docstrings too.", "",
          f"Unchanged tree: `utils_tests` {'pass' if b['utils_tests_rc'] == 0 else 'FAIL'} "
          f"({b['utils_tests_tail'][:80]})."]
    for name, q in r["quality"].items():
        if q["stale"]:
            L.append(f"- {name}: old path still named in {', '.join(q['stale'][:8])}"
                     f"{' …' if len(q['stale']) > 8 else ''}")
        if q["not_compiling"]:
            L.append(f"- {name}: does not compile: {', '.join(q['not_compiling'][:8])}")
        if not q["import_ok"]:
            L.append(f"- {name}: import fails: {q['import_error']}")
    return "\n".join(L) + "\n"


# ---------------------------------------------------------------- imports

ORACLE = r"""
import ast, importlib, json, os, sys, traceback
root = os.path.abspath(sys.argv[1]); import_root = os.path.abspath(sys.argv[2])
cases = json.load(sys.stdin)

def package_of(path):
    # dotted package of the file's directory, and the directory pytest would put on sys.path
    d = os.path.dirname(path); parts = []
    while os.path.isfile(os.path.join(d, "__init__.py")):
        parts.insert(0, os.path.basename(d)); d = os.path.dirname(d)
    return ".".join(parts), d

def guarded(tree, node):
    parents = {}
    for p in ast.walk(tree):
        for c in ast.iter_child_nodes(p):
            parents[c] = p
    n = node
    while n in parents:
        p = parents[n]
        if isinstance(p, ast.Try) and n in p.body:
            for h in p.handlers:
                names = [] if h.type is None else [ast.unparse(h.type)]
                if h.type is None or any(w in names[0] for w in ("ImportError", "ModuleNotFoundError", "Exception", "AttributeError")):
                    return True
        if isinstance(p, ast.If):
            return True
        n = p
    return False

out = []
for c in cases:
    path = os.path.join(root, c["file"])
    try:
        tree = ast.parse(open(path, "rb").read())
    except SyntaxError as e:
        out.append({**c, "verdict": "unparsable"}); continue
    nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
             and n.lineno <= c["line"] <= (n.end_lineno or n.lineno)]
    if not nodes:
        out.append({**c, "verdict": "no import at this line"}); continue
    node = nodes[0]
    pkg, top = package_of(path)
    sys.path[:0] = [import_root, root, top]
    ok, err = True, ""
    try:
        if isinstance(node, ast.Import):
            for a in node.names:
                importlib.import_module(a.name)
        else:
            if node.level:
                base = pkg.rsplit(".", node.level - 1)[0] if node.level > 1 else pkg
                mod = base + ("." + node.module if node.module else "")
            else:
                mod = node.module
            m = importlib.import_module(mod)
            for a in node.names:
                if a.name == "*" or hasattr(m, a.name):
                    continue
                importlib.import_module(mod + "." + a.name)
    except BaseException as e:
        ok, err = False, f"{type(e).__name__}: {e}"
    del sys.path[:3]
    out.append({**c, "statement": ast.unparse(node)[:200], "verdict": "works" if ok else "fails",
                "error": err[:300], "guarded": guarded(tree, node)})
print(json.dumps(out))
"""


def project_info(name: str) -> dict:
    if name == "field-report":
        return {"name": name, "tree": FIELD_REPORT, "import_root": FIELD_REPORT, "py": Path(sys.executable),
                "check_paths": ["src", "tests"], "tops": {"src", "tests"}}
    proj = next(p for p in ecosystem.PROJECTS if p["name"] == name)
    tree = ecosystem.ensure_tree(proj)
    py = ecosystem.ensure_venv(proj)
    import_root = tree / proj["path"] if proj["path"] != "." else tree
    tops = {p.name for p in import_root.iterdir() if (p / "__init__.py").is_file()} | \
           {p.stem for p in import_root.glob("*.py")} | set(proj.get("tests", []))
    return {"name": name, "tree": tree, "import_root": import_root, "py": py,
            "check_paths": [str(Path(proj["path"]) / t) if proj["path"] != "." else t
                            for t in sorted(tops - set(proj.get("tests", [])))] + list(proj.get("tests", [])),
            "tops": tops}


def statement_module(tree: Path, rel: str, line: int) -> tuple[str | None, int]:
    """(absolute module or None, relative level) of the import at file:line."""
    try:
        mod = ast.parse((tree / rel).read_bytes())
    except (SyntaxError, OSError, ValueError):
        return None, 0
    for n in ast.walk(mod):
        if isinstance(n, (ast.Import, ast.ImportFrom)) and n.lineno <= line <= (n.end_lineno or n.lineno):
            if isinstance(n, ast.Import):
                return n.names[0].name, 0
            return n.module, n.level
    return None, 0


def import_kind(info: dict, rel: str, line: int) -> str:
    """`internal`, `third-party`, or `none` when no import statement is at file:line
    (mypy's attr-defined also covers attribute uses, which are not import findings)."""
    if rel == "?":
        return "internal"
    mod, level = statement_module(info["tree"], rel, line)
    if level:
        return "internal"
    if mod is None:
        return "none"
    return "internal" if mod.split(".")[0] in info["tops"] else "third-party"


def run_fixer(fixer: Path, info: dict) -> tuple[list[dict], dict]:
    argv = [str(fixer), "check", "unresolved-imports", "--format", "json", str(info["tree"])]
    m, out = timed(argv, info["tree"])
    data = json.loads(out or "{}")
    found = [{"file": e["file"], "line": e["start_line"], "message": e["message"]}
             for e in data.get("entries", []) if e.get("kind") == "finding"]
    return found, m


def run_pyright(py: Path, info: dict) -> tuple[list[dict], dict]:
    pyright = PEER_VENV / "bin" / "pyright"
    argv = [str(pyright), "--outputjson", "--pythonpath", str(info["py"]),
            *[str(info["tree"] / p) for p in info["check_paths"]]]
    m, out = timed(argv, info["tree"])
    try:
        data = json.loads(out)
    except json.JSONDecodeError:
        return [{"file": "?", "line": 0, "message": f"pyright output not JSON: {out[:300]}"}], m
    found = []
    for d in data.get("generalDiagnostics", []):
        msg = d.get("message", "")
        if d.get("rule") in ("reportMissingImports", "reportAttributeAccessIssue") and (
                "could not be resolved" in msg or "unknown import symbol" in msg):
            f = Path(d["file"])
            found.append({"file": str(f.relative_to(info["tree"])) if f.is_relative_to(info["tree"]) else str(f),
                          "line": d["range"]["start"]["line"] + 1, "message": msg.splitlines()[0]})
    return found, m


def run_mypy(info: dict) -> tuple[list[dict], dict]:
    mypy = PEER_VENV / "bin" / "mypy"
    argv = [str(mypy), "--python-executable", str(info["py"]), "--explicit-package-bases",
            "--no-incremental", "--show-error-codes", "--no-error-summary", "--hide-error-context",
            "--no-pretty", "--follow-imports=silent", "--python-version", "3.11", *info["check_paths"]]
    env = {"MYPYPATH": str(info["import_root"])}
    m, out = timed(argv, info["tree"], env)
    found = []
    for line in out.splitlines():
        parts = line.split(":", 3)
        if len(parts) < 4 or not parts[1].strip().isdigit():
            continue
        msg = parts[3].strip()
        if parts[2].strip() != "error":
            continue
        if "[import-not-found]" in msg or "[import]" in msg or (
                "[attr-defined]" in msg and msg.startswith('Module "')):
            found.append({"file": parts[0], "line": int(parts[1]), "message": msg})
    if m["exit_code"] == 2:
        found.append({"file": "?", "line": 0, "message": "mypy stopped: " + out.strip()[-300:]})
    return found, m


def timed(argv: list[str], cwd: Path, env: dict | None = None) -> tuple[dict, str]:
    stdout, stderr = CACHE / "peers-out.txt", CACHE / "peers-err.txt"
    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        m = bench.measure(argv, cwd, stdout, stderr)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return m.to_json(), stdout.read_text(errors="replace") + (
        stderr.read_text(errors="replace") if "mypy" in argv[0] else "")


def judge(info: dict, found: list[dict]) -> list[dict]:
    cases = [f for f in found if f["file"] != "?"]
    if not cases:
        return found
    proc = subprocess.run([str(info["py"]), "-c", ORACLE, str(info["tree"]), str(info["import_root"])],
                          input=json.dumps(cases), capture_output=True, text=True, cwd=info["tree"],
                          env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"), timeout=600)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1]) + [f for f in found if f["file"] == "?"]
    except (json.JSONDecodeError, IndexError):
        raise RuntimeError(f"oracle failed on {info['name']}: {proc.stderr[-2000:]}")


def imports_mode(args) -> int:
    py = peer_python()
    fixer = fixer_binary(args)
    names = ["field-report", *(args.projects or REAL_PROJECTS)]
    result = {"machine": ecosystem.machine(), "fixer": ecosystem.fixer_version(fixer),
              "pyright": "pyright " + PEER_REQUIREMENTS[2].split("==")[1],
              "mypy": tool_version([str(PEER_VENV / "bin" / "mypy"), "--version"]), "projects": {}}
    for name in names:
        info = project_info(name)
        log(f"{name}: fixer, pyright, mypy")
        rows = {}
        for tool, runner in (("fixer", lambda: run_fixer(fixer, info)),
                             ("pyright", lambda: run_pyright(py, info)),
                             ("mypy", lambda: run_mypy(info))):
            found, m = runner()
            kinds = [import_kind(info, f["file"], f["line"]) for f in found]
            internal = [f for f, k in zip(found, kinds) if k == "internal"]
            rows[tool] = {"measure": m, "findings": judge(info, internal),
                          "outside": kinds.count("third-party")}
        result["projects"][name] = rows
    (CACHE / "peers-imports.json").write_text(json.dumps(result, indent=1, default=str))
    print(render_imports(result))
    return 0


def counts(findings: list[dict]) -> dict:
    c = {"true": 0, "guarded": 0, "false": 0, "other": 0}
    for f in findings:
        v = f.get("verdict")
        if v == "works":
            c["false"] += 1
        elif v == "fails":
            c["guarded" if f.get("guarded") else "true"] += 1
        else:
            c["other"] += 1
    return c


def render_imports(r: dict) -> str:
    L = [f"{r['fixer']}; {r['pyright']}; {r['mypy']}", "",
         "| project | tool | wall | peak RSS | findings on the project's imports | true (fail at runtime) | "
         "guarded (fail inside try/if) | **false** (work at runtime) | unjudged | third-party, apart |",
         "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    examples = []
    for name, rows in r["projects"].items():
        for tool, row in rows.items():
            c = counts(row["findings"])
            m = row["measure"]
            L.append(f"| {name} | {tool} | {m['wall_s']:.2f} s | {m['peak_rss_mib']:.0f} MiB | "
                     f"{len(row['findings'])} | {c['true']} | {c['guarded']} | {c['false']} | "
                     f"{c['other']} | {row['outside']} |")
            for f in row["findings"]:
                if f.get("verdict") == "works" or f.get("verdict") not in ("works", "fails"):
                    examples.append(f"- {name}, {tool}: `{f['file']}:{f['line']}` {f['message'][:140]}"
                                    f" ({'works at runtime' if f.get('verdict') == 'works' else f.get('verdict')})")
    if examples:
        L += ["", "False and unjudged reports:", ""] + examples[:60]
        if len(examples) > 60:
            L.append(f"- … {len(examples) - 60} more in bench/.cache/peers-imports.json")
    return "\n".join(L) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["move", "imports"])
    ap.add_argument("--fixer", help="an existing fixer binary (default: cargo build --release)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per tool for `move` (default 3)")
    ap.add_argument("--keep", action="store_true", help="keep every moved copy (move)")
    ap.add_argument("--projects", nargs="*", help=f"real projects for `imports` (default {' '.join(REAL_PROJECTS)})")
    args = ap.parse_args(argv)
    try:
        return move_mode(args) if args.mode == "move" else imports_mode(args)
    except (bench.BenchError, RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
