"""The public layer knows no backend (ARCHITECTURE.md, "the backend seam"): the API modules
import no backend package, only :mod:`sctpmh.registry` names them, and it loads them lazily.
So ``import sctpmh`` works where no backend can, which a fresh virtualenv without pysctp and
uvloop proves."""

from __future__ import annotations

import ast
import subprocess
import sys
import venv
from pathlib import Path

import pytest

import sctpmh

PACKAGE = Path(sctpmh.__file__).parent
ROOT = PACKAGE.parent
API_MODULES = [
    "__init__",
    "api",
    "association",
    "server",
    "protocol",
    "events",
    "errors",
    "config",
    "addresses",
    "transport",
    "validation",
    "seam",
    "registry",
    "logs",
]
BACKEND_PACKAGES = ("sctpmh.kernel", "sctpmh.userspace", "sctpmh.core")


def module_level_imports(path: Path) -> set[str]:
    """Absolute names of the modules ``path`` imports at module level."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = "sctpmh" if node.level == 1 else ""
                module = f"{base}.{node.module}" if node.module else base
                if node.module is None:
                    names.update(f"{base}.{alias.name}" for alias in node.names)
                    continue
                names.add(module)
            else:
                names.add(node.module or "")
    return names


@pytest.mark.parametrize("name", API_MODULES)
def test_api_modules_import_no_backend(name: str) -> None:
    imported = module_level_imports(PACKAGE / f"{name}.py")
    assert not {m for m in imported if m.startswith(BACKEND_PACKAGES)}, imported


def test_only_the_registry_names_the_backends_and_lazily() -> None:
    source = (PACKAGE / "registry.py").read_text()
    assert "sctpmh.kernel.backend" in source
    assert "sctpmh.userspace.memory" in source
    for name in API_MODULES:
        if name != "registry":
            assert "sctpmh.kernel.backend" not in (PACKAGE / f"{name}.py").read_text()


def test_import_sctpmh_in_a_fresh_venv_without_pysctp_or_uvloop(tmp_path: Path) -> None:
    venv.create(tmp_path / "venv", with_pip=False)
    python = tmp_path / "venv" / "bin" / "python"
    program = (
        "import sys, sctpmh\n"
        "for missing in ('sctp', '_sctp', 'uvloop'):\n"
        "    assert missing not in sys.modules, missing\n"
        "    try:\n"
        "        __import__(missing)\n"
        "    except ImportError:\n"
        "        pass\n"
        "    else:\n"
        "        raise SystemExit(missing + ' is importable: not a clean venv')\n"
        "print(sctpmh.__version__, sctpmh.Config().rto_min)\n"
    )
    result = subprocess.run(
        [str(python), "-c", program],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == sctpmh.__version__


def test_import_sctpmh_loads_no_backend() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, sctpmh; print(sorted(m for m in sys.modules "
            "if m.startswith(('sctpmh.kernel.', 'sctpmh.userspace', 'sctpmh.core', 'uvloop'))))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "[]"
