"""`--set KEY=VALUE` of `vigil apps enable`: values read as YAML, bad ones named in one line."""

from __future__ import annotations

import pytest

from vigil.cli.assign import parse_assignments
from vigil.errors import ConfigError


def test_values_are_yaml_and_dotted_keys_nest():
    got = parse_assignments(("zone=door", "threshold=3", "a.b=[x, y]", "empty="))
    assert got == {"zone": "door", "threshold": 3, "a": {"b": ["x", "y"]}, "empty": ""}


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ("classes=[person", "line 1, column 8: expected ',' or ']', but got '<stream end>'"),
        # PyYAML's reader rejects control characters with an error that has no line mark
        ("zone=do\x07r", "unacceptable character #x0007"),
    ],
)
def test_invalid_yaml_value_is_one_line_error(item: str, problem: str):
    with pytest.raises(ConfigError) as caught:
        parse_assignments((item,))
    message = str(caught.value)
    assert message.startswith(f"--set {item!r}: value is not valid YAML (")
    assert problem in message and "\n" not in message
