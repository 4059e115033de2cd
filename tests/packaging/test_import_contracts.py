"""The architecture holds: one-way layers, no import cycles, small modules and functions.

`lint-imports` checks pyproject.toml's [tool.importlinter] contracts (the layers of
docs/architecture.md); the cycle test finds strongly connected groups in the import graph
that import-linter builds (grimp), between modules and between packages; the size test keeps
every module under src/vigil within 700 lines and every function within 80. Each failure
lists every offender, not only the first.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
MAX_MODULE_LINES = 700
MAX_FUNCTION_LINES = 80
# `lint-imports` run by this interpreter (its console script may live elsewhere)
LINT_IMPORTS = "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"


def strongly_connected(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The groups of two or more nodes that reach each other (Tarjan, iterative), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
    return sorted(groups)


def import_graph() -> dict[str, set[str]]:
    """Module -> the vigil modules it imports (at top level, in functions, for type checking).

    grimp follows packages; files it cannot reach as modules (Alembic loads migrations/env.py
    and versions/*.py by path) are read here, so their imports count too.
    """
    import vigil

    # grimp reads the `vigil` found on sys.path: it must be this checkout's.
    assert Path(vigil.__file__).resolve().is_relative_to(SRC), vigil.__file__
    grimp_graph = grimp.build_graph("vigil", cache_dir=None)
    graph = {m: grimp_graph.find_modules_directly_imported_by(m) for m in grimp_graph.modules}
    for path in (SRC / "vigil").rglob("*.py"):
        module = ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        if module not in graph:
            graph[module] = {known_module(name, graph) for name in imported_names(path)}
    return graph


def imported_names(path: Path) -> set[str]:
    """`vigil...` names a file imports: modules, or for `from m import x` both m.x and m."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] == "vigil"}


def known_module(name: str, graph: Mapping[str, object]) -> str:
    """The longest prefix of a dotted name that is a module (`vigil.a.b.Class` -> `vigil.a.b`)."""
    while name not in graph and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_strongly_connected_finds_cycles_and_only_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": {"e"}, "e": {"d"}, "f": {"a"}}
    assert strongly_connected(graph) == [["a", "b", "c"], ["d", "e"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_import_contracts_are_kept():
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--no-cache"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"lint-imports:\n{done.stdout}{done.stderr}"


def test_no_import_cycles_between_modules():
    cycles = strongly_connected(import_graph())
    assert not cycles, "modules importing each other (directly or around a loop):\n" + "\n".join(
        " <-> ".join(group) for group in cycles
    )


def test_no_import_cycles_between_packages():
    packages: dict[str, set[str]] = {}
    for module, imported in import_graph().items():
        others = {package_of(m) for m in imported} - {package_of(module), "vigil"}
        packages.setdefault(package_of(module), set()).update(others)
    cycles = strongly_connected(packages)
    edges = [
        f"  {package} -> {', '.join(sorted(packages[package] & set(group)))}"
        for group in cycles
        for package in group
    ]
    assert not cycles, "packages importing each other (imports inside each group):\n" + "\n".join(
        edges
    )


def test_modules_and_functions_are_small():
    offenders = []
    for path in sorted((SRC / "vigil").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(REPO)
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            offenders.append(f"{where}: {lines} lines (max {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text, str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    offenders.append(
                        f"{where}:{node.lineno} {node.name}(): {length} lines "
                        f"(max {MAX_FUNCTION_LINES})"
                    )
    assert not offenders, "too long:\n" + "\n".join(offenders)
