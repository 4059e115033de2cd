from pathlib import Path

import numpy as np
import pytest

from vigil.detection.detections import Detections
from vigil.errors import VigilError
from vigil.evaluation.motchallenge import MotWriter, read_mot


def _dets(boxes, ids, conf=None, cls=None):
    n = len(boxes)
    return Detections(
        np.asarray(boxes, np.float32),
        np.asarray(conf if conf is not None else [0.9] * n, np.float32),
        np.asarray(cls if cls is not None else [0] * n, np.int64),
        np.asarray(ids, np.int64),
    )


def test_writer_rows_exact(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "pred.txt"
    with MotWriter(out) as w:
        assert w.write(0, _dets([[10, 20, 40, 80.5], [1, 2, 3, 4]], [7, -1], [0.5, 0.9])) == 1
        assert w.write(4, Detections.empty()) == 0
        assert w.write(5, _dets([[0.123, 0.456, 10.789, 20.2]], [3], [0.25])) == 1
    assert out.read_text().splitlines() == [
        "1,7,10.00,20.00,30.00,60.50,0.500,-1,-1,-1",
        "6,3,0.12,0.46,10.67,19.74,0.250,-1,-1,-1",
    ]
    assert w.rows == 2


def test_writer_class_filter_and_closed(tmp_path: Path) -> None:
    out = tmp_path / "pred.txt"
    w = MotWriter(out, class_ids={0})
    w.write(2, _dets([[0, 0, 10, 10], [5, 5, 15, 15]], [1, 2], cls=[0, 2]))
    w.close()
    assert out.read_text().splitlines() == ["3,1,0.00,0.00,10.00,10.00,0.900,-1,-1,-1"]
    with pytest.raises(ValueError):
        w.write(3, Detections.empty())


def test_writer_then_read_roundtrip(tmp_path: Path) -> None:
    out = tmp_path / "pred.txt"
    with MotWriter(out) as w:
        w.write(9, _dets([[10, 20, 40, 80]], [4], [0.75]))
    rows = read_mot(out)
    assert rows.shape == (1, 10)
    np.testing.assert_allclose(rows[0], [10, 4, 10, 20, 30, 60, 0.75, -1, -1, -1])


def test_read_pads_short_rows_and_skips_blank(tmp_path: Path) -> None:
    f = tmp_path / "gt.txt"
    f.write_text("1,2,3,4,5,6\n\n2, 3, 1, 1, 2, 2, 0, 5, 6, 7\n")
    rows = read_mot(f)
    np.testing.assert_allclose(
        rows, [[1, 2, 3, 4, 5, 6, 1, -1, -1, -1], [2, 3, 1, 1, 2, 2, 0, 5, 6, 7]]
    )


def test_read_empty_file(tmp_path: Path) -> None:
    f = tmp_path / "empty.txt"
    f.write_text("")
    assert read_mot(f).shape == (0, 10)


def test_read_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VigilError, match=r"MOT file not found: .*nope\.txt"):
        read_mot(tmp_path / "nope.txt")


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        ("1,1,0,0,1,1\n2,1,x,0,1,1\n", r"bad\.txt:2: not a number: 'x'"),
        ("1,1,0,0,1\n", r"bad\.txt:1: expected at least 6 columns .* got 5"),
        ("1,1,0,0,1,1\n\n0,1,0,0,1,1\n", r"bad\.txt:3: frame must be an integer >= 1"),
        ("1.5,1,0,0,1,1\n", r"bad\.txt:1: frame must be an integer >= 1, got '1.5'"),
        ("1,2.5,0,0,1,1\n", r"bad\.txt:1: id must be an integer"),
        ("1,2,nan,0,1,1\n", r"bad\.txt:1: non-finite value"),
    ],
)
def test_read_malformed(tmp_path: Path, content: str, pattern: str) -> None:
    f = tmp_path / "bad.txt"
    f.write_text(content)
    with pytest.raises(VigilError, match=pattern) as info:
        read_mot(f)
    assert "\n" not in str(info.value)
