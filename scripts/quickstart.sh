#!/usr/bin/env bash
# Quickstart: set Vigil up on a fresh Debian/Ubuntu machine and run the live demo.
#
#   ./scripts/quickstart.sh [extra `vigil demo` options, e.g. --port 8080]
#
# Creates .venv, installs Vigil into it, puts OpenCV's sample clip in data/vtest.avi, makes the
# YOLOX-Nano model available, then runs `vigil demo`: the sample clip as a looping camera of a
# local site, served at the URL it prints (dashboard, API, recordings) until Ctrl-C.
# Safe to re-run: finished steps are skipped.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_venv
ensure_install core
ensure_clip
ensure_model

cd "$REPO_ROOT"
log "vigil demo $* (stop with Ctrl-C; the first account: open the printed /setup page)"
exec "$VENV/bin/vigil" demo "$@"
