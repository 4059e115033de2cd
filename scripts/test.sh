#!/usr/bin/env bash
# Set up the test environment and run the whole test suite.
#
#   ./scripts/test.sh [pytest options, e.g. -k cli -x]
#
# Installs the Debian packages the tests need (only those missing), creates .venv, installs
# Vigil with its test extras, then runs `python -m pytest`. Tests marked `integration` use the
# real model and clip from ../shared and are skipped when it is absent.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Debian packages the tests need: ffmpeg (ffprobe checks the MP4 files Vigil writes),
# mosquitto (a real MQTT broker), GStreamer's RTSP server for Debian's python3 (a real camera),
# postgresql (a real shared store), chromium (the dashboard in a real browser), bubblewrap (the
# sandbox of third-party apps), iproute2 (`ip`: the Ray tests' loopback-only network namespace).
TEST_DEBS=(
  ffmpeg mosquitto postgresql chromium bubblewrap iproute2
  python3-gi gir1.2-gst-rtsp-server-1.0
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
)

ensure_debs "${TEST_DEBS[@]}"
ensure_venv
ensure_install test

cd "$REPO_ROOT"
log "python -m pytest $*"
exec "$VENV/bin/python" -m pytest "$@"
