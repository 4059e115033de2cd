"""Load a YAML file into a `VigilConfig`; every problem becomes a one-line `ConfigError`.

Error lines look like::

    site.yaml: zones.door.points: polygon needs at least 3 points, got 2
    site.yaml: detector.confidnce: unknown key (did you mean 'confidence'?)
    site.yaml: detector.confidence: must be < 1, got 1.5
    site.yaml: line 3, column 5: mapping values are not allowed here
    site.yaml: output.database: environment variable 'DB_URL' is not set

String values may contain ``${VAR}`` (or ``${VAR:-default}``) placeholders, replaced from the
environment so that secrets (camera passwords, database URLs) stay out of the file; write
``$${`` for a literal ``${``. An unset variable without a default is an error.
"""

from __future__ import annotations

import difflib
import inspect
import os
import re
import sys
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin, overload

import yaml
from pydantic import BaseModel, ValidationError

from vigil.config.schema import ConfigDocument, VigilConfig, _plain, _show
from vigil.errors import ConfigError, format_key_path

__all__ = [
    "app_settings_error",
    "format_key_path",
    "format_validation_error",
    "load_config",
    "load_config_text",
    "parse_config",
]

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


# --------------------------------------------------------------------------- YAML


#: Nodes that aliases may add to a document beyond those written out: anchors for shared
#: settings stay usable, an alias bomb (billion laughs: 9 aliases of 9 aliases of ...,
#: a few hundred bytes expanding to 10**9 nodes) is refused before it is expanded.
MAX_ALIAS_NODES = 10_000
#: Deepest nesting of mappings and lists (the composer recurses once per level).
MAX_YAML_DEPTH = 64


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys instead of keeping the last one, and
    documents nested deeper than `MAX_YAML_DEPTH` or whose aliases would expand to more than
    `MAX_ALIAS_NODES` extra nodes."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self._depth >= MAX_YAML_DEPTH:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"nested deeper than {MAX_YAML_DEPTH} levels",
                self.peek_event().start_mark,
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> yaml.Node | None:
        node = super().compose_document()
        if node is None:
            return None
        extra = _expanded_size(node) - _distinct_nodes(node)
        if extra > MAX_ALIAS_NODES:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"aliases (*name) expand to more than {MAX_ALIAS_NODES} extra values; "
                "write the values out instead",
                node.start_mark,
            )
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # `!!map` written on a sequence reaches here too: SafeLoader's own check reports it.
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:  # unhashable key: let SafeLoader report it
                    continue
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
        return super().construct_mapping(node, deep=deep)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _distinct_nodes(root: yaml.Node) -> int:
    seen = {id(root)}
    stack = [root]
    while stack:
        for child in _children(stack.pop()):
            if id(child) not in seen:
                seen.add(id(child))
                stack.append(child)
    return len(seen)


def _expanded_size(root: yaml.Node) -> int:
    """Nodes of the document with every alias replaced by what it names (without expanding
    it: each distinct node's size is computed once). A recursive alias counts as unbounded."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in _children(node))
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_nodes:  # an alias inside the node it names
            return sys.maxsize
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in sizes)
    return sizes[id(root)]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _yaml_message(err: yaml.YAMLError) -> str:
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "invalid YAML"
        if err.context and err.problem:
            problem = f"{err.problem} ({err.context})"
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        return _one_line(where + problem)
    return _one_line(str(err))


# --------------------------------------------------------------------------- key paths


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is typing.Annotated:
            tp = get_args(tp)[0]
        elif origin is typing.Union or origin is types.UnionType:
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _model_at(root: type[BaseModel] | None, loc: Loc) -> type[BaseModel] | None:
    """The pydantic model class that validates the value at `loc`, if there is one."""
    tp: Any = root
    for part in loc:
        tp = _unwrap(tp)
        if inspect.isclass(tp) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            tp = field.annotation
        else:
            origin, args = get_origin(tp), get_args(tp)
            if origin in (list, tuple, set, frozenset) and args:
                tp = args[0]
            elif origin is dict and len(args) == 2:
                tp = args[1]
            else:
                return None
    tp = _unwrap(tp)
    return tp if inspect.isclass(tp) and issubclass(tp, BaseModel) else None


# --------------------------------------------------------------------------- messages


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _shown_value(full_loc: Loc, value: Any, originals: Mapping[Loc, str]) -> str | None:
    """The value as it may appear in a message: the raw `${VAR}` text for substituted values,
    None (do not show) for containers holding substituted values, so secrets never leak."""
    if full_loc in originals:
        return repr(originals[full_loc])
    n = len(full_loc)
    if any(len(k) > n and k[:n] == full_loc for k in originals):
        return None
    return _show(value)


def _error_message(
    error: Mapping[str, Any],
    full_loc: Loc,
    root: type[BaseModel] | None,
    originals: Mapping[Loc, str],
) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    shown = _shown_value(full_loc, error.get("input"), originals)
    got = f", got {shown}" if shown is not None else ""

    if kind == "extra_forbidden":
        model = _model_at(root, tuple(error["loc"])[:-1])
        if model is None:
            return "unknown key"
        allowed = list(model.model_fields)
        close = difflib.get_close_matches(str(error["loc"][-1]), allowed, n=1)
        if close:
            return f"unknown key (did you mean {close[0]!r}?)"
        return f"unknown key (expected one of: {', '.join(allowed)})"
    if kind == "missing":
        return "required key is missing"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"]))
    comparisons = {
        "less_than": ("<", "lt"),
        "less_than_equal": ("<=", "le"),
        "greater_than": (">", "gt"),
        "greater_than_equal": (">=", "ge"),
    }
    if kind in comparisons:
        op, key = comparisons[kind]
        return f"must be {op} {_plain(ctx.get(key))}{got}"
    expectations = {
        "float_type": "a number",
        "float_parsing": "a number",
        "finite_number": "a finite number",
        "int_type": "an integer",
        "int_parsing": "an integer",
        "int_from_float": "an integer",
        "bool_type": "true or false",
        "bool_parsing": "true or false",
        "string_type": "a string",
        "list_type": "a list",
        "tuple_type": "a list",
        "dict_type": "a mapping",
        "model_type": "a mapping",
        "model_attributes_type": "a mapping",
        "path_type": "a file path",
    }
    if kind in expectations:
        return f"must be {expectations[kind]}{got}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}{got}"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} items, got {ctx.get('actual_length')}"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} items, got {ctx.get('actual_length')}"
    msg = str(error["msg"])
    return (msg[:1].lower() + msg[1:]) + got


def format_validation_error(
    err: ValidationError | yaml.YAMLError,
    file: str | os.PathLike[str] | None,
    *,
    prefix: Loc = (),
    model: type[BaseModel] | None = VigilConfig,
    originals: Mapping[Loc, str] | None = None,
) -> str:
    """One line naming the file, the key path and the bad value.

    `prefix` is prepended to every error location (``("apps", 1, "settings")`` when `err`
    comes from validating one app's settings); `model` is the class `err` was raised by,
    used to suggest the intended key for unknown keys; `originals` maps key paths of
    ``${VAR}``-substituted values to their raw text, shown instead of the secret.
    YAML errors become ``line L, column C: problem``. Further errors are summarised by
    their key paths at the end of the same line.
    """
    head = f"{os.fspath(file)}: " if file is not None else ""
    if isinstance(err, yaml.YAMLError):
        return head + _yaml_message(err)

    originals = originals or {}
    # A misspelt key shows up as "unknown key" plus "required key is missing" for the
    # intended one: report the unknown key first, it is the cause.
    errors = sorted(err.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden")
    if not errors:  # pragma: no cover - pydantic always reports at least one
        return head + _one_line(str(err))
    messages: list[str] = []
    for error in errors:
        full_loc = tuple(prefix) + tuple(error["loc"])
        message = _error_message(error, full_loc, model, originals)
        path = format_key_path(full_loc)
        messages.append((f"{path}: " if path else "") + message)
    line = messages[0]
    rest = errors[1:]
    if rest:
        paths = [format_key_path(tuple(prefix) + tuple(e["loc"])) or "(top level)" for e in rest]
        listed = ", ".join(paths[:3]) + (", ..." if len(paths) > 3 else "")
        line += f" (and {len(rest)} more: {listed})"
    return _one_line(head + line)


# --------------------------------------------------------------------------- ${VAR}

_PLACEHOLDER = re.compile(r"\$\$\{|\$\{([^}]*)(\})?")
_VAR_SPEC = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


def _substitute(text: str, where: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        if match.group(2) is None:
            raise ConfigError(f"{where}unclosed '${{' in {text!r}")
        spec = _VAR_SPEC.fullmatch(match.group(1))
        if spec is None:
            raise ConfigError(
                f"{where}bad placeholder {match.group(0)!r}: use ${{NAME}} or ${{NAME:-default}}"
            )
        name, default = spec.group(1), spec.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(f"{where}environment variable {name!r} is not set")

    return _PLACEHOLDER.sub(replace, text)


def _expand_env(
    data: Any, file: str | None, env: Mapping[str, str], loc: Loc, originals: dict[Loc, str]
) -> Any:
    if isinstance(data, str):
        if "${" not in data:
            return data
        head = f"{file}: " if file is not None else ""
        path = format_key_path(loc)
        value = _substitute(data, head + (f"{path}: " if path else ""), env)
        if value != data:
            originals[loc] = data
        return value
    if isinstance(data, dict):
        return {k: _expand_env(v, file, env, loc + (k,), originals) for k, v in data.items()}
    if isinstance(data, list):
        return [_expand_env(v, file, env, loc + (i,), originals) for i, v in enumerate(data)]
    return data


# --------------------------------------------------------------------------- loading


D = TypeVar("D", bound=ConfigDocument)
PathText = str | os.PathLike[str]

# Each loader returns the document type it is given, a `VigilConfig` without one (the
# overloads say so: a TypeVar'd parameter cannot have a concrete default).


@overload
def parse_config(
    data: Any, file: PathText | None = None, *, env: Mapping[str, str] | None = None
) -> VigilConfig: ...
@overload
def parse_config(
    data: Any, file: PathText | None = None, *, env: Mapping[str, str] | None = None, model: type[D]
) -> D: ...
def parse_config(
    data: Any,
    file: PathText | None = None,
    *,
    env: Mapping[str, str] | None = None,
    model: type[ConfigDocument] = VigilConfig,
) -> ConfigDocument:
    """Validate already-parsed YAML data as a `model` document (None: all defaults)."""
    name = os.fspath(file) if file is not None else None
    head = f"{name}: " if name is not None else ""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{head}top level must be a mapping of sections (source, detector, zones, ...), "
            f"got {_type_name(data)}"
        )
    originals: dict[Loc, str] = {}
    data = _expand_env(data, name, os.environ if env is None else env, (), originals)
    try:
        config = model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(
            format_validation_error(err, name, model=model, originals=originals)
        ) from err
    config._file = name
    config._originals = originals
    return config


@overload
def load_config_text(
    text: str, file: PathText | None = None, *, env: Mapping[str, str] | None = None
) -> VigilConfig: ...
@overload
def load_config_text(
    text: str, file: PathText | None = None, *, env: Mapping[str, str] | None = None, model: type[D]
) -> D: ...
def load_config_text(
    text: str,
    file: PathText | None = None,
    *,
    env: Mapping[str, str] | None = None,
    model: type[ConfigDocument] = VigilConfig,
) -> ConfigDocument:
    """Parse and validate YAML text; `file` is only used in error messages."""
    name = os.fspath(file) if file is not None else None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise ConfigError(format_validation_error(err, name)) from err
    return parse_config(data, name, env=env, model=model)


@overload
def load_config(path: PathText | None, *, env: Mapping[str, str] | None = None) -> VigilConfig: ...
@overload
def load_config(
    path: PathText | None, *, env: Mapping[str, str] | None = None, model: type[D]
) -> D: ...
def load_config(
    path: PathText | None,
    *,
    env: Mapping[str, str] | None = None,
    model: type[ConfigDocument] = VigilConfig,
) -> ConfigDocument:
    """Load and validate a YAML configuration file; None gives the defaults.

    An empty file (or one holding only comments) is a valid empty config. Raises
    `ConfigError` with one line naming the file, the key path and the bad value.
    `env` replaces `os.environ` for ``${VAR}`` placeholders (tests).
    """
    if path is None:
        return model()
    name = os.fspath(path)
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{name}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{name}: is a directory, expected a YAML file") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{name}: not UTF-8 text (bad byte at offset {err.start})") from None
    except OSError as err:
        raise ConfigError(f"{name}: cannot read file: {err.strerror or err}") from None
    return load_config_text(text, name, env=env, model=model)


# --------------------------------------------------------------------------- app settings


def app_settings_error(
    err: ValidationError,
    index: int,
    file: str | os.PathLike[str] | None = None,
    *,
    scope: Loc = (),
    model: type[BaseModel] | None = None,
    originals: Mapping[Loc, str] | None = None,
) -> ConfigError:
    """A `ConfigError` for a `ValidationError` raised validating ``apps[index].settings``
    (under `scope`, e.g. ``("cameras", 0)``):
    ``site.yaml: apps[1].settings.min_seconds: must be > 0, got -1``."""
    return ConfigError(
        format_validation_error(
            err,
            file,
            prefix=(*scope, "apps", index, "settings"),
            model=model,
            originals=originals,
        )
    )
