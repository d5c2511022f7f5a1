"""The kernel backend's module boundaries, checked on the source (no SCTP needed).

- No import cycle among sctpmh's modules at module level: a module that needs another at
  run time imports it at the top, and two that would need each other are split along the
  wrong line (STYLE.md 13). Imports under ``if TYPE_CHECKING:`` (annotations only) and
  inside functions do not count.
- No kernel module reaches into another object's private state: ``x._name`` only for ``x``
  ``self``, ``cls`` or a name this module defines, apart from BaseTransport's documented
  backend entry points (:data:`BACKEND_ENTRY_POINTS`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import sctpmh
import sctpmh.kernel

PACKAGE = Path(sctpmh.__file__).parent
KERNEL_MODULES = sorted(Path(sctpmh.kernel.__file__).parent.glob("*.py"))

#: ``BaseTransport``'s protected methods that a backend calls on its transports: they are
#: the base's per-message and per-event delivery, and its write-buffer accounting
#: (sctpmh/transport.py), private only so that users do not call them.
BACKEND_ENTRY_POINTS = frozenset({"_deliver_message", "_deliver_event", "_queued", "_dequeued"})


def module_name(path: Path, root: Path = PACKAGE.parent) -> str:
    """``path``'s dotted module name, ``root`` being the directory that holds the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def module_level_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements that run when the module is imported: not function bodies, not
    ``if TYPE_CHECKING:`` blocks (their ``else`` does run)."""
    for node in body:
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from module_level_statements(node.orelse)
            continue
        if isinstance(node, ast.Try | ast.TryStar):
            for handler in node.handlers:
                yield from module_level_statements(handler.body)
        for field in ("body", "orelse", "finalbody"):
            children = getattr(node, field, None)
            if isinstance(children, list):
                yield from module_level_statements(children)


def imported_at_module_level(path: Path, known: set[str], root: Path = PACKAGE.parent) -> set[str]:
    """The modules of ``known`` that ``path`` imports when it is imported (relative imports
    resolved; ``from package import module`` counts as importing the module)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in module_level_statements(ast.parse(path.read_text(), str(path)).body):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.add(submodule if submodule in known else source)
    return {module for module in found if module in known and module != name}


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    known = set(paths)
    return {name: imported_at_module_level(path, known) for name, path in paths.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle in ``graph``, as the modules around it, or None."""
    done: set[str] = set()
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(module: str) -> list[str] | None:
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.get(module, ())):
            if imported in on_stack:
                return [*stack[stack.index(imported) :], imported]
            if imported not in done and (cycle := visit(imported)) is not None:
                return cycle
        stack.pop()
        on_stack.discard(module)
        done.add(module)
        return None

    for module in sorted(graph):
        if module not in done and (cycle := visit(module)) is not None:
            return cycle
    return None


def private_accesses(path: Path) -> list[str]:
    """Every ``x._name`` (and ``getattr(x, "_name")``) in ``path`` where ``x`` is neither
    ``self``, ``cls`` nor a name the module defines itself, and ``_name`` is not one of
    :data:`BACKEND_ENTRY_POINTS`; as ``line: source``."""
    tree = ast.parse(path.read_text(), str(path))
    own = {"self", "cls"}
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            own.add(statement.name)
        elif isinstance(statement, ast.Assign | ast.AnnAssign):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            own.update(t.id for t in targets if isinstance(t, ast.Name))

    def private(name: str) -> bool:
        return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))

    found: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            target, attribute = node.value, node.attr
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "setattr", "delattr", "hasattr"}
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            target, attribute = node.args[0], node.args[1].value
        else:
            continue
        if not private(attribute) or attribute in BACKEND_ENTRY_POINTS:
            continue
        if isinstance(target, ast.Name) and target.id in own:
            continue
        found.append((node.lineno, node.col_offset, f"{node.lineno}: {ast.unparse(node)}"))
    return [text for _, _, text in sorted(found)]


def test_every_kernel_module_is_checked() -> None:
    names = {path.stem for path in KERNEL_MODULES}
    assert names >= {"demux", "fdio", "peeloff", "transport", "setup", "backend", "sockapi"}


def test_no_import_cycle_at_module_level() -> None:
    graph = import_graph()
    assert graph["sctpmh.kernel.demux"] >= {"sctpmh.kernel.fdio", "sctpmh.kernel.transport"}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_sees_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_type_checking_and_function_imports_do_not_count(tmp_path: Path) -> None:
    package = tmp_path / "sctpmh"
    package.mkdir()
    sample = package / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import events\n"
        "if TYPE_CHECKING:\n"
        "    from .kernel import demux\n"
        "def f() -> None:\n"
        "    from . import api\n"
        "try:\n"
        "    from .errors import Error\n"
        "except ImportError:\n"
        "    from . import config\n"
    )
    known = {"sctpmh.events", "sctpmh.kernel.demux", "sctpmh.api", "sctpmh.errors", "sctpmh.config"}
    assert imported_at_module_level(sample, known, tmp_path) == {
        "sctpmh.events",
        "sctpmh.errors",
        "sctpmh.config",
    }


@pytest.mark.parametrize("path", KERNEL_MODULES, ids=lambda path: path.stem)
def test_no_kernel_module_touches_another_objects_private_state(path: Path) -> None:
    assert private_accesses(path) == []


def test_the_private_access_checker_sees_violations(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "_cache = {}\n"
        "def f(self, other, transport):\n"
        "    self._a = other._b\n"
        "    transport._deliver_message(1)\n"
        "    _cache._x, self._io._sock, getattr(other, '_c'), other.__class__\n"
    )
    assert private_accesses(sample) == [
        "3: other._b",
        "5: self._io._sock",
        "5: getattr(other, '_c')",
    ]
