"""Fuzz harness of the site-file loader (run by test_fuzz_site_config.py, see tests/fuzzing.py).

Whatever bytes a site file holds, `vigil serve`'s loader either returns a `SiteConfig` or
raises a `ConfigError` (one line, naming the file); nothing else may escape."""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/, for fuzzing.py
from fuzzing import fuzz_main  # noqa: E402

with atheris.instrument_imports(include=["vigil", "yaml"]):  # not scipy, SQLAlchemy, pydantic
    from vigil.config.loader import load_config_text
    from vigil.config.site import SiteConfig
    from vigil.errors import ConfigError


def test_one_input(data: bytes) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return  # load_config refuses undecodable files before parsing them
    try:
        load_config_text(text, "site.yaml", env={"PASS": "secret"}, model=SiteConfig)
    except ConfigError as err:
        message = str(err)
        assert message.startswith("site.yaml: ") and "\n" not in message, message
        message.encode("utf-8")  # printable wherever it is shown


if __name__ == "__main__":
    fuzz_main(test_one_input)
