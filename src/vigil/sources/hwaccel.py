"""Hardware video decoding through PyAV's hardware acceleration, falling back to software.

`hwaccel: auto` tries the devices this FFmpeg build supports (NVDEC through `cuda`, then
`vaapi`); a named device is tried alone; `none` decodes in software. A device that cannot be
opened (no GPU, no driver, no permission on /dev/dri) or that cannot decode the stream's codec
leaves the stream decoding in software, and `decoder` says so and why: the camera's status
shows it. Decoded pictures come back to system memory, so nothing downstream changes.
PyAV is imported when a stream opens: the site configuration imports `HwAccelName` from here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import av.container
    from av.codec.hwaccel import HWAccel

HwAccelName = Literal["auto", "none", "vaapi", "cuda"]
AUTO_ORDER: tuple[str, ...] = ("cuda", "vaapi")
SOFTWARE = "software"


def _reason(exc: BaseException) -> str:
    return " ".join(str(getattr(exc, "strerror", None) or exc).split()) or type(exc).__name__


def open_decoding(
    open_container: Callable[[HWAccel | None], av.container.InputContainer], hwaccel: str
) -> tuple[av.container.InputContainer, str]:
    """The container `open_container(accel)` gives on the first device of `hwaccel` that
    decodes the stream, and the decoder used: ``cuda``, ``vaapi``, ``software`` or
    ``software (DEVICE: why not)``. Opening in software raises as `open_container` does."""
    from av.codec.hwaccel import HWAccel, hwdevices_available

    supported = hwdevices_available()
    devices = AUTO_ORDER if hwaccel == "auto" else () if hwaccel == "none" else (hwaccel,)
    refused = []
    for device in devices:
        if device not in supported:
            refused.append(f"{device}: not in this FFmpeg build")
            continue
        try:
            container = open_container(HWAccel(device, allow_software_fallback=True))
        except Exception as exc:  # the device would not open (PermissionError, RuntimeError...)
            refused.append(f"{device}: {_reason(exc)}")
            continue
        if container.streams.video and container.streams.video[0].codec_context.is_hwaccel:
            return container, device
        container.close()
        codec = container.streams.video[0].codec_context.name if container.streams.video else "?"
        refused.append(f"{device}: no hardware decoder for {codec}")
    container = open_container(None)
    return container, f"{SOFTWARE} ({'; '.join(refused)})" if refused else SOFTWARE
