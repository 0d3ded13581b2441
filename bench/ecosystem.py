#!/usr/bin/env python3
"""Ecosystem check: every fixer recipe on real projects, judged by their own tests.

For each pinned PyPI sdist (PROJECTS below) and each recipe that applies, the
harness takes a fresh copy of the unpacked sdist, applies the recipe, and
compares the project's own test outcomes (per test id) with a baseline run on
an untouched copy. It also checks that every .py file still parses under the
project's Python, that a second run changes nothing (`fixer check` exits 0),
and collects fixer's notes. The report goes to bench/ECOSYSTEM.md.

    python3 bench/ecosystem.py                 # everything (about an hour on 2 cores)
    python3 bench/ecosystem.py --quick         # 3 small projects
    python3 bench/ecosystem.py --project click --recipe hoist-imports

Standard library only. Downloads (sdists, one venv per project) are cached in
bench/.cache/ecosystem; working copies go to a directory outside any git tree.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import threading
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
CACHE = BENCH_DIR / ".cache" / "ecosystem"
REPORT = BENCH_DIR / "ECOSYSTEM.md"

# Each project: the sdist (name, version), how its suite runs, where its tests
# are, what the venv needs besides the project's own dependencies, and the
# module that move-module / module-to-package work on (None: not applicable).
#   runner: "pytest" (args after `python -m pytest`) or "unittest" (args after
#           `python -m unittest -v`)
#   path:   what goes on PYTHONPATH (the copy's root or its src/)
#   move:   (from, to) for move-module; m2p: (module, submodule)
PROJECTS: list[dict] = [
    dict(name="pluggy", version="1.7.0", runner="pytest", args=["testing"], tests=["testing"],
         path="src", deps=["pytest"], move=("pluggy._hooks", "pluggy.core._hooks"),
         m2p=("pluggy._callers", "impl"), style="pytest, src layout, conftest"),
    dict(name="iniconfig", version="2.3.1", runner="pytest", args=["testing"], tests=["testing"],
         path="src", deps=["pytest"], move=("iniconfig._parse", "iniconfig.parsing._parse"),
         m2p=("iniconfig._parse", "impl"), style="pytest, src layout, small"),
    dict(name="six", version="1.17.0", runner="pytest", args=["test_six.py"], tests=["test_six.py"],
         path=".", deps=["pytest"], move=None, m2p=("six", "core"),
         style="pytest, one module, function-local imports in tests"),
    dict(name="decorator", version="5.3.1", runner="unittest", args=["tests.test"], tests=["tests"],
         path="src", deps=[], move=None, m2p=("decorator", "core"),
         style="unittest, src layout, one module"),
    dict(name="markupsafe", version="3.0.4", runner="pytest", args=["tests"], tests=["tests"],
         path="src", deps=["pytest"], move=("markupsafe._native", "markupsafe.impl._native"),
         m2p=("markupsafe._native", "impl"), style="pytest, src layout, C extension absent"),
    dict(name="itsdangerous", version="2.2.0", runner="pytest", args=["tests"], tests=["tests"],
         path="src", deps=["pytest", "freezegun"],
         move=("itsdangerous.exc", "itsdangerous.errors.exc"), m2p=("itsdangerous.signer", "impl"),
         style="pytest, src layout, nested test package"),
    dict(name="jinja2", version="3.1.6", runner="pytest", args=["tests"], tests=["tests"],
         path="src", deps=["pytest", "trio"],
         move=("jinja2.exceptions", "jinja2.core.exceptions"), m2p=("jinja2.utils", "impl"),
         style="pytest, src layout, function-local imports in tests"),
    dict(name="click", version="8.5.1", runner="pytest", args=["tests"], tests=["tests"],
         path="src", deps=["pytest"], move=("click._compat", "click.compat._compat"),
         m2p=("click.utils", "impl"), style="pytest, src layout"),
    dict(name="attrs", version="26.1.0", runner="pytest",
         args=["tests", "--ignore=tests/test_mypy.yml", "-p", "no:mypy-plugins"], tests=["tests"],
         path="src", deps=["pytest", "hypothesis", "cloudpickle"],
         move=("attr._compat", "attr.compat._compat"), m2p=("attr.validators", "impl"),
         style="pytest, src layout, two top-level packages (attr, attrs)"),
    dict(name="packaging", version="26.4", runner="pytest", args=["tests"], tests=["tests"],
         path="src", deps=["pytest", "pretend", "tomli_w"],
         # not packaging.version: pytest itself imports it (from src/, on PYTHONPATH), so
         # moving it without a shim breaks the test runner, not the project
         move=("packaging.specifiers", "packaging.core.specifiers"), m2p=("packaging.utils", "impl"),
         style="pytest, src layout, filterwarnings=error"),
    dict(name="more_itertools", version="11.2.1", runner="unittest",
         args=["discover", "-s", "tests", "-t", "."], tests=["tests"], path=".", deps=[],
         move=("more_itertools.recipes", "more_itertools.core.recipes"),
         m2p=("more_itertools.recipes", "impl"), style="unittest, flat"),
    dict(name="toolz", version="1.2.0", runner="pytest", args=["toolz"], tests=["toolz/tests"],
         path=".", deps=["pytest"], move=("toolz.utils", "toolz.helpers.utils"),
         m2p=("toolz.utils", "impl"), style="pytest, flat, tests inside the package"),
    dict(name="python_dateutil", version="4.0.0", runner="pytest", args=["tests"], tests=["tests"],
         path="src", deps=["pytest", "pytest-cov", "hypothesis", "freezegun"],
         move=("dateutil.relativedelta", "dateutil.core.relativedelta"),
         m2p=("dateutil.easter", "impl"), style="pytest, src layout, conftest"),
    dict(name="idna", version="3.20", runner="pytest", args=["tests"], tests=["tests"],
         path=".", deps=["pytest"], move=("idna.codec", "idna.codecs.codec"),
         m2p=("idna.intranges", "impl"), style="unittest-style tests run by pytest, flat"),
    dict(name="cachetools", version="8.0.2", runner="pytest", args=["tests"], tests=["tests"],
         path="src", deps=["pytest"], move=("cachetools.keys", "cachetools.core.keys"),
         m2p=("cachetools.func", "impl"), style="unittest-style tests, src layout"),
    dict(name="wrapt", version="2.5.2", runner="pytest", args=["tests"], tests=["tests"],
         path="src", deps=["pytest"], env={"WRAPT_DISABLE_EXTENSIONS": "true"},
         move=("wrapt.importer", "wrapt.hooks.importer"), m2p=("wrapt.decorators", "impl"),
         style="pytest, src layout, C extension disabled"),
    dict(name="boltons", version="26.2.0", runner="pytest", args=["tests"], tests=["tests"],
         path=".", deps=["pytest"], move=("boltons.funcutils", "boltons.func.funcutils"),
         m2p=("boltons.strutils", "impl"), style="pytest, flat, many function-local imports"),
    dict(name="pyparsing", version="3.3.3", runner="pytest",
         args=["tests", "--ignore=tests/test_matplotlib_cases.py"], tests=["tests"], path=".",
         deps=["pytest", "railroad-diagrams", "jinja2"],
         move=("pyparsing.util", "pyparsing.helpers_pkg.util"), m2p=("pyparsing.util", "impl"),
         style="unittest-style tests run by pytest, flat"),
    dict(name="simplejson", version="4.3.0", runner="unittest",
         args=["discover", "-s", "simplejson/tests", "-t", "."], tests=["simplejson/tests"],
         path=".", deps=[], env={"SIMPLEJSON_NO_SPEEDUPS": "1"},
         move=("simplejson.compat", "simplejson.core.compat"), m2p=("simplejson.scanner", "impl"),
         style="unittest, flat, tests inside the package"),
    dict(name="pytz", version="2026.6", runner="unittest",
         args=["discover", "-s", "pytz/tests"], tests=["pytz/tests"], path=".", deps=[],
         move=("pytz.tzinfo", "pytz.core.tzinfo"), m2p=("pytz.lazy", "impl"),
         style="unittest, flat, tests inside the package"),
    dict(name="marshmallow", version="4.4.0", runner="pytest", args=["tests"], tests=["tests"],
         path="src", deps=["pytest", "simplejson"],
         move=("marshmallow.exceptions", "marshmallow.core.exceptions"),
         m2p=("marshmallow.validate", "impl"), style="pytest, src layout"),
    dict(name="humanize", version="4.17.0", runner="pytest", args=["tests"], tests=["tests"],
         path="src", deps=["pytest", "freezegun"], move=("humanize.number", "humanize.core.number"),
         m2p=("humanize.time", "impl"), style="pytest, src layout"),
    dict(name="blinker", version="1.9.0", runner="pytest",
         args=["tests", "-o", "asyncio_default_fixture_loop_scope=function"], tests=["tests"],
         path="src", deps=["pytest", "pytest-asyncio"],
         move=("blinker._utilities", "blinker.util._utilities"), m2p=("blinker.base", "impl"),
         style="pytest, src layout, small"),
    dict(name="tabulate", version="0.10.0", runner="pytest", args=["test"], tests=["test"],
         path=".", deps=["pytest"], move=None, m2p=None,
         style="pytest, flat, one-module package"),
    dict(name="pathspec", version="1.1.1", runner="pytest", args=["tests"], tests=["tests"],
         path=".", deps=["pytest"], move=("pathspec.util", "pathspec.core.util"),
         m2p=("pathspec.pattern", "impl"), style="unittest-style tests, flat, many modules"),
    dict(name="flask", version="3.1.3", runner="pytest", args=["tests"], tests=["tests"],
         path="src", deps=["pytest<9"], move=("flask.globals", "flask.core.globals"),
         m2p=("flask.views", "impl"), style="pytest, src layout, 3 conftest.py files"),
    dict(name="pytest_asyncio", version="1.5.0", runner="pytest",
         args=["tests"], tests=["tests"], path=".",
         deps=["pytest", "hypothesis"], move=None, m2p=("pytest_asyncio.plugin", "impl"),
         style="pytest plugin, flat, 3 conftest.py files"),
]
QUICK = ["iniconfig", "six", "pluggy"]

RECIPES = [
    "hoist-imports",
    "hoist-imports-all",  # hoist-imports with --include '**/*.py'
    "consolidate-conftest",
    "move-module",
    "move-module-shim",  # move-module with --set shim=true
    "module-to-package",
    "lazy-settings",
    "unresolved-imports",
    "pytest-asyncio-v1",
]

SUITE_TIMEOUT = 900
FIXER_TIMEOUT = 600
LOCK = threading.Lock()


def log(msg: str) -> None:
    with LOCK:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(argv, cwd=None, env=None, timeout=None):
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                           errors="replace", timeout=timeout)
        return p.returncode, p.stdout, p.stderr, time.monotonic() - t0
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return -9, out, f"timeout after {timeout}s", time.monotonic() - t0


# ---------------------------------------------------------------- setup


def sdist_path(proj: dict) -> Path | None:
    want = f"{proj['name']}-{proj['version']}.tar.gz".lower().replace("-", "_")
    for p in (CACHE / "sdists").glob("*.tar.gz"):
        if p.name.lower().replace("-", "_") == want:
            return p
    return None


# One venv for `pip download`, made once even when projects run in parallel.
DLVENV_LOCK = threading.Lock()


def ensure_sdist(proj: dict) -> Path:
    path = sdist_path(proj)
    if path is None:
        dl = CACHE / "dlvenv"
        with DLVENV_LOCK:
            if not (dl / ".ready").exists():
                shutil.rmtree(dl, ignore_errors=True)
                subprocess.run([sys.executable, "-m", "venv", str(dl)], check=True)
                (dl / ".ready").write_text("")
        rc, out, err, _ = run([str(dl / "bin" / "python"), "-m", "pip", "download", "-q",
                               "--disable-pip-version-check", "--no-deps", "--no-binary", ":all:",
                               "-d", str(CACHE / "sdists"), f"{proj['name']}=={proj['version']}"])
        path = sdist_path(proj)
        if path is None:
            raise RuntimeError(f"pip download {proj['name']}=={proj['version']} failed: {err[-2000:]}")
    return path


def ensure_tree(proj: dict) -> Path:
    """Unpack the sdist once into CACHE/src; return the pristine tree."""
    archive = ensure_sdist(proj)
    dest = CACHE / "src"
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        top = {m.name.split("/", 1)[0] for m in tar.getmembers()}.pop()
        tree = dest / top
        done = dest / f".{archive.name}.unpacked"
        if not (done.exists() and tree.is_dir()):
            shutil.rmtree(tree, ignore_errors=True)
            tar.extractall(dest, filter="data")
            done.touch()
    return tree


def ensure_venv(proj: dict) -> Path:
    """One venv per project: the project's dependencies and its test deps, not the project."""
    venv = CACHE / "venvs" / proj["name"]
    py = venv / "bin" / "python"
    reqs = [f"{proj['name']}=={proj['version']}", *proj["deps"]]
    marker = venv / "ecosystem-requirements.txt"
    want = "\n".join(["installed", *reqs])
    if py.exists() and marker.exists() and marker.read_text() == want:
        return py
    if py.exists() and marker.exists() and marker.read_text() == "\n".join(reqs):
        # an older cache that uninstalled the project: put it back (its metadata is needed)
        run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", reqs[0]])
        marker.write_text(want)
        return py
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    rc, out, err, _ = run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *reqs])
    if rc != 0:
        raise RuntimeError(f"pip install for {proj['name']} failed: {err[-2000:]}")
    # The project stays installed (tests read its metadata), but the copy on PYTHONPATH
    # comes first: its packages shadow the installed ones, submodules included.
    marker.write_text(want)
    return py


def fresh_copy(tree: Path, work: Path, label: str) -> Path:
    dst = work / label / tree.name
    shutil.rmtree(dst.parent, ignore_errors=True)
    dst.parent.mkdir(parents=True)
    shutil.copytree(tree, dst, symlinks=True)
    return dst


# ---------------------------------------------------------------- suites


UNITTEST_RE = re.compile(
    r"^(\w+) \(([\w.]+)\)(?:\n.*?)?(?: \.\.\. | \.\.\. \n)?"
    r" ?\.\.\. (ok|FAIL|ERROR|skipped.*|expected failure|unexpected success)$", re.M)
UNITTEST_LINE = re.compile(
    r"^(\w+) \(([\w.]+)\).*?\.\.\. (ok|FAIL|ERROR|skipped|expected failure|unexpected success)",
    re.M | re.S)


def run_suite(proj: dict, py: Path, copy: Path, out_dir: Path, ignore: list[str] = ()) -> dict:
    """Run the project's tests in copy; return {test_id: outcome}, details, wall.

    ignore: warning filters (`-W` syntax) turned off, for warnings a recipe adds on
    purpose (a shim's DeprecationWarning) in suites that make every warning an error."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["PYTHONPATH"] = str(copy / proj["path"]) if proj["path"] != "." else str(copy)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONHASHSEED"] = "0"
    env.update(proj.get("env", {}))
    out_dir.mkdir(parents=True, exist_ok=True)
    outcomes: dict[str, str] = {}
    details: dict[str, str] = {}
    if proj["runner"] == "pytest":
        xml = out_dir / "junit.xml"
        xml.unlink(missing_ok=True)
        argv = [str(py), "-m", "pytest", "-p", "no:cacheprovider", "-q", "-o", "junit_family=xunit1",
                "--continue-on-collection-errors",
                f"--junitxml={xml}", *[a for w in ignore for a in ("-W", w)], *proj["args"]]
        rc, out, err, wall = run(argv, cwd=copy, env=env, timeout=SUITE_TIMEOUT)
        if xml.exists():
            try:
                root = ET.parse(xml).getroot()
            except ET.ParseError:
                root = None
            for tc in (root.iter("testcase") if root is not None else []):
                tid = f"{tc.get('file') or tc.get('classname')}::{tc.get('classname')}::{tc.get('name')}"
                outcome, text = "passed", ""
                for child in tc:
                    if child.tag in ("failure", "error", "skipped"):
                        outcome = child.tag
                        if child.tag == "skipped" and child.get("type") == "pytest.xfail":
                            outcome = "xfailed"
                        text = (child.get("message") or "") + "\n" + (child.text or "")
                        break
                if tid in outcomes:  # duplicate ids (setup error + call): keep the worst
                    if outcomes[tid] == "passed":
                        outcomes[tid], details[tid] = outcome, text
                    continue
                outcomes[tid], details[tid] = outcome, text
    else:
        a = proj["args"]
        argv = [str(py), *[a for w in ignore for a in ("-W", w)], "-m", "unittest", *(["discover", "-v", *a[1:]] if a[:1] == ["discover"] else ["-v", *a])]
        rc, out, err, wall = run(argv, cwd=copy, env=env, timeout=SUITE_TIMEOUT)
        for m in UNITTEST_LINE.finditer(err):
            tid = f"{m.group(2)}.{m.group(1)}"
            word = m.group(3)
            outcome = {"ok": "passed", "FAIL": "failure", "ERROR": "error", "skipped": "skipped",
                       "expected failure": "xfailed", "unexpected success": "xpassed"}[word]
            outcomes[tid] = outcome
        # tracebacks: "ERROR: test (mod.Class.test)\n----\nTraceback ..."
        for block in re.split(r"^={50,}$", err, flags=re.M):
            m = re.search(r"^(?:ERROR|FAIL): (\w+) \(([\w.]+)\)", block, re.M)
            if m:
                details[f"{m.group(2)}.{m.group(1)}"] = block
    (out_dir / "stdout.txt").write_text(out)
    (out_dir / "stderr.txt").write_text(err)
    if not outcomes:
        # a suite that does not even collect: one pseudo-test with its output
        outcomes["<suite>"] = f"rc={rc}"
        details["<suite>"] = (out + err)[-4000:]
    return {"outcomes": outcomes, "details": details, "rc": rc, "wall": wall}


PARSE_CHECK = r"""
import ast, os, sys, json, warnings
warnings.simplefilter("ignore")
bad = {}
for dp, dn, fn in os.walk(sys.argv[1]):
    dn[:] = [d for d in dn if d not in ("__pycache__", ".git")]
    for f in fn:
        if f.endswith(".py"):
            p = os.path.join(dp, f)
            try:
                ast.parse(open(p, "rb").read(), p)
            except Exception as e:
                bad[os.path.relpath(p, sys.argv[1])] = f"{type(e).__name__}: {e}"
print(json.dumps(bad))
"""


def parse_failures(py: Path, copy: Path) -> dict:
    rc, out, err, _ = run([str(py), "-c", PARSE_CHECK, str(copy)], timeout=300)
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        return {"<parse check>": err[-500:]}


# ---------------------------------------------------------------- fixer


# How move-module's refusal begins (references it cannot rewrite would go stale).
REFUSAL = "that fixer cannot rewrite"


def recipe_argv(proj: dict, recipe: str) -> list[str] | None:
    """fixer arguments (after apply/check) for recipe on proj, or None if n/a."""
    if recipe == "hoist-imports":
        return ["hoist-imports"]
    if recipe == "hoist-imports-all":
        return ["hoist-imports", "--include", "**/*.py"]
    if recipe == "consolidate-conftest":
        return ["consolidate-conftest"]
    if recipe in ("move-module", "move-module-shim"):
        if not proj.get("move"):
            return None
        src, dst = proj["move"]
        extra = ["--set", "shim=true"] if recipe == "move-module-shim" else []
        return ["move-module", "--set", f"from={src}", "--set", f"to={dst}", *extra]
    if recipe == "module-to-package":
        if not proj.get("m2p"):
            return None
        mod, sub = proj["m2p"]
        return ["module-to-package", "--set", f"module={mod}", "--set", f"submodule={sub}"]
    if recipe == "lazy-settings":
        return ["lazy-settings"]
    if recipe == "unresolved-imports":
        return ["unresolved-imports"]
    if recipe == "pytest-asyncio-v1":
        return ["pytest-asyncio-v1"]
    raise ValueError(recipe)


def fixer_json(fixer: Path, mode: list[str], args: list[str], copy: Path) -> tuple[int, dict, str, float]:
    rc, out, err, wall = run([str(fixer), *mode, *args, "--format", "json"], cwd=copy,
                             timeout=FIXER_TIMEOUT)
    try:
        data = json.loads(out) if out.strip() else {}
    except json.JSONDecodeError:
        # apply --dry-run prints the JSON on stdout; anything else after it is text
        start = out.find("{")
        try:
            data = json.JSONDecoder().raw_decode(out[start:])[0]
        except (ValueError, json.JSONDecodeError):
            data = {}
    return rc, data, err, wall


def note_reason(message: str) -> str:
    if message.startswith("kept: "):
        rest = message[len("kept: "):]
        return "kept: " + rest.split(":")[0].strip()
    return message.split(":")[0][:80]


def count_conftests(tree: Path) -> int:
    return sum(1 for _ in tree.rglob("conftest.py"))


def compare(base: dict, after: dict) -> list[tuple[str, str, str]]:
    changes = []
    for tid in sorted(set(base) | set(after)):
        b, a = base.get(tid, "absent"), after.get(tid, "absent")
        if b != a:
            changes.append((tid, b, a))
    return changes


def collapse(changes: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Tests that vanish because their file (or the whole suite) no longer collects are
    counted on the collection error rather than listed one by one."""
    broken = {tid.split("::")[0] for tid, b, a in changes
              if b == "absent" and a in ("error", "failure") or tid == "<suite>"}
    whole = any(tid == "<suite>" for tid, b, a in changes)
    gone = Counter("<suite>" if whole else tid.split("::")[0] for tid, b, a in changes
                   if a == "absent" and (whole or tid.split("::")[0] in broken))
    out = []
    for tid, b, a in changes:
        f = tid.split("::")[0]
        if a == "absent" and (whole or f in broken):
            continue
        if tid == "<suite>" or (b == "absent" and f in broken and f in gone):
            n = gone.get("<suite>" if whole else f, 0)
            a = f"{a} ({n} test(s) of it no longer run)" if n else a
            if tid == "<suite>":
                gone["<suite>"] = 0
            else:
                gone[f] = 0
        out.append((tid, b, a))
    return out


def renames_for(proj: dict, recipe: str) -> list[tuple[str, str]]:
    """Dotted names a recipe renames: test ids that embed them (parametrized with a module
    name) are renamed with them, which is not an outcome change."""
    if recipe.startswith("move-module") and proj.get("move"):
        return [tuple(proj["move"])]
    if recipe == "module-to-package" and proj.get("m2p"):
        mod, sub = proj["m2p"]
        return [(mod, f"{mod}.{sub}")]
    return []


def pair_renames(changes: list[dict], renames: list[tuple[str, str]]) -> list[dict]:
    """Join `X: outcome -> absent` with `Y: absent -> outcome` when Y is X renamed: X with a
    dotted name the recipe renamed (tests parametrized by module name), or, failing that,
    the same test function with other parameters (ids with a timestamp in them). The pair is
    dropped when the outcome is the same, else kept as one change of Y."""
    def rename(tid: str) -> str:
        for old_name, new_name in renames:
            tid = tid.replace(old_name, new_name)
        return tid

    def base(tid: str) -> str:
        return tid.split("[", 1)[0]

    gone = [c for c in changes if c["after"] == "absent" and c["before"] != "absent"]
    new = {c["test"]: c for c in changes if c["before"] == "absent" and c["after"] != "absent"}
    dropped, merged = set(), {}
    for c in gone:  # exact rename first
        other = new.get(rename(c["test"]))
        if renames and other is not None and other["test"] not in dropped and other["test"] != c["test"]:
            dropped.update({c["test"], other["test"]})
            if other["after"] != c["before"]:
                merged[other["test"]] = dict(other, before=c["before"],
                                             test=f"{c['test']} (renamed {other['test']})")
    for c in gone:  # then same function, other parameters, same outcome
        if c["test"] in dropped:
            continue
        for other in new.values():
            if other["test"] not in dropped and base(other["test"]) == base(c["test"]) \
                    and other["after"] == c["before"] and "[" in c["test"]:
                dropped.update({c["test"], other["test"]})
                break
    out = []
    for c in changes:
        if c["test"] in merged:
            out.append(merged[c["test"]])
        elif c["test"] not in dropped:
            out.append(c)
    return out


def hunks_for(change_tid: str, detail: str, diffs: dict[str, str]) -> list[str]:
    """The dry-run diffs of the files a failing test names: its own file, files in its traceback."""
    found = []
    head = change_tid.split("::")[0]
    for f in diffs:
        mod = f[:-3].replace("/", ".") if f.endswith(".py") else f
        own = f == head or head.startswith(mod + ".") or ("." + head).endswith("." + mod) \
            or any(head.startswith(mod.split(".", i)[-1] + ".") for i in range(1, mod.count(".") + 1))
        if own or ("/" + f) in detail or f"\"{f}\"" in detail:
            found.append(f)
    return found


class Job:
    def __init__(self, proj: dict, fixer: Path, work: Path, recipes: list[str], out_dir: Path):
        self.proj, self.fixer, self.work, self.recipes, self.out_dir = proj, fixer, work, recipes, out_dir

    def run(self) -> dict:
        proj = self.proj
        name = proj["name"]
        res = {"project": name, "version": proj["version"], "style": proj["style"], "rows": [],
               "error": None}
        try:
            tree = ensure_tree(proj)
            py = ensure_venv(proj)
        except Exception as e:  # noqa: BLE001
            res["error"] = f"setup failed: {e}"
            log(f"{name}: {res['error']}")
            return res
        res["conftests"] = count_conftests(tree)
        res["py_files"] = sum(1 for _ in tree.rglob("*.py"))
        pdir = self.out_dir / name
        # baseline, cached per project (keyed by the tree and the venv marker)
        cache_file = CACHE / "baselines" / f"{name}-{proj['version']}.json"
        key = json.dumps([proj["runner"], proj["args"], proj["path"], proj.get("env", {}), proj["deps"], 2])
        base = None
        if cache_file.exists():
            data = json.loads(cache_file.read_text())
            if data.get("key") == key:
                base = data
        if base is None:
            copy = fresh_copy(tree, self.work, f"{name}/baseline")
            log(f"{name}: baseline suite")
            suite = run_suite(proj, py, copy, pdir / "baseline")
            base = {"key": key, "outcomes": suite["outcomes"], "wall": suite["wall"],
                    "parse": parse_failures(py, copy)}
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            cache_file.write_text(json.dumps(base))
            shutil.rmtree(copy.parent, ignore_errors=True)
        res["baseline"] = {"tests": len(base["outcomes"]), "wall": base["wall"],
                           "counts": dict(Counter(base["outcomes"].values()))}
        for recipe in self.recipes:
            row = self.run_recipe(recipe, tree, py, base, pdir / recipe)
            res["rows"].append(row)
            log(f"{name}: {recipe}: {row['status']}")
        return res

    def run_recipe(self, recipe: str, tree: Path, py: Path, base: dict, rdir: Path) -> dict:
        proj = self.proj
        row = {"recipe": recipe, "status": "", "files": 0, "edits": 0, "notes": {}, "changes": [],
               "parse": {}, "idempotent": None, "fixer_wall": 0.0, "suite_wall": 0.0,
               "tests": None, "errors": [], "unresolved": []}
        args = recipe_argv(proj, recipe)
        if args is None:
            row["status"] = "n/a (no module chosen)"
            return row
        if recipe == "consolidate-conftest" and count_conftests(tree) < 2:
            row["status"] = "n/a (fewer than 2 conftest.py)"
            return row
        copy = fresh_copy(tree, self.work, f"{proj['name']}/{recipe}")
        rdir.mkdir(parents=True, exist_ok=True)
        try:
            return self._run_recipe(recipe, args, copy, py, base, rdir, row)
        finally:
            shutil.rmtree(copy.parent, ignore_errors=True)

    def _run_recipe(self, recipe, args, copy, py, base, rdir, row):
        proj = self.proj
        t0 = time.monotonic()
        if recipe == "unresolved-imports":
            rc, data, err, wall = fixer_json(self.fixer, ["check"], args, copy)
            row["fixer_wall"] = wall
            for e in data.get("entries", []):
                if e.get("severity") == "error":
                    row["unresolved"].append(e)
                elif e.get("kind") == "finding":
                    row["notes"][note_reason(e["message"])] = row["notes"].get(note_reason(e["message"]), 0) + 1
            if rc not in (0, 1):
                row["errors"].append(f"fixer check exit {rc}: {err.strip()[-500:]}")
            row["status"] = (f"{len(row['unresolved'])} error(s)" if row["unresolved"] else "clean")
            row["unresolved"] = [judge_unresolved(e, base) for e in row["unresolved"]]
            (rdir / "check.json").write_text(json.dumps(data, indent=1))
            return row
        # 1. what it would do (diffs, notes), 2. apply, 3. second run is a no-op
        rc, dry, err, wall = fixer_json(self.fixer, ["apply"], [*args, "--dry-run"], copy)
        (rdir / "dry-run.json").write_text(json.dumps(dry, indent=1))
        (rdir / "dry-run.stderr").write_text(err)
        if rc == 2 and REFUSAL in err:
            # fixer declined the change (a reference it cannot rewrite would go stale):
            # nothing may be written, and the suite is the baseline's
            rc_apply, out_apply, err_apply, wall = run([str(self.fixer), "apply", *args], cwd=copy,
                                                       timeout=FIXER_TIMEOUT)
            row["fixer_wall"] = wall
            if rc_apply != 2 or REFUSAL not in err_apply:
                row["errors"].append(f"dry run refused but apply exit {rc_apply}: {err_apply.strip()[-800:]}")
            row["refused"] = err.strip().splitlines()[0].removeprefix("error: ")
            row["refused_detail"] = err.strip()[:2000]
            row["tests"] = len(base["outcomes"])
            row["status"] = "refused" if not row["errors"] else "FINDINGS"
            return row
        if rc not in (0, 1):
            row["errors"].append(f"apply --dry-run exit {rc}: {err.strip()[-800:]}")
        diffs: dict[str, str] = {}
        for e in dry.get("entries", []):
            if e.get("kind") == "change":
                diffs[e["file"]] = diffs.get(e["file"], "") + e.get("diff", "")
            elif e.get("kind") == "finding":
                r = note_reason(e.get("message", ""))
                sev = e.get("severity", "")
                key = r if sev == "note" else f"{sev}: {r}"
                row["notes"][key] = row["notes"].get(key, 0) + 1
        summary = dry.get("summary", {})
        row["files"] = summary.get("files_changed", len(diffs))
        row["edits"] = sum(summary.get("edits", {}).values())
        rc, out, err, wall = run([str(self.fixer), "apply", *args], cwd=copy, timeout=FIXER_TIMEOUT)
        row["fixer_wall"] = wall
        (rdir / "apply.stderr").write_text(out + err)
        if rc != 0:
            row["errors"].append(f"apply exit {rc}: {err.strip()[-800:]}")
        rc2, again, err2, _ = fixer_json(self.fixer, ["check"], args, copy)
        (rdir / "check-after.json").write_text(json.dumps(again, indent=1))
        pending = [e for e in again.get("entries", []) if e.get("kind") == "change"]
        row["idempotent"] = rc2 == 0 and not pending
        if not row["idempotent"]:
            row["idempotence_detail"] = {
                "check_exit": rc2,
                "pending": [(e["file"], e.get("diff", "")[:3000]) for e in pending][:5],
                "errors": [e.get("message") for e in again.get("entries", [])
                           if e.get("severity") == "error" and e.get("kind") != "change"][:10],
                "stderr": err2[-800:],
            }
        new_parse = parse_failures(py, copy)
        row["parse"] = {f: m for f, m in new_parse.items() if f not in base["parse"]}
        if row["files"] == 0 and rc == 0 and not row["parse"]:
            row["tests"] = len(base["outcomes"])
            row["status"] = "no change"
            return row
        ignore = []
        if recipe == "move-module-shim":
            # the shim's DeprecationWarning is what it is for; under filterwarnings=error
            # any use of the old name through the shim would otherwise fail
            ignore = [f"ignore:{proj['move'][0]} has moved to:DeprecationWarning"]
        suite = run_suite(proj, py, copy, rdir / "suite", ignore)
        row["suite_wall"] = suite["wall"]
        row["tests"] = len(suite["outcomes"])
        changes = collapse(compare(base["outcomes"], suite["outcomes"]))
        for tid, b, a in changes:
            detail = suite["details"].get(tid, "")
            files = hunks_for(tid, detail, diffs)
            row["changes"].append({"test": tid, "before": b, "after": a,
                                   "detail": detail[-3000:], "files": files,
                                   "hunks": {f: diffs[f][:6000] for f in files[:3]}})
        row["changes"] = pair_renames(row["changes"], renames_for(proj, recipe))
        bad = bool(row["changes"] or row["parse"] or row["idempotent"] is False or row["errors"])
        row["status"] = "FINDINGS" if bad else "ok"
        return row


def judge_unresolved(e: dict, base: dict) -> dict:
    """An unresolved-import error is false unless the suite fails on that import too."""
    f = e.get("file", "")
    mod = f[:-3].replace("/", ".") if f.endswith(".py") else f
    tests = {t: o for t, o in base["outcomes"].items()
             if t.split("::")[0] == f or t.startswith(mod.split(".", 1)[-1]) or t.startswith(mod)}
    passing = [t for t, o in tests.items() if o == "passed"]
    if passing:
        verdict = f"false: {len(passing)} test(s) of this file pass"
    elif tests:
        verdict = "matches a failing suite? (no test of this file passes)"
    else:
        verdict = "unjudged (not a test file: check the importing code by hand)"
    return {"file": f, "line": e.get("start_line"), "message": e.get("message"), "verdict": verdict}


# ---------------------------------------------------------------- report


def machine() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "os": platform.platform()}


def fixer_version(fixer: Path) -> str:
    rc, out, err, _ = run([str(fixer), "--version"])
    version = (out or err).strip()
    if "(commit " in version:  # the binary says what it was built from
        return version
    commit = run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"])[1].strip()
    return f"{version} (commit {commit}, of the checkout)"


def general_reason(key: str) -> str:
    """`kept: \`f\` is bound differently in \`g\` (line 9` -> one reason for every name."""
    key = re.sub(r"^kept: `[^`]+`", "kept: `NAME`", key)
    key = re.sub(r" in `[^`]+` \(line \d+$| \(line \d+$", "", key)
    return key


def fmt_notes(notes: dict) -> str:
    merged: Counter = Counter()
    for k, v in notes.items():
        merged[general_reason(k)] += v
    notes = dict(merged)
    return "; ".join(f"{k} ×{v}" for k, v in sorted(notes.items(), key=lambda kv: -kv[1])) or ""


def md_escape(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def write_report(results: list[dict], args, started: str, wall: float, argv: list[str],
                 fixer: Path, partial: str | None) -> None:
    m = machine()
    for res in results:
        proj = next((p for p in PROJECTS if p["name"] == res["project"]), None)
        for r in res["rows"]:
            if proj is not None:
                r["changes"] = pair_renames(r["changes"], renames_for(proj, r["recipe"]))
            if r["status"] == "FINDINGS" and not (r["changes"] or r["parse"] or r["errors"]
                                                  or r["idempotent"] is False):
                r["status"] = "ok"
    L = ["# Ecosystem check", "",
         "Every fixer recipe on real projects, judged by their own test suites. Written by "
         "`bench/ecosystem.py` (see bench/README.md); do not edit by hand.", ""]
    if partial:
        L += [f"**Partial run:** {partial}", ""]
    L += [f"- date: {started} (UTC), total wall time {wall / 60:.1f} min",
          f"- machine: {m['nproc']} CPUs, {m['cpu']}, Python {m['python']}, {m['os']}",
          f"- fixer: {fixer_version(fixer)}",
          f"- command: `{' '.join(shlex.quote(a) for a in argv)}`", ""]
    # summary per recipe
    L += ["## Summary per recipe", "",
          "| recipe | projects run | n/a | no change | outcome changes | parse failures | "
          "non-idempotent | fixer errors | refused | unresolved-import errors |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for recipe in RECIPES:
        rows = [r for res in results for r in res["rows"] if r["recipe"] == recipe]
        if not rows:
            continue
        ran = [r for r in rows if not r["status"].startswith("n/a")]
        L.append("| " + " | ".join(map(str, [
            recipe, len(ran), len(rows) - len(ran),
            sum(1 for r in ran if r["status"] == "no change"),
            sum(len(r["changes"]) for r in ran),
            sum(len(r["parse"]) for r in ran),
            sum(1 for r in ran if r["idempotent"] is False),
            sum(len(r["errors"]) for r in ran),
            sum(1 for r in ran if r["status"] == "refused"),
            sum(len(r["unresolved"]) for r in ran) if recipe == "unresolved-imports" else "",
        ])) + " |")
    L += ["", "Recipe ids: `hoist-imports-all` is `hoist-imports --include '**/*.py'` (library code "
          "too); `move-module-shim` is `move-module --set shim=true` (its suite runs with the shim's "
          "own DeprecationWarning ignored). A run that changes no file is not tested again (its "
          "outcomes are the baseline's); nor is one fixer refuses (it must write nothing, in the "
          "dry run and in `apply`), listed with its reason.", ""]
    L += ["## Projects", "", "| project | version | style | .py files | conftest.py | baseline tests | baseline s |",
          "| --- | --- | --- | --- | --- | --- | --- |"]
    for res in results:
        b = res.get("baseline", {})
        counts = ", ".join(f"{k} {v}" for k, v in sorted(b.get("counts", {}).items()))
        L.append(f"| {res['project']} | {res['version']} | {res['style']} | {res.get('py_files', '')} | "
                 f"{res.get('conftests', '')} | {b.get('tests', res.get('error') or '')} ({counts}) | "
                 f"{b.get('wall', 0):.1f} |")
    L.append("")
    for res in results:
        proj = next(p for p in PROJECTS if p["name"] == res["project"])
        L += [f"## {res['project']} {res['version']}", ""]
        if res.get("error"):
            L += [f"Setup failed: {md_escape(res['error'])}", ""]
            continue
        L += [f"Suite: `{proj['runner']} {' '.join(proj['args'])}` (PYTHONPATH={proj['path']}); "
              f"move-module: `{proj['move']}`; module-to-package: `{proj['m2p']}`.", "",
              "| recipe | status | tests | files changed | edits | kept/notes by reason | outcome changes | "
              "parse failures | idempotent | fixer s | suite s |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in res["rows"]:
            idem = {True: "yes", False: "**NO**", None: ""}[r["idempotent"]]
            notes = fmt_notes(r["notes"])
            if r["recipe"] == "unresolved-imports":
                notes = (notes + "; " if notes else "") + f"{len(r['unresolved'])} error(s)"
            L.append("| " + " | ".join(md_escape(x) for x in [
                r["recipe"], r["status"], r["tests"] if r["tests"] is not None else "",
                r["files"], r["edits"], notes, len(r["changes"]), len(r["parse"]), idem,
                f"{r['fixer_wall']:.2f}", f"{r['suite_wall']:.1f}"]) + " |")
        L.append("")
        for r in res["rows"]:
            if r.get("refused"):
                L += [f"- **{r['recipe']}**: refused, nothing written: "
                      f"{md_escape(r.get('refused_detail', r['refused'])[:1200])}"]
            for err in r["errors"]:
                L += [f"- **{r['recipe']}**: fixer error: `{md_escape(err[:600])}`"]
            for f, msg in r["parse"].items():
                L += [f"- **{r['recipe']}**: parse failure `{f}`: {md_escape(msg)}"]
            for u in r["unresolved"]:
                L += [f"- **unresolved-imports** `{u['file']}:{u['line']}`: {md_escape(u['message'])} "
                      f"— {u['verdict']}"]
            if r["idempotent"] is False:
                d = r.get("idempotence_detail", {})
                L += [f"- **{r['recipe']}**: second run not a no-op (check exit {d.get('check_exit')}); "
                      f"errors: {md_escape('; '.join(map(str, d.get('errors', [])))[:800])}"]
                for f, diff in d.get("pending", []):
                    L += ["", f"  pending change in `{f}`:", "", "```diff", diff.rstrip(), "```", ""]
        changes = [(r["recipe"], c) for r in res["rows"] for c in r["changes"]]
        if changes:
            L += ["", "### Outcome changes", ""]
        for recipe, c in changes:
            L += [f"#### {recipe}: `{c['test']}`: {c['before']} → {c['after']}", ""]
            if c["detail"].strip():
                L += ["```", c["detail"].strip()[-1500:], "```", ""]
            for f, h in c["hunks"].items():
                L += [f"Diff of `{f}` (fixer apply --dry-run):", "", "```diff", h.rstrip()[:4000], "```", ""]
            if not c["hunks"]:
                L += ["(no changed file named by the test id or its traceback)", ""]
        L.append("")
    REPORT.write_text("\n".join(L) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--project", action="append", help="only this project (repeatable)")
    ap.add_argument("--recipe", action="append", choices=RECIPES, help="only this recipe (repeatable)")
    ap.add_argument("--jobs", type=int, default=1, help="projects in parallel (default 1)")
    ap.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    ap.add_argument("--fixer", type=Path, default=REPO_ROOT / "target" / "release" / "fixer")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "fixer-ecosystem",
                    help="where the working copies go (outside any git tree)")
    ap.add_argument("--no-report", action="store_true", help="leave ECOSYSTEM.md alone")
    ap.add_argument("--results", type=Path, default=CACHE / "results.json",
                    help="where the raw results go (default bench/.cache/ecosystem/results.json)")
    ap.add_argument("--merge", type=Path, action="append", default=[],
                    help="with --rerender: results files of later runs whose rows (per project and recipe) replace "
                         "those of the main one")
    ap.add_argument("--rerender", action="store_true",
                    help="rewrite ECOSYSTEM.md from the last run's results.json, running nothing")
    args = ap.parse_args(argv)
    full_argv = ["python3", "bench/ecosystem.py", *(sys.argv[1:] if argv is None else argv)]
    fixer = args.fixer.resolve()
    if not fixer.exists():
        print(f"no fixer binary at {fixer}: run `cargo build --release` or pass --fixer", file=sys.stderr)
        return 2
    meta_file = args.results.with_name(args.results.stem + "-meta.json")
    if args.rerender:
        meta = json.loads(meta_file.read_text())
        done = json.loads(args.results.read_text())
        for extra in args.merge:
            # A later run replaces the rows of the recipes it ran, project by project.
            later = {r["project"]: r for r in json.loads(extra.read_text())}
            merged = []
            for r in done:
                new = later.pop(r["project"], None)
                if new is not None:
                    ran = {row["recipe"] for row in new["rows"]}
                    kept = [row for row in r["rows"] if row["recipe"] not in ran]
                    new = dict(new, rows=kept + new["rows"])
                    order = {row["recipe"]: i for i, row in enumerate(r["rows"])}
                    new["rows"].sort(key=lambda row: order.get(row["recipe"], len(order)))
                merged.append(new if new is not None else r)
            done = merged + list(later.values())
            emeta = json.loads(extra.with_name(extra.stem + "-meta.json").read_text())
            meta["argv"] = meta["argv"] + ["&&", *emeta["argv"]]
            meta["wall"] += emeta["wall"]
        write_report(done, args, meta["started"], meta["wall"], meta["argv"], fixer,
                     meta.get("partial") or None)
        return 0
    projects = PROJECTS
    if args.quick:
        projects = [p for p in PROJECTS if p["name"] in QUICK]
    if args.project:
        want = {n.lower().replace("-", "_") for n in args.project}
        projects = [p for p in PROJECTS if p["name"].lower().replace("-", "_") in want]
        if not projects:
            print(f"unknown project; known: {', '.join(p['name'] for p in PROJECTS)}", file=sys.stderr)
            return 2
    recipes = args.recipe or RECIPES
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    t0 = time.monotonic()
    out_dir = CACHE / "runs"
    args.work.mkdir(parents=True, exist_ok=True)
    # fixer's result cache outside the projects' trees: each job's second `check` after
    # `apply` then runs warm, as a user's would, and the trees hold only what fixer wrote.
    os.environ.setdefault("FIXER_CACHE_DIR", str(args.work / "fixer-cache"))
    results: dict[str, dict] = {}
    order = [p["name"] for p in projects]
    partial = None

    def flush(final: bool) -> None:
        done = [results[n] for n in order if n in results]
        p = partial
        if not final or len(done) < len(order):
            missing = [n for n in order if n not in results]
            p = (p or "") + (f" {len(done)} of {len(order)} projects done; not run: {', '.join(missing)}."
                             if missing else "")
        if not args.no_report:
            write_report(done, args, started, time.monotonic() - t0, full_argv, fixer, p or None)
        args.results.write_text(json.dumps(done, indent=1))
        meta_file.write_text(json.dumps({"started": started, "wall": time.monotonic() - t0,
                                         "argv": full_argv, "partial": p}))

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
            futs = {ex.submit(Job(p, fixer, args.work, recipes, out_dir).run): p["name"] for p in projects}
            for fut in concurrent.futures.as_completed(futs):
                name = futs[fut]
                try:
                    results[name] = fut.result()
                except Exception as e:  # noqa: BLE001
                    results[name] = {"project": name, "version": "", "style": "", "rows": [],
                                     "error": f"harness error: {e!r}"}
                log(f"{name}: done ({len(results)}/{len(order)})")
                flush(final=False)
    except KeyboardInterrupt:
        partial = "interrupted."
        flush(final=False)
        return 130
    flush(final=True)
    bad = sum(len(r["changes"]) + len(r["parse"]) + (r["idempotent"] is False) + len(r["unresolved"])
              for res in results.values() for r in res["rows"])
    log(f"done in {(time.monotonic() - t0) / 60:.1f} min; {bad} finding(s); report in {REPORT}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
