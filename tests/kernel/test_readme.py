"""The README's example runs as printed (docs tell the truth)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_example_runs_and_echoes() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks, "the README has a Python example"
    result = subprocess.run(
        [sys.executable, "-c", blocks[0]], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("b'hi' 3 46 [PathInfo(")


DOCS = README.parent / "docs"


def _programs() -> list[tuple[str, str]]:
    """Every complete program (a Python block that calls asyncio.run) in the docs pages."""
    found = []
    for page in sorted(DOCS.glob("*.md")):
        blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.DOTALL)
        found += [(page.name, block) for block in blocks if "asyncio.run(" in block]
    return found


@pytest.mark.parametrize(("page", "program"), _programs(), ids=lambda v: str(v)[:24])
def test_docs_programs_run(page: str, program: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"{page}: {result.stderr}"
    assert result.stdout, f"{page}: the program printed nothing"
    assert "Traceback" not in result.stderr


def test_docs_have_programs() -> None:
    assert {page for page, _ in _programs()} >= {"index.md", "quickstart.md", "protocol-api.md"}
