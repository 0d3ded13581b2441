#!/usr/bin/env bash
# Runs every test of fixer: unit, CLI, fixture snapshots and the end-to-end tests that
# run pytest on small projects before and after a recipe. It first makes the Python
# environment those tests need (tests/.venv with pytest), so a fresh machine with Rust
# and Python 3 needs nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=tests/.venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import pytest' 2>/dev/null \
    || [ ! -x "$venv/bin/ast-grep" ] || [ ! -x "$venv/bin/maturin" ] || [ ! -x "$venv/bin/pre-commit" ]; then
  python3 -m venv "$venv"
  # ast-grep-cli: the code-pattern test runs the same rules through ast-grep;
  # maturin and pre-commit: the packaging tests build the wheel and run the hooks.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'pytest>=7,<9' \
    'ast-grep-cli==0.51.1' 'maturin>=1.5,<2' 'pre-commit>=3,<5'
fi
export FIXER_PYTHON="$PWD/$venv/bin/python"
export FIXER_AST_GREP="$PWD/$venv/bin/ast-grep"
# pytest-asyncio-v1's end-to-end test runs one project under the old pytest-asyncio
# and under the latest 1.x: one environment each.
for spec in "0.21:pytest>=7,<8.4 pytest-asyncio==0.21.2" "1:pytest>=8,<10 pytest-asyncio>=1,<2"; do
  name=${spec%%:*}
  env=tests/.venv-asyncio-$name
  if [ ! -x "$env/bin/python" ] || ! "$env/bin/python" -c 'import pytest_asyncio' 2>/dev/null; then
    python3 -m venv "$env"
    # shellcheck disable=SC2086
    "$env/bin/python" -m pip install --quiet --disable-pip-version-check ${spec#*:}
  fi
done
export FIXER_PYTHON_ASYNCIO_OLD="$PWD/tests/.venv-asyncio-0.21/bin/python"
export FIXER_PYTHON_ASYNCIO_NEW="$PWD/tests/.venv-asyncio-1/bin/python"
cargo test --locked "$@"
