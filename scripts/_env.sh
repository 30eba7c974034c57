# Sourced by scripts/demo.sh and scripts/test.sh: creates the project's .venv on first use and keeps it in
# step with pyproject.toml and requirements.lock (re-installs only when either changed).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${C360_PYTHON:-python3}"

command -v java >/dev/null 2>&1 || { echo "c360: Java 17 is required (java not found on PATH)" >&2; exit 1; }
"$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else 1)' \
  || { echo "c360: Python 3.11+ is required ($PY is $("$PY" --version 2>&1))" >&2; exit 1; }

if [ ! -x "$VENV/bin/python" ]; then
  echo "c360: creating $VENV" >&2
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.c360-stamp"
want="$(cat "$ROOT/pyproject.toml" "$ROOT/requirements.lock" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "c360: installing dependencies (first run takes a few minutes)" >&2
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -c "$ROOT/requirements.lock" -e "$ROOT[spark,test]"
  echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
export PYSPARK_PYTHON="$VENV/bin/python"
export PYSPARK_DRIVER_PYTHON="$VENV/bin/python"

# Delta's Spark connector: an explicit C360_DELTA_JARS wins; otherwise the shared folder beside the project.
if [ -z "${C360_DELTA_JARS:-}" ] && [ -d "$ROOT/../shared/delta-spark/jars" ]; then
  C360_DELTA_JARS="$(cd "$ROOT/../shared/delta-spark/jars" && pwd)"
  export C360_DELTA_JARS
fi
