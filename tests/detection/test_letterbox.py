import numpy as np
import pytest

from vigil.detection.letterbox import PAD_VALUE, letterbox_into, plan_letterbox


@pytest.mark.parametrize(
    ("size", "rect", "upscale", "resized", "padded"),
    [
        ((768, 576), True, False, (416, 312), (416, 320)),  # 4:3 video runs at 416x320
        ((768, 576), False, False, (416, 312), (416, 416)),  # fixed-shape models pad to the input
        ((1920, 1080), True, False, (416, 234), (416, 256)),
        ((100, 50), True, False, (100, 50), (128, 64)),  # small crops keep their size
        ((100, 50), True, True, (416, 208), (416, 224)),
        ((100, 50), False, False, (100, 50), (416, 416)),
        ((5, 2000), True, False, (1, 416), (32, 416)),  # never a zero-width resize
    ],
)
def test_plan(size, rect, upscale, resized, padded):
    box = plan_letterbox(*size, (416, 416), rect=rect, upscale=upscale)
    assert box.resized == resized
    assert box.padded == padded
    assert box.scale_x == resized[0] / size[0]
    assert box.scale_y == resized[1] / size[1]


def test_letterbox_into_pastes_top_left_and_pads():
    image = np.zeros((64, 96, 3), np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 10, 20, 30  # B, G, R
    box = plan_letterbox(96, 64, (416, 416), rect=True, upscale=False)
    out = np.full((3, *box.padded[::-1]), -1, np.float32)
    assert box.padded == (96, 64)
    letterbox_into(image, box, out)
    assert out.dtype == np.float32
    assert np.array_equal(out[:, 0, 0], [10, 20, 30])  # channel order stays BGR

    image = np.zeros((50, 100, 3), np.uint8)
    box = plan_letterbox(100, 50, (416, 416), rect=True, upscale=False)
    out = np.full((3, 64, 128), -1, np.float32)
    letterbox_into(image, box, out)
    assert (out[:, :50, :100] == 0).all()
    assert (out[:, 50:, :] == PAD_VALUE).all()
    assert (out[:, :, 100:] == PAD_VALUE).all()


def test_letterbox_into_resizes():
    image = np.zeros((640, 832, 3), np.uint8)
    image[64:128, 128:192] = 255
    box = plan_letterbox(832, 640, (416, 416), rect=True, upscale=False)
    out = np.empty((3, 320, 416), np.float32)
    letterbox_into(image, box, out)
    assert (out[:, 32:64, 64:96] == 255).all()
    assert out[:, :32].max() == 0 and out[:, 64:].max() == 0
