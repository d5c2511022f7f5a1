"""The program in docs/userspace-core.md runs as printed and says what the page implies."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PAGE = Path(__file__).parents[2] / "docs" / "userspace-core.md"


def test_the_documented_program_delivers_then_closes_gracefully(tmp_path: Path) -> None:
    (program,) = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
    script = tmp_path / "core_example.py"
    script.write_text(program)
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "[(0, b'message 0'), (1, b'message 1'), (2, b'message 2')]"
    assert lines[1].startswith("AssociationClosed(cause=None, aborted=False) after ")


CATALOGUE = Path(__file__).parents[2] / "docs" / "conformance.md"


def test_the_conformance_catalogue_names_tests_that_exist() -> None:
    text = CATALOGUE.read_text()
    references = re.findall(r"`(test_\w+\.py)::(test_\w+)`", text)
    references += [
        (file, name)
        for file, names in re.findall(r"`(test_\w+\.py)` \(([^)]*)\)", text)
        for name in re.findall(r"`(test_\w+)`", names)
    ]
    assert len(references) > 80
    here = Path(__file__).parent
    for file, name in references:
        assert re.search(rf"^def {name}\(", (here / file).read_text(), re.M), f"{file}::{name}"
