"""What the example programs share on their command lines: argparse with one-line errors,
the seed article's address lists, and addresses printed the way people write them.

Each example imports this module from its own directory (``python examples/NAME.py`` puts
``examples/`` on ``sys.path``).
"""

from __future__ import annotations

import argparse
import re
from typing import NoReturn


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage block), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}\n")


def address_list(text: str | None) -> str | None:
    """The ";" list sctpmh takes, from ";", "," or spaces between addresses (the article
    uses ";"); ``None``, meaning every address of the host, for nothing or blanks."""
    if text is None or not text.strip():
        return None
    return ";".join(re.split(r"[\s,;]+", text.strip()))


def fmt(address: tuple[str, int] | None) -> str:
    """``host:port``, with brackets around an IPv6 host; ``?`` when unknown."""
    if address is None:
        return "?"
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
