#!/usr/bin/env bash
# Build the app SDK reference (HTML) from the SDK's docstrings with pdoc, into build/sdk-docs
# (or the directory given as the first argument). Offline: pdoc imports the modules of this
# checkout and writes self-contained pages (no CDN, no network).
#
#   ./scripts/sdk_docs.sh [OUT_DIR]
#
# The modules are those an app imports (docs/apps.md, the scaffold of `vigil apps new`).
# A name in `__all__` that does not resolve, or any other pdoc warning, fails the build.
# Environment: PYTHON (an interpreter with Vigil's dependencies and pdoc; default: python3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/build/sdk-docs}"
PYTHON="${PYTHON:-python3}"
SDK_MODULES=(
  vigil.apps.base
  vigil.apps.manifest
  vigil.detection.detections
  vigil.events.event
  vigil.geometry.shapes
)

version="$(PYTHONPATH="$ROOT/src" "$PYTHON" -c 'from vigil.apps import SDK_VERSION; print(SDK_VERSION)')"
rm -rf "$OUT"
PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -W error::UserWarning -m pdoc \
  --docformat restructuredtext \
  --footer-text "Vigil app SDK $version" \
  --output-directory "$OUT" \
  "${SDK_MODULES[@]}"
echo "app SDK $version reference: $OUT/index.html"
