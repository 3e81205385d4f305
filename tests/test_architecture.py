"""The module plan holds: no import cycle, dependencies point one way, no module over 500 lines.

The layers are those of ``docs/architecture.md`` (after ``style.md``): a module may import
from its own layer or below, never above. Every import counts, also one inside a function.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import urban_sim

SRC = Path(urban_sim.__file__).parent

LAYERS: list[set[str]] = [
    {"vocabulary", "errors", "files", "config", "data"},
    {"services", "economy", "population"},
    {"policy", "targets", "luliang"},
    {"model"},
    {"runs"},
    {"analysis", "calibration"},
    {"reports", "dashboard", "api"},
    {"cli"},
]
RANK = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}
TOP = {"__init__", "__main__"}  # public API re-exports and the entry point


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def import_graph() -> dict[str, frozenset[str]]:
    """Module -> urban_sim modules it imports (``from urban_sim import __version__`` aside)."""
    modules = _modules()
    graph: dict[str, frozenset[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target == "urban_sim" and {a.name for a in node.names} == {"__version__"}:
                    continue
                found.add(target)
                found.update(f"{target}.{a.name}" for a in node.names)  # submodules by name
        graph[name] = frozenset(m for m in found if m in modules and m != name)
    return graph


def _modules() -> set[str]:
    return {_module_name(p) for p in SRC.rglob("*.py")}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_unit_has_a_layer():
    units = {_unit(m) for m in _modules()} - TOP
    assert units <= set(RANK), f"add {sorted(units - set(RANK))} to LAYERS and docs/architecture.md"


def upward_imports(graph) -> list[str]:
    found = []
    for module, targets in graph.items():
        unit = _unit(module)
        if unit in TOP:
            continue
        for t in targets:
            tu = _unit(t)
            if t == "urban_sim":
                found.append(f"{module} -> {t} (import from the module, not the package)")
            elif tu not in TOP and RANK[tu] > RANK[unit]:
                found.append(f"{module} -> {t}")
    return sorted(found)


def find_cycles(graph) -> list[list[str]]:
    """Cycles of a module graph; a package's ``__init__`` importing its own modules is none."""
    graph = {m: {t for t in ts if t != "urban_sim" and not m.startswith(t + ".")}
             for m, ts in graph.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    return cycles


def test_no_upward_imports():
    found = upward_imports(import_graph())
    assert not found, "upward imports:\n" + "\n".join(found)


def test_no_import_cycles():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_checks_can_fail():
    """A cycle (the old ensemble <-> runner) and an upward import (model -> runs) are caught."""
    bad = dict(import_graph())
    bad["urban_sim.runs.single"] = bad["urban_sim.runs.single"] | {"urban_sim.runs.ensemble"}
    cycles = find_cycles(bad)  # found from whichever module the walk reaches first
    assert any(c[0] == c[-1] and set(c) == {"urban_sim.runs.ensemble", "urban_sim.runs.single"}
               for c in cycles), cycles
    bad["urban_sim.model.county"] = bad["urban_sim.model.county"] | {"urban_sim.runs.single"}
    assert "urban_sim.model.county -> urban_sim.runs.single" in upward_imports(bad)
    assert "urban_sim.model.county" in import_graph()["urban_sim.runs.single"]


def test_no_module_over_500_lines():
    long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert not long, f"split these modules: {long}"
