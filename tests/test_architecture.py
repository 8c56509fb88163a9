"""The shape of the code: the floors of ``flow/`` (no import cycle, nothing imported inside a function to dodge
one), and the size limits (no function over 80 lines, no module over 500).

Imports are read from the source (``ast``), every ``import`` and ``from ... import`` of a ``flow`` module
counted, wherever it stands, except under ``if TYPE_CHECKING:``. Only the CLI imports ``flow`` modules inside
functions: it keeps ``qflow --help`` from loading torch and hls4ml.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FLOW = Path(__file__).resolve().parents[1] / "flow"
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 500
LAZY_IMPORTS_ALLOWED = {"flow.cli"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(FLOW.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(FLOW.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The ``flow`` module an imported dotted name lives in (``flow.blocks.mvau.MvauMode`` -> ``flow.blocks.mvau``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> list[tuple[str, int, bool]]:
    """``(imported flow module, line, inside a function?)`` for every import in ``module``."""
    tree = ast.parse(MODULES[module].read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = package
                for _ in range(node.level - 1):
                    pkg = pkg.rpartition(".")[0]
                base = f"{pkg}.{base}" if base else pkg
            names = [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        in_function = type_checking = False
        parent = parents.get(node)
        while parent is not None:
            in_function |= isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef)
            type_checking |= isinstance(parent, ast.If) and "TYPE_CHECKING" in ast.unparse(parent.test)
            parent = parents.get(parent)
        if type_checking:
            continue
        for name in names:
            target = _resolve(name) if name.startswith("flow") else None
            if target and target != module:
                found.append((target, node.lineno, in_function))
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph``, as a list of modules, or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_checker_sees_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_flow():
    graph = {m: {target for target, _, _ in _imports(m)} for m in MODULES}
    assert _cycle(graph) is None


def test_no_flow_import_inside_a_function_outside_the_cli():
    lazy = [f"{m}:{line} imports {target}" for m in MODULES if m not in LAZY_IMPORTS_ALLOWED
            for target, line, inside in _imports(m) if inside]
    assert lazy == []


def test_blocks_import_nothing_above_their_floor():
    allowed = ("flow.blocks", "flow.paths", "flow.errors")
    upward = [f"{m} imports {target}" for m in MODULES if m.startswith("flow.blocks")
              for target, _, _ in _imports(m) if not target.startswith(allowed)]
    assert upward == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_size_limits(module: str):
    source = MODULES[module].read_text()
    assert source.count("\n") <= MAX_MODULE_LINES, f"{module}: {source.count(chr(10))} lines"
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)" for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == [], f"{module}: functions over {MAX_FUNCTION_LINES} lines"
