#!/usr/bin/env bash
# Create (or reuse) a virtualenv with the dev extras, then run ruff and the whole test suite.
# Works on a fresh machine with Python >= 3.10, git and the package registries.
# Extra arguments go to pytest, e.g. ./scripts/test.sh -k checkout
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV="${MLVC_VENV:-.venv}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating virtualenv $VENV with $("$PYTHON" --version)"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
echo "==> installing mlvc with the dev extras"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[dev]"

echo "==> ruff"
"$VENV/bin/ruff" check mlvc tests benchmarks

echo "==> pytest"
export PATH="$PWD/$VENV/bin:$PATH"
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
