"""Known models: where to find them on disk and how to download them."""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from vigil.errors import ModelError

ENV_VAR = "VIGIL_MODELS"
DOWNLOAD_TIMEOUT_S = 60


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model Vigil knows how to fetch and run."""

    name: str
    filename: str
    url: str
    sha256: str
    size: int
    input_size: tuple[int, int]  # (w, h)
    decoder: str
    license: str


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="yolox-nano",
            filename="yolox_nano.onnx",
            url="https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/yolox_nano.onnx",
            sha256="e8af074932d4ed7e232278e3055cefcdea3edf178874a3694ae292649fb464dd",
            size=3678356,
            input_size=(416, 416),
            decoder="yolox",
            license="Apache-2.0",
        ),
    )
}
DEFAULT_MODEL = "yolox-nano"


def cache_dir() -> Path:
    """The per-user model cache: `$XDG_CACHE_HOME/vigil/models` or `~/.cache/vigil/models`."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vigil" / "models"


def search_dirs() -> list[Path]:
    """Directories searched for a model name, in order: `$VIGIL_MODELS` entries, the cache."""
    env = os.environ.get(ENV_VAR, "")
    return [Path(p).expanduser() for p in env.split(os.pathsep) if p] + [cache_dir()]


def find_spec(name: str) -> ModelSpec | None:
    """The registered model with this name or filename."""
    return MODELS.get(name) or next((s for s in MODELS.values() if s.filename == name), None)


def how_to_get(name: str = DEFAULT_MODEL) -> str:
    """The one-line hint shown when a registered model is missing."""
    spec = MODELS[name]
    return f"put {spec.filename} in ${ENV_VAR} or run `vigil models pull {spec.name}`"


def resolve_model(name_or_path: str | Path) -> Path:
    """Path of a model given as an existing path, a registered name, or a bare filename.

    Names and bare `.onnx` filenames are searched in `search_dirs()`. Raises ModelError (one
    line) when nothing is found.
    """
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    text = str(name_or_path)
    spec = find_spec(text)
    bare = path.parent == Path(".")
    if spec is None and not (bare and path.suffix == ".onnx"):
        if bare and not path.suffix:
            known = ", ".join(sorted(MODELS))
            raise ModelError(
                f"unknown model {text!r}: give a path to an .onnx file or one of {known}"
            )
        raise ModelError(f"model file not found: {path} ({how_to_get()})")
    filename = spec.filename if spec else text
    dirs = search_dirs()
    for directory in dirs:
        if (directory / filename).is_file():
            return directory / filename
    searched = ", ".join(str(d) for d in dirs)
    hint = how_to_get(spec.name) if spec else f"put {filename} in ${ENV_VAR}"
    raise ModelError(f"model {text!r} not found in {searched} ({hint})")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def pull_model(name: str, dest_dir: str | Path | None = None, url: str | None = None) -> Path:
    """Download a registered model into `dest_dir` (default: the cache); returns its path.

    The file is written to a temporary name, its sha256 checked, then moved into place
    atomically, so an interrupted or corrupt download never leaves a usable-looking model. A
    file already there with the right checksum is kept without downloading.
    """
    spec = find_spec(name)
    if spec is None:
        raise ModelError(f"unknown model {name!r}: known models are {', '.join(sorted(MODELS))}")
    directory = Path(dest_dir).expanduser() if dest_dir is not None else cache_dir()
    target = directory / spec.filename
    if target.is_file() and sha256_of(target) == spec.sha256:
        return target
    source = url or spec.url
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.filename}.", suffix=".part", dir=directory)
    except OSError as e:
        raise ModelError(f"cannot write to model directory {directory}: {e.strerror}") from None
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(source, timeout=DOWNLOAD_TIMEOUT_S) as resp,
        ):
            while chunk := resp.read(1 << 16):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != spec.sha256:
            raise ModelError(
                f"checksum mismatch for {spec.filename} from {source}: "
                f"sha256 {digest.hexdigest()}, expected {spec.sha256}"
            )
        tmp.chmod(0o644)  # mkstemp creates 0600; a shared model dir should stay readable
        os.replace(tmp, target)
    except (OSError, ValueError, http.client.HTTPException) as e:
        raise ModelError(f"cannot download {spec.name} from {source}: {_reason(e)}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _reason(error: Exception) -> str:
    """One line saying why a download failed (URLError wraps the interesting part)."""
    if isinstance(error, urllib.error.URLError) and not isinstance(error, urllib.error.HTTPError):
        error = error.reason  # type: ignore[assignment]
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
