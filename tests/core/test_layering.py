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
LEAVES = {"sctpmh.events", "sctpmh.errors", "sctpmh.config"}
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
    assert {path.stem for path in MODULES} >= {"association", "packet", "chunks", "sender"}


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


def test_the_checker_sees_forbidden_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import time\nfrom ..kernel import sockapi\nfrom . import packet\n")
    assert imported_modules(sample) == {"time", "sctpmh.kernel", "sctpmh.core.packet"}
