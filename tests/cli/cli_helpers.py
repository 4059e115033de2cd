"""Helpers for the CLI tests: run `vigil`, isolated from the user's files, and check its
one-line errors.

Two ways to run it, with the same `Result`:

* `run_vigil`: the real command, ``python -m vigil.cli.main`` (the code behind the console
  script) in a subprocess with no stdin. Catches everything a user would see, including
  C libraries (FFmpeg, ONNX Runtime) writing to file descriptor 2. About 2 s a call, nearly
  all of it imports.
* `invoke_vigil`: the same click command in this process (click's CliRunner): milliseconds a
  call once imported; for the many cases that are pure Python.

Both run in a working directory of the test's choosing, with HOME and XDG_CACHE_HOME pointed
into it (so the user's model cache is never used) and VIGIL_MODELS at the given directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

TIMEOUT_S = 120


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:  # shown by pytest when an assertion about a Result fails
        return (
            f"vigil {' '.join(self.args)} -> exit {self.returncode}\n"
            f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}"
        )


Vigil = Callable[..., Result]


def env_changes(
    tmp: Path, models: Path | str, extra: Mapping[str, str | None] | None = None
) -> dict[str, str | None]:
    """Environment variables to set (None: unset) for an isolated run in `tmp`."""
    (tmp / "home").mkdir(parents=True, exist_ok=True)
    changes: dict[str, str | None] = {
        "HOME": str(tmp / "home"),
        "XDG_CACHE_HOME": str(tmp / "home" / ".cache"),
        "VIGIL_MODELS": str(models),
        "COLUMNS": "120",  # rich tables: wide enough that paths are not wrapped
        "PYTHONWARNINGS": None,
    }
    changes.update(extra or {})
    return changes


def run_vigil(
    *args: str | os.PathLike[str],
    cwd: Path,
    models: Path | str,
    env: Mapping[str, str | None] | None = None,
    timeout: float = TIMEOUT_S,
) -> Result:
    """The real command in a subprocess."""
    words = tuple(os.fspath(a) for a in args)
    full_env = dict(os.environ)
    for key, value in env_changes(cwd, models, env).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    proc = subprocess.run(
        [sys.executable, "-m", "vigil.cli.main", *words],
        check=False,
        cwd=cwd,
        env=full_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(words, proc.returncode, proc.stdout, proc.stderr)


def invoke_vigil(
    *args: str | os.PathLike[str],
    cwd: Path,
    models: Path | str,
    env: Mapping[str, str | None] | None = None,
) -> Result:
    """The click command in this process; an exception other than the command's own exit
    shows up as a traceback in `Result.stderr`, as it would for a user."""
    from click.testing import CliRunner

    from vigil.cli.main import cli

    try:
        runner = CliRunner(mix_stderr=False)  # click 8.1
    except TypeError:
        runner = CliRunner()  # click >= 8.2 always keeps stderr apart
    words = tuple(os.fspath(a) for a in args)
    before = Path.cwd()
    os.chdir(cwd)
    try:
        result = runner.invoke(
            cli, list(words), env=env_changes(cwd, models, env), prog_name="vigil"
        )
    finally:
        os.chdir(before)
    stderr = result.stderr
    if result.exc_info is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(*result.exc_info))
    return Result(words, result.exit_code, result.stdout, stderr)


def assert_one_line_error(result: Result, *fragments: str) -> str:
    """Exit code 2, nothing on stdout, exactly one stderr line ``vigil: error: ...`` that
    contains every fragment, and no traceback anywhere. Returns the line."""
    assert result.returncode == 2, result
    assert "Traceback" not in result.stdout + result.stderr, result
    assert result.stdout == "", result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result
    line = lines[0]
    assert line.startswith("vigil: error: "), result
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    return line
