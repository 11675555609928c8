"""The package's layout holds: every import (module level, inside functions, under
``TYPE_CHECKING``) points down the pipeline, no two modules import each other even indirectly,
and modules and functions stay small."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

import policy_engine

PACKAGE = Path(policy_engine.__file__).resolve().parent

LAYERS: dict[str, int] = {
    "_version": 0,
    "grammar": 0,
    "language": 1,
    "semantics": 2,
    "engine": 3,
    "analysis": 4,
    "testing": 5,
    "reports": 5,
    "traceability": 5,
    "api": 6,
    "__init__": 6,
    "workbench": 6,
    "service": 7,
    "cli": 8,
    "lsp": 8,
    "__main__": 9,
}
"""Each top-level part of the package and its step: a module may import its own step or a lower
one, never a higher one (docs/architecture.md)."""

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
LONG_FUNCTION_NOTE = "# one piece:"
"""A function over the limit must say why it cannot be split, in a comment starting so."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path, name: str, known: set[str]) -> set[str]:
    """Every module of the package that ``path`` imports, wherever the import statement is."""
    tree = ast.parse(path.read_text("utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [
                f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            # `import a.b.c` also runs a and a.b: count the deepest module of the package.
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> nx.DiGraph:
    found = modules()
    graph = nx.DiGraph()
    for name, path in found.items():
        graph.add_node(name)
        for target in imported(path, name, set(found)):
            graph.add_edge(name, target)
    return graph


def layer(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    return LAYERS[top]


def test_every_part_of_the_package_has_a_step() -> None:
    for name in modules():
        layer(name)  # a KeyError names a part missing from LAYERS


def test_no_import_cycles() -> None:
    # The package's own __init__ re-exports the facade; nothing inside imports it back.
    cycles = list(nx.simple_cycles(import_graph()))
    assert cycles == []


def test_imports_point_down_the_pipeline() -> None:
    upward = [
        f"{source} imports {target}"
        for source, target in import_graph().edges
        if layer(source) < layer(target)
    ]
    assert upward == []


def test_modules_stay_small() -> None:
    large = {
        name: n
        for name, path in modules().items()
        if (n := len(path.read_text("utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert large == {}


def test_functions_stay_small_or_say_why() -> None:
    long: list[str] = []
    for name, path in modules().items():
        text = path.read_text("utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            said = any(
                LONG_FUNCTION_NOTE in line for line in lines[max(first - 4, 0) : node.lineno + 2]
            )
            if length > MAX_FUNCTION_LINES and not said:
                long.append(f"{name}.{node.name} ({length} lines)")
    assert long == []


def test_the_checker_finds_a_cycle_and_an_upward_import(tmp_path: Path) -> None:
    """The walk above sees imports inside functions and under TYPE_CHECKING."""
    root = tmp_path / "policy_engine"
    (root / "language").mkdir(parents=True)
    (root / "engine").mkdir()
    for folder in (root, root / "language", root / "engine"):
        (folder / "__init__.py").write_text("")
    (root / "language" / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..engine import b\n"
    )
    (root / "engine" / "b.py").write_text("def f():\n    from ..language.a import x\n")
    known = {"policy_engine.language.a", "policy_engine.engine.b"}
    a = imported(root / "language" / "a.py", "policy_engine.language.a", known)
    b = imported(root / "engine" / "b.py", "policy_engine.engine.b", known)
    assert a == {"policy_engine.engine.b"}
    assert b == {"policy_engine.language.a"}
