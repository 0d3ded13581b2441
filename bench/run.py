#!/usr/bin/env python3
"""Benchmark fixer against ruff, ast-grep and LibCST on Django + SymPy.

One command does everything (see bench/README.md)::

    python3 bench/run.py            # full comparison, Markdown table on stdout
    python3 bench/run.py --quick    # smoke test: one run of each fast tool
    python3 bench/run.py --scale    # fixer alone on 1x, 4x and 16x the corpus

What is measured, and why
-------------------------
The corpus is two large, real, pinned Python code bases (the Django and
SymPy sdists from PyPI), so anyone can rebuild exactly the same input.  Each
tool is run as a child process on both trees at once and, for every run, we
record:

* wall time  -- what a user waits for;
* CPU time   -- user + system time of the child and everything it waited
  for, i.e. the work done, independent of how many cores were used;
* peak RSS   -- the largest resident set of the child or of any one of its
  waited-for descendants, i.e. how much memory the tool needs: as GNU time
  (``/usr/bin/time -f %M``) reports it, else ``ru_maxrss`` from ``wait4``
  (which never reads below this script's own peak: exec carries the
  parent's over).

Jobs:

(a) "function-local imports": the same question asked of three tools --
    ``fixer check hoist-imports``, an equivalent ast-grep rule
    (bench/ast-grep/) and ruff's PLC0415 (import-outside-top-level).
    ruff is the speed reference for a Rust linter; ast-grep for a
    tree-sitter based structural search tool, like fixer.
(b) ``fixer check`` with every built-in recipe that needs no parameters:
    the cost of running all recipes in one pass, beside ``ruff check`` with
    its default rules (E4, E7, E9, F) on the same trees: not the same
    analyses (no peer resolves imports across a project or rewrites a
    settings object), but the everyday whole-project pass of the fastest
    peer, which is what a user weighs a CI step against.
(c) a LibCST parse of every file (bench/libcst_parse.py): the floor for a
    codemod written in Python, which must at least parse every file.
(d) one rewrite written twice, ``self.assertEqual($A, $B)`` -> ``assert $A == $B``:
    as a tree-sitter query (bench/patterns/bench-query.toml) and as a code pattern
    (bench/patterns/bench-pattern.toml), both ``fixer check`` over every file. A
    pattern compiles to a query for its root kind plus a structural check, so it
    should cost no more than the query it replaces.

Runs alternate between tools (round-robin, with the starting tool rotating
every round) so that slow drifts of the machine -- thermal throttling,
other load, page cache -- spread over all tools instead of biasing one.
An untimed warm-up round first fills the page cache and checks that every
tool works before the long runs start.  Medians are reported.

Exit code 0 or 1 of a tool is success (1 means "found something" for all of
them); anything else aborts the benchmark and shows the tool's stderr.

Everything downloaded or built lives in the cache dir (default
bench/.cache/, git-ignored): the sdists, the unpacked trees, a venv with
the pinned tools, the outputs of the last run of each tool, results.json
and the scale-mode copies.  The harness itself uses only the standard
library of the Python that runs it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent

# The corpus: pinned sdists from PyPI.
CORPUS = (("django", "5.2.19"), ("sympy", "1.14.0"))

# Tools installed into the cache venv.  Pinned so that reruns compare the
# same tool versions; bump deliberately and note it in RESULTS.md.
TOOL_REQUIREMENTS = ("ruff==0.17.6", "ast-grep-cli==0.51.1", "libcst==1.9.0")

# Used for job (b) only if `fixer list` gives nothing usable.  Built-in
# recipes that take no parameters, as of this writing.
FALLBACK_RECIPES = ("hoist-imports", "aioredis-to-redis", "lazy-settings")

SCALE_FACTORS = (1, 4, 16)

JOB_TEXT = {
    "(a)": "(a) function-local imports",
    "(b)": "(b) all no-parameter recipes ({recipes}); ruff with its default rules beside it",
    "(c)": "(c) LibCST parse of every file (the floor for a Python codemod)",
    "(d)": "(d) one rewrite (`self.assertEqual($A, $B)` to `assert $A == $B`) as a query and as a code pattern",
}

LIBCST_VERSION = "import importlib.metadata as m; print(m.version('libcst'))"

# A line of tool output that points at a source location: `path.py:12:5`.
LOCATION_RE = re.compile(r"(\S+\.py):\d+:\d+")
# fixer's closing summary: `12 files would change (recipe: 34 edits)`.
SUMMARY_RE = re.compile(r"\d+ files? would change")


class BenchError(Exception):
    """A fatal problem: printed as `error: ...` and exit status 2."""


def log(message: str = "") -> None:
    """Progress goes to stderr; stdout is reserved for the Markdown report."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Measuring one child process
# --------------------------------------------------------------------------


def machine_busy_s() -> float:
    """CPU seconds spent so far by the whole machine (all CPUs), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


@dataclass
class Measurement:
    wall_s: float
    user_s: float
    sys_s: float
    peak_rss_mib: float
    exit_code: int
    # CPU time the rest of the machine used during the run: other load that
    # competed with the tool for the cores and disturbed its timing.
    other_cpu_s: float

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s

    def to_json(self) -> dict:
        return {
            "wall_s": round(self.wall_s, 4),
            "user_s": round(self.user_s, 4),
            "sys_s": round(self.sys_s, 4),
            "cpu_s": round(self.cpu_s, 4),
            "peak_rss_mib": round(self.peak_rss_mib, 1),
            "exit_code": self.exit_code,
            "other_cpu_s": round(self.other_cpu_s, 2),
        }


GNU_TIME = "/usr/bin/time" if Path("/usr/bin/time").is_file() else None


def measure(argv: list[str], cwd: Path, stdout_path: Path, stderr_path: Path) -> Measurement:
    """Run argv once; return its wall time, CPU time and peak RSS.

    ``os.wait4`` reports the rusage of exactly this child, including every
    descendant it waited for, so parallel tools (threads or worker
    processes) are accounted for in full.
    """
    # A child's ``ru_maxrss`` starts at this (Python) process's own peak, which exec
    # carries over; GNU time's child starts from time's small footprint instead, so
    # when it is there, the peak RSS is the one it reports.
    rss_file = stdout_path.with_suffix(".maxrss")
    timed = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *argv] if GNU_TIME else argv
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        busy_before = machine_busy_s()
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(timed, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        except OSError as exc:
            raise BenchError(f"cannot start {argv[0]}: {exc}") from exc
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        busy = machine_busy_s() - busy_before
    proc.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from waiting again
    peak_kib = usage.ru_maxrss  # Linux reports KiB
    if GNU_TIME:
        try:
            peak_kib = int(rss_file.read_text().split()[-1])
        except (OSError, ValueError, IndexError):
            pass
    return Measurement(
        wall_s=wall,
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        peak_rss_mib=peak_kib / 1024,
        exit_code=proc.returncode,
        other_cpu_s=max(0.0, busy - usage.ru_utime - usage.ru_stime),
    )


# --------------------------------------------------------------------------
# Benchmarks
# --------------------------------------------------------------------------


def summarize_findings(stdout: str, stderr: str) -> str:
    """What a check tool found, from its normal output.

    ruff and ast-grep print one `file.py:line:col` location per finding:
    count those lines and the distinct files.  fixer may report per file
    instead (`N files would change (...)`): show that summary line.
    """
    files = set()
    count = 0
    for line in stdout.splitlines():
        match = LOCATION_RE.search(line)
        if match:
            count += 1
            files.add(match.group(1))
    if count:
        return f"{count} in {len(files)} files"
    for line in reversed((stderr + "\n" + stdout).splitlines()):
        if SUMMARY_RE.search(line):
            return line.strip()[:80]
    return "0" if not stdout.strip() else "?"


def fixer_summary(stdout: str, stderr: str) -> str:
    """fixer's closing summary line (`N files would change (...)`), for a rewrite whose
    notes would otherwise be counted as its findings."""
    for line in reversed((stderr + "\n" + stdout).splitlines()):
        if SUMMARY_RE.search(line):
            return line.strip()[:80]
    return "?"


def libcst_summary(stdout: str, stderr: str) -> str:
    match = re.search(r"files=(\d+) failures=(\d+)", stdout)
    if not match:
        return "?"
    return f"{match.group(2)} parse failures / {match.group(1)} files"


@dataclass
class Bench:
    key: str  # short unique id, used for file names and JSON
    job: str  # which job it belongs to, e.g. "(a)"
    tool: str  # what is shown in the table
    argv: list[str]
    slow: bool = False
    summarize: Callable[[str, str], str] = summarize_findings
    # Run, untimed, before each timed run (clear or fill a cache).
    before: Callable[[], None] | None = None
    runs: list[Measurement] = field(default_factory=list)
    findings: str = ""


def run_bench(bench: Bench, out_dir: Path, cwd: Path) -> Measurement:
    """Run one benchmark once; abort with its stderr if it failed."""
    stdout_path = out_dir / f"{bench.key}.stdout"
    stderr_path = out_dir / f"{bench.key}.stderr"
    if bench.before:
        bench.before()
    m = measure(bench.argv, cwd, stdout_path, stderr_path)
    if m.exit_code not in (0, 1):
        stderr = stderr_path.read_text(errors="replace").splitlines()
        shown = "\n".join(stderr[-60:]) or "(empty)"
        raise BenchError(
            f"{bench.tool} failed with exit code {m.exit_code}\n"
            f"command: {shell_join(bench.argv)}\n"
            f"stderr (last {min(len(stderr), 60)} lines, full text in {stderr_path}):\n{shown}"
        )
    bench.findings = bench.summarize(
        stdout_path.read_text(errors="replace"), stderr_path.read_text(errors="replace")
    )
    return m


def run_rounds(
    benches: list[Bench],
    runs: int,
    runs_slow: int,
    warmup: bool,
    out_dir: Path,
    cwd: Path,
    after_warmup: Callable[[], None] | None = None,
) -> None:
    """Round-robin over benches; round i runs every bench that still needs runs.

    The starting bench rotates every round so no tool always runs right
    after the same other tool (e.g. right after a 3-minute LibCST run).
    ``after_warmup`` is called once the warm-up round (or, without one, the
    first round) is done: early sanity checks before the long runs.
    """
    if warmup:
        for bench in (b for b in benches if not b.slow):
            log(f"[warm-up] {bench.tool} ...")
            m = run_bench(bench, out_dir, cwd)
            log(f"          {m.wall_s:.2f} s wall, findings: {bench.findings}")
        if after_warmup:
            after_warmup()
    rounds = max(runs, runs_slow if any(b.slow for b in benches) else 0)
    for i in range(rounds):
        shift = i % len(benches)
        for bench in benches[shift:] + benches[:shift]:
            if i >= (runs_slow if bench.slow else runs):
                continue
            log(f"[round {i + 1}/{rounds}] {bench.tool} ...")
            m = run_bench(bench, out_dir, cwd)
            bench.runs.append(m)
            log(
                f"          {m.wall_s:.2f} s wall, {m.cpu_s:.2f} s CPU, "
                f"{m.peak_rss_mib:.0f} MiB, exit {m.exit_code}, findings: {bench.findings}"
            )
        if i == 0 and not warmup and after_warmup:
            after_warmup()


def medians(bench: Bench) -> dict:
    return {
        "wall_s": statistics.median(m.wall_s for m in bench.runs),
        "cpu_s": statistics.median(m.cpu_s for m in bench.runs),
        "peak_rss_mib": statistics.median(m.peak_rss_mib for m in bench.runs),
    }


def disturbance_note(benches: list[Bench]) -> str:
    """How busy the rest of the machine was during the timed runs.

    A run's share is the CPU time used outside the measured process tree
    divided by the CPU time the machine had (wall x CPUs); the harness's own
    bookkeeping adds well under 1%.
    """
    ncpu = len(os.sched_getaffinity(0))
    runs = [m for b in benches for m in b.runs]
    share = max(m.other_cpu_s / (m.wall_s * ncpu) for m in runs)
    note = f"Other processes used at most {share:.0%} of the CPUs during any timed run"
    if share > 0.05:
        note += ": the machine was not quiet, the timings are disturbed"
        log(f"warning: {note[0].lower()}{note[1:]}")
    return note + "."


# --------------------------------------------------------------------------
# Setup: sources, venv, fixer
# --------------------------------------------------------------------------


def shell_join(argv: list[str]) -> str:
    return " ".join(shlex.quote(str(a)) for a in argv)


def run_setup(argv: list[str], cwd: Path | None = None, what: str = "") -> None:
    """Run a setup command, streaming its output to stderr."""
    log(f"$ {shell_join(argv)}")
    proc = subprocess.run(argv, cwd=cwd, stdout=sys.stderr, stderr=sys.stderr)
    if proc.returncode != 0:
        raise BenchError(f"{what or argv[0]} failed (exit code {proc.returncode})")


def capture(argv: list[str], cwd: Path | None = None, timeout: float = 120) -> tuple[int, str, str]:
    proc = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, errors="replace", timeout=timeout
    )
    return proc.returncode, proc.stdout, proc.stderr


def venv_bin(cache: Path, name: str) -> Path:
    return cache / "venv" / "bin" / name


def ensure_venv(cache: Path, install_tools: bool) -> None:
    """Create cache/venv and, if asked, install the pinned tools (once)."""
    venv = cache / "venv"
    python = venv_bin(cache, "python")
    if not python.exists():
        log(f"Creating venv {venv}")
        run_setup([sys.executable, "-m", "venv", str(venv)], what="creating the venv")
    if not install_tools:
        return
    marker = venv / "bench-requirements.txt"
    wanted = "\n".join(TOOL_REQUIREMENTS) + "\n"
    if marker.exists() and marker.read_text() == wanted:
        return
    run_setup(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", *TOOL_REQUIREMENTS],
        what="pip install of the benchmark tools",
    )
    marker.write_text(wanted)


def ensure_sources(cache: Path, pip_python: Path) -> list[Path]:
    """Download the pinned sdists (once) and unpack them; return the trees."""
    sdists = cache / "sdists"
    src = cache / "src"
    sdists.mkdir(parents=True, exist_ok=True)
    src.mkdir(parents=True, exist_ok=True)

    def sdist_path(name: str, version: str) -> Path | None:
        for path in sdists.glob("*.tar.gz"):
            if path.name.lower() == f"{name}-{version}.tar.gz":
                return path
        return None

    missing = [f"{n}=={v}" for n, v in CORPUS if sdist_path(n, v) is None]
    if missing:
        run_setup(
            [
                str(pip_python),
                "-m",
                "pip",
                "download",
                "--disable-pip-version-check",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                str(sdists),
                *missing,
            ],
            what="pip download of the corpus",
        )

    trees = []
    for name, version in CORPUS:
        archive = sdist_path(name, version)
        if archive is None:
            raise BenchError(f"pip download did not produce {name}-{version}.tar.gz in {sdists}")
        trees.append(unpack(archive, src))
    return trees


def sdist_hashes(cache: Path) -> dict:
    """sha256 of each downloaded sdist, recorded with the results."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((cache / "sdists").glob("*.tar.gz"))
    }


def unpack(archive: Path, dest: Path) -> Path:
    """Unpack an sdist into dest (once); return its top-level directory."""
    done = dest / f".{archive.name}.unpacked"
    with tarfile.open(archive) as tar:
        tops = {m.name.split("/", 1)[0] for m in tar.getmembers()}
        if len(tops) != 1:
            raise BenchError(f"{archive} does not have a single top-level directory")
        tree = dest / tops.pop()
        if done.exists() and tree.is_dir():
            return tree
        log(f"Unpacking {archive.name}")
        shutil.rmtree(tree, ignore_errors=True)
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:  # Python < 3.11.4
            tar.extractall(dest)
    done.touch()
    return tree


def build_fixer() -> Path:
    """`cargo build --release` in the repo root; return target/release/fixer."""
    log("Building fixer (cargo build --release)")
    log("$ cargo build --release")
    try:
        proc = subprocess.run(
            ["cargo", "build", "--release"], cwd=REPO_ROOT, stdout=sys.stderr, stderr=sys.stderr
        )
    except FileNotFoundError as exc:
        raise BenchError("cargo not found: install a Rust toolchain, or pass --fixer PATH") from exc
    if proc.returncode != 0:
        raise BenchError(
            f"`cargo build --release` failed (exit code {proc.returncode}), see the "
            "compiler output above.\nfixer must build before it can be benchmarked; "
            "to benchmark an already built binary instead, pass --fixer PATH."
        )
    target_dir = REPO_ROOT / os.environ.get("CARGO_TARGET_DIR", "target")
    binary = target_dir / "release" / "fixer"
    if not binary.is_file():
        raise BenchError(f"cargo build succeeded but {binary} does not exist")
    return binary


def no_param_recipes(fixer: Path, cache: Path) -> list[str]:
    """Every built-in recipe that runs without parameters.

    The ids come from `fixer list` (one recipe per line: `id  description`).
    A recipe is kept if `fixer check ID` succeeds (exit 0 or 1) on a one-file
    probe tree: a recipe with a required parameter has no default to run
    with and is refused.  Falls back to FALLBACK_RECIPES if `fixer list`
    gives nothing.
    """
    code, out, err = capture([str(fixer), "list"])
    ids = []
    for line in out.splitlines():
        token = line.split(None, 1)[0] if line.strip() else ""
        if re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", token):
            ids.append(token)
    if code != 0 or not ids:
        log(f"warning: `fixer list` gave no recipes (exit {code}); using {FALLBACK_RECIPES}")
        return list(FALLBACK_RECIPES)

    probe = cache / "probe"
    probe.mkdir(parents=True, exist_ok=True)
    (probe / "probe.py").write_text("import os\n\n\ndef f():\n    import sys\n    return sys, os\n")
    kept = []
    for recipe in ids:
        code, _, err = capture([str(fixer), "check", recipe, str(probe)])
        if code in (0, 1):
            kept.append(recipe)
        else:
            reason = err.strip().splitlines()[-1] if err.strip() else f"exit code {code}"
            log(f"job (b): skipping recipe {recipe}: {reason}")
    if not kept:
        raise BenchError("no recipe of `fixer list` runs without parameters")
    return kept


# --------------------------------------------------------------------------
# Machine and corpus info
# --------------------------------------------------------------------------


def first_line(argv: list[str]) -> str:
    try:
        code, out, err = capture(argv, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    text = (out.strip() or err.strip()).splitlines()
    return text[0] if code == 0 and text else "unknown"


def machine_info() -> dict:
    info = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": "unknown",
        "memory": "unknown",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                info["memory"] = f"{kib / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return info


def warn_if_busy(seconds: float = 2.0) -> None:
    """Warn if other processes are using the CPUs right now."""
    before = machine_busy_s()
    time.sleep(seconds)
    share = (machine_busy_s() - before) / (seconds * len(os.sched_getaffinity(0)))
    if share > 0.05:
        log(
            f"warning: the CPUs are {share:.0%} busy before the runs start: "
            "other work on this machine will disturb the timings"
        )


def corpus_stats(trees: list[Path]) -> dict:
    files = lines = size = 0
    for tree in trees:
        for dirpath, _, filenames in os.walk(tree):
            for name in filenames:
                if name.endswith(".py"):
                    data = Path(dirpath, name).read_bytes()
                    files += 1
                    size += len(data)
                    lines += data.count(b"\n")
    return {"py_files": files, "py_lines": lines, "py_mib": round(size / 2**20, 1)}


def fmt_info(info: dict, versions: dict, corpus: dict, trees: list[Path]) -> list[str]:
    load = ", ".join(str(x) for x in info["load_average_at_start"])
    lines = [
        f"- date: {info['date']}",
        f"- machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory']} RAM, "
        f"Linux {info['kernel']}, load average at start {load}",
        f"- corpus: {', '.join(t.name for t in trees)}: {corpus['py_files']} .py files, "
        f"{corpus['py_lines']:,} lines, {corpus['py_mib']} MiB",
    ]
    lines += [f"- {name}: {version}" for name, version in versions.items()]
    return lines


# --------------------------------------------------------------------------
# Modes
# --------------------------------------------------------------------------


def check_agreement(benches: list[Bench]) -> None:
    """Warn if the three job (a) tools disagree a lot on the number of findings."""
    counts = {}
    for bench in benches:
        match = re.fullmatch(r"(\d+)(?: in \d+ files)?", bench.findings)
        if bench.job == "(a)" and match:
            counts[bench.tool] = int(match.group(1))
    if not counts:
        return
    low, high = min(counts.values()), max(counts.values())
    if low == 0 or (high - low) / high > 0.05:
        log("warning: job (a) tools disagree on the number of function-local imports:")
        for tool, count in counts.items():
            log(f"    {count:7d}  {tool}")
        log("  (a few differences are by design: see bench/README.md, 'findings')")


def define_benches(
    args: argparse.Namespace, cache: Path, fixer: Path, roots: list[str], recipes: list[str]
) -> list[Bench]:
    """The benchmarks of jobs (a), (b) and (c); the first is the reference."""
    fixer_bin, python = str(fixer), str(venv_bin(cache, "python"))
    ruff, ast_grep = str(venv_bin(cache, "ruff")), str(venv_bin(cache, "ast-grep"))
    sgconfig = str(BENCH_DIR / "ast-grep" / "sgconfig.yml")
    ruff_args = ["check", "--no-cache", "--isolated", "--preview", "--select", "PLC0415"]
    libcst_cmd = [python, str(BENCH_DIR / "libcst_parse.py")]
    libcst_label = "LibCST parse"
    if args.libcst_jobs != 1:
        libcst_cmd += ["--jobs", str(args.libcst_jobs)]
        libcst_label += f" ({args.libcst_jobs} processes)"
    hoist = ["check", "hoist-imports", "--include", "**/*.py"]
    # Caches: fixer's and ruff's, each kept between the runs of its "warm" benchmark, and
    # fixer's removed before each run of its "empty cache" one (the first run after a
    # change to every file: it analyses everything and writes the cache).
    caches = cache / "out" / "caches"
    fixer_warm, fixer_empty, ruff_warm = caches / "fixer-warm", caches / "fixer-empty", caches / "ruff-warm"
    warm_fixer = [fixer_bin, *hoist, "--cache-dir", str(fixer_warm), *roots]
    warm_ruff = [ruff, "check", "--cache-dir", str(ruff_warm), *ruff_args[2:], *roots]

    def filled(directory: Path, argv: list[str]) -> Callable[[], None]:
        def fill() -> None:
            if not directory.exists():
                subprocess.run(argv, cwd=cache, capture_output=True)
        return fill

    def emptied(directory: Path) -> Callable[[], None]:
        return lambda: shutil.rmtree(directory, ignore_errors=True)

    return [
        Bench("a-fixer", "(a)", "fixer check hoist-imports", [fixer_bin, *hoist, "--no-cache", *roots]),
        Bench("a-ast-grep", "(a)", "ast-grep scan", [ast_grep, "scan", "-c", sgconfig, *roots]),
        Bench("a-ruff", "(a)", "ruff check --select PLC0415", [ruff, *ruff_args, *roots]),
        Bench(
            "a-fixer-empty",
            "(a)",
            "fixer check hoist-imports, empty cache",
            [fixer_bin, *hoist, "--cache-dir", str(fixer_empty), *roots],
            before=emptied(fixer_empty),
        ),
        Bench(
            "a-fixer-warm",
            "(a)",
            "fixer check hoist-imports, warm cache",
            warm_fixer,
            before=filled(fixer_warm, warm_fixer),
        ),
        Bench(
            "a-ruff-warm",
            "(a)",
            "ruff check --select PLC0415, warm cache",
            warm_ruff,
            before=filled(ruff_warm, warm_ruff),
        ),
        Bench(
            "b-fixer",
            "(b)",
            f"fixer check ({len(recipes)} recipes)",
            [fixer_bin, "check", "--no-cache", *recipes, *roots],
        ),
        Bench(
            "b-ruff",
            "(b)",
            "ruff check (default rules)",
            [ruff, "check", "--no-cache", "--isolated", *roots],
        ),
        *[
            Bench(
                f"d-{kind}",
                "(d)",
                f"fixer check, rewrite as a {kind}",
                [fixer_bin, "check", "--no-cache", "--recipe", str(BENCH_DIR / "patterns" / f"bench-{kind}.toml"),
                 f"bench-assert-equal-{kind}", "--include", "**/*.py", *roots],
                summarize=fixer_summary,
            )
            for kind in ("query", "pattern")
        ],
        Bench(
            "c-libcst",
            "(c)",
            libcst_label,
            [*libcst_cmd, *roots],
            slow=True,
            summarize=libcst_summary,
        ),
    ]


def compare_mode(args: argparse.Namespace, cache: Path, fixer: Path, trees: list[Path]) -> int:
    out_dir = cache / "out"
    out_dir.mkdir(exist_ok=True)
    roots = [str(t) for t in trees]
    recipes = args.recipes.split(",") if args.recipes else no_param_recipes(fixer, cache)
    log(f"job (b) recipes: {', '.join(recipes)}")

    benches = define_benches(args, cache, fixer, roots, recipes)

    info = machine_info()
    versions = {
        "fixer": first_line([str(fixer), "--version"]),
        "rustc": first_line(["rustc", "--version"]),
        "ruff": first_line([str(venv_bin(cache, "ruff")), "--version"]),
        "ast-grep": first_line([str(venv_bin(cache, "ast-grep")), "--version"]),
        "libcst": first_line([str(venv_bin(cache, "python")), "-c", LIBCST_VERSION]),
    }
    corpus = corpus_stats(trees)
    warn_if_busy()

    run_rounds(
        benches,
        args.runs,
        args.runs_slow,
        args.warmup,
        out_dir,
        cache,
        after_warmup=lambda: check_agreement(benches),
    )

    measured = [b for b in benches if b.runs]
    jobs = sorted({b.job for b in measured})
    # Each job's first benchmark is fixer's: the others are compared with it.
    refs: dict[str, float] = {}
    for bench in measured:
        refs.setdefault(bench.job, medians(bench)["wall_s"])
    rows = []
    for bench in measured:
        med = medians(bench)
        ref = refs[bench.job]
        rows.append(
            [
                bench.job,
                bench.tool,
                str(len(bench.runs)),
                f"{med['wall_s']:.2f}",
                f"{med['cpu_s']:.2f}",
                f"{med['peak_rss_mib']:.0f}",
                f"{med['wall_s'] / ref:.2f}x",
                bench.findings,
            ]
        )
    header = [
        "job",
        "tool",
        "runs",
        "median wall s",
        "median CPU s",
        "median peak RSS MiB",
        "wall vs fixer (same job)",
        "findings",
    ]
    report = [
        "## fixer benchmark",
        "",
        *fmt_info(info, versions, corpus, trees),
        "",
        *markdown_table(header, rows),
        "",
        "Jobs: "
        + "; ".join(JOB_TEXT[job].format(recipes=", ".join(recipes)) for job in jobs)
        + ".",
        "CPU = user + sys of the process tree; peak RSS = largest single process.",
        disturbance_note(measured),
    ]
    print("\n".join(report))

    results = {
        "mode": "compare",
        "machine": info,
        "versions": versions,
        "corpus": {"trees": [t.name for t in trees], **corpus, "sha256": sdist_hashes(cache)},
        "settings": {
            "runs": args.runs,
            "runs_slow": args.runs_slow,
            "warmup": args.warmup,
            "recipes": recipes,
        },
        "benchmarks": [
            {
                "key": b.key,
                "job": b.job,
                "tool": b.tool,
                "argv": b.argv,
                "findings": b.findings,
                "median": medians(b),
                "runs": [m.to_json() for m in b.runs],
            }
            for b in measured
        ],
        "markdown": "\n".join(report),
    }
    write_json(args.json or cache / "results.json", results)
    return 0


def link_or_copy(src: str, dst: str) -> None:
    """Hard-link a file (no extra disk or page cache); copy across devices."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def ensure_scale_tree(cache: Path, trees: list[Path], factor: int) -> Path:
    """cache/scale/xN/copyK/<tree> for K < N; built once."""
    root = cache / "scale" / f"x{factor}"
    done = root / ".complete"
    if done.exists():
        return root
    log(f"Building {factor}x corpus in {root}")
    shutil.rmtree(root, ignore_errors=True)
    for k in range(factor):
        for tree in trees:
            shutil.copytree(
                tree, root / f"copy{k}" / tree.name, copy_function=link_or_copy, symlinks=True
            )
    done.touch()
    return root


def scale_mode(args: argparse.Namespace, cache: Path, fixer: Path, trees: list[Path]) -> int:
    out_dir = cache / "out"
    out_dir.mkdir(exist_ok=True)
    base = corpus_stats(trees)
    benches = []
    for factor in SCALE_FACTORS:
        root = ensure_scale_tree(cache, trees, factor)
        benches.append(
            Bench(
                f"scale-x{factor}",
                f"x{factor}",
                f"fixer (a) on {factor}x",
                [str(fixer), "check", "hoist-imports", "--no-cache", "--include", "**/*.py", str(root)],
            )
        )
    info = machine_info()
    versions = {
        "fixer": first_line([str(fixer), "--version"]),
        "rustc": first_line(["rustc", "--version"]),
    }

    warn_if_busy()
    run_rounds(benches, args.runs, 0, args.warmup, out_dir, cache)

    ref = medians(benches[0])
    rows = []
    for factor, bench in zip(SCALE_FACTORS, benches, strict=True):
        med = medians(bench)
        rows.append(
            [
                f"{factor}x",
                f"{base['py_files'] * factor:,}",
                f"{base['py_lines'] * factor:,}",
                str(len(bench.runs)),
                f"{med['wall_s']:.2f}",
                f"{med['cpu_s']:.2f}",
                f"{med['peak_rss_mib']:.0f}",
                f"{med['wall_s'] / ref['wall_s']:.2f}x",
                f"{med['peak_rss_mib'] / ref['peak_rss_mib']:.2f}x",
                bench.findings,
            ]
        )
    header = [
        "size",
        ".py files",
        "lines",
        "runs",
        "median wall s",
        "median CPU s",
        "median peak RSS MiB",
        "wall vs 1x",
        "RSS vs 1x",
        "findings",
    ]
    report = [
        "## fixer scaling (job (a): fixer check hoist-imports)",
        "",
        *fmt_info(info, versions, base, trees),
        "",
        *markdown_table(header, rows),
        "",
        "Linear scaling: wall vs 1x close to the size factor. Streaming: RSS vs 1x close to 1.",
        disturbance_note(benches),
    ]
    print("\n".join(report))
    write_json(
        args.json or cache / "results-scale.json",
        {
            "mode": "scale",
            "machine": info,
            "versions": versions,
            "corpus": {"trees": [t.name for t in trees], **base},
            "benchmarks": [
                {
                    "key": b.key,
                    "factor": f,
                    "argv": b.argv,
                    "findings": b.findings,
                    "median": medians(b),
                    "runs": [m.to_json() for m in b.runs],
                }
                for f, b in zip(SCALE_FACTORS, benches, strict=True)
            ],
            "markdown": "\n".join(report),
        },
    )
    return 0


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return [
        line(header),
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
        *(line(r) for r in rows),
    ]


def write_json(path: Path, data: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    log(f"Raw results written to {path}")


# --------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark fixer against ruff, ast-grep and LibCST on Django + SymPy. "
        "The Markdown report goes to stdout, progress to stderr.",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=None,
        metavar="N",
        help="timed runs of each fast tool (default 5; 3 with --scale)",
    )
    parser.add_argument(
        "--runs-slow",
        type=int,
        default=3,
        metavar="N",
        help="timed runs of the LibCST parse (default 3)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 1 run of each fast tool, no LibCST, no warm-up",
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="run fixer job (a) on 1x, 4x and 16x copies of the corpus",
    )
    parser.add_argument(
        "--no-warmup", dest="warmup", action="store_false", help="skip the untimed warm-up round"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=BENCH_DIR / ".cache",
        help="where sources, venv and results live (default bench/.cache)",
    )
    parser.add_argument(
        "--fixer",
        type=Path,
        metavar="PATH",
        help="benchmark this fixer binary instead of running cargo build --release",
    )
    parser.add_argument(
        "--recipes",
        metavar="ID,ID",
        help="recipes for job (b) (default: every one `fixer list` shows that needs no parameters)",
    )
    parser.add_argument(
        "--libcst-jobs",
        type=int,
        default=1,
        metavar="N",
        help="worker processes for the LibCST parse (default 1)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        metavar="PATH",
        help="raw results file (default CACHE/results.json, CACHE/results-scale.json with --scale)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.runs_slow, args.warmup = 1, 0, False
    elif args.runs is None:
        args.runs = 3 if args.scale else 5
    if args.runs < 1 or args.runs_slow < 0:
        parser.error("--runs must be >= 1 and --runs-slow >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cache = args.cache_dir.resolve()
    cache.mkdir(parents=True, exist_ok=True)
    try:
        if args.fixer and not args.fixer.is_file():
            raise BenchError(f"--fixer {args.fixer}: no such file")
        # The venv's pip also downloads the corpus, so the harness works with
        # a system python3 that has no pip of its own.
        ensure_venv(cache, install_tools=not args.scale)
        trees = ensure_sources(cache, venv_bin(cache, "python"))
        fixer = args.fixer.resolve() if args.fixer else build_fixer()
        if args.scale:
            return scale_mode(args, cache, fixer, trees)
        return compare_mode(args, cache, fixer, trees)
    except BenchError as exc:
        log(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        log("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
