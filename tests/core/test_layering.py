"""The core's dependency rules (ARCHITECTURE.md): it imports only the standard library, the
compiled ``crc32c`` package, the leaf modules and itself, and never anything that does I/O or
reads a clock. Checked on the source, so a lazy import inside a function counts too."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import sctpmh.core

CORE = Path(sctpmh.core.__file__).parent
LEAVES = {
    "sctpmh.addresses",
    "sctpmh.events",
    "sctpmh.errors",
    "sctpmh.config",
    "sctpmh.validation",
}
#: Standard modules that would let the core touch the network, threads, or the clock.
FORBIDDEN = {
    "asyncio",
    "datetime",
    "selectors",
    "signal",
    "socket",
    "ssl",
    "subprocess",
    "threading",
    "time",
}
MODULES = sorted(CORE.glob("*.py"))


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    package = "sctpmh.core"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
                if node.module is None:
                    names.update(f"{base}.{alias.name}" for alias in node.names)
                    continue
            else:
                module = node.module or ""
            names.add(module)
    return names


def test_every_core_module_is_checked() -> None:
    assert {path.stem for path in MODULES} >= {
        "association",
        "packet",
        "chunks",
        "sender",
        "paths",
        "bundling",
        "tcb",
    }


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.stem)
def test_core_imports_only_what_the_architecture_allows(path: Path) -> None:
    for name in imported_modules(path):
        top = name.split(".")[0]
        if name.startswith("sctpmh."):
            assert name in LEAVES or name.startswith("sctpmh.core"), f"{path.name} imports {name}"
        elif top == "__future__" or top == "crc32c":
            continue
        else:
            assert top in sys.stdlib_module_names, f"{path.name} imports {name}"
            assert top not in FORBIDDEN, f"{path.name} imports {name}: the core does no I/O"


def core_import_graph() -> dict[str, set[str]]:
    """Core module -> the core modules it imports (under TYPE_CHECKING too)."""
    graph: dict[str, set[str]] = {}
    for path in MODULES:
        name = f"sctpmh.core.{path.stem}"
        graph[name] = {
            imported
            for imported in imported_modules(path)
            if imported.startswith("sctpmh.core.") and imported != name
        }
        if "sctpmh.core" in imported_modules(path):
            # ``from sctpmh.core import causes`` names a module through the package.
            graph[name] |= _package_imports(path)
    return graph


def _package_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module == "sctpmh.core" and not node.level:
            names.update(f"sctpmh.core.{alias.name}" for alias in node.names)
    return names


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of imports as a list of modules (first == last), or None."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> list[str] | None:
        if name in visiting:
            return [*visiting[visiting.index(name) :], name]
        if name in done:
            return None
        visiting.append(name)
        for imported in sorted(graph.get(name, ())):
            cycle = visit(imported)
            if cycle is not None:
                return cycle
        visiting.pop()
        done.add(name)
        return None

    for name in sorted(graph):
        cycle = visit(name)
        if cycle is not None:
            return cycle
    return None


def test_no_import_cycle_among_core_modules() -> None:
    # STYLE.md 13: components own their state; an import circle means a split went along
    # the wrong line. Imports under TYPE_CHECKING count: they are a circle of knowledge too.
    graph = core_import_graph()
    assert "sctpmh.core.paths" in graph["sctpmh.core.association"] | graph["sctpmh.core.tcb"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_checker_sees_forbidden_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import time\nfrom ..kernel import sockapi\nfrom . import packet\n")
    assert imported_modules(sample) == {"time", "sctpmh.kernel", "sctpmh.core.packet"}
