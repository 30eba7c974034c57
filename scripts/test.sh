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
# The JDBC source tests run against a real PostgreSQL server on loopback (Debian's packages).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || [ ! -f /usr/share/java/postgresql.jar ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "c360: installing PostgreSQL and its JDBC driver for the JDBC source tests" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql libpostgresql-jdbc-java; } \
      >/dev/null 2>&1 || echo "c360: could not install PostgreSQL; the JDBC tests will skip" >&2
  else
    echo "c360: PostgreSQL is not installed; the JDBC tests will skip" >&2
  fi
fi
# The run report's test opens its pages in a real headless Chromium (Debian's packages).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "c360: installing Chromium and its driver for the report test" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } \
      >/dev/null 2>&1 || echo "c360: could not install Chromium; the browser tests will skip" >&2
  else
    echo "c360: Chromium is not installed; the browser tests will skip" >&2
  fi
fi
exec python -m pytest "$@"
