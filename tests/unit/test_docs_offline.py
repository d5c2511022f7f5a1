"""The documentation site works offline: no script or stylesheet comes from another host, and
code blocks are highlighted at build time with the stylesheet shipped in the site."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_built_site_loads_nothing_from_elsewhere(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        check=True,
        timeout=300,
    )
    pages = list(tmp_path.rglob("*.html"))
    assert len(pages) > 10
    external = re.compile(r'<(?:script|link)[^>]+(?:src|href)="(?:https?:)?//')
    for page in pages:
        assert not external.search(page.read_text()), page
    quickstart = (tmp_path / "quickstart" / "index.html").read_text()
    assert 'class="codehilite"' in quickstart
    assert "css/pygments.css" in quickstart
    assert (tmp_path / "css" / "pygments.css").is_file()
