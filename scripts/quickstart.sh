#!/usr/bin/env bash
# Quickstart: set Vigil up on a fresh Debian/Ubuntu machine and analyse the sample clip.
#
#   ./scripts/quickstart.sh [extra `vigil run` options, e.g. --max-frames 100]
#
# Creates .venv, installs Vigil into it, puts OpenCV's sample clip in data/vtest.avi, makes the
# YOLOX-Nano model available, then runs `vigil run data/vtest.avi` (outputs in runs/vtest/).
# Safe to re-run: finished steps are skipped.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_venv
ensure_install ""
ensure_clip
ensure_model

cd "$REPO_ROOT"
log "vigil run data/vtest.avi $*"
"$VENV/bin/vigil" run data/vtest.avi "$@"
log "outputs in runs/vtest/ (annotated.mp4, events.db, summary.json); next: see README.md"
