#!/usr/bin/env bash
# On a machine with an accelerator: decode fps per hwaccel setting and detector fps per ONNX
# Runtime execution provider and batch size, in one run. Prepared for a GPU machine; on a CPU
# one it shows the fallbacks (software decoding, the CPU provider).
#
#   scripts/gpu-check.sh                   # the venv's python; ../shared beside the repo
#   PYTHON=/path/to/python BATCHES="1 8 32" FRAMES=256 scripts/gpu-check.sh
#
# The environment needs onnxruntime-gpu in place of onnxruntime for cuda/tensorrt
# (pip uninstall -y onnxruntime && pip install onnxruntime-gpu), PyAV with the FFmpeg it
# ships (NVDEC through `cuda`), numpy, onnx and OpenCV. TensorRT's first run builds its
# engines (minutes), kept in the model cache for the next one.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED_DIR="${VIGIL_SHARED_DIR:-$REPO_ROOT/../shared}"
PYTHON="${PYTHON:-python}"
BATCHES="${BATCHES:-1 4 16}"
FRAMES="${FRAMES:-128}"
SIZE="${SIZE:-416}"
export PYTHONPATH="$REPO_ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
export VIGIL_MODELS="${VIGIL_MODELS:-$SHARED_DIR/models}"
CLIP="$SHARED_DIR/data/vtest.avi"
[ -f "$CLIP" ] || { echo "error: $CLIP absent (set VIGIL_SHARED_DIR)" >&2; exit 1; }

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
"$PYTHON" - <<'PY'
import av, onnxruntime as ort
from av.codec.hwaccel import hwdevices_available
print(f"onnxruntime {ort.__version__}: {', '.join(ort.get_available_providers())}")
print(f"PyAV {av.__version__}: hardware devices in FFmpeg: {', '.join(hwdevices_available())}")
PY

# Decoding: the sample clip as 720p15 H.264 (what cameras send), made once.
WORK="${TMPDIR:-/tmp}/vigil-gpu-check"
mkdir -p "$WORK"
H264="$WORK/vtest-720p.mp4"
if [ ! -s "$H264" ]; then
    "$PYTHON" - "$CLIP" "$H264" <<'PY'
import sys, av
src, dst = sys.argv[1:]
with av.open(src) as inp, av.open(dst, "w") as out:
    stream = out.add_stream("libx264", rate=15)
    stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
    stream.options = {"preset": "veryfast", "g": "30", "bf": "0"}
    for frame in inp.decode(video=0):
        frame = frame.reformat(1280, 720, "yuv420p")
        frame.pts = None
        out.mux(stream.encode(frame))
    out.mux(stream.encode())
PY
fi
echo "== decode (720p H.264, $(basename "$H264"))"
"$PYTHON" "$REPO_ROOT/benchmarks/decode_hwaccel.py" --clip "$H264"

echo "== detector (YOLOX-Nano, input up to ${SIZE}x${SIZE}, batches: $BATCHES)"
DEVICES=$("$PYTHON" -c 'from vigil.detection.providers import available_devices as a; print(" ".join(a()))')
ARGS=()
for d in $DEVICES; do ARGS+=(--device "$d"); done
for b in $BATCHES; do ARGS+=(--batch "$b"); done
"$PYTHON" "$REPO_ROOT/benchmarks/detector_devices.py" --clip "$CLIP" --frames "$FRAMES" \
    --input-size "$SIZE" "$SIZE" "${ARGS[@]}" --json "$WORK/detector.json"
echo "figures also in $WORK/detector.json"
