#!/usr/bin/env bash
# Runs every test of fixer: unit, CLI, fixture snapshots and the end-to-end tests that
# run pytest on small projects before and after a recipe. It first makes the Python
# environment those tests need (tests/.venv with pytest), so a fresh machine with Rust
# and Python 3 needs nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=tests/.venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import pytest' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'pytest>=7,<9'
fi
export FIXER_PYTHON="$PWD/$venv/bin/python"
cargo test --locked "$@"
