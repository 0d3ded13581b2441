#!/usr/bin/env python3
"""fixer's code patterns beside ast-grep's rules: the same five rules, each written both
ways (bench/patterns/fixer/*.toml and bench/patterns/ast-grep/*.yml), applied to two
copies of bench/patterns/sample; the two trees must come out byte for byte the same.
Prints each rule's line count in both forms and exits 1 on any difference.

    python3 bench/patterns.py [--fixer target/release/fixer] [--ast-grep PATH]

Without --ast-grep, ast-grep-cli is installed from PyPI into bench/.cache/patterns-venv.
Standard library only.
"""
from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RULES = ["assert-equal", "assert-true", "assert-is-none", "utcnow", "logger-warn"]
AST_GREP_VERSION = "0.51.1"


def lines(path: Path) -> int:
    """Lines that say something (not blank, not comments)."""
    return sum(1 for l in path.read_text().splitlines() if l.strip() and not l.strip().startswith("#"))


def ensure_ast_grep() -> Path:
    venv = ROOT / "bench" / ".cache" / "patterns-venv"
    exe = venv / "bin" / "ast-grep"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"ast-grep-cli=={AST_GREP_VERSION}"],
                       check=True)
    return exe


def differing(a: Path, b: Path, rel: Path = Path()) -> list[str]:
    cmp = filecmp.dircmp(a, b)
    out = [str(rel / n) for n in cmp.left_only + cmp.right_only]
    for n in cmp.common_files:
        if (a / n).read_bytes() != (b / n).read_bytes():
            out.append(str(rel / n))
    for d in cmp.common_dirs:
        out += differing(a / d, b / d, rel / d)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixer", default=str(ROOT / "target" / "release" / "fixer"))
    ap.add_argument("--ast-grep", dest="ast_grep")
    args = ap.parse_args()
    args.fixer = str(Path(args.fixer).resolve())
    sg = Path(args.ast_grep) if args.ast_grep else ensure_ast_grep()
    version = subprocess.run([str(sg), "--version"], capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        by_sg, by_fixer = Path(tmp) / "ast-grep", Path(tmp) / "fixer"
        shutil.copytree(HERE / "patterns" / "sample", by_sg)
        shutil.copytree(HERE / "patterns" / "sample", by_fixer)
        for rule in RULES:
            subprocess.run([str(sg), "scan", "--rule", str(HERE / "patterns" / "ast-grep" / f"{rule}.yml"),
                            "-U", "."], cwd=by_sg, check=True, capture_output=True)
        recipes = [a for r in RULES for a in ("--recipe", str(HERE / "patterns" / "fixer" / f"{r}.toml"))]
        subprocess.run([args.fixer, "apply", "--no-cache", *recipes, *RULES, "--include", "**/*.py", "."],
                       cwd=by_fixer, check=True, capture_output=True)
        changed = differing(HERE / "patterns" / "sample", by_fixer)
        diff = differing(by_sg, by_fixer)
    print(f"{version}; fixer {args.fixer}")
    print(f"{'rule':16} {'fixer lines':>12} {'ast-grep lines':>15}")
    tf = ts = 0
    for rule in RULES:
        f = lines(HERE / "patterns" / "fixer" / f"{rule}.toml")
        s = lines(HERE / "patterns" / "ast-grep" / f"{rule}.yml")
        tf, ts = tf + f, ts + s
        print(f"{rule:16} {f:>12} {s:>15}")
    print(f"{'total':16} {tf:>12} {ts:>15}")
    print(f"files changed: {len(changed)} ({', '.join(sorted(changed))})")
    if diff:
        print(f"DIFFERENT results in: {', '.join(sorted(diff))}")
        return 1
    print("same result: every file byte for byte")
    return 0


if __name__ == "__main__":
    sys.exit(main())
