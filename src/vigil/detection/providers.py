"""Which ONNX Runtime execution provider runs the detector (`detector.device`).

`auto` takes the best provider this onnxruntime build offers, in the order
tensorrt > cuda > openvino > cpu; a named device that the build lacks is a one-line
`ConfigError` naming the key, what is available and what to install. ONNX Runtime quietly
falls back to the CPU when a provider is present but cannot start (no GPU driver, missing CUDA
libraries), so `start_session` checks the session it got: a named device that did not start is
an error, `auto` moves on to the next one. onnxruntime is imported only when a session starts:
the configuration schema imports `Device` from here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from vigil.detection.models import cache_dir
from vigil.errors import ConfigError

if TYPE_CHECKING:
    import onnxruntime as ort

log = logging.getLogger(__name__)

Device = Literal["auto", "cpu", "cuda", "tensorrt", "openvino"]
Providers = list[str | tuple[str, dict[str, Any]]]  # what `InferenceSession` takes
KEY = "detector.device"
AUTO_ORDER: tuple[str, ...] = ("tensorrt", "cuda", "openvino", "cpu")
PROVIDER_NAMES: dict[str, str] = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
_INSTALL: dict[str, str] = {
    "tensorrt": "onnxruntime-gpu with TensorRT libraries",
    "cuda": "onnxruntime-gpu with CUDA libraries",
    "openvino": "onnxruntime-openvino in place of onnxruntime",
}


def available_devices() -> list[str]:
    """The devices this onnxruntime build offers, best first."""
    import onnxruntime as ort

    present = set(ort.get_available_providers())
    return [d for d in AUTO_ORDER if PROVIDER_NAMES[d] in present]


def provider_list(device: str) -> Providers:
    """What `InferenceSession(providers=...)` gets for `device`: the device's provider, then
    the ones that take the operators it cannot run (CUDA under TensorRT, always the CPU)."""
    chain = {"tensorrt": ["tensorrt", "cuda", "cpu"], "cuda": ["cuda", "cpu"]}.get(
        device, [device, "cpu"] if device != "cpu" else ["cpu"]
    )
    present = set(available_devices())
    providers: Providers = []
    for name in chain:
        provider = PROVIDER_NAMES[name]
        if name not in present:
            continue
        if name == "tensorrt":
            # Building an engine takes minutes: keep it for the next start.
            cache = cache_dir() / "tensorrt"
            options = {"trt_engine_cache_enable": "True", "trt_engine_cache_path": str(cache)}
            providers.append((provider, options))
        else:
            providers.append(provider)
    return providers


@dataclass(frozen=True, slots=True)
class DeviceChoice:
    """The device a detector runs on and why."""

    device: str
    providers: Providers
    reason: str

    def describe(self) -> str:
        return f"on {self.device} ({PROVIDER_NAMES[self.device]}): {self.reason}"


def _missing(device: str, available: list[str]) -> ConfigError:
    import onnxruntime as ort

    return ConfigError(
        f"{KEY}: {device!r} is not available in this onnxruntime {ort.__version__} "
        f"(available: {', '.join(available)}; for {device} install {_INSTALL[device]})"
    )


def start_session(
    requested: str, open_session: Callable[[Providers], ort.InferenceSession]
) -> tuple[ort.InferenceSession, DeviceChoice]:
    """A session from `open_session(providers)` on the `requested` device (or the best one for
    `auto`), and the choice made; logs the choice in one line."""
    available = available_devices()
    if requested != "auto" and requested not in available:
        raise _missing(requested, available)
    candidates = available if requested == "auto" else [requested]
    skipped: list[str] = []
    for device in candidates:
        session = open_session(provider_list(device))
        if session.get_providers()[0] == PROVIDER_NAMES[device] or device == "cpu":
            break
        if requested != "auto":
            raise ConfigError(
                f"{KEY}: {requested!r} is installed but did not start "
                f"(onnxruntime ran the model on {session.get_providers()[0]} instead: "
                "check the driver and libraries)"
            )
        skipped.append(device)
    if requested == "auto":
        order = " > ".join(AUTO_ORDER)
        reason = f"auto, best available of {order} (onnxruntime has {', '.join(available)})"
        if skipped:
            reason += f"; {', '.join(skipped)} present but failed to start"
    else:
        reason = f"{KEY} is {requested}"
    choice = DeviceChoice(device, provider_list(device), reason)
    log.info("detector %s", choice.describe())
    return session, choice
