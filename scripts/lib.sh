# shellcheck shell=bash
# Setup steps shared by scripts/quickstart.sh and scripts/test.sh. Source it; do not run it.
#
# Every step is idempotent and cheap when there is nothing to do, so the scripts can be
# re-run at will. Environment:
#   PYTHON            interpreter for the virtual environment (default: python3.11 or python3, >= 3.11)
#   VIGIL_VENV        the virtual environment (default: <repo>/.venv)
#   VIGIL_SHARED_DIR  the data checkout beside the repository (default: <repo>/../shared)

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VIGIL_VENV:-$REPO_ROOT/.venv}"
SHARED_DIR="${VIGIL_SHARED_DIR:-$REPO_ROOT/../shared}"
CLIP="$REPO_ROOT/data/vtest.avi"
# OpenCV's sample clip as shipped in Debian's opencv-doc 4.6.0 (PETS 2009 S2.L1 view 1).
CLIP_SHA256=45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf
CLIP_IN_DEB=usr/share/doc/opencv-doc/examples/data/vtest.avi

export PIP_DISABLE_PIP_VERSION_CHECK=1 DEBIAN_FRONTEND=noninteractive

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# as_root CMD...: run CMD as root (directly when root, else through sudo).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root or sudo for: $*"
    fi
}

_apt_updated=0
apt_update_once() {
    if [ "$_apt_updated" -eq 0 ]; then
        log "apt-get update"
        as_root apt-get update -qq
        _apt_updated=1
    fi
}

# ensure_debs PKG...: install the Debian packages that are not installed yet (none: no apt at all).
ensure_debs() {
    command -v dpkg-query >/dev/null 2>&1 || { log "not a Debian system: make sure $* are installed"; return 0; }
    local pkg missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -qx installed || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    log "installing Debian packages: ${missing[*]}"
    apt_update_once
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# pick_python: print the interpreter to build the venv with ($PYTHON, python3.11, python3; >= 3.11).
pick_python() {
    local candidate
    for candidate in ${PYTHON:+"$PYTHON"} python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    die "Python >= 3.11 not found (set PYTHON=/path/to/python3.11)"
}

# ensure_venv: create $VENV (installing python3-venv first if `python -m venv` fails).
ensure_venv() {
    [ -x "$VENV/bin/python" ] && return 0
    local python
    python="$(pick_python)"
    log "creating $VENV with $python"
    if ! "$python" -m venv "$VENV" >/dev/null 2>&1; then
        rm -rf "$VENV"
        ensure_debs python3-venv
        "$python" -m venv "$VENV"
    fi
}

# ensure_install LOCK: install requirements/LOCK.lock (core or test) into $VENV, every file
# checked against its pinned sha256 and nothing else resolved, then Vigil itself (editable,
# with the locked setuptools). Skipped while the lock and pyproject.toml are unchanged since
# the last successful install of that lock. Regenerate the locks with ./scripts/lock.sh.
ensure_install() {
    local lock="$REPO_ROOT/requirements/$1.lock"
    local stamp="$VENV/.vigil-installed-$1" want
    want="$(cat "$lock" "$REPO_ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$VENV/bin/python" -c 'import vigil' 2>/dev/null; then
        return 0
    fi
    # GUI OpenCV left by an older install shares the cv2 package with the headless build and
    # needs libGL: remove both, the lock puts the headless one back.
    if "$VENV/bin/python" -m pip show -q opencv-python >/dev/null 2>&1; then
        log "removing opencv-python (GUI OpenCV) left by an older install"
        "$VENV/bin/python" -m pip uninstall -q -y opencv-python opencv-python-headless
    fi
    log "pip install --require-hashes --no-deps -r requirements/$1.lock"
    "$VENV/bin/python" -m pip install -q --require-hashes --no-deps -r "$lock"
    log "pip install --no-deps -e ."
    "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e "$REPO_ROOT"
    printf '%s\n' "$want" >"$stamp"
}

_sha256() { sha256sum "$1" | cut -d' ' -f1; }

# _clip_from_deb DEST: extract the clip from Debian's opencv-doc package without installing it
# (no dependencies pulled, and no dpkg path-exclude of /usr/share/doc in slim images).
_clip_from_deb() (
    dest="$1"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    cd "$tmp"
    sandbox=()
    [ "$(id -u)" -eq 0 ] && sandbox=(-o APT::Sandbox::User=root)  # _apt cannot write to $tmp
    log "downloading Debian package opencv-doc (about 96 MB) for the sample clip"
    if ! apt-get download -qq "${sandbox[@]}" opencv-doc 2>/dev/null; then
        apt_update_once  # a fresh image has no package lists yet
        apt-get download -qq "${sandbox[@]}" opencv-doc
    fi
    dpkg-deb --fsys-tarfile opencv-doc_*.deb |
        tar -x "./$CLIP_IN_DEB" "./$CLIP_IN_DEB.gz" 2>/dev/null || true
    if [ -f "$CLIP_IN_DEB" ]; then
        cp "$CLIP_IN_DEB" "$dest"
    elif [ -f "$CLIP_IN_DEB.gz" ]; then
        gzip -dc "$CLIP_IN_DEB.gz" >"$dest"
    else
        die "opencv-doc does not contain /$CLIP_IN_DEB"
    fi
)

# ensure_clip: the sample clip in data/vtest.avi, from ../shared/data, else from an installed
# opencv-doc, else from the opencv-doc package downloaded with apt; checked by sha256.
ensure_clip() {
    if [ -f "$CLIP" ] && [ "$(_sha256 "$CLIP")" = "$CLIP_SHA256" ]; then
        return 0
    fi
    mkdir -p "$(dirname "$CLIP")"
    local part="$CLIP.part"
    rm -f "$part"
    if [ -f "$SHARED_DIR/data/vtest.avi" ]; then
        log "copying the sample clip from $SHARED_DIR/data"
        cp "$SHARED_DIR/data/vtest.avi" "$part"
    elif [ -f "/$CLIP_IN_DEB" ]; then
        cp "/$CLIP_IN_DEB" "$part"
    elif [ -f "/$CLIP_IN_DEB.gz" ]; then
        gzip -dc "/$CLIP_IN_DEB.gz" >"$part"
    else
        command -v apt-get >/dev/null 2>&1 ||
            die "no $SHARED_DIR/data/vtest.avi and no apt-get: put OpenCV's vtest.avi in data/"
        _clip_from_deb "$part"
    fi
    local got
    got="$(_sha256 "$part")"
    [ "$got" = "$CLIP_SHA256" ] || { rm -f "$part"; die "sample clip has sha256 $got, expected $CLIP_SHA256"; }
    mv "$part" "$CLIP"
    log "sample clip ready: data/vtest.avi"
}

# ensure_model: make the default model (yolox-nano) resolvable: ../shared/models when it has
# it (exported as VIGIL_MODELS), else whatever $VIGIL_MODELS or the cache holds, else download
# it with its pinned sha256 (`vigil models pull`, needs internet).
ensure_model() {
    if [ -f "$SHARED_DIR/models/yolox_nano.onnx" ]; then
        VIGIL_MODELS="$(cd "$SHARED_DIR/models" && pwd)${VIGIL_MODELS:+:$VIGIL_MODELS}"
        export VIGIL_MODELS
    elif ! "$VENV/bin/python" -c 'from vigil.detection.models import resolve_model as r; r("yolox-nano")' 2>/dev/null; then
        log "vigil models pull yolox-nano"
        "$VENV/bin/vigil" models pull yolox-nano
    fi
}
