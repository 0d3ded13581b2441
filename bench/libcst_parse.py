"""Parse every ``.py`` file under the given directories with LibCST.

This is the "floor" for codemod tools written in Python: any LibCST-based
codemod has to at least parse each file into a concrete syntax tree before it
can match or rewrite anything, so the time this script takes is a lower bound
for such a tool on the same corpus.

Usage (with a Python that has ``libcst`` installed)::

    python libcst_parse.py [--jobs N] DIR [DIR ...]

Files are read as bytes and handed to ``libcst.parse_module`` unchanged, so
LibCST detects the encoding itself (PEP 263 cookies, BOMs), the way a codemod
reading files from disk would.  A file that fails to parse is counted, not
fatal: real trees contain deliberately broken test fixtures.

Prints one summary line, ``files=N failures=M``, and exits 0.  With
``--verbose`` each failure is listed on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import libcst


def iter_python_files(roots: list[str]) -> list[str]:
    """Return every ``*.py`` file below ``roots``, sorted for determinism."""
    files: list[str] = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            files.extend(os.path.join(dirpath, name) for name in filenames if name.endswith(".py"))
    files.sort()
    return files


def parse_one(path: str) -> str | None:
    """Parse one file; return None on success or a short error description."""
    try:
        source = Path(path).read_bytes()
        libcst.parse_module(source)
    except Exception as exc:  # ParserSyntaxError, UnicodeDecodeError, ...
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return f"{type(exc).__name__}: {first_line}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("roots", nargs="+", metavar="DIR", help="directories to scan")
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=1,
        help="worker processes (default 1: a single-process floor)",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="list failures")
    args = parser.parse_args(argv)

    files = iter_python_files(args.roots)
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            errors = list(pool.map(parse_one, files, chunksize=16))
    else:
        errors = [parse_one(path) for path in files]

    failures = [(path, err) for path, err in zip(files, errors, strict=True) if err is not None]
    if args.verbose:
        for path, err in failures:
            print(f"{path}: {err}", file=sys.stderr)
    print(f"files={len(files)} failures={len(failures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
