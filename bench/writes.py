#!/usr/bin/env python3
"""What a multi-file apply costs in writes: wall time, and the fsync calls (strace -c).

    python3 bench/writes.py [--fixer target/release/fixer] [--files 250] [--runs 7]

Makes a project of N modules that each import `pkg.mod` (in bench/.cache/writes, on
the same filesystem as the repository, not a tmpfs), then times
`fixer apply move-module --set from=pkg.mod --set to=pkg.new .`, which rewrites the N
files, creates one and deletes one, as one transaction (bench/README.md). Each run gets
a fresh tree; the median is printed, with the fsync/fdatasync/syncfs counts of one
extra run under `strace -f -c` when strace is installed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
WORK = BENCH_DIR / ".cache" / "writes"


def make_tree(root: Path, n: int) -> None:
    shutil.rmtree(root, ignore_errors=True)
    (root / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "w"\n')
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text("def f():\n    return 1\n")
    for i in range(n):
        (root / "pkg" / f"user_{i:04}.py").write_text(f"from pkg.mod import f\n\nX{i} = f()\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fixer", default=str(BENCH_DIR.parent / "target" / "release" / "fixer"))
    ap.add_argument("--files", type=int, default=250)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    argv = [str(Path(args.fixer).resolve()), "apply", "move-module", "--set", "from=pkg.mod", "--set", "to=pkg.new", "."]
    walls = []
    for _ in range(args.runs):
        root = WORK / "tree"
        make_tree(root, args.files)
        os.sync()
        t0 = time.perf_counter()
        proc = subprocess.run(argv, cwd=root, capture_output=True, text=True)
        walls.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            print(f"error: fixer exited {proc.returncode}: {proc.stderr}", file=sys.stderr)
            return 2
    print(f"{args.files} files: median wall {statistics.median(walls):.3f} s "
          f"(min {min(walls):.3f}, max {max(walls):.3f}, {args.runs} runs)")
    if shutil.which("strace"):
        make_tree(WORK / "tree", args.files)
        out = WORK / "strace.txt"
        subprocess.run(["strace", "-f", "-c", "-o", str(out), *argv], cwd=WORK / "tree",
                       capture_output=True)
        counts = {}
        for line in out.read_text().splitlines():
            parts = line.split()
            if parts and parts[-1] in ("fsync", "fdatasync", "syncfs", "sync_file_range"):
                counts[parts[-1]] = int(parts[3]) if len(parts) >= 5 else parts
        print("sync calls:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
