#!/usr/bin/env bash
# The migration test in one command: a thin wrapper around `boltproxy pipeline`,
# for CI jobs and people who prefer a script. Every argument is passed through:
#   scripts/run_migration_test.sh --size 10000
#   scripts/run_migration_test.sh --compose --app-tests "pytest tests/"
# Uses the repository's .venv when there is one, else `boltproxy` on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/boltproxy ]; then
  exec .venv/bin/boltproxy pipeline "$@"
fi
exec boltproxy pipeline "$@"
