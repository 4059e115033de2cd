#!/usr/bin/env bash
# Prove the Quickstart on a fresh machine: build a minimal Debian bookworm root with
# debootstrap (Python 3.11 from Debian and nothing else: no libGL, no X, no pip, no Python
# packages), copy this checkout and ../shared's model and clip into it, run the README's first
# command, ./scripts/quickstart.sh, inside it, and wait for the URL it prints; then wait for
# /api/health to say the demo camera is up, check that no GUI OpenCV and no libGL came in, and
# stop the demo. It prints the time from the start of the Quickstart to the URL.
#
#   sudo ./scripts/fresh_machine_check.sh
#
# Needs root, a Debian mirror and PyPI (nothing else is reached), and about 3 GB in /var/tmp.
# It takes several minutes (a whole Debian root and every wheel downloaded), so CI does not
# run it: run it before each release and after changing the install steps or the locks.
# Environment: PIP_CERT (a CA bundle for pip, as pip reads it), DEBIAN_MIRROR (default: the first
# Debian mirror this machine's apt uses), FRESH_TIMEOUT (seconds
# allowed from the start of the Quickstart to the printed URL, default 1800), FRESH_PORT (give
# the demo another port than 8971: the root shares this machine's network), KEEP_ROOT=1 (leave
# the root in place for a look around).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED_DIR="${VIGIL_SHARED_DIR:-$REPO_ROOT/../shared}"
# The mirror this machine's apt already uses (deb822 `URIs:` or one-line `deb URI ...` sources).
host_mirror() {
    cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '$1 == "URIs:" && $2 !~ /security/ {print $2; exit} $1 == "deb" && $2 !~ /security/ {print $2; exit}'
}
MIRROR="${DEBIAN_MIRROR:-$(host_mirror)}"
[ -n "$MIRROR" ] || { printf 'fresh_machine_check: no Debian mirror in /etc/apt: set DEBIAN_MIRROR\n' >&2; exit 1; }
TIMEOUT="${FRESH_TIMEOUT:-1800}"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'fresh_machine_check: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap and chroot need it)"
for need in models/yolox_nano.onnx data/vtest.avi; do
    [ -f "$SHARED_DIR/$need" ] || die "$SHARED_DIR/$need missing (the chroot cannot download it)"
done
if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null
fi

work="$(mktemp -d /var/tmp/vigil-fresh.XXXXXX)"
root="$work/root"
demo_pid=""
cleanup() {
    if [ -n "$demo_pid" ]; then
        kill -TERM -- "-$demo_pid" 2>/dev/null || true
        wait "$demo_pid" 2>/dev/null || true
    fi
    umount -R "$root/dev" "$root/proc" 2>/dev/null || true
    if [ "${KEEP_ROOT:-0}" = 1 ]; then log "root kept in $root"; else rm -rf "$work"; fi
}
trap cleanup EXIT

started=$SECONDS
log "debootstrap bookworm (minbase + python3) into $root"
debootstrap --variant=minbase --include=python3 bookworm "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
debootstrap_s=$((SECONDS - started))
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"  # /dev/shm: frames travel to the detector in shared memory

log "copying the checkout (tracked and untracked, not ignored) and ../shared's model and clip"
mkdir -p "$root/opt/vigil" "$root/opt/shared"
git -C "$REPO_ROOT" ls-files -z --cached --others --exclude-standard |
    tar -C "$REPO_ROOT" --null --ignore-failed-read -T - -cf - | tar -C "$root/opt/vigil" -xf -
cp -r "$SHARED_DIR/models" "$SHARED_DIR/data" "$root/opt/shared/"

if chroot "$root" python3 -c 'import pip' 2>/dev/null; then die "the fresh root already has pip"; fi

# Behind a TLS-intercepting proxy, pip needs that proxy's CA: the bundle $PIP_CERT names here
# is handed to pip in the root (a machine on the open internet needs nothing of the kind).
pip_cert=()
if [ -n "${PIP_CERT:-}" ]; then
    cp "$PIP_CERT" "$root/etc/pip-ca.pem"
    pip_cert=(PIP_CERT=/etc/pip-ca.pem)
fi

log "inside the root: ./scripts/quickstart.sh (log: $work/quickstart.log)"
quickstart_start=$SECONDS
setsid chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb "${pip_cert[@]}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    bash -c 'cd /opt/vigil && exec ./scripts/quickstart.sh "$@"' quickstart ${FRESH_PORT:+--port "$FRESH_PORT"} \
    >"$work/quickstart.log" 2>&1 </dev/null &
demo_pid=$!

url=""
while [ -z "$url" ]; do
    if ! kill -0 "$demo_pid" 2>/dev/null; then
        tail -30 "$work/quickstart.log" >&2
        die "the Quickstart ended before printing its URL"
    fi
    if [ $((SECONDS - quickstart_start)) -gt "$TIMEOUT" ]; then
        tail -30 "$work/quickstart.log" >&2
        die "no URL after ${TIMEOUT}s"
    fi
    sleep 1
    url="$(sed -n 's/^Vigil is running at \(http[^ ]*\).*/\1/p' "$work/quickstart.log" | head -1)"
done
quickstart_s=$((SECONDS - quickstart_start))

# the demo's camera up: its worker decoded, detected and tracked in the fresh root
health="$(chroot "$root" /opt/vigil/.venv/bin/python -c '
import json, sys, time, urllib.request
for _ in range(120):
    health = json.load(urllib.request.urlopen(sys.argv[1], timeout=10))
    if health["ok"]:
        break
    time.sleep(1)
print(health["status"])
sys.exit(not health["ok"])' "$url/api/health")" || die "$url/api/health: ${health:-no answer} after 2 minutes"
up_s=$((SECONDS - quickstart_start))
gui="$(chroot "$root" /opt/vigil/.venv/bin/python -m pip list 2>/dev/null | grep -ciE '^(opencv-python|matplotlib|trackeval) ' || true)"
[ "$gui" -eq 0 ] || die "the core install holds GUI OpenCV, matplotlib or TrackEval"
if chroot "$root" ldconfig -p | grep -q 'libGL\.so'; then die "libGL is installed in the root"; fi
venv_mb="$(du -sm "$root/opt/vigil/.venv" | cut -f1)"

printf 'fresh machine: debootstrap %ss; Quickstart printed %s after %ss, /api/health %s after %ss; venv %s MB; no libGL, no GUI OpenCV\n' \
    "$debootstrap_s" "$url" "$quickstart_s" "$health" "$up_s" "$venv_mb"
