"""COCO class names in the order COCO-trained YOLO models emit them."""

from __future__ import annotations

from collections.abc import Iterable

COCO_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

_INDEX = {name: i for i, name in enumerate(COCO_CLASSES)}


def coco_class_ids(names: Iterable[str]) -> set[int]:
    """Map COCO class names to ids; raises KeyError naming the first unknown name."""
    ids = set()
    for name in names:
        if name not in _INDEX:
            raise KeyError(f"unknown COCO class {name!r}")
        ids.add(_INDEX[name])
    return ids
