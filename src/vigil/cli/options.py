"""Options shared by several `vigil` commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click


def config_option(help: str, required: bool = False) -> Callable[[Any], Any]:
    """``-c/--config PATH``, passed to the command as ``config_path``."""
    return click.option(
        "-c",
        "--config",
        "config_path",
        type=click.Path(path_type=Path),
        required=required,
        help=help,
    )
