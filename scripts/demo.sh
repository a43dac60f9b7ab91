#!/usr/bin/env bash
# Main job: generate the demo project and materialize every asset of every line on a local SQLite instance.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export DAGSTER_HOME="${DAGSTER_HOME:-$PWD/.dagster_home}"
exec .venv/bin/python scripts/run_demo.py "$@"
