"""The hand-written pipeline that `vigil bench` races: what a competent user writes in an
afternoon with the usual libraries, and nothing from Vigil.

OpenCV decode; YOLOX-Nano on every frame at its released 416×416 input (letterboxed, padded
with 114, as in the YOLOX demo) on onnxruntime with its default session options; class-aware
NMS; Roboflow `trackers` ByteTrack with its defaults; tracks written as a MOTChallenge file.

Run as a script (`python reference_pipeline.py VIDEO MODEL MOT`) by an interpreter that can
import `trackers`; it must stay importable without Vigil.
"""

import argparse

import cv2
import numpy as np
import onnxruntime as ort
import supervision as sv
from trackers import ByteTrackTracker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video")
    parser.add_argument("model")
    parser.add_argument("mot", help="MOTChallenge file to write (person tracks)")
    parser.add_argument("--confidence", type=float, default=0.1)
    parser.add_argument("--nms-iou", type=float, default=0.65)
    parser.add_argument("--max-frames", type=int)
    args = parser.parse_args()

    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    model_input = session.get_inputs()[0]
    size_h, size_w = (v if isinstance(v, int) else 416 for v in model_input.shape[2:])
    grids, strides = [], []
    for stride in (8, 16, 32):
        ys, xs = np.mgrid[: size_h // stride, : size_w // stride]
        grids.append(np.stack([xs.ravel(), ys.ravel()], 1))
        strides.append(np.full((xs.size, 1), stride))
    grid, strides_of = np.concatenate(grids), np.concatenate(strides)

    tracker = ByteTrackTracker()
    capture = cv2.VideoCapture(args.video)
    canvas = np.full((size_h, size_w, 3), 114, np.uint8)
    with open(args.mot, "w") as mot:
        frame_id = 0
        while args.max_frames is None or frame_id < args.max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            frame_id += 1
            scale = min(size_w / frame.shape[1], size_h / frame.shape[0])
            resized = cv2.resize(frame, None, fx=scale, fy=scale)
            canvas[:] = 114
            canvas[: resized.shape[0], : resized.shape[1]] = resized
            blob = canvas.transpose(2, 0, 1)[None].astype(np.float32)
            out = session.run(None, {model_input.name: blob})[0][0]
            scores = out[:, 4:5] * out[:, 5:]
            class_id = scores.argmax(1)
            confidence = scores[np.arange(len(scores)), class_id]
            keep = confidence >= args.confidence
            xy = (out[keep, :2] + grid[keep]) * strides_of[keep]
            wh = np.exp(out[keep, 2:4]) * strides_of[keep]
            xyxy = np.concatenate([xy - wh / 2, xy + wh / 2], 1) / scale
            confidence, class_id = confidence[keep], class_id[keep]
            xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], 1)
            kept = np.asarray(
                cv2.dnn.NMSBoxesBatched(
                    xywh.tolist(), confidence.tolist(), class_id.tolist(), 0.0, args.nms_iou
                ),
                int,
            ).reshape(-1)
            detections = sv.Detections(
                xyxy=xyxy[kept], confidence=confidence[kept], class_id=class_id[kept]
            )
            tracks = tracker.update(detections)
            for (x1, y1, x2, y2), track_id, cls in zip(
                tracks.xyxy, tracks.tracker_id, tracks.class_id
            ):
                if cls == 0 and track_id >= 0:
                    mot.write(
                        f"{frame_id},{track_id + 1},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},"
                        "1,-1,-1,-1\n"
                    )
    capture.release()


if __name__ == "__main__":
    main()
