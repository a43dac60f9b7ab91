#!/usr/bin/env bash
# The test command: lint, then the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check ace_core ace_assets tests scripts bench
exec .venv/bin/python -m pytest -q "$@"
