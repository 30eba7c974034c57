#!/usr/bin/env bash
# Serves the documentation site on http://127.0.0.1:8000 with live reload while you edit docs/ (the project's
# .venv is set up on first use). `scripts/docs.sh build` writes the static site to site/ instead.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
cd "$ROOT"
if [ "${1:-serve}" = build ]; then
  exec mkdocs build --strict
fi
exec mkdocs serve --strict --dev-addr 127.0.0.1:8000
