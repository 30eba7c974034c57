#!/usr/bin/env bash
# Sets up the project's .venv if needed and runs the whole test suite (both Delta engines where the
# connector jars are available). Extra arguments go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
cd "$ROOT"
if [ -n "${C360_DELTA_JARS:-}" ]; then
  echo "c360: delta-spark tests use the jars in C360_DELTA_JARS" >&2
else
  echo "c360: no Delta jars found; delta-spark tests will be skipped" >&2
fi
exec python -m pytest "$@"
