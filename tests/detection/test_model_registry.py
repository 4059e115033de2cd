import hashlib
from pathlib import Path

import pytest

from vigil.detection import models
from vigil.detection.models import ModelSpec, cache_dir, pull_model, resolve_model, search_dirs
from vigil.errors import ModelError


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """An empty $VIGIL_MODELS dir and an empty cache dir (via $XDG_CACHE_HOME)."""
    env_dir, xdg = tmp_path / "env", tmp_path / "xdg"
    env_dir.mkdir()
    monkeypatch.setenv("VIGIL_MODELS", str(env_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
    return env_dir, xdg / "vigil" / "models"


@pytest.fixture
def payload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, ModelSpec]:
    """A local file to 'download' and a registry entry whose checksum matches it."""
    source = tmp_path / "served" / "fake.onnx"
    source.parent.mkdir()
    source.write_bytes(b"fake model bytes" * 100)
    spec = ModelSpec(
        name="fake",
        filename="fake.onnx",
        url=source.as_uri(),
        sha256=hashlib.sha256(source.read_bytes()).hexdigest(),
        size=source.stat().st_size,
        input_size=(416, 416),
        decoder="yolox",
        license="test",
    )
    monkeypatch.setitem(models.MODELS, "fake", spec)
    return source, spec


def test_registry_has_yolox_nano():
    spec = models.MODELS["yolox-nano"]
    assert spec.filename == "yolox_nano.onnx"
    assert (
        spec.url
        == "https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/yolox_nano.onnx"
    )
    assert spec.sha256 == "e8af074932d4ed7e232278e3055cefcdea3edf178874a3694ae292649fb464dd"
    assert (spec.size, spec.input_size, spec.decoder) == (3678356, (416, 416), "yolox")


def test_cache_dir_defaults_to_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "vigil" / "models"


def test_existing_path_is_used_as_is(tmp_path: Path, dirs):
    path = tmp_path / "anything.bin"
    path.write_bytes(b"x")
    assert resolve_model(path) == path
    assert resolve_model(str(path)) == path


def test_resolution_order(dirs):
    env_dir, cache = dirs
    assert search_dirs() == [env_dir, cache]
    cache.mkdir(parents=True)
    (cache / "yolox_nano.onnx").write_bytes(b"cached")
    assert resolve_model("yolox-nano") == cache / "yolox_nano.onnx"
    (env_dir / "yolox_nano.onnx").write_bytes(b"env")
    assert resolve_model("yolox-nano") == env_dir / "yolox_nano.onnx"  # $VIGIL_MODELS first
    assert resolve_model("yolox_nano.onnx") == env_dir / "yolox_nano.onnx"  # filename works too
    (cache / "custom.onnx").write_bytes(b"custom")
    assert resolve_model("custom.onnx") == cache / "custom.onnx"  # unregistered bare filename


def test_not_found_names_the_directories(dirs):
    env_dir, cache = dirs
    with pytest.raises(ModelError) as info:
        resolve_model("yolox-nano")
    assert str(info.value) == (
        f"model 'yolox-nano' not found in {env_dir}, {cache} "
        "(put yolox_nano.onnx in $VIGIL_MODELS or run `vigil models pull yolox-nano`)"
    )
    with pytest.raises(ModelError, match=r"^unknown model 'yolo-giant': give a path"):
        resolve_model("yolo-giant")
    with pytest.raises(ModelError, match=r"^model file not found: models/x.onnx \(put yolox_nano"):
        resolve_model("models/x.onnx")


def test_pull_downloads_verifies_and_installs(dirs, payload):
    _, cache = dirs
    source, _ = payload
    path = pull_model("fake")
    assert path == cache / "fake.onnx"
    assert path.read_bytes() == source.read_bytes()
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in cache.iterdir()] == ["fake.onnx"]  # no temporary file left
    assert resolve_model("fake") == path
    # Already there with the right checksum: kept without touching the (now broken) URL.
    source.unlink()
    assert pull_model("fake") == path


def test_pull_to_dest_dir_with_url(tmp_path: Path, dirs, payload):
    source, _ = payload
    dest = tmp_path / "elsewhere"
    assert pull_model("fake.onnx", dest_dir=dest, url=source.as_uri()) == dest / "fake.onnx"


def test_pull_checksum_mismatch(tmp_path: Path, dirs, payload):
    _, spec = payload
    wrong = tmp_path / "wrong.onnx"
    wrong.write_bytes(b"tampered")
    dest = tmp_path / "dest"
    with pytest.raises(ModelError) as info:
        pull_model("fake", dest_dir=dest, url=wrong.as_uri())
    message = str(info.value)
    assert message.startswith(f"checksum mismatch for fake.onnx from {wrong.as_uri()}: sha256 ")
    assert message.endswith(f", expected {spec.sha256}") and "\n" not in message
    assert list(dest.iterdir()) == []  # nothing half-written survives


def test_pull_network_error(tmp_path: Path, dirs, payload):
    missing = (tmp_path / "missing.onnx").as_uri()
    with pytest.raises(ModelError) as info:
        pull_model("fake", dest_dir=tmp_path / "dest", url=missing)
    assert str(info.value).startswith(f"cannot download fake from {missing}: ")
    assert "\n" not in str(info.value)
    assert list((tmp_path / "dest").iterdir()) == []
    with pytest.raises(ModelError, match=r"^cannot download fake from not a url: "):
        pull_model("fake", dest_dir=tmp_path / "dest", url="not a url")


def test_pull_unknown_model(dirs):
    with pytest.raises(ModelError, match=r"^unknown model 'nope': known models are yolox-nano$"):
        pull_model("nope")
